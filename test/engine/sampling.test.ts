// Sampled generation with the KV cache against the TypeScript reference sampler (test/helpers/
// reference-sampler.ts) applied to full forwards of each growing prefix (model.run). The two paths
// compute the logits differently (cache vs full re-run), so each draw's distance from the nearest CDF
// boundary, the top-p cut's distance from topP and the top-k cut's logit gap are asserted to be far above
// float32 rounding: token equality is then exact, not luck.
import { beforeAll, describe, expect, it } from 'vitest';
import { generate, type ControlVector, type Intervention, type Model } from '../../lib/index.js';
import { native } from '../../lib/model/native.js';
import { encode } from '../../lib/tokens/tokenizer.js';
import { greedyReference, type RefModel } from '../reference/gpt2-f64.js';
import { NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { signedRandom } from '../helpers/random.js';
import { ReferenceSampler, referenceDistribution, type ReferenceSampling } from '../helpers/reference-sampler.js';

const tiny = useTinyModel({ threads: 2 });
let model: Model;
let ref: RefModel;
beforeAll(() => {
  ({ model, ref } = tiny);
});

/**
 * A bound on how far one logit may differ between the cache and a full re-run: each path is within
 * 6e-6 of the float64 reference on this model (measured), so they are within 1.2e-5 of each other.
 */
const LOGIT_EPS = 5e-5;

/**
 * Asserts that logits within LOGIT_EPS of these would give the same pick: the top-k cut's logit gap
 * exceeds 2·eps; and as every probability then moves by a factor within exp(±2·eps/T), every running sum
 * moves by less than 2·eps/T (to first order), so the top-p cut and the draw must be farther than that
 * from it.
 */
function checkMargins(logits: Float32Array, p: ReferenceSampling, drawMargin: number): void {
  const t = Math.fround(p.temperature);
  const safe = (2 * LOGIT_EPS) / t;
  expect(drawMargin).toBeGreaterThan(safe);
  if (p.topK > 0) {
    // the cut is safe if it is clear, or if the tokens it separates are too unlikely to matter
    const sorted = Float32Array.from(logits).sort().reverse();
    const weightAtCut = Math.exp((sorted[p.topK - 1] - sorted[0]) / t);
    expect(sorted[p.topK - 1] - sorted[p.topK] > 2 * LOGIT_EPS || weightAtCut < 1e-9).toBe(true);
  }
  if (p.topP < 1) {
    const full = referenceDistribution(logits, { ...p, topP: 1 });
    let cum = 0;
    let nearest = Infinity;
    for (const q of full.probs) nearest = Math.min(nearest, Math.abs((cum += q) - Math.fround(p.topP)));
    expect(nearest).toBeGreaterThan(safe);
  }
}

/** The reference continuation: the reference sampler on model.run's logits of each prefix. */
async function referenceContinuation(
  ids: number[],
  count: number,
  p: ReferenceSampling,
  interventions: Intervention[] = [],
  margins = true,
): Promise<number[]> {
  const sampler = new ReferenceSampler(p);
  const seq = [...ids];
  const out: number[] = [];
  for (let s = 0; s < count; s++) {
    const { logits } = await model.run(seq, { interventions });
    const { id, margin } = sampler.sampleWithMargin(logits);
    if (margins) checkMargins(logits, p, margin);
    out.push(id);
    seq.push(id);
  }
  return out;
}

// Each with a clear margin at every token (checked): a near-flat tail, as this random model has at
// T = 1 without a cut, puts most draws within float32 noise of a CDF boundary.
const CASES: ReferenceSampling[] = [
  { temperature: 0.4, topK: 0, topP: 1, seed: 1 },
  { temperature: 0.7, topK: 10, topP: 1, seed: 2 },
  { temperature: 1, topK: 0, topP: 0.5, seed: 3 },
  { temperature: 1.3, topK: 20, topP: 0.9, seed: 2 ** 52 + 3 },
  // a top-k too large for the engine's select-then-sort path: its sort-everything path
  { temperature: 0.4, topK: 7000, topP: 1, seed: 1 },
];

describe('sampled generate', () => {
  it.each(CASES)('equals the reference sampler on full forwards of each prefix (%o)', async (p) => {
    const expected = await referenceContinuation(NOTEBOOK_IDS, 10, p);
    const r = await generate(NOTEBOOK_PROMPT, { model, maxNewTokens: 10, stopAtEndOfText: false, ...p });
    expect(r.tokens.map((t) => t.id)).toEqual(expected);
    expect(r.seed).toBe(p.seed);
  });

  it('a seed replays; other seeds at a high temperature give other continuations', async () => {
    const run = async (seed: number) =>
      (await generate('Hello', { model, maxNewTokens: 10, stopAtEndOfText: false, temperature: 2, seed })).tokens.map((t) => t.id);
    const first = await run(7);
    expect(await run(7)).toEqual(first);
    const others = await Promise.all([8, 9, 10].map(run));
    for (const o of others) expect(o).not.toEqual(first);
  });

  it('without a seed picks a random one and reports it; passing it back replays the run', async () => {
    const a = await generate('Hello', { model, maxNewTokens: 6, stopAtEndOfText: false, temperature: 1.5 });
    const b = await generate('Hello', { model, maxNewTokens: 6, stopAtEndOfText: false, temperature: 1.5 });
    expect(a.seed).not.toBe(b.seed);
    const replay = await generate('Hello', { model, maxNewTokens: 6, stopAtEndOfText: false, temperature: 1.5, seed: a.seed });
    expect(replay.tokens).toEqual(a.tokens);
  });

  it('temperature 0 is the greedy output, whatever the seed, top-k and top-p', async () => {
    const greedy = greedyReference(ref, NOTEBOOK_IDS, 8);
    const byDefault = await generate(NOTEBOOK_PROMPT, { model, maxNewTokens: 8, stopAtEndOfText: false });
    const explicit = await generate(NOTEBOOK_PROMPT, { model, maxNewTokens: 8, stopAtEndOfText: false, temperature: 0, topK: 3, topP: 0.2, seed: 99 });
    expect(byDefault.tokens.map((t) => t.id)).toEqual(greedy);
    expect(explicit.tokens.map((t) => t.id)).toEqual(greedy);
  });

  it('control vectors and step interventions apply to every token while sampling', async () => {
    const p: ReferenceSampling = { temperature: 0.8, topK: 10, topP: 1, seed: 6 };
    const rand = signedRandom(11);
    const direction = Float32Array.from({ length: 64 }, () => rand() * 3);
    const vector: ControlVector = { modelHint: 'gpt2', directions: new Map([[1, direction]]) };
    // the control vector as the reference sees it: an addition to blocks.1.resid_post at every position
    const steer: Intervention = { hook: 'blocks.1.resid_post', op: 'add', vector: direction };
    const ablate: Intervention = { hook: 'blocks.0.mlp_out', op: 'zero' };
    const ids = encode('The weather today');

    const steered = await generate('The weather today', { model, maxNewTokens: 10, stopAtEndOfText: false, controlVectors: [{ vector }], ...p });
    const steeredRef = await referenceContinuation(ids, 10, p, [steer]);
    expect(steered.tokens.map((t) => t.id)).toEqual(steeredRef);

    const ablated = await generate('The weather today', {
      model,
      maxNewTokens: 10,
      stopAtEndOfText: false,
      interventions: [ablate],
      stepInterventions: [ablate],
      ...p,
    });
    const ablatedRef = await referenceContinuation(ids, 10, p, [ablate]);
    expect(ablated.tokens.map((t) => t.id)).toEqual(ablatedRef);

    // the checks above can fail: the same seed without the edits samples something else
    const clean = await referenceContinuation(ids, 10, p, [], false);
    expect(clean).not.toEqual(steeredRef);
    expect(clean).not.toEqual(ablatedRef);
  });

  it('checks the sampling options before loading anything', async () => {
    await expect(generate('Hi', { model, temperature: -0.5 })).rejects.toThrow(/Expected a finite number ≥ 0 \(0 = greedy\) for temperature/);
    await expect(generate('Hi', { model, temperature: 1, topP: 0 })).rejects.toThrow(/for topP/);
    await expect(generate('Hi', { model, temperature: 1, seed: -3 })).rejects.toThrow(/for seed/);
    await expect(generate('Hi', { model: '/nonexistent/model', topK: 0.5 })).rejects.toThrow(/for topK/);
  });

  it('the addon checks them again, naming the field', async () => {
    const engine = await native().loadModel({ path: model.weightsPath, hparams: model.config, device: testDevice(), threads: 1 });
    try {
      const tokens = Int32Array.from(encode('Hi'));
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ temperature: -1 }, /generate: 'temperature' must be a finite number >= 0/],
        [{ temperature: NaN }, /'temperature' must be a finite number/],
        [{ temperature: 1e39 }, /'temperature' must be a finite number/],
        [{ temperature: '1' }, /'temperature' must be a number/],
        [{ topP: 0 }, /'topP' must be in \(0, 1\]/],
        [{ topP: 2 }, /'topP' must be in \(0, 1\]/],
        [{ topP: 1e-50 }, /'topP' must be in \(0, 1\]/],
        [{ topK: 2.5 }, /'topK' must be a 32-bit integer/],
        [{ seed: -1 }, /'seed' must be an integer in 0..2\^53-1/],
        [{ seed: 2 ** 53 }, /'seed' must be an integer/],
        [{ seed: 1.5 }, /'seed' must be an integer/],
        [{ topp: 0.5 }, /unknown option 'topp'/],
      ];
      for (const [extra, message] of bad) expect(() => engine.generate({ tokens, maxNewTokens: 2, ...extra } as never)).toThrow(message);
      // a negative top-k is "no cut", as in llama.cpp
      const all = await engine.generate({ tokens, maxNewTokens: 4, temperature: 1, topK: -5, seed: 3 });
      const none = await engine.generate({ tokens, maxNewTokens: 4, temperature: 1, topK: 0, seed: 3 });
      expect(Array.from(all)).toEqual(Array.from(none));
    } finally {
      engine.dispose();
    }
  });
});
