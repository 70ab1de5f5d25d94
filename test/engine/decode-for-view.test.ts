// decodeForView's attention must be that of the run the lens describes: with interventions, also when
// the prompt is too long for attention at every position (the fallback's second forward), which once
// ran without the interventions and so showed the clean run's attention as the "after" of a
// before/after report. Checked against the float64 reference with the same edits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Intervention, type Model } from '../../lib/index.js';
import { decodeForView } from '../../lib/render/report/data.js';
import { ablation, compareRuns, CLEAN_LABEL } from '../../lib/interp/compare.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { forwardReference, loadReference, relativeL2Error, type RefActivations, type RefModel } from '../reference/gpt2-f64.js';

const TOL = 1e-4; // the F32 parity tolerance
const dir = checkpoint('tiny-f32');
let model: Model;
let ref: RefModel;
beforeAll(async () => {
  model = await loadModel(dir, { device: testDevice(), threads: 2 });
  ref = loadReference(dir);
});
afterAll(() => model?.dispose());

// Zeroing block 0's MLP output changes what block 1 attends to (block 0's attention is before it).
const ablate: Intervention[] = [{ hook: 'blocks.0.mlp_out', op: 'zero' }];

/** Worst relative L2 error of every captured attention row against the reference. */
function worstAttentionError(attention: NonNullable<Awaited<ReturnType<typeof decodeForView>>['attention']>, expected: RefActivations): number {
  let worst = 0;
  for (const layer of attention) {
    layer.positions.forEach((pos, i) => {
      const row = new Float32Array(layer.n_head * layer.n_tokens);
      layer.patterns[i].forEach((head, h) => row.set(head, h * layer.n_tokens));
      worst = Math.max(worst, relativeL2Error(row, expected.row(layer.name, pos)));
    });
  }
  return worst;
}

describe('decodeForView with interventions', () => {
  const n = NOTEBOOK_IDS.length;
  // Attention at every position costs n_layer · n_head · n floats per position; room for 3 positions.
  const perPosition = 2 * 4 * n;
  const small = 3 * perPosition;

  it('the reference itself tells the ablated attention from the clean one', () => {
    const clean = forwardReference(ref, NOTEBOOK_IDS);
    const ablated = forwardReference(ref, NOTEBOOK_IDS, { interventions: ablate });
    expect(relativeL2Error(clean.row('blocks.1.attn_pattern', n - 1), ablated.row('blocks.1.attn_pattern', n - 1))).toBeGreaterThan(100 * TOL);
  });

  for (const [what, maxAttentionFloats] of [
    ['every position fits', undefined],
    ['the long-prompt fallback (a second forward for the attention)', small],
  ] as const) {
    it(`${what}: the attention is the intervened run's`, async () => {
      const r = await decodeForView(NOTEBOOK_PROMPT, {
        model,
        positions: 'all',
        hooks: ['resid_post'],
        interventions: ablate,
        ...(maxAttentionFloats === undefined ? {} : { maxAttentionFloats }),
      });
      const attention = r.attention!;
      expect(attention.map((l) => l.name)).toEqual(['blocks.0.attn_pattern', 'blocks.1.attn_pattern']);
      expect(attention[0].positions).toEqual(maxAttentionFloats === undefined ? [...Array(n).keys()] : [n - 3, n - 2, n - 1]);
      expect(worstAttentionError(attention, forwardReference(ref, NOTEBOOK_IDS, { interventions: ablate }))).toBeLessThan(TOL);
      // and the lens is of the same run: block 1's resid_post at the last position
      const expected = forwardReference(ref, NOTEBOOK_IDS, { interventions: ablate });
      const act = r.activations.find((a) => a.name === 'blocks.1.resid_post')!;
      const w = act.data.length / act.positions.length;
      expect(relativeL2Error(act.data.subarray((n - 1) * w, n * w), expected.row('blocks.1.resid_post', n - 1))).toBeLessThan(TOL);
    });
  }

  it("compareRuns (the CLI's and the server's before/after): after is the ablated run, before the clean one, also in the fallback", async () => {
    const c = await compareRuns(
      NOTEBOOK_PROMPT,
      { model, positions: 'all', hooks: ['resid_post'], maxAttentionFloats: small },
      ablation(['blocks.0.mlp_out']),
      'after (ablated)',
    );
    expect([c.label, c.compareLabel]).toEqual(['after (ablated)', CLEAN_LABEL]);
    expect(worstAttentionError(c.after.attention!, forwardReference(ref, NOTEBOOK_IDS, { interventions: ablate }))).toBeLessThan(TOL);
    expect(worstAttentionError(c.before.attention!, forwardReference(ref, NOTEBOOK_IDS))).toBeLessThan(TOL);
  });
});
