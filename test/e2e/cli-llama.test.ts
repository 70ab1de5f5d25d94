// The CLI on a GGUF model of another architecture: it goes to the llama.cpp engine by itself, and the table,
// the grid, --json, --chat, --generate and the HTML report work on it (synthetic qwen2 and llama GGUFs,
// random weights).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { archGgufPath } from '../helpers/gguf-arch-writer.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-cli-llama-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('layerlens on a llama.cpp model', () => {
  it('--json says which engine and architecture, with the file tokenizer and every available hook', async () => {
    const r = await runCli(['--model', archGgufPath('qwen2'), '--json', '--hooks', 'all', '--positions', 'all', 'Hello world']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.model).toMatchObject({ engine: 'llama.cpp', architecture: 'qwen2', n_layer: 2 });
    expect(j.tokens.map((t: { token: string }) => t.token).join('')).toBe('Hello world');
    const kinds = new Set(j.hooks.map((h: { kind: string }) => h.kind));
    for (const k of ['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post']) expect(kinds.has(k), k).toBe(true);
  });

  it('--grid, --chat with --generate, and --html', async () => {
    const model = archGgufPath('llama');
    const grid = await runCli(['--model', model, '--grid', 'Hello world']);
    expect(grid.code, grid.err).toBe(0);
    expect(grid.out).toMatch(/llama on llama\.cpp/);
    expect(grid.out).toMatch(/^block 1 /m);
    const chat = await runCli(['--model', model, '--chat', '--generate', '3', '--json', 'Hi']);
    expect(chat.code, chat.err).toBe(0);
    const j = JSON.parse(chat.out);
    expect(j.tokens.map((t: { token: string }) => t.token).join('')).toContain('<|start_header_id|>user<|end_header_id|>');
    expect(j.generated.length).toBeLessThanOrEqual(3);
    const html = join(work, 'r.html');
    const rep = await runCli(['--model', model, '--html', html, 'Hello world']);
    expect(rep.code, rep.err).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('<html');
  });

  it('refuses a hook the architecture lacks, naming what it offers', async () => {
    const r = await runCli(['--model', archGgufPath('gptneox'), '--hooks', 'blocks.0.resid_mid', 'Hello']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/not available.*offers embed, attn_out/s);
  });
});
