// The CLI on a real (synthetic) checkpoint: its JSON equals the API's result, the table shows every
// hook, and the installed bin runs as a process.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../lib/cli.js';
import { decodeLayers, loadModel, patchActivations, releaseModels, toJSON } from '../lib/index.js';
import { checkpoint, NOTEBOOK_PROMPT, repoRoot } from './helpers/checkpoints.js';

const dir = checkpoint('tiny-f32');
afterAll(() => releaseModels());

async function run(argv: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c) => (o += c));
  err.on('data', (c) => (e += c));
  const code = await main(argv, { stdout: out, stderr: err, env: {} });
  return { code, out: o, err: e };
}

describe('layerlens CLI on a checkpoint', () => {
  it('--json equals toJSON(decodeLayers(...))', async () => {
    const r = await run(['--model', dir, '--json', '--top-k', '3', '--hooks', 'all', '--device', 'cpu', NOTEBOOK_PROMPT]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    // Same device as the CLI call, so the numbers are the same bit for bit.
    const model = await loadModel(dir, { device: 'cpu' });
    const api = await decodeLayers(NOTEBOOK_PROMPT, { model, topK: 3, hooks: 'all' });
    model.dispose();
    expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(toJSON(api))));
  });

  it('prints a table with one line per hook and the prediction', async () => {
    const r = await run(['--model', dir, 'Hello world']);
    expect(r.code).toBe(0);
    for (const name of ['embed', 'blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.resid_post']) {
      expect(r.out).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')}\\s`, 'm'));
    }
    const api = await decodeLayers('Hello world', { model: dir });
    expect(r.out).toContain(JSON.stringify(api.prediction.token));
  });

  it('--ablate zeroes hooks inside the graph, like an API zero intervention', async () => {
    const r = await run(['--model', dir, '--json', '--device', 'cpu', '--hooks', 'resid_post', '--ablate', 'blocks.1.mlp_out', NOTEBOOK_PROMPT]);
    expect(r.err).toBe('');
    const model = await loadModel(dir, { device: 'cpu' });
    const ablated = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'], interventions: [{ hook: 'blocks.1.mlp_out', op: 'zero' }] });
    const clean = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'] });
    model.dispose();
    expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(toJSON(ablated))));
    expect(ablated.hooks[1].top![0].prob).not.toBe(clean.hooks[1].top![0].prob);
    const bad = await run(['--model', dir, '--ablate', 'blocks.0.attn_pattern', 'Hi']);
    expect(bad.code).not.toBe(0);
  });

  it('--patch-from/--patch-hook print what patchActivations computes', async () => {
    const source = 'Q: What is the capital of Germany?\nA:';
    const r = await run(['--model', dir, '--json', '--device', 'cpu', '--target', ' Paris', '--patch-from', source, '--patch-hook', 'blocks.0.resid_post', 'Hello there']);
    expect(r.err).toBe('');
    const model = await loadModel(dir, { device: 'cpu' });
    const api = await patchActivations({ model, source, target: 'Hello there', hook: 'blocks.0.resid_post', track: ' Paris' });
    model.dispose();
    const out = JSON.parse(r.out);
    expect(out.byLayer).toEqual(JSON.parse(JSON.stringify(api.byLayer)));
    expect(out.patched).toEqual(JSON.parse(JSON.stringify(toJSON(api.patched))));
    expect((await run(['--model', dir, '--patch-from', source, '--patch-hook', 'embed', 'Hi'])).err).toMatch(/needs --target/);
  });

  it('reports a bad hook as a usage error', async () => {
    const r = await run(['--model', dir, '--hooks', 'blocks.5.resid_post', 'Hi']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^layerlens: --hooks: .*5/);
  });

  it.skipIf(!existsSync(join(repoRoot, 'dist', 'cli.js')))('runs as the installed bin (dist/cli.js)', () => {
    const out = execFileSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), '--model', dir, '--json', '--hooks', 'embed', 'Hi'], { encoding: 'utf8' });
    expect(JSON.parse(out).hooks[0].name).toBe('embed');
  });
});
