import { describe, expect, it } from 'vitest';
import { layerNorm, lensReference, logSoftmax, logSumExp, softmax, topK, unembed } from '../../lib/lens/reference.js';

// Hand example, d = 3, vocab = 4 (values computed independently in Python, float64):
//   x = [1, 2, 3], mean 2, biased variance 2/3, eps 1e-5, gamma = [1, 2, 0.5], beta = [0, 1, -1]
//   wte rows: e0, e1, 2·e2, (1,1,1)
const x = Float32Array.of(1, 2, 3);
const gamma = Float32Array.of(1, 2, 0.5);
const beta = Float32Array.of(0, 1, -1);
const eps = 1e-5;
const wte = Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 1);
const NORMED = [-1.2247356859083902, 1.0, -0.3876321570458049];
const LOGITS = [-1.2247356859083902, 1.0, -0.7752643140916098, -0.6123678429541951];
const PROBS = [0.07318868042878049, 0.6770712126729868, 0.11472203802163472, 0.1350180688765981];
const LOGPROBS = [-2.6147145089237926, -0.38997882301540243, -2.165243137107012, -2.0023466659695974];

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(tol);
};

describe('layerNorm', () => {
  it('matches the hand example', () => close(layerNorm(x, gamma, beta, eps), NORMED));

  it('recomputes statistics per vector (shift and scale invariant up to eps)', () => {
    const y = Float32Array.from(x, (v) => 10 * v + 1000);
    close(layerNorm(y, gamma, beta, 0), layerNorm(x, gamma, beta, 0), 1e-9);
  });

  it('uses the biased variance and computes in float64', () => {
    const ln = layerNorm(Float32Array.of(0, 2), Float32Array.of(1, 1), Float32Array.of(0, 0), 0);
    close(ln, [-1, 1]); // variance 1 (biased), not 2
    expect(ln).toBeInstanceOf(Float64Array);
  });

  it('checks lengths', () => {
    expect(() => layerNorm(x, Float32Array.of(1, 1), beta, eps)).toThrow(/gamma/);
    expect(() => layerNorm(new Float32Array(0), [], [], eps)).toThrow(/empty/);
  });
});

describe('unembed / softmax', () => {
  it('matches the hand example', () => {
    const logits = unembed(NORMED, wte, 4, 3);
    close(logits, LOGITS);
    close(softmax(logits), PROBS);
    close(logSoftmax(logits), LOGPROBS);
  });

  it('checks shapes', () => {
    expect(() => unembed([1, 2], wte, 4, 3)).toThrow(/expected d = 3/);
    expect(() => unembed(NORMED, wte, 5, 3)).toThrow(/vocab·d = 15/);
  });

  it('is stable for large logits', () => {
    const big = [1e4, 1e4 - 1, -1e4, 1e4];
    const p = softmax(big);
    expect([...p].every(Number.isFinite)).toBe(true);
    const e1 = Math.exp(-1);
    close(p, [1 / (2 + e1), e1 / (2 + e1), 0, 1 / (2 + e1)], 1e-15);
    const lp = logSoftmax(big);
    expect(lp[0]).toBeCloseTo(-Math.log(2 + e1), 12);
    expect(lp[2]).toBeCloseTo(-2e4 - Math.log(2 + e1), 8);
    expect(logSumExp([-1e4, -1e4])).toBeCloseTo(-1e4 + Math.log(2), 10);
    const sum = [...softmax([-1e4, -1e4 + 1])].reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 14);
  });
});

describe('topK', () => {
  it('returns the best k with full-softmax probabilities', () => {
    const top = topK(LOGITS, 2);
    expect(top.map((t) => t.id)).toEqual([1, 3]);
    expect(top[0].prob).toBeCloseTo(PROBS[1], 12);
    expect(top[1].prob).toBeCloseTo(PROBS[3], 12);
    expect(top[1].logit).toBe(LOGITS[3]);
    expect(topK(LOGITS, 4).map((t) => t.id)).toEqual([1, 3, 2, 0]);
  });

  it('breaks ties by the lower id', () => {
    const logits = [1, 5, 3, 5, 5, 3, 0];
    expect(topK(logits, 4).map((t) => t.id)).toEqual([1, 3, 4, 2]);
    expect(topK(logits, 7).map((t) => t.id)).toEqual([1, 3, 4, 2, 5, 0, 6]);
    expect(topK([2, 2, 2, 2], 2).map((t) => t.id)).toEqual([0, 1]);
    expect(topK([2, 2, 2, 2], 1)[0].prob).toBeCloseTo(0.25, 15);
  });

  it('agrees with a full sort on random data', () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const logits = Float64Array.from({ length: 1000 }, () => Math.round(rnd() * 50) / 5); // many ties
    const expected = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b).slice(0, 17);
    expect(topK(logits, 17).map((t) => t.id)).toEqual(expected);
  });

  it('validates k', () => {
    expect(() => topK(LOGITS, 0)).toThrow(/1\.\.4/);
    expect(() => topK(LOGITS, 5)).toThrow(/1\.\.4/);
    expect(() => topK(LOGITS, 1.5)).toThrow(/integer/);
  });
});

describe('lensReference', () => {
  const params = { lnfWeight: gamma, lnfBias: beta, eps, wte, vocab: 4, d: 3 };

  it('lenses each row independently', () => {
    // row 0: the hand example; row 1: an affine copy of it (same LayerNorm output up to eps)
    const vectors = Float32Array.of(1, 2, 3, 5, 7, 9);
    const rows = lensReference(vectors, 2, params, 3, { logProbs: true });
    expect(rows).toHaveLength(2);
    expect(rows[0].top.map((t) => t.id)).toEqual([1, 3, 2]);
    expect(rows[0].top[0].prob).toBeCloseTo(PROBS[1], 12);
    expect(rows[0].top[0].logit).toBeCloseTo(LOGITS[1], 12);
    close(rows[0].logProbs!, LOGPROBS);
    expect(rows[1].top.map((t) => t.id)).toEqual([1, 3, 2]);
    expect(rows[1].top[0].prob).toBeCloseTo(PROBS[1], 5);
  });

  it('omits log-probs unless asked', () => {
    expect(lensReference(x, 1, params, 1)[0].logProbs).toBeUndefined();
  });

  it('validates shapes and k', () => {
    expect(() => lensReference(x, 2, params, 1)).toThrow(/m·d = 6/);
    expect(() => lensReference(x, 1, params, 5)).toThrow(/1\.\.4/);
    expect(() => lensReference(x, 1, { ...params, d: 0 }, 1)).toThrow(/d must be/);
  });
});
