// The lens as a GPU runs it (ln_f, unembedding, softmax and top-k as ggml ops on the backend,
// native/lens/engine_lens_device.cpp), built on the CPU with LAYERLENS_DEBUG_GPU_GRAPH=1: against the
// float64 reference lens, and against the host path that the CPU uses.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../lib/index.js';
import { lensReference, type RefModel } from '../reference/gpt2-f64.js';
import { NOTEBOOK_IDS } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';

/** Every lensable row of a run at every position, plus `extra` rows of scaled noise: more than one device step (256 rows). */
async function lensRows(model: Model, extra: number): Promise<{ batch: Float32Array; count: number }> {
  const { activations } = await model.run(NOTEBOOK_IDS, { hooks: ['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'], positions: 'all' });
  const d = model.info.n_embd;
  const captured = activations.reduce((s, a) => s + a.data.length, 0) / d;
  const batch = new Float32Array((captured + extra) * d);
  let o = 0;
  for (const a of activations) {
    batch.set(a.data, o);
    o += a.data.length;
  }
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  for (let i = o; i < batch.length; i++) batch[i] = 8 * next();
  return { batch, count: captured + extra };
}

async function onDevice<T>(fn: () => Promise<T>): Promise<T> {
  process.env.LAYERLENS_DEBUG_GPU_GRAPH = '1';
  try {
    return await fn();
  } finally {
    delete process.env.LAYERLENS_DEBUG_GPU_GRAPH;
  }
}

describe('the lens on the backend (the GPU path), on the CPU', () => {
  const tiny = useTinyModel({ device: 'cpu' });
  let model: Model;
  let ref: RefModel;
  beforeAll(() => {
    ({ model, ref } = tiny);
  });

  it('matches the float64 reference lens and the host path, over more rows than one step', async () => {
    const k = 7;
    const { batch, count } = await lensRows(model, 40);
    expect(count).toBeGreaterThan(256);
    const device = await onDevice(() => model.lensNative(batch, count, k));
    const host = await model.lensNative(batch, count, k);
    const d = model.info.n_embd;
    let worstProb = 0;
    for (let r = 0; r < count; r++) {
      const at = r * k;
      // Against the host path: same tokens in the same order, values to float rounding.
      expect(Array.from(device.ids.subarray(at, at + k)), `row ${r} ids`).toEqual(Array.from(host.ids.subarray(at, at + k)));
      for (let j = 0; j < k; j++) {
        expect(Math.abs(device.logits[at + j] - host.logits[at + j])).toBeLessThan(1e-4 * Math.max(1, Math.abs(host.logits[at + j])));
        worstProb = Math.max(worstProb, Math.abs(device.probs[at + j] - host.probs[at + j]) / host.probs[at + j]);
      }
      expect(Math.abs(device.logSumExp[r] - host.logSumExp[r])).toBeLessThan(1e-4 * Math.max(1, Math.abs(host.logSumExp[r])));
      // Against the float64 reference, every 9th row (the reference lens is slow).
      if (r % 9 === 0) {
        const q = lensReference(ref, batch.subarray(r * d, (r + 1) * d));
        const order = Array.from(q.keys()).sort((a, b) => q[b] - q[a] || a - b);
        expect(Array.from(device.ids.subarray(at, at + k)), `row ${r} vs reference`).toEqual(order.slice(0, k));
        for (let j = 0; j < k; j++) expect(Math.abs(device.probs[at + j] - q[order[j]]) / q[order[j]]).toBeLessThan(1e-4);
      }
    }
    expect(worstProb).toBeLessThan(1e-4);
  });

  it('gives k = 1 and k = n_vocab rows that sum to one, and an empty batch', async () => {
    const { batch } = await lensRows(model, 0);
    const d = model.info.n_embd;
    const V = model.info.n_vocab;
    const one = await onDevice(() => model.lensNative(batch.subarray(0, 3 * d), 3, 1));
    const host = await model.lensNative(batch.subarray(0, 3 * d), 3, 1);
    expect(Array.from(one.ids)).toEqual(Array.from(host.ids));
    const all = await onDevice(() => model.lensNative(batch.subarray(0, d), 1, V));
    expect(new Set(all.ids).size).toBe(V);
    expect(all.probs.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 4);
    for (let j = 1; j < V; j++) expect(all.logits[j]).toBeLessThanOrEqual(all.logits[j - 1]);
    const none = await onDevice(() => model.lensNative(new Float32Array(0), 0, 5));
    expect(none.ids.length).toBe(0);
  });

  it('keeps measures on the host path (same results with and without the GPU graph)', async () => {
    const { batch } = await lensRows(model, 0);
    const d = model.info.n_embd;
    const targets = Int32Array.from([5, 17, 200, -1]);
    const viaDevice = await onDevice(() => model.lensNative(batch.subarray(0, 4 * d), 4, 5, { entropy: true, targets }));
    const viaHost = await model.lensNative(batch.subarray(0, 4 * d), 4, 5, { entropy: true, targets });
    expect(Array.from(viaDevice.ids)).toEqual(Array.from(viaHost.ids));
    expect(Array.from(viaDevice.targetRank!)).toEqual(Array.from(viaHost.targetRank!));
    for (let r = 0; r < 4; r++) expect(viaDevice.entropy![r]).toBeCloseTo(viaHost.entropy![r], 5);
  });
});
