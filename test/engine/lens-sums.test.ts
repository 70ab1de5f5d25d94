// The lens of residual rows formed as sums of their parts' projections (native/lens/lens_plan.hpp,
// lib/lens/sums.ts), against the float64 reference lens of each row's own vector.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, type Model } from '../../lib/index.js';
import { residualSums } from '../../lib/lens/sums.js';
import { lensReference, type RefModel } from '../reference/gpt2-f64.js';
import { NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';

const tiny = useTinyModel();
let model: Model;
let ref: RefModel;
beforeAll(() => {
  ({ model, ref } = tiny);
});

// Every row's top-k against the reference distribution of that row's own vector.
function expectMatchesReference(vectors: Float32Array, rows: number, r: { ids: Int32Array; probs: Float32Array; k: number }) {
  const d = model.info.n_embd;
  for (let i = 0; i < rows; i++) {
    const q = lensReference(ref, vectors.subarray(i * d, (i + 1) * d));
    for (let j = 0; j < r.k; j++) {
      const p = q[r.ids[i * r.k + j]];
      expect(Math.abs(r.probs[i * r.k + j] - p), `row ${i} rank ${j}`).toBeLessThan(1e-6 + 1e-4 * p);
    }
    expect(r.ids[i * r.k], `row ${i} top-1`).toBe(q.indexOf(Math.max(...q)));
  }
}

describe('residualSums', () => {
  it('lists resid_mid = resid_pre + attn_out and resid_post = resid_mid + mlp_out per position', () => {
    const blocks = [
      { kind: 'embed', layer: null },
      { kind: 'attn_out', layer: 0 },
      { kind: 'resid_mid', layer: 0 },
      { kind: 'mlp_out', layer: 0 },
      { kind: 'resid_post', layer: 0 },
      { kind: 'resid_mid', layer: 1 }, // its attn_out is missing: no claim
      { kind: 'resid_post', layer: 1 },
    ] as const;
    // blocks × 2 positions: row = block·2 + position index
    expect(Array.from(residualSums(blocks, 2))).toEqual([4, 0, 2, 5, 1, 3, 8, 4, 6, 9, 5, 7]);
    expect(Array.from(residualSums([{ kind: 'resid_post', layer: 3 }], 1))).toEqual([]);
  });
});

describe('the native lens with sums', () => {
  it('gives every row of decodeLayers-style batches the reference lens of its own vector', async () => {
    const names = ['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'];
    for (const positions of ['last', 'all'] as const) {
      const { activations } = await model.run(NOTEBOOK_IDS, { hooks: names, positions });
      const P = activations[0].positions.length;
      const d = model.info.n_embd;
      const rows = activations.length * P;
      const vectors = new Float32Array(rows * d);
      activations.forEach((a, i) => vectors.set(a.data, i * P * d));
      const sums = residualSums(activations, P);
      expect(sums.length / 3).toBe(2 * model.info.n_layer * P);
      const withSums = await model.lensNative(vectors, rows, 4, { sums });
      expectMatchesReference(vectors, rows, withSums);
      const plain = await model.lensNative(vectors, rows, 4);
      expect(Array.from(withSums.ids)).toEqual(Array.from(plain.ids));
    }
  });

  it('ignores claims that do not hold, cycles, repeats and self-references, and still lenses every row', async () => {
    const { activations } = await model.run(NOTEBOOK_IDS, { hooks: ['embed', 'blocks.0.attn_out', 'blocks.0.resid_mid'] });
    const d = model.info.n_embd;
    const vectors = new Float32Array(6 * d);
    activations.forEach((a, i) => vectors.set(a.data, i * d)); // rows 0, 1, 2: embed, attn_out, resid_mid (= 0 + 1)
    vectors.set(activations[2].data, 3 * d);
    vectors[3 * d + 7] += 0.5; // row 3: resid_mid, edited as an intervention would
    vectors.set(activations[0].data, 4 * d);
    vectors.set(activations[1].data, 5 * d);
    const sums = Int32Array.from([
      2,
      0,
      1, // holds
      3,
      0,
      1, // does not hold (row 3 was edited)
      4,
      5,
      0, // does not hold
      5,
      5,
      1, // self-reference
      2,
      4,
      5, // a second claim on row 2 (would also hold)
      0,
      2,
      1, // with the first claim: a cycle 0 → 2 → 0 (and it does not hold: 0 ≠ 2 + 1)
    ]);
    const r = await model.lensNative(vectors, 6, 5, { sums });
    expectMatchesReference(vectors, 6, r);
  });

  it('rejects malformed sums', async () => {
    const d = model.info.n_embd;
    const vectors = new Float32Array(3 * d).fill(0.1);
    await expect(model.lensNative(vectors, 3, 2, { sums: Int32Array.from([2, 0]) })).rejects.toThrow(/triples/);
    await expect(model.lensNative(vectors, 3, 2, { sums: Int32Array.from([2, 0, 3]) })).rejects.toThrow(/outside 0..2/);
    await expect(model.lensNative(vectors, 3, 2, { sums: [2, 0, 1] as unknown as Int32Array })).rejects.toThrow(/Int32Array/);
  });

  it('decodeLayers under an intervention on a residual still matches the reference lens of the captured rows', async () => {
    const d = model.info.n_embd;
    const vector = Float32Array.from({ length: d }, (_, i) => (i % 3) * 0.25);
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all', interventions: [{ hook: 'blocks.0.resid_mid', op: 'add', vector }] });
    for (const h of r.hooks.filter((x) => x.top)) {
      const a = r.activations.find((x) => x.name === h.name)!;
      const q = lensReference(ref, a.data);
      for (const t of h.top!) expect(Math.abs(t.prob - q[t.id]), `${h.name} ${t.token}`).toBeLessThan(1e-6 + 1e-4 * q[t.id]);
    }
  });
});
