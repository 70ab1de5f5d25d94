// Loading a tuned lens folder (config.json + params.pt or params.safetensors), its checks, the
// safetensors round trip (read back by the test suite's own reader) and the translator arithmetic.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTunedLens, translateRows, translatorIndex, tunedLensToSafetensors } from '../../lib/index.js';
import { readSafetensorsTensors } from '../../lib/lens/tuned/safetensors.js';
import { readSafetensors } from '../reference/read-safetensors.js';
import { signedRandom } from '../helpers/random.js';
import { torchSaveBytes, translatorTensors, writeTunedLensFolder, type TunedLensSpec } from '../helpers/tuned-lens-writer.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-tuned-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function spec(d: number, n: number, seed: number, bias = true): TunedLensSpec {
  const rnd = signedRandom(seed);
  return {
    baseModel: 'gpt2',
    d,
    translators: Array.from({ length: n }, () => ({
      weight: Float32Array.from({ length: d * d }, rnd),
      ...(bias ? { bias: Float32Array.from({ length: d }, rnd) } : {}),
    })),
  };
}

let folders = 0;
const folder = (s: TunedLensSpec) => writeTunedLensFolder(join(work, `lens-${folders++}`), s);

describe('loadTunedLens', () => {
  it('reads config.json and every translator of params.pt exactly', async () => {
    const s = spec(4, 3, 1);
    const lens = await loadTunedLens(folder(s));
    expect(lens.config).toEqual({ baseModel: 'gpt2', dModel: 4, numLayers: 3, bias: true, unembedHash: '0123abcd' });
    expect(lens.translators).toHaveLength(3);
    lens.translators.forEach((t, i) => {
      expect(Array.from(t.weight)).toEqual(Array.from(s.translators[i].weight));
      expect(Array.from(t.bias!)).toEqual(Array.from(s.translators[i].bias!));
    });
  });

  it('reads the older config key unemebd_hash and lenses without bias', async () => {
    const s = { ...spec(3, 2, 2, false), oldHashKey: true };
    const lens = await loadTunedLens(folder(s));
    expect(lens.config).toMatchObject({ bias: false, unembedHash: '0123abcd' });
    expect(lens.translators.every((t) => t.bias === null)).toBe(true);
  });

  it('writes params.safetensors that an independent reader reads back, and loads it in place of params.pt', async () => {
    const s = spec(5, 2, 3);
    const dir = folder(s);
    const bytes = tunedLensToSafetensors(await loadTunedLens(dir));
    writeFileSync(join(dir, 'params.safetensors'), bytes);
    const ref = readSafetensors(join(dir, 'params.safetensors'));
    expect([...ref.tensors.keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(ref.tensors.get('1.weight')!.shape).toEqual([5, 5]);
    expect(Array.from(ref.tensors.get('1.weight')!.data)).toEqual(Array.from(s.translators[1].weight));
    unlinkSync(join(dir, 'params.pt'));
    const lens = await loadTunedLens(dir);
    expect(Array.from(lens.translators[0].bias!)).toEqual(Array.from(s.translators[0].bias!));
  });

  const broken: [string, (dir: string) => void, RegExp][] = [
    ['no config.json', (d) => unlinkSync(join(d, 'config.json')), /no config\.json/],
    ['a config that is not JSON', (d) => writeFileSync(join(d, 'config.json'), '{'), /config\.json is not JSON/],
    [
      'another lens type',
      (d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ lens_type: 'logit_lens', d_model: 2, num_hidden_layers: 1 })),
      /only "linear_tuned_lens"/,
    ],
    ['no d_model', (d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ num_hidden_layers: 1 })), /positive integer d_model, got undefined/],
    ['no weights', (d) => unlinkSync(join(d, 'params.pt')), /no params\.pt or params\.safetensors/],
    [
      'a missing translator',
      (d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ d_model: 2, num_hidden_layers: 3, bias: true })),
      /the weights have no 1\.weight/,
    ],
    [
      'a weight of the wrong shape',
      (d) => writeFileSync(join(d, 'params.pt'), torchSaveBytes([{ name: '0.weight', shape: [2, 1], data: new Float32Array(2) }])),
      /0\.weight has shape \[2, 1\]; d_model 2 needs \[2, 2\]/,
    ],
    [
      'an unexpected weight',
      (d) =>
        writeFileSync(
          join(d, 'params.pt'),
          torchSaveBytes([...translatorTensors(spec(2, 1, 4)), { name: 'unembed.weight', shape: [1], data: new Float32Array(1) }]),
        ),
      /unexpected weights unembed\.weight/,
    ],
  ];
  for (const [what, breakIt, error] of broken) {
    it(`refuses ${what}`, async () => {
      const dir = folder(spec(2, 1, 5));
      breakIt(dir);
      await expect(loadTunedLens(dir)).rejects.toThrow(error);
    });
  }
});

describe('safetensors reading checks every offset', () => {
  const file = (header: object, data = 0) => {
    const h = Buffer.from(JSON.stringify(header));
    const b = Buffer.alloc(8 + h.length + data);
    b.writeBigUInt64LE(BigInt(h.length), 0);
    h.copy(b, 8);
    return b;
  };
  it('refuses a header longer than the file', () => {
    const b = file({});
    b.writeBigUInt64LE(1n << 40n, 0);
    expect(() => readSafetensorsTensors(b, 'x')).toThrow(/header length 1099511627776 runs past the end/);
  });
  it('refuses data offsets past the end and spans that disagree with the shape', () => {
    expect(() => readSafetensorsTensors(file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), 'x')).toThrow(/a runs past the end/);
    expect(() => readSafetensorsTensors(file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), 'x')).toThrow(/spans 8 bytes .* needs 12/);
    expect(() => readSafetensorsTensors(file({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), 'x')).toThrow(/dtype I64/);
  });
});

describe('translators', () => {
  it('translateRows computes h + A·h + b per row (A is out × in)', () => {
    // A = [[1, 2, 0], [0, 1, 0], [0, 0, -1]], b = [1, 0, 0]: h = [1, 1, 2] → A·h = [3, 1, -2] → [5, 2, 0]
    const t = { weight: Float32Array.from([1, 2, 0, 0, 1, 0, 0, 0, -1]), bias: Float32Array.from([1, 0, 0]) };
    expect(Array.from(translateRows(t, Float32Array.from([1, 1, 2, 0, 0, 0]), 2, 3))).toEqual([5, 2, 0, 1, 0, 0]);
    expect(Array.from(translateRows({ ...t, bias: null }, Float32Array.from([1, 1, 2]), 1, 3))).toEqual([4, 2, 0]);
  });

  it('translator i acts on hidden_states[i]: 0 on embed, i on blocks.{i-1}.resid_post, none on the last block or other kinds', () => {
    expect(translatorIndex('embed', null, 12)).toBe(0);
    expect(translatorIndex('resid_post', 0, 12)).toBe(1);
    expect(translatorIndex('resid_post', 10, 12)).toBe(11);
    expect(translatorIndex('resid_post', 11, 12)).toBeNull();
    for (const kind of ['resid_mid', 'attn_out', 'mlp_out'] as const) expect(translatorIndex(kind, 3, 12)).toBeNull();
  });
});
