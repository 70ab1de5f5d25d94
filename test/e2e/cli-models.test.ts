// Models from other tools' stores, end to end: a GPT-2 GGUF stored as an Ollama blob (no .gguf
// extension) and in LM Studio's folder loads by `ollama:NAME` / `lmstudio:PUB/REPO` and gives the same
// lens as the file by path; `layerlens models` lists them with what their headers say.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { checkpoint } from '../helpers/checkpoints.js';
import { writeGpt2Gguf } from '../helpers/gguf-writer.js';
import { loadReference } from '../reference/gpt2-f64.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-cli-models-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const home = join(work, 'home');
const gguf = join(work, 'tiny.gguf');
writeGpt2Gguf(loadReference(checkpoint('tiny-f32')), gguf, () => 'f32');
const bytes = readFileSync(gguf);
const hex = createHash('sha256').update(bytes).digest('hex');
const store = join(home, '.ollama', 'models');
mkdirSync(join(store, 'blobs'), { recursive: true });
writeFileSync(join(store, 'blobs', `sha256-${hex}`), bytes);
mkdirSync(join(store, 'manifests', 'registry.ollama.ai', 'library', 'tiny-gpt2'), { recursive: true });
writeFileSync(
  join(store, 'manifests', 'registry.ollama.ai', 'library', 'tiny-gpt2', 'latest'),
  JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: bytes.length }] }),
);
const lms = join(home, '.lmstudio', 'models', 'someone', 'tiny-GGUF');
mkdirSync(lms, { recursive: true });
copyFileSync(gguf, join(lms, 'tiny-F32.gguf'));
const env = { HOME: home, HF_HUB_CACHE: join(work, 'hf') };

const lens = async (model: string) => {
  const r = await runCli(['--model', model, '--json', '--device', 'cpu', '--hooks', 'all', 'Hello world'], { env });
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  return { name: j.model.name, rest: { ...j, model: { ...j.model, name: undefined } } };
};

describe('models from other tools', () => {
  it('ollama:NAME and lmstudio:PUB/REPO load the GGUF and give the lens of the file itself', async () => {
    const byPath = await lens(gguf);
    const ollama = await lens('ollama:tiny-gpt2');
    const lmstudio = await lens('lmstudio:someone/tiny-GGUF');
    expect(ollama.name).toBe('ollama:tiny-gpt2:latest');
    expect(lmstudio.name).toBe('lmstudio:someone/tiny-GGUF');
    expect(ollama.rest).toEqual(byPath.rest);
    expect(lmstudio.rest).toEqual(byPath.rest);
  });

  it('layerlens models lists them, supported, with architecture, quant and size', async () => {
    const r = await runCli(['models'], { env });
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^MODEL\s+ARCH\s+SIZE\s+QUANT\s+PARAMS\s+SUPPORTED$/);
    expect(lines[1]).toMatch(/^ollama:tiny-gpt2:latest\s+gpt2\s+\d+(\.\d)? MB\s+F32\s+3\.3M\s+yes$/);
    expect(lines[2]).toMatch(/^lmstudio:someone\/tiny-GGUF\s+gpt2\s+.*\s+yes$/);
    const json = JSON.parse((await runCli(['models', '--json'], { env })).out);
    expect(json.map((m: { ref: string; bytes: number }) => [m.ref, m.bytes])).toEqual([
      ['ollama:tiny-gpt2:latest', bytes.length],
      ['lmstudio:someone/tiny-GGUF', bytes.length],
    ]);
    expect(await runCli(['models', 'extra'], { env })).toMatchObject({ code: 2 });
  });
});
