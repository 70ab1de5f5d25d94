// LoadOptions.dtype converts the big matrices while loading: f16 keeps the F16 parity tolerance
// against the float64 reference; q8_0 is measured, and must keep the model's own top-1.
// By default F16 and BF16 files are computed as Hugging Face computes them: widened to f32.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLayers, loadModel, type Model } from '../../lib/index.js';
import { forwardReference, loadReference, relativeL2Error } from '../reference/gpt2-f64.js';
import { readSafetensors } from '../reference/read-safetensors.js';
import { writeSafetensors } from '../../scripts/make-checkpoint.mjs';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';

const dir = checkpoint('tiny-f32');
const models: Model[] = [];
const work = mkdtempSync(join(tmpdir(), 'layerlens-dtype-'));
afterAll(() => {
  models.forEach((m) => m.dispose());
  rmSync(work, { recursive: true, force: true });
});
async function load(dtype: 'f32' | 'f16' | 'q8_0', from = dir) {
  const m = await loadModel(from, { device: testDevice(), dtype });
  models.push(m);
  return m;
}

// The same checkpoint with every tensor widened to F32 (exact for F16 and BF16), written with the
// test's own safetensors reader and writer.
function widenedCopy(src: string, name: string): string {
  const out = join(work, name);
  mkdirSync(out);
  copyFileSync(join(src, 'config.json'), join(out, 'config.json'));
  const tensors = [...readSafetensors(join(src, 'model.safetensors')).tensors.values()].map((t) => ({
    name: t.storedName,
    dtype: 'F32' as const,
    shape: t.shape,
    data: Float32Array.from(t.data),
  }));
  writeSafetensors(join(out, 'model.safetensors'), tensors);
  return out;
}

describe('F16 and BF16 files by default: widened to f32, as Hugging Face computes them', () => {
  for (const dtype of ['f16', 'bf16'] as const) {
    it(`${dtype.toUpperCase()}: f32 storage, the file's type kept, activations bit-identical to the widened F32 file`, async () => {
      const file = checkpoint(`tiny-${dtype}`, { dtype });
      const half = await loadModel(file, { device: testDevice() });
      models.push(half);
      const widened = await loadModel(widenedCopy(file, `${dtype}-widened`), { device: testDevice() });
      models.push(widened);
      expect(half.info.dtype).toBe('f32');
      expect(half.runtime.fileDtype).toBe(dtype.toUpperCase());
      expect(half.runtime.weightBytes).toBe(widened.runtime.weightBytes);
      const a = await half.run(NOTEBOOK_IDS, { hooks: ['all', 'attn_head_out'], positions: 'all' });
      const b = await widened.run(NOTEBOOK_IDS, { hooks: ['all', 'attn_head_out'], positions: 'all' });
      a.activations.forEach((x, i) => expect(Array.from(x.data), x.name).toEqual(Array.from(b.activations[i].data)));
      expect(Array.from(a.logits)).toEqual(Array.from(b.logits));
    });
  }

  it("dtype 'f16' keeps an F16 file's matrices in f16, in about half the memory", async () => {
    const file = checkpoint('tiny-f16', { dtype: 'f16' });
    const auto = await loadModel(file, { device: testDevice() });
    models.push(auto);
    const f16 = await load('f16', file);
    expect(f16.info.dtype).toBe('f16');
    expect(f16.runtime.fileDtype).toBe('F16');
    expect(f16.runtime.weightBytes).toBeLessThan(0.6 * auto.runtime.weightBytes);
  });
});

describe('dtype at load', () => {
  it('reports the storage type and shrinks the weights', async () => {
    const [f32, f16, q8] = [await load('f32'), await load('f16'), await load('q8_0')];
    expect([f32.info.dtype, f16.info.dtype, q8.info.dtype]).toEqual(['f32', 'f16', 'q8_0']);
    expect(f16.runtime.weightBytes).toBeLessThan(0.6 * f32.runtime.weightBytes);
    expect(q8.runtime.weightBytes).toBeLessThan(0.35 * f32.runtime.weightBytes);
    console.log('weight bytes f32/f16/q8_0:', f32.runtime.weightBytes, f16.runtime.weightBytes, q8.runtime.weightBytes);
  });

  it('f16 conversion of an F32 file stays within 5e-3 on every hook (f16 compute: measured at most 3.7e-3)', async () => {
    const m = await load('f16');
    const expected = forwardReference(loadReference(dir), NOTEBOOK_IDS);
    const { activations } = await m.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' });
    for (const a of activations) {
      const width = a.data.length / a.positions.length;
      for (const pos of [0, 25]) expect(relativeL2Error(a.data.subarray(pos * width, (pos + 1) * width), expected.row(a.name, pos)), a.name).toBeLessThan(5e-3);
    }
  });

  it('q8_0 keeps the top-1 of the last block and the prediction; its error is measured', async () => {
    const exact = await load('f32');
    const q8 = await load('q8_0');
    const a = await decodeLayers(NOTEBOOK_PROMPT, { model: exact, hooks: 'all' });
    const b = await decodeLayers(NOTEBOOK_PROMPT, { model: q8, hooks: 'all' });
    expect(b.prediction.id).toBe(a.prediction.id);
    const final = (r: typeof a) => r.hooks.find((h) => h.name === 'blocks.1.resid_post')!.top![0].id;
    expect(final(b)).toBe(final(a));
    let worst = 0;
    for (const [i, act] of a.activations.entries()) worst = Math.max(worst, relativeL2Error(b.activations[i].data, act.data));
    console.log(`q8_0: worst relative L2 error of a captured hook vs f32: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(0.05);
  });

  it('rejects unknown dtypes', async () => {
    // @ts-expect-error testing a bad value
    await expect(loadModel(dir, { dtype: 'q4_k' })).rejects.toThrow(/for dtype but received "q4_k"/);
  });
});
