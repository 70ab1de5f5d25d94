// decodeLayers' target tracking, per-hook metrics (entropy, KL(final ‖ hook)) and attention, checked
// against the float64 reference forward and lens in test/reference/.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeLayers, encode, tokenText, type Model } from '../../lib/index.js';
import { resolveTarget } from '../../lib/lens/decode.js';
import { entropyFromLogProbs, klFromLogProbs, lensMeasuresReference, rankOf } from '../../lib/lens/reference.js';
import { forwardReference, lensLogitsReference, type RefActivations, type RefModel } from '../reference/gpt2-f64.js';
import { NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';

const tiny = useTinyModel({ threads: 2 });
let model: Model;
let ref: RefModel;
let acts: RefActivations;
beforeAll(() => {
  ({ model, ref } = tiny);
  acts = forwardReference(ref, NOTEBOOK_IDS, { logits: 'none' });
});

/** Float64 reference: log-probabilities of the lens of hook `name` at `pos`, and its raw logits. */
function refLens(name: string, pos: number): { logits: Float64Array; logp: Float64Array } {
  const logits = lensLogitsReference(ref, acts.row(name, pos));
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  return { logits, logp: logits.map((x) => x - lse) };
}

const FINAL = 'blocks.1.resid_post';

describe('decodeLayers: target', () => {
  it("reports the target token's probability, logit and rank in every lensed row, as the float64 reference does", async () => {
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all', positions: [4, 25], target: ' Paris', topK: 3 });
    expect(r.target).toEqual({ id: 6342, token: ' Paris' });
    let checked = 0;
    for (const h of r.hooks) {
      if (!h.top) {
        expect(h.target).toBeUndefined();
        continue;
      }
      const { logits, logp } = refLens(h.name, h.position);
      const t = h.target!;
      expect(t.id).toBe(6342);
      expect(t.token).toBe(' Paris');
      expect(t.prob / Math.exp(logp[6342]), `${h.name}@${h.position}`).toBeCloseTo(1, 3);
      expect(t.logit).toBeCloseTo(logits[6342], 3);
      const rank = rankOf(logits, 6342);
      // f32 against f64 logits may swap near-ties far down the list
      expect(Math.abs(t.rank - rank), `${h.name}@${h.position} rank`).toBeLessThanOrEqual(rank > 100 ? 2 : 0);
      expect(t.reciprocalRank).toBe(1 / t.rank);
      checked++;
    }
    expect(checked).toBe(2 * (1 + 4 * 2));
  });

  it("accepts a token id; the model's own prediction has rank 1 in the final row", async () => {
    const base = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'] });
    const id = base.prediction.id;
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'], target: id });
    const final = r.hooks.find((h) => h.name === FINAL)!;
    expect(final.target).toMatchObject({ id, token: tokenText(id), rank: 1, reciprocalRank: 1 });
    expect(final.target!.prob).toBeCloseTo(final.top![0].prob, 6);
    expect(final.target!.logit).toBe(final.top![0].logit);
  });

  it('rejects targets that are not exactly one token, saying what they became', async () => {
    await expect(decodeLayers(NOTEBOOK_PROMPT, { model, target: ' Warsaw, Poland' })).rejects.toThrow(
      /target " Warsaw, Poland" is 3 tokens, not one: " Warsaw" \(32955\), "," \(11\), " Poland" \(12873\)/,
    );
    expect(() => resolveTarget('Warsaw')).toThrow(/" Warsaw", with a leading space, is one token/);
    expect(() => resolveTarget('')).toThrow(/empty/);
    expect(() => resolveTarget(50257, 50257)).toThrow(/0\.\.50256/);
    expect(() => resolveTarget(1.5)).toThrow(/not a token id/);
    expect(() => resolveTarget(null as unknown as string)).toThrow(TypeError);
    expect(resolveTarget('<|endoftext|>')).toEqual({ id: 50256, token: '<|endoftext|>' });
    expect(resolveTarget(' Warsaw')).toEqual({ id: 32955, token: ' Warsaw' });
    await expect(decodeLayers(NOTEBOOK_PROMPT, { model, target: -1 })).rejects.toThrow(/not a token id/);
  });
});

describe('decodeLayers: metrics', () => {
  it("entropy and KL(final ‖ hook) in nats match the float64 reference; the final row's KL is 0", async () => {
    const r = await decodeLayers(NOTEBOOK_PROMPT, {
      model,
      hooks: ['embed', 'blocks.0.resid_mid', 'blocks.1.mlp_out', FINAL],
      positions: [0, 11, 25],
      metrics: true,
    });
    for (const h of r.hooks) {
      const q = refLens(h.name, h.position).logp;
      const p = refLens(FINAL, h.position).logp;
      const ent = entropyFromLogProbs(q);
      const kl = klFromLogProbs(p, q);
      expect(h.entropy!, `${h.name}@${h.position} entropy`).toBeCloseTo(ent, 4);
      expect(Math.abs(h.kl! - kl), `${h.name}@${h.position} kl`).toBeLessThan(1e-4 + 1e-3 * kl);
      if (h.name === FINAL) expect(h.kl).toBe(0);
      else expect(h.kl!).toBeGreaterThan(0);
    }
  });

  it('the plain-TS reference lens gives the same target and metrics as the native lens', async () => {
    const opts = { model, hooks: ['embed', 'blocks.0.attn_out', FINAL], positions: [3, 25], metrics: true, target: ' Paris', topK: 4 } as const;
    const a = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, lensImpl: 'native' });
    const b = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, lensImpl: 'reference' });
    expect(b.hooks.length).toBe(a.hooks.length);
    a.hooks.forEach((h, i) => {
      const g = b.hooks[i];
      expect(g.name).toBe(h.name);
      expect(g.entropy!).toBeCloseTo(h.entropy!, 4);
      expect(Math.abs(g.kl! - h.kl!)).toBeLessThan(1e-4 + 1e-3 * h.kl!);
      expect(g.target!.prob / h.target!.prob).toBeCloseTo(1, 3);
      expect(Math.abs(g.target!.rank - h.target!.rank)).toBeLessThanOrEqual(h.target!.rank > 100 ? 2 : 0);
      if (h.name === FINAL) expect(g.kl).toBe(0);
    });
  });

  it('is off by default: no measures are asked of the engine and no fields are added', async () => {
    const spy = vi.spyOn(model, 'lensNative');
    try {
      const r = await decodeLayers(NOTEBOOK_PROMPT, { model, positions: 'all' });
      expect(spy).toHaveBeenCalledTimes(1);
      const options = spy.mock.calls[0][3]!;
      expect([options.entropy, options.targets, options.references]).toEqual([undefined, undefined, undefined]);
      for (const h of r.hooks) expect(Object.keys(h)).toEqual(['name', 'layer', 'kind', 'position', 'top']);
      expect('target' in r).toBe(false);
    } finally {
      spy.mockRestore();
    }
  });

  it('every position with target and metrics is still one batched projection', async () => {
    const spy = vi.spyOn(model, 'lensNative');
    try {
      const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all', positions: 'all', metrics: true, target: ' Paris' });
      expect(spy).toHaveBeenCalledTimes(1);
      // 1 + 4·2 lensable hooks (the final residual is among them) at 26 positions
      expect(spy.mock.calls[0][1]).toBe(9 * 26);
      const lensed = r.hooks.filter((h) => h.top);
      expect(lensed).toHaveLength(9 * 26);
      expect(lensed.every((h) => h.target && Number.isFinite(h.entropy) && Number.isFinite(h.kl))).toBe(true);
      expect(r.hooks.filter((h) => h.name === FINAL).every((h) => h.kl === 0)).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('decodeLayers: attention', () => {
  it('exposes the captured attn_pattern per layer, position and head', async () => {
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post', 'attn_pattern'], positions: [2, 25] });
    expect(r.attention!.map((a) => [a.name, a.layer, a.n_head, a.n_tokens])).toEqual([
      ['blocks.0.attn_pattern', 0, 4, 26],
      ['blocks.1.attn_pattern', 1, 4, 26],
    ]);
    for (const a of r.attention!) {
      expect(a.positions).toEqual([2, 25]);
      a.positions.forEach((pos, i) => {
        const expected = acts.row(a.name, pos); // [n_head, n]
        for (let h = 0; h < a.n_head; h++) {
          const row = a.patterns[i][h];
          expect(row.length).toBe(26);
          const sum = row.reduce((s, x) => s + x, 0);
          expect(sum).toBeCloseTo(1, 5);
          for (let k = 0; k < 26; k++) expect(Math.abs(row[k] - expected[h * 26 + k])).toBeLessThan(1e-5);
          for (let k = pos + 1; k < 26; k++) expect(row[k]).toBe(0);
        }
      });
    }
    const none = await decodeLayers(NOTEBOOK_PROMPT, { model });
    expect(none.attention).toBeUndefined();
  });
});

describe('lens measure helpers (pure)', () => {
  it('rankOf, entropy and KL on hand-made cases', () => {
    expect(rankOf([1, 3, 3, 2], 2)).toBe(2); // tie with the lower id 1 ranks it first
    expect(rankOf([1, 3, 3, 2], 1)).toBe(1);
    expect(rankOf([1, 3, 3, 2], 0)).toBe(4);
    const uniform = [Math.log(0.25), Math.log(0.25), Math.log(0.25), Math.log(0.25)];
    expect(entropyFromLogProbs(uniform)).toBeCloseTo(Math.log(4), 12);
    expect(entropyFromLogProbs([0, -Infinity])).toBe(0);
    expect(klFromLogProbs(uniform, uniform)).toBe(0);
    const p = [Math.log(0.5), Math.log(0.5)];
    const q = [Math.log(0.9), Math.log(0.1)];
    expect(klFromLogProbs(p, q)).toBeCloseTo(0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1), 12);
  });

  it('lensMeasuresReference validates its per-row inputs', () => {
    const params = { lnfWeight: [1, 1], lnfBias: [0, 0], eps: 1e-5, wte: [1, 0, 0, 1, 1, 1], vocab: 3, d: 2 };
    const r = lensMeasuresReference([1, 0, 0, 1], 2, params, 2, { entropy: true, targets: [2, -1], references: [1, -1] });
    expect(r.top).toHaveLength(2);
    expect(r.targetRank![1]).toBe(0);
    expect(Number.isNaN(r.targetProb![1])).toBe(true);
    expect(Number.isNaN(r.kl![1])).toBe(true);
    expect(r.kl![0]).toBeGreaterThan(0);
    expect(() => lensMeasuresReference([1, 0, 0, 1], 2, params, 2, { targets: [3, 0] })).toThrow(/outside/);
    expect(() => lensMeasuresReference([1, 0, 0, 1], 2, params, 2, { references: [0] })).toThrow(/one entry per vector/);
  });
});

it('the notebook prompt encodes as expected (sanity)', () => {
  expect(encode(NOTEBOOK_PROMPT)).toEqual(NOTEBOOK_IDS);
});
