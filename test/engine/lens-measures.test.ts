// Entropy, target rank/probability and KL(final ‖ hook) computed by the native lens, against the
// float64 reference distributions.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../lib/index.js';
import { forwardReference, lensReference, type RefModel } from '../reference/gpt2-f64.js';
import { NOTEBOOK_IDS } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';

const tiny = useTinyModel();
let model: Model;
let ref: RefModel;
beforeAll(() => {
  ({ model, ref } = tiny);
});

describe('native lens measures', () => {
  it('match entropy, target rank/probability and KL computed from the float64 reference', async () => {
    const names = ['embed', 'blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.mlp_out', 'blocks.1.resid_post'];
    const { activations } = await model.run(NOTEBOOK_IDS, { hooks: names, positions: [4, 25] });
    const d = model.info.n_embd;
    // rows ordered by hook, then position; the final resid_post rows are 8 (pos 4) and 9 (pos 25)
    const vectors = new Float32Array(10 * d);
    activations.forEach((a, i) => vectors.set(a.data, i * 2 * d));
    const targets = Int32Array.from([25, 3599, 0, 50256, 198, 25, 3599, 0, 50256, 198]);
    const references = Int32Array.from([8, 9, 8, 9, 8, 9, 8, 9, 8, 9]);
    const r = await model.lensNative(vectors, 10, 3, { entropy: true, targets, references });
    const acts = forwardReference(ref, NOTEBOOK_IDS);
    const refDist = (row: number) => {
      const a = activations[Math.floor(row / 2)];
      return lensReference(ref, acts.row(a.name, row % 2 === 0 ? 4 : 25));
    };
    for (let row = 0; row < 10; row++) {
      const q = refDist(row);
      const p = refDist(references[row]);
      let h = 0;
      let kl = 0;
      for (let v = 0; v < q.length; v++) {
        if (q[v] > 0) h -= q[v] * Math.log(q[v]);
        if (p[v] > 0) kl += p[v] * (Math.log(p[v]) - Math.log(q[v]));
      }
      const t = targets[row];
      const rank = 1 + Array.from(q).filter((x, v) => x > q[t] || (x === q[t] && v < t)).length;
      expect(r.entropy![row], `entropy row ${row}`).toBeCloseTo(h, 4);
      expect(Math.abs(r.kl![row] - kl), `kl row ${row}`).toBeLessThan(1e-4 + 1e-3 * kl);
      expect(r.targetProb![row] / q[t], `target prob row ${row}`).toBeCloseTo(1, 3);
      expect(Math.abs(r.targetRank![row] - rank), `rank row ${row}`).toBeLessThanOrEqual(rank > 100 ? 2 : 0);
    }
    // A row against itself: KL 0.
    expect(r.kl![8]).toBeCloseTo(0, 6);
    expect(r.kl![9]).toBeCloseTo(0, 6);
  });

  it('rejects malformed measure requests', async () => {
    const v = new Float32Array(2 * model.info.n_embd);
    await expect(model.lensNative(v, 2, 3, { targets: Int32Array.from([1]) })).rejects.toThrow(/one entry per vector/);
    await expect(model.lensNative(v, 2, 3, { targets: Int32Array.from([1, 50257]) })).rejects.toThrow(/outside/);
    await expect(model.lensNative(v, 2, 3, { references: Int32Array.from([0, 2]) })).rejects.toThrow(/outside/);
  });
});
