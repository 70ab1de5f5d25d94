// The batch summary against a plain computation written here: shares, means, standard deviations and
// their 95% intervals per hook, over synthetic per-prompt results. The Student t quantiles are taken from
// a printed table, the Wilson interval from its (k + z²/2)/(n + z²) form, not from the summary module.
import { describe, expect, it } from 'vitest';
import { renderSummaryPage, SummaryAccumulator, studentT975, type LensJSON } from '../../lib/index.js';
import { mulberry32 } from '../helpers/random.js';

// t(0.975, df) from a standard table.
const T_TABLE: Record<number, number> = { 1: 12.7062, 2: 4.30265, 4: 2.77645, 6: 2.44691, 9: 2.26216, 13: 2.16037, 29: 2.04523, 99: 1.98422 };
const Z = 1.959964;

function wilson(k: number, n: number): [number, number] {
  const z2 = Z * Z;
  const center = (k + z2 / 2) / (n + z2);
  const half = ((Z * Math.sqrt(n)) / (n + z2)) * Math.sqrt((k / n) * (1 - k / n) + z2 / (4 * n));
  return [center - half, center + half];
}

function meanCi(xs: number[]): { mean: number; sd: number; ci: [number, number] } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (T_TABLE[n - 1] * sd) / Math.sqrt(n);
  return { mean, sd, ci: [mean - half, mean + half] };
}

const HOOKS = ['embed', 'blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.resid_post'];

/** A synthetic result: random tops among 4 tokens, random target stats on some prompts. */
function fakeResult(rand: () => number, withTarget: boolean): LensJSON {
  const tok = () => Math.floor(rand() * 4);
  const prediction = tok();
  const position = 3;
  const hooks = HOOKS.flatMap((name, i) => {
    const layer = i === 0 ? null : Math.floor((i - 1) / 2);
    const kind = i === 0 ? 'embed' : name.endsWith('resid_mid') ? 'resid_mid' : 'resid_post';
    const row = (pos: number) => ({
      name,
      layer,
      kind: kind as LensJSON['hooks'][number]['kind'],
      position: pos,
      top: [{ id: i === HOOKS.length - 1 ? prediction : tok(), token: 't', prob: rand(), logit: 0 }],
      entropy: 5 * rand(),
      kl: i === HOOKS.length - 1 ? 0 : 3 * rand(),
      ...(withTarget ? { target: { id: 2, token: 't2', prob: rand(), logit: 0, rank: 1 + Math.floor(rand() * 50), reciprocalRank: 0 } } : {}),
    });
    // an earlier position too, which the summary must ignore, and an mlp_post-like row without a lens
    return [row(0), row(position), ...(i === 1 ? [{ name: 'blocks.0.mlp_post', layer: 0, kind: 'mlp_post' as const, position }] : [])];
  });
  return {
    model: { name: 'fake', n_layer: 2, n_embd: 8, n_head: 2, n_vocab: 4, n_ctx: 8, dtype: 'f32' },
    prompt: 'p',
    tokens: [],
    position,
    positions: [0, position],
    prediction: { id: prediction, token: 't', prob: 0.5 },
    hooks,
    ...(withTarget ? { target: { id: 2, token: 't2' } } : {}),
  };
}

