// Bad input gets a clear JS error and never takes the process down (a ggml assert would abort it).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, generate, loadModel, type Model } from '../../lib/index.js';
import { InvalidParameterError } from '../../lib/is.js';
import { encodeSafetensorsHeader } from '../../scripts/make-checkpoint.mjs';
import { testDevice } from '../helpers/device.js';
import { checkpoint } from '../helpers/checkpoints.js';
import { useTestModel } from '../helpers/fixtures.js';

const good = checkpoint('tiny-f32');
const work = mkdtempSync(join(tmpdir(), 'layerlens-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const goodModel = useTestModel(good);
let model: Model;
beforeAll(() => {
  model = goodModel.model;
});

describe('prompt and option errors', () => {
  it('rejects an empty prompt', async () => {
    await expect(decodeLayers('', { model })).rejects.toThrow(/prompt is empty/);
  });
  it('rejects a prompt longer than the context and says the limit', async () => {
    await expect(decodeLayers('word '.repeat(100), { model })).rejects.toThrow(/10[01] tokens long.*at most 64/);
  });
  it('rejects unknown hook names', async () => {
    await expect(decodeLayers('Hi', { model, hooks: ['blocks.0.resid_pots'] })).rejects.toThrow(/resid_pots/);
    await expect(decodeLayers('Hi', { model, hooks: ['blocks.2.resid_post'] })).rejects.toThrow(/block|layer|range/i);
  });
  it('rejects topK <= 0 and > vocab', async () => {
    await expect(decodeLayers('Hi', { model, topK: 0 })).rejects.toThrow(/^Expected an integer in 1\.\.50257 for topK but received 0 of type number$/);
    await expect(decodeLayers('Hi', { model, topK: 50258 })).rejects.toThrow(/topK/);
    await expect(decodeLayers('Hi', { model, topK: 2.5 })).rejects.toThrow(/topK/);
  });
  it('names the option, what it takes and what it got', async () => {
    await expect(decodeLayers('Hi', { model, metrics: 'yes' as unknown as boolean })).rejects.toThrow(
      /^Expected a boolean for metrics but received "yes" of type string$/,
    );
    await expect(decodeLayers('Hi', { model, onActivation: 3 as unknown as () => void })).rejects.toThrow(
      /^Expected a function for onActivation but received 3 of type number$/,
    );
    await expect(decodeLayers(7 as unknown as string, { model })).rejects.toThrow(/^Expected a string for prompt but received 7 of type number$/);
    await expect(loadModel(good, { threads: 0 })).rejects.toThrow(/^Expected an integer in 1\.\.1024 for threads but received 0 of type number$/);
    await expect(loadModel(good, { device: 'tpu' as 'cpu' })).rejects.toThrow(
      /^Expected one of 'auto', 'cpu', 'cuda' or 'metal' for device but received "tpu" of type string$/,
    );
    await expect(generate('Hi', { model, maxNewTokens: -1 })).rejects.toThrow(
      /^Expected a non-negative integer for maxNewTokens but received -1 of type number$/,
    );
    await expect(decodeLayers('Hi', { model, topK: 0 })).rejects.toBeInstanceOf(InvalidParameterError);
  });
  it('rejects positions outside the prompt', async () => {
    await expect(decodeLayers('Hi there', { model, positions: [5] })).rejects.toThrow(/outside the prompt's 2 tokens/);
  });
  it('rejects token ids outside the vocabulary at the native boundary too', async () => {
    await expect(model.run([50257])).rejects.toThrow(/outside the vocabulary/);
  });
  it('a disposed model says so', async () => {
    const m = await loadModel(good, { device: testDevice() });
    m.dispose();
    await expect(decodeLayers('Hi', { model: m })).rejects.toThrow(/disposed/);
    await expect(generate('Hi', { model: m })).rejects.toThrow(/disposed/);
  });
  it('disposing during a call lets the call finish', async () => {
    const m = await loadModel(good, { device: testDevice() });
    const p = m.run([1, 2, 3], { hooks: 'all' });
    m.dispose();
    const out = await p;
    expect(out.activations.length).toBe(13);
  });
});

describe('model files', () => {
  it('names what was looked for when the path is missing', async () => {
    await expect(loadModel(join(work, 'nope'))).rejects.toThrow(/does not exist/);
    const empty = join(work, 'empty');
    mkdirSync(empty);
    await expect(loadModel(empty)).rejects.toThrow(new RegExp(`no model.safetensors in .*empty \\(looked for .*model.safetensors\\)`));
    const noConfig = join(work, 'noconfig');
    mkdirSync(noConfig);
    copyFileSync(join(good, 'model.safetensors'), join(noConfig, 'model.safetensors'));
    await expect(loadModel(noConfig)).rejects.toThrow(/looked for .*config.json/);
  });

  it('explains a hub name that is not in the local cache', async () => {
    const old = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = join(work, 'hub');
    try {
      // Offline, so a machine with internet does not start downloading gpt2-medium here.
      await expect(loadModel('gpt2-medium', { env: { ...process.env, HF_HUB_OFFLINE: '1' } })).rejects.toThrow(
        /gpt2-medium.*models--gpt2-medium.*huggingface-cli download/s,
      );
    } finally {
      if (old === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = old;
    }
  });

  // Builds a checkpoint directory whose model.safetensors is the good one, altered.
  const original = readFileSync(join(good, 'model.safetensors'));
  const headerLen = Number(original.readBigUInt64LE(0));
  const header = JSON.parse(original.subarray(8, 8 + headerLen).toString('utf8'));
  const data = original.subarray(8 + headerLen);
  let n = 0;
  function variant(file: Buffer, config?: (c: Record<string, unknown>) => void): string {
    const dir = join(work, `v${n++}`);
    mkdirSync(dir);
    const cfg = JSON.parse(readFileSync(join(good, 'config.json'), 'utf8'));
    config?.(cfg);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    writeFileSync(join(dir, 'model.safetensors'), file);
    return dir;
  }
  function withHeader(mutate: (h: Record<string, any>) => void, body: Buffer = data): Buffer {
    const h = structuredClone(header);
    mutate(h);
    return Buffer.concat([encodeSafetensorsHeader(h), body]);
  }

  const cases: [string, () => string, RegExp][] = [
    ['a file shorter than the length prefix', () => variant(original.subarray(0, 5)), /too small|need at least 8/],
    [
      'a header length past the end of the file',
      () => variant(Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')])),
      /header|past|exceeds|larger/i,
    ],
    ['a header length of 2^63', () => variant(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80, 0x7b, 0x7d])), /header|exceeds|limit|larger/i],
    [
      'a header that is not JSON',
      () => {
        const bad = Buffer.from('{"wte.weight": nope}    ');
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(bad.length));
        return variant(Buffer.concat([len, bad, data]));
      },
      /JSON|parse|invalid/i,
    ],
    ['a truncated data section', () => variant(original.subarray(0, original.length - 1000)), /past the end of the data section/],
    [
      'offsets outside the file',
      () => variant(withHeader((h) => (h['ln_f.bias'].data_offsets = [data.length + 8, data.length + 8 + 256]))),
      /ln_f\.bias.*past the end/,
    ],
    ['overlapping tensors', () => variant(withHeader((h) => (h['ln_f.bias'].data_offsets = h['ln_f.bias'].data_offsets.map((o: number) => o - 8)))), /overlap/],
    ['a dtype whose size disagrees with the bytes', () => variant(withHeader((h) => (h['ln_f.bias'].dtype = 'F16'))), /size|bytes|F16/i],
    ['an unsupported dtype', () => variant(withHeader((h) => (h['ln_f.bias'].dtype = 'I32'))), /I32/],
    ['a shape that disagrees with config.json', () => variant(original, (c) => (c.n_embd = 128)), /shape .*config.json implies/],
    ['a missing tensor', () => variant(original, (c) => (c.n_layer = 3)), /missing .*h\.2\./],
    ['config.json with a bad value', () => variant(original, (c) => (c.n_head = 0)), /n_head.*positive integer/],
    ['config.json of another architecture', () => variant(original, (c) => (c.model_type = 'llama')), /model_type.*gpt2/],
  ];
  for (const [what, make, message] of cases) {
    it(`rejects ${what} with a clear message`, async () => {
      await expect(loadModel(make(), { device: testDevice() })).rejects.toThrow(message);
    });
  }
});
