// Models in other tools' stores, in synthetic folders: Ollama's manifests and blobs (OLLAMA_MODELS
// respected), LM Studio's publisher/repo folders, the Hugging Face cache; and the GGUF header reader
// against files written by an independent writer (test/helpers/gguf-header-writer.ts).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  architectureSupport,
  listLocalModels,
  readGgufHeader,
  resolveModelFiles,
  SUPPORTED_ARCHITECTURES,
  summarizeGguf,
  GgufHeaderError,
} from '../../lib/index.js';
import { writeFakeModelGguf, writeGgufHeader } from '../helpers/gguf-header-writer.js';

const root = mkdtempSync(join(tmpdir(), 'layerlens-local-models-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** An Ollama store holding `file`'s bytes as a blob, with a manifest for host/namespace/name/tag. */
function addOllamaModel(store: string, path: string[], file: string): string {
  const bytes = readFileSync(file);
  const hex = createHash('sha256').update(bytes).digest('hex');
  const blob = join(store, 'blobs', `sha256-${hex}`);
  mkdirSync(join(store, 'blobs'), { recursive: true });
  writeFileSync(blob, bytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
    layers: [
      { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'1'.repeat(64)}`, size: 10 },
      { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: bytes.length },
    ],
  };
  mkdirSync(join(store, 'manifests', ...path.slice(0, -1)), { recursive: true });
  writeFileSync(join(store, 'manifests', ...path), JSON.stringify(manifest));
  return blob;
}

describe('GGUF header reader', () => {
  it('reads metadata, steps over long arrays, and lists tensors', async () => {
    const file = join(root, 'h.gguf');
    writeGgufHeader(
      file,
      {
        'general.architecture': { str: 'qwen3' },
        'general.file_type': { u32: 15 },
        'general.size_label': { str: '0.6B' },
        'qwen3.rope.freq_base': { f32: 1e6 },
        'qwen3.flag': { bool: true },
        'tokenizer.ggml.tokens': { strs: Array.from({ length: 5000 }, (_, i) => `t${i}`) },
        'short.list': { u32s: [1, 2, 3] },
        'general.count': { u64: 7 },
      },
      [
        { name: 'a', shape: [16, 3], type: 12 },
        { name: 'b', shape: [16], type: 0 },
      ],
    );
    const h = await readGgufHeader(file);
    expect(h.version).toBe(3);
    expect(h.metadata.get('general.architecture')).toBe('qwen3');
    expect(h.metadata.get('qwen3.rope.freq_base')).toBe(1e6);
    expect(h.metadata.get('qwen3.flag')).toBe(true);
    expect(h.metadata.get('tokenizer.ggml.tokens')).toEqual({ arrayOf: 'string', length: 5000 });
    expect(h.metadata.get('short.list')).toEqual([1, 2, 3]);
    expect(h.metadata.get('general.count')).toBe(7n);
    expect(h.tensors).toEqual([
      { name: 'a', shape: [16, 3], type: 12 },
      { name: 'b', shape: [16], type: 0 },
    ]);
    expect(summarizeGguf(h)).toEqual({ architecture: 'qwen3', quant: 'Q4_K_M', parameters: 64, sizeLabel: '0.6B' });
  });

  it('without general.file_type the quant is the type most weights are in', async () => {
    const file = join(root, 'nofiletype.gguf');
    writeFakeModelGguf(file, { arch: 'llama', tensorType: 8 });
    expect(summarizeGguf(await readGgufHeader(file)).quant).toBe('Q8_0');
  });

  it('a truncated or foreign file is a GgufHeaderError, not a crash', async () => {
    const file = join(root, 'trunc.gguf');
    writeFakeModelGguf(file, { arch: 'llama', fileType: 7 });
    truncateSync(file, 200);
    await expect(readGgufHeader(file)).rejects.toThrow(GgufHeaderError);
    await expect(readGgufHeader(file)).rejects.toThrow(/ends inside the header/);
    const other = join(root, 'other.bin');
    writeFileSync(other, 'PK\x03\x04 not a gguf');
    await expect(readGgufHeader(other)).rejects.toThrow(/not a GGUF file/);
    // a length that would ask for a huge allocation
    const huge = Buffer.concat([
      Buffer.from('GGUF'),
      Buffer.from([3, 0, 0, 0]),
      Buffer.alloc(8),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]),
    ]);
    writeFileSync(other, huge);
    await expect(readGgufHeader(other)).rejects.toThrow(/exceeds/);
  });
});

describe('architectures', () => {
  it('one table says which engine runs what; both engines are in this build', () => {
    expect(SUPPORTED_ARCHITECTURES.gpt2).toBe('gpt2');
    for (const a of ['llama', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3', 'gptneox', 'olmo2', 'mistral'])
      expect(SUPPORTED_ARCHITECTURES[a]).toBe('llama.cpp');
    expect(architectureSupport('gpt2')).toEqual({ engine: 'gpt2', supported: true, note: 'yes' });
    expect(architectureSupport('llama')).toEqual({ engine: 'llama.cpp', supported: true, note: 'yes' });
    expect(architectureSupport('toString')).toEqual({ supported: false, note: 'no' });
  });
});

describe('models on disk', () => {
  const home = join(root, 'home');
  const env = { HOME: home, HF_HUB_CACHE: join(root, 'hf') };
  const staging = join(root, 'staging');
  mkdirSync(staging, { recursive: true });
  const llamaFile = join(staging, 'llama.gguf');
  const { parameters: llamaParams } = writeFakeModelGguf(llamaFile, { arch: 'llama', fileType: 15, vocab: 1000 });
  const gptFile = join(staging, 'gpt2.gguf');
  writeFakeModelGguf(gptFile, { arch: 'gpt2', fileType: 7 });
  const ollama = join(home, '.ollama', 'models');
  const llamaBlob = addOllamaModel(ollama, ['registry.ollama.ai', 'library', 'llama3.2', '1b'], llamaFile);
  const gptBlob = addOllamaModel(ollama, ['registry.ollama.ai', 'someone', 'tiny-gpt2', 'latest'], gptFile);
  const lms = join(home, '.lmstudio', 'models', 'lmstudio-community', 'Qwen3-0.6B-GGUF');
  writeFakeModelGguf(join(lms, 'Qwen3-0.6B-Q8_0.gguf'), { arch: 'qwen3', fileType: 7 });
  writeFakeModelGguf(join(lms, 'mmproj-Qwen3-F16.gguf'), { arch: 'clip', fileType: 1 });
  const lmsOld = join(home, '.cache', 'lm-studio', 'models', 'TheBloke', 'two');
  writeFakeModelGguf(join(lmsOld, 'a-Q4_0.gguf'), { arch: 'llama', fileType: 2 });
  writeFakeModelGguf(join(lmsOld, 'a-Q8_0.gguf'), { arch: 'llama', fileType: 7 });
  const snap = join(root, 'hf', 'models--org--Tiny-GGUF', 'snapshots', 'c'.repeat(40));
  writeFakeModelGguf(join(snap, 'tiny-Q8_0.gguf'), { arch: 'phi3', fileType: 7 });
  mkdirSync(join(root, 'hf', 'models--org--Tiny-GGUF', 'refs'), { recursive: true });
  writeFileSync(join(root, 'hf', 'models--org--Tiny-GGUF', 'refs', 'main'), 'c'.repeat(40));

  it('resolves ollama:NAME[:TAG] through the manifest to the GGUF blob', async () => {
    expect(await resolveModelFiles('ollama:llama3.2:1b', { env })).toEqual({ name: 'ollama:llama3.2:1b', weights: llamaBlob });
    expect(await resolveModelFiles('ollama:someone/tiny-gpt2', { env })).toEqual({ name: 'ollama:someone/tiny-gpt2:latest', weights: gptBlob });
    expect(await resolveModelFiles('ollama:registry.ollama.ai/library/llama3.2:1b', { env })).toMatchObject({ weights: llamaBlob });
    await expect(resolveModelFiles('ollama:llama3.2:3b', { env })).rejects.toThrow(
      /Ollama model "llama3.2:3b" was not found: .*; it has llama3.2:1b, someone\/tiny-gpt2:latest\. Set OLLAMA_MODELS/,
    );
    await expect(resolveModelFiles('ollama:../etc:x', { env })).rejects.toThrow(/is not an Ollama model name/);
  });

  it('respects $OLLAMA_MODELS', async () => {
    const moved = join(root, 'elsewhere');
    const blob = addOllamaModel(moved, ['registry.ollama.ai', 'library', 'moved', 'latest'], gptFile);
    expect(await resolveModelFiles('ollama:moved', { env: { ...env, OLLAMA_MODELS: moved } })).toMatchObject({ weights: blob });
    await expect(resolveModelFiles('ollama:moved', { env })).rejects.toThrow(/was not found/);
  });

  it('reports a manifest whose blob is missing', async () => {
    const store = join(root, 'broken');
    const blob = addOllamaModel(store, ['registry.ollama.ai', 'library', 'gone', 'latest'], gptFile);
    rmSync(blob);
    await expect(resolveModelFiles('ollama:gone', { env: { ...env, OLLAMA_MODELS: store } })).rejects.toThrow(/blob .* is missing/);
  });

  it('resolves lmstudio:publisher/repo[/file.gguf], skipping vision projectors', async () => {
    expect(await resolveModelFiles('lmstudio:lmstudio-community/Qwen3-0.6B-GGUF', { env })).toMatchObject({ weights: join(lms, 'Qwen3-0.6B-Q8_0.gguf') });
    expect(await resolveModelFiles('lmstudio:TheBloke/two/a-Q8_0.gguf', { env })).toMatchObject({ weights: join(lmsOld, 'a-Q8_0.gguf') });
    await expect(resolveModelFiles('lmstudio:TheBloke/two', { env })).rejects.toThrow(/holds several models \(a-Q4_0\.gguf, a-Q8_0\.gguf\)/);
    await expect(resolveModelFiles('lmstudio:nobody/nothing', { env })).rejects.toThrow(/was not found/);
  });

  it('lists every store with architecture, size, quant, parameters and support', async () => {
    const models = await listLocalModels(env);
    const summary = models.map((m) => [m.source, m.ref, m.architecture, m.quant, m.support.supported]);
    expect(summary).toEqual([
      ['ollama', 'ollama:llama3.2:1b', 'llama', 'Q4_K_M', true],
      ['ollama', 'ollama:someone/tiny-gpt2:latest', 'gpt2', 'Q8_0', true],
      ['lmstudio', 'lmstudio:lmstudio-community/Qwen3-0.6B-GGUF', 'qwen3', 'Q8_0', true],
      ['lmstudio', 'lmstudio:TheBloke/two/a-Q4_0.gguf', 'llama', 'Q4_0', true],
      ['lmstudio', 'lmstudio:TheBloke/two/a-Q8_0.gguf', 'llama', 'Q8_0', true],
      ['hf-cache', 'org/Tiny-GGUF/tiny-Q8_0.gguf', 'phi3', 'Q8_0', true],
    ]);
    expect(models[0]).toMatchObject({ path: llamaBlob, format: 'gguf', bytes: readFileSync(llamaFile).length, parameters: llamaParams });
    expect(models[0].support).toEqual({ engine: 'llama.cpp', supported: true, note: 'yes' });
  });

  it('an empty home lists nothing', async () => {
    expect(await listLocalModels({ HOME: join(root, 'empty'), HF_HUB_CACHE: join(root, 'empty', 'hf') })).toEqual([]);
  });
});
