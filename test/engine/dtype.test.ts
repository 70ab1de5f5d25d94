// LoadOptions.dtype converts the big matrices while loading: f16 keeps the F16 parity tolerance
// against the float64 reference; q8_0 is measured, and must keep the model's own top-1.
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLayers, loadModel, type Model } from '../../lib/index.js';
import { forwardReference, loadReference, relativeL2Error } from '../reference/gpt2-f64.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';

const dir = checkpoint('tiny-f32');
const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));
async function load(dtype: 'f32' | 'f16' | 'q8_0') {
  const m = await loadModel(dir, { device: testDevice(), dtype });
  models.push(m);
  return m;
}

describe('dtype at load', () => {
  it('reports the storage type and shrinks the weights', async () => {
    const [f32, f16, q8] = [await load('f32'), await load('f16'), await load('q8_0')];
    expect([f32.info.dtype, f16.info.dtype, q8.info.dtype]).toEqual(['f32', 'f16', 'q8_0']);
    expect(f16.runtime.weightBytes).toBeLessThan(0.6 * f32.runtime.weightBytes);
    expect(q8.runtime.weightBytes).toBeLessThan(0.35 * f32.runtime.weightBytes);
    console.log('weight bytes f32/f16/q8_0:', f32.runtime.weightBytes, f16.runtime.weightBytes, q8.runtime.weightBytes);
  });

  it('f16 conversion of an F32 file stays within the F16 tolerance (5e-3) on every hook', async () => {
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
    await expect(loadModel(dir, { dtype: 'q4_k' })).rejects.toThrow(/dtype must be/);
  });
});