describe('batch summary', () => {
  it('studentT975 matches the printed table', () => {
    for (const [df, t] of Object.entries(T_TABLE)) expect(studentT975(Number(df))).toBeCloseTo(t, 4);
  });

  for (const [n, nTarget] of [
    [10, 7],
    [30, 14],
    [100, 5],
  ]) {
    it(`per hook: shares with Wilson intervals, means with t intervals (${n} prompts, ${nTarget} with a target)`, () => {
      const rand = mulberry32(n);
      const results = Array.from({ length: n }, (_, i) => fakeResult(rand, i < nTarget));
      const acc = new SummaryAccumulator();
      for (const r of results) acc.add(r);
      const s = acc.summary();
      expect(s.prompts).toBe(n);
      expect(s.withTarget).toBe(nTarget);
      expect(s.hooks.map((h) => h.name)).toEqual(HOOKS);
      for (const h of s.hooks) {
        const rows = results.map((r) => ({ r, row: r.hooks.find((x) => x.name === h.name && x.position === r.position)! }));
        const agree = rows.filter(({ r, row }) => row.top![0].id === r.prediction.id).length;
        expect(h.n).toBe(n);
        expect(h.top1IsPrediction.count).toBe(agree);
        expect(h.top1IsPrediction.share).toBeCloseTo(agree / n, 12);
        const w = wilson(agree, n);
        expect(h.top1IsPrediction.ci[0]).toBeCloseTo(Math.max(0, w[0]), 5);
        expect(h.top1IsPrediction.ci[1]).toBeCloseTo(Math.min(1, w[1]), 5);

        const targeted = rows.filter(({ row }) => row.target);
        const hit = targeted.filter(({ row }) => row.top![0].id === row.target!.id).length;
        expect(h.top1IsTarget!.count).toBe(hit);
        expect(h.top1IsTarget!.n).toBe(nTarget);
        const wt = wilson(hit, nTarget);
        expect(h.top1IsTarget!.ci[0]).toBeCloseTo(Math.max(0, wt[0]), 5);
        expect(h.top1IsTarget!.ci[1]).toBeCloseTo(Math.min(1, wt[1]), 5);

        const checks: [string, number[]][] = [
          ['targetRank', targeted.map(({ row }) => row.target!.rank)],
          ['targetProb', targeted.map(({ row }) => row.target!.prob)],
          ['entropy', rows.map(({ row }) => row.entropy!)],
          ['kl', rows.map(({ row }) => row.kl!)],
        ];
        for (const [key, xs] of checks) {
          const got = h[key as 'entropy']!;
          const want = meanCi(xs);
          const tol = Math.max(1e-9, 1e-4 * Math.abs(want.ci[1] - want.mean));
          expect(got.n, `${h.name} ${key}`).toBe(xs.length);
          expect(Math.abs(got.mean - want.mean), `${h.name} ${key} mean`).toBeLessThan(1e-9 * Math.max(1, Math.abs(want.mean)));
          if (want.sd === 0) continue;
          expect(Math.abs(got.sd! - want.sd) / want.sd, `${h.name} ${key} sd`).toBeLessThan(1e-9);
          expect(Math.abs(got.ci![0] - want.ci[0]), `${h.name} ${key} ci`).toBeLessThan(tol);
          expect(Math.abs(got.ci![1] - want.ci[1]), `${h.name} ${key} ci`).toBeLessThan(tol);
        }
      }
    });
  }

  it('without targets or metrics those statistics are null; one prompt has no interval', () => {
    const r = fakeResult(mulberry32(1), false);
    for (const h of r.hooks) {
      delete h.entropy;
      delete h.kl;
    }
    const acc = new SummaryAccumulator();
    acc.add(r);
    const h = acc.summary().hooks[0];
    expect(h).toMatchObject({ n: 1, top1IsTarget: null, targetRank: null, targetProb: null, entropy: null, kl: null });
    acc.add(fakeResult(mulberry32(2), false));
    expect(acc.summary().hooks[0].entropy).toMatchObject({ n: 1, sd: null, ci: null });
  });

  it('the page is self-contained HTML with one plot per statistic and escaped text', () => {
    const acc = new SummaryAccumulator();
    const rand = mulberry32(5);
    for (let i = 0; i < 12; i++) acc.add(fakeResult(rand, i % 2 === 0));
    const html = renderSummaryPage(acc.summary(), 'run <1> & "x"');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<title>run &lt;1&gt; &amp; &quot;x&quot;</title>');
    expect(html.match(/<svg /g)?.length).toBe(6);
    expect(html).not.toMatch(/<script|<link|\bsrc=|\bhref=|@import|url\(/i);
    for (const name of HOOKS) expect(html).toContain(`<td>${name}</td>`);
  });
});
