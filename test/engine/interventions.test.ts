// Interventions, per-head attention outputs, activation patching and direct logit attribution, against
// the independent float64 reference (test/reference/gpt2-f64.ts applies the same edits at the same hook
// points). Synthetic checkpoints with random weights: nothing here says anything about GPT-2 itself.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attributeLogit, directLogitAttribution } from '../../lib/interp/attribution.js';
import type { Activation, Intervention, Model } from '../../lib/index.js';
import { patchActivations } from '../../lib/interp/patch.js';
import { encode } from '../../lib/tokens/tokenizer.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT, repoRoot } from '../helpers/checkpoints.js';
import { useTestModel } from '../helpers/fixtures.js';
import { signedRandom } from '../helpers/random.js';
import {
  argmax,
  forwardReference,
  layerNorm,
  relativeL2Error,
  softmax64,
  type RefActivations,
  type RefIntervention,
  type RefModel,
} from '../reference/gpt2-f64.js';

const TOL = 1e-4; // the default-compute parity tolerance (relative L2)

const rng = signedRandom;

function randomVector(width: number, seed: number, scale: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: width }, () => r() * scale);
}

function rms(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s / v.length);
}

/** Every captured row of the engine against the reference; returns the worst relative L2 error. */
function compareAll(activations: Activation[], logits: Float32Array, expected: RefActivations, tol: number): number {
  let worst = 0;
  for (const a of activations) {
    const width = a.data.length / a.positions.length;
    for (const [i, pos] of a.positions.entries()) {
      const err = relativeL2Error(a.data.subarray(i * width, (i + 1) * width), expected.row(a.name, pos));
      worst = Math.max(worst, err);
      expect(err, `${a.name} at position ${pos}`).toBeLessThan(tol);
    }
  }
  const err = relativeL2Error(logits, expected.row('logits', expected.n - 1));
  expect(err, 'logits').toBeLessThan(tol);
  return Math.max(worst, err);
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

const tinyDir = checkpoint('tiny-f32');
const wideDir = checkpoint('l4-d128-prefix', { layers: 4, embd: 128, heads: 8, ctx: 64, prefix: true, seed: 7 });

const tinyModel = useTestModel(tinyDir);
const wideModel = useTestModel(wideDir);
let tiny: Model;
let tinyRef: RefModel;
let wide: Model;
let wideRef: RefModel;
const worst = new Map<string, number>();

beforeAll(() => {
  ({ model: tiny, ref: tinyRef } = tinyModel);
  ({ model: wide, ref: wideRef } = wideModel);
});
afterAll(() => {
  console.log('max relative L2 error under interventions:', Object.fromEntries([...worst].map(([k, v]) => [k, v.toExponential(2)])));
});

describe('the float64 reference applies interventions as specified', () => {
  it('the hook reports the edited value, earlier positions are untouched, add then subtract is a no-op', () => {
    const d = 64;
    const clean = forwardReference(tinyRef, NOTEBOOK_IDS);
    const v = randomVector(d, 21, 1);
    const set = forwardReference(tinyRef, NOTEBOOK_IDS, { interventions: [{ hook: 'blocks.0.resid_mid', op: 'set', positions: [-2], vector: v }] });
    expect(Array.from(set.row('blocks.0.resid_mid', 24))).toEqual(Array.from(v));
    for (let p = 0; p < 24; p++) expect(Array.from(set.row('blocks.1.resid_post', p))).toEqual(Array.from(clean.row('blocks.1.resid_post', p)));
    expect(relativeL2Error(set.row('blocks.1.resid_post', 25), clean.row('blocks.1.resid_post', 25))).toBeGreaterThan(1e-3);
    const there = forwardReference(tinyRef, NOTEBOOK_IDS, {
      interventions: [
        { hook: 'blocks.1.mlp_out', op: 'add', vector: v },
        { hook: 'blocks.1.mlp_out', op: 'add', vector: v.map((x) => -x) },
        { hook: 'embed', op: 'scale', scale: 1 },
      ],
    });
    expect(relativeL2Error(there.get('logits'), clean.get('logits'))).toBeLessThan(1e-12);
    // Zeroing one neuron of mlp_post moves mlp_out by exactly that neuron's row of c_proj.
    const j = 77;
    const zeroed = forwardReference(tinyRef, NOTEBOOK_IDS, { interventions: [{ hook: 'blocks.1.mlp_post', op: 'zero', neurons: [j], positions: [25] }] });
    const a = clean.row('blocks.1.mlp_post', 25)[j];
    const delta = Float64Array.from(clean.row('blocks.1.mlp_out', 25), (x, i) => x - zeroed.row('blocks.1.mlp_out', 25)[i]);
    const want = Float64Array.from({ length: d }, (_, i) => a * tinyRef.blocks[1].proj_w[j * d + i]);
    expect(relativeL2Error(delta, want)).toBeLessThan(1e-9);
  });
});

describe('interventions inside the graph match the float64 reference', () => {
  // Vectors are random with roughly the hook's own RMS, so every edit moves the forward visibly.
  let cleanRef: RefActivations | undefined;
  const clean = () => (cleanRef ??= forwardReference(tinyRef, NOTEBOOK_IDS));
  const vec = (hook: string, width: number, seed: number, factor = 1) => randomVector(width, seed, factor * 1.7 * rms(clean().get(hook)));
  const d = 64;
  const cases: { label: string; interventions: () => Intervention[] }[] = [
    { label: 'add at embed, every position', interventions: () => [{ hook: 'embed', op: 'add', vector: vec('embed', d, 1) }] },
    {
      label: 'set attn_out at two positions',
      interventions: () => [{ hook: 'blocks.0.attn_out', op: 'set', positions: [3, -1], vector: vec('blocks.0.attn_out', d, 2) }],
    },
    { label: 'scale resid_mid everywhere', interventions: () => [{ hook: 'blocks.1.resid_mid', op: 'scale', scale: -0.75 }] },
    { label: 'zero resid_mid at one position', interventions: () => [{ hook: 'blocks.0.resid_mid', op: 'zero', positions: [7] }] },
    {
      label: 'mlp_post neurons: zero, scale, set and add',
      interventions: () => [
        { hook: 'blocks.0.mlp_post', op: 'zero', neurons: [0, 5, 17, 200, 255] },
        { hook: 'blocks.0.mlp_post', op: 'scale', scale: 4, neurons: [1, 2, 3, 100], positions: [-1, -2] },
        { hook: 'blocks.1.mlp_post', op: 'set', neurons: [9, 10, 11], positions: [25], vector: vec('blocks.1.mlp_post', 4 * d, 3, 5) },
        { hook: 'blocks.1.mlp_post', op: 'add', neurons: [42, 43], vector: vec('blocks.1.mlp_post', 4 * d, 4, 5) },
      ],
    },
    { label: 'zero mlp_out at one position', interventions: () => [{ hook: 'blocks.0.mlp_out', op: 'zero', positions: [10] }] },
    {
      label: 'add to the first resid_post at the last token',
      interventions: () => [{ hook: 'blocks.0.resid_post', op: 'add', positions: [-1], vector: vec('blocks.0.resid_post', d, 5) }],
    },
    {
      label: "set the last block's resid_post (the prediction itself)",
      interventions: () => [{ hook: 'blocks.1.resid_post', op: 'set', positions: [25], vector: vec('blocks.1.resid_post', d, 6) }],
    },
    {
      label: 'several edits on one hook apply in order (scale, then add)',
      interventions: () => [
        { hook: 'blocks.0.resid_post', op: 'scale', scale: 0.5 },
        { hook: 'blocks.0.resid_post', op: 'add', vector: vec('blocks.0.resid_post', d, 7) },
        { hook: 'blocks.1.attn_out', op: 'zero', positions: [0, 1, 2] },
      ],
    },
  ];

  for (const c of cases) {
    it(`${c.label}: every hook (also attn_head_out) and the logits`, async () => {
      const interventions = c.interventions();
      const expected = forwardReference(tinyRef, NOTEBOOK_IDS, { interventions: interventions as RefIntervention[] });
      // Not vacuous: the edit moves the logits (at some positions) well beyond the tolerance.
      expect(relativeL2Error(expected.get('logits'), clean().get('logits'))).toBeGreaterThan(100 * TOL);
      const { activations, logits } = await tiny.run(NOTEBOOK_IDS, { hooks: ['all', 'attn_head_out'], positions: 'all', interventions });
      expect(activations.length).toBe(1 + 7 * tiny.info.n_layer);
      worst.set(c.label, compareAll(activations, logits, expected, TOL));
    });
  }

  it('the edited hook reports its value after the edit', async () => {
    const v = vec('blocks.0.resid_mid', d, 8);
    const { activations } = await tiny.run(NOTEBOOK_IDS, {
      hooks: ['blocks.0.resid_mid', 'blocks.0.mlp_post'],
      positions: [4, 25],
      interventions: [
        { hook: 'blocks.0.resid_mid', op: 'set', positions: [25], vector: v },
        { hook: 'blocks.0.mlp_post', op: 'zero' },
      ],
    });
    expect(Array.from(activations[0].data.subarray(d, 2 * d))).toEqual(Array.from(v));
    expect(activations[1].data.every((x) => x === 0)).toBe(true);
  });

  it('on a wider model (4 blocks, 8 heads)', async () => {
    const D = 128;
    const interventions: Intervention[] = [
      {
        hook: 'blocks.1.mlp_out',
        op: 'add',
        positions: [-3, -1],
        vector: randomVector(D, 11, 2 * rms(forwardReference(wideRef, NOTEBOOK_IDS).get('blocks.1.mlp_out'))),
      },
      { hook: 'blocks.2.mlp_post', op: 'zero', neurons: Array.from({ length: 64 }, (_, i) => 3 * i) },
      { hook: 'blocks.3.resid_mid', op: 'scale', scale: 1.5, positions: [20] },
    ];
    const expected = forwardReference(wideRef, NOTEBOOK_IDS, { interventions: interventions as RefIntervention[] });
    const { activations, logits } = await wide.run(NOTEBOOK_IDS, { hooks: ['all', 'attn_head_out'], positions: 'all', interventions });
    worst.set('wide model', compareAll(activations, logits, expected, TOL));
  });

  it('generation continues from the edited forward (the KV cache holds the edit)', async () => {
    const ids = NOTEBOOK_IDS.slice(0, 12);
    const edit: Intervention[] = [{ hook: 'blocks.1.resid_post', op: 'add', positions: [-1], vector: vec('blocks.1.resid_post', d, 12, 3) }];
    const out = await tiny.generateIds(ids, 1, -1, edit);
    const expected = forwardReference(tinyRef, ids, { logits: 'last', interventions: edit as RefIntervention[] }).row('logits', ids.length - 1);
    expect(out[0]).toBe(argmax(expected));
    expect(out[0]).not.toBe(argmax(forwardReference(tinyRef, ids, { logits: 'last' }).row('logits', ids.length - 1)));
  });
});

describe('interventions only reach later positions', () => {
  it('an edit at position 9 leaves positions 0..8 bit-identical at every hook', async () => {
    const clean = await tiny.run(NOTEBOOK_IDS, { hooks: ['all', 'attn_head_out'], positions: 'all' });
    const edited = await tiny.run(NOTEBOOK_IDS, {
      hooks: ['all', 'attn_head_out'],
      positions: 'all',
      interventions: [{ hook: 'blocks.0.resid_mid', op: 'add', positions: [9], vector: randomVector(64, 13, 1) }],
    });
    expect(edited.activations.map((a) => a.name)).toEqual(clean.activations.map((a) => a.name));
    let changedLater = 0;
    for (const [k, a] of edited.activations.entries()) {
      const b = clean.activations[k];
      const width = a.data.length / a.positions.length;
      for (let pos = 0; pos < NOTEBOOK_IDS.length; pos++) {
        const same = sameBits(a.data.subarray(pos * width, (pos + 1) * width), b.data.subarray(pos * width, (pos + 1) * width));
        if (pos < 9) expect(same, `${a.name} at position ${pos}`).toBe(true);
        else if (!same) changedLater++;
      }
    }
    // Position 9 and every later one change from blocks.0.resid_mid on.
    expect(changedLater).toBeGreaterThan(17 * 5);
    expect(sameBits(edited.logits, clean.logits)).toBe(false);
  });
});

describe('intervention errors', () => {
  const run = (iv: unknown) => tiny.run(NOTEBOOK_IDS, { interventions: [iv as Intervention] });
  it('a vector of the wrong length names the hook and both widths', async () => {
    await expect(run({ hook: 'blocks.0.resid_post', op: 'add', vector: new Float32Array(65) })).rejects.toThrow(/blocks\.0\.resid_post.*64.*65/);
    await expect(run({ hook: 'blocks.1.mlp_post', op: 'set', vector: new Float32Array(64) })).rejects.toThrow(/256.*64/);
    await expect(run({ hook: 'embed', op: 'set' })).rejects.toThrow(/vector/);
  });
  it('hooks that cannot be edited, neurons outside mlp_post, bad positions', async () => {
    await expect(run({ hook: 'blocks.0.attn_head_out', op: 'zero' })).rejects.toThrow(/attn_head_out/);
    await expect(run({ hook: 'blocks.0.attn_pattern', op: 'zero' })).rejects.toThrow(/attn_pattern/);
    await expect(run({ hook: 'blocks.2.resid_post', op: 'zero' })).rejects.toThrow(/out of range/);
    await expect(run({ hook: 'blocks.0.resid_post', op: 'zero', neurons: [1] })).rejects.toThrow(/mlp_post/);
    await expect(run({ hook: 'blocks.0.mlp_post', op: 'zero', neurons: [256] })).rejects.toThrow(/256/);
    await expect(run({ hook: 'blocks.0.resid_post', op: 'zero', positions: [26] })).rejects.toThrow(/26/);
    await expect(run({ hook: 'blocks.0.resid_post', op: 'scale' })).rejects.toThrow(/scale/);
    await expect(run({ hook: 'blocks.0.resid_post', op: 'negate' })).rejects.toThrow(/op/);
  });
  it('the reference rejects the same mistakes', () => {
    const ref = (iv: RefIntervention) => () => forwardReference(tinyRef, NOTEBOOK_IDS, { interventions: [iv] });
    expect(ref({ hook: 'blocks.0.resid_post', op: 'add', vector: new Float32Array(65) })).toThrow(/64.*65/);
    expect(ref({ hook: 'blocks.0.attn_head_out', op: 'zero' })).toThrow(/cannot be intervened/);
    expect(ref({ hook: 'blocks.0.mlp_out', op: 'zero', neurons: [1] })).toThrow(/mlp_post only/);
    expect(ref({ hook: 'blocks.0.resid_post', op: 'zero', positions: [-27] })).toThrow(/outside/);
  });
});

describe('attn_head_out: each head through its slice of c_proj', () => {
  for (const [label, get] of [
    ['tiny (4 heads)', () => ({ model: tiny, ref: tinyRef })],
    ['wide (8 heads)', () => ({ model: wide, ref: wideRef })],
  ] as const) {
    it(`${label}: Σ heads + c_proj bias = attn_out, and every head matches the reference`, async () => {
      const { model, ref } = get();
      const { n_layer, n_head: H, n_embd: d } = model.info;
      const hooks = Array.from({ length: n_layer }, (_, l) => [`blocks.${l}.attn_head_out`, `blocks.${l}.attn_out`]).flat();
      const { activations } = await model.run(NOTEBOOK_IDS, { hooks, positions: 'all' });
      const expected = forwardReference(ref, NOTEBOOK_IDS);
      const n = NOTEBOOK_IDS.length;
      for (let l = 0; l < n_layer; l++) {
        const heads = activations.find((a) => a.name === `blocks.${l}.attn_head_out`)!;
        const attnOut = activations.find((a) => a.name === `blocks.${l}.attn_out`)!;
        expect(heads.shape).toEqual([n, H, d]);
        const bias = ref.blocks[l].attn_proj_b;
        for (let p = 0; p < n; p++) {
          const refHeads = expected.row(`blocks.${l}.attn_head_out`, p);
          const recomposed = new Float64Array(d);
          for (let h = 0; h < H; h++) {
            const got = heads.data.subarray((p * H + h) * d, (p * H + h + 1) * d);
            const want = refHeads.subarray(h * d, (h + 1) * d);
            expect(relativeL2Error(got, want), `blocks.${l} head ${h} at ${p}`).toBeLessThan(TOL);
            for (let i = 0; i < d; i++) recomposed[i] += got[i];
          }
          // attn_out − Σ heads is the c_proj bias (the same at every position).
          const residue = Float64Array.from(attnOut.data.subarray(p * d, (p + 1) * d), (x, i) => x - recomposed[i]);
          expect(relativeL2Error(residue, bias), `attn_out − Σ heads at ${p}`).toBeLessThan(1e-4 * (rms(attnOut.data) / rms(bias) + 1));
          // and the reference's own heads add up to its attn_out
          const refSum = Float64Array.from(bias);
          for (let h = 0; h < H; h++) for (let i = 0; i < d; i++) refSum[i] += refHeads[h * d + i];
          expect(relativeL2Error(refSum, expected.row(`blocks.${l}.attn_out`, p))).toBeLessThan(1e-12);
        }
      }
    });
  }
});

describe('activation patching', () => {
  it('patching a prompt with its own activations changes nothing (set, at several hooks)', async () => {
    for (const [hook, positions] of [
      ['blocks.0.resid_mid', 'last'],
      ['blocks.1.mlp_post', [3, -1]],
      ['embed', [0, 5, 25]],
    ] as const) {
      const r = await patchActivations({
        model: tiny,
        source: NOTEBOOK_PROMPT,
        target: NOTEBOOK_PROMPT,
        hook,
        positions,
        track: ' Warsaw',
        hooks: 'all',
        topK: 5,
      });
      expect(r.byLayer.length).toBe(1 + 4 * tiny.info.n_layer);
      for (const row of r.byLayer) {
        expect(row.patchedProb, `${hook}: ${row.name}`).toBe(row.cleanProb);
        expect(row.patchedRank).toBe(row.cleanRank);
        expect(row.deltaProb).toBe(0);
      }
      expect(r.patched.prediction).toEqual(r.clean.prediction);
      expect(r.patched.hooks.map((h) => h.top)).toEqual(r.clean.hooks.map((h) => h.top));
    }
  });

  it('a patch from another prompt equals the reference with the same set intervention', async () => {
    const source = 'Q: What is the capital of Germany?\nA:';
    const target = 'Q: What is the capital of Poland?\nA:';
    const src = encode(source);
    const tgt = encode(target);
    expect(src.length).toBe(tgt.length);
    const hook = 'blocks.0.resid_post';
    const r = await patchActivations({ model: tiny, source, target, hook, positions: [-1, 7], track: ' Warsaw', hooks: ['resid_post'] });
    expect(r.pairs).toEqual([
      [tgt.length - 1, src.length - 1],
      [7, 7],
    ]);
    const srcRef = forwardReference(tinyRef, src, { logits: 'none' });
    const expected = forwardReference(tinyRef, tgt, {
      interventions: r.pairs.map(([tp, sp]) => ({ hook, op: 'set' as const, positions: [tp], vector: srcRef.row(hook, sp) })),
    });
    const probs = softmax64(expected.row('logits', tgt.length - 1));
    const last = r.byLayer.find((b) => b.name === 'blocks.1.resid_post')!;
    expect(Math.abs(last.patchedProb - probs[32955]) / probs[32955]).toBeLessThan(1e-3);
    expect(r.patched.prediction.id).toBe(argmax(probs));
    // The patched resid_post of block 0 at the last token is the source's row.
    const row0 = r.byLayer.find((b) => b.name === hook)!;
    expect(row0.cleanProb).not.toBe(row0.patchedProb);
  });

  it("'add' mode adds the source row; different lengths need sourcePositions unless positions count from the end", async () => {
    const source = 'Poland';
    const target = NOTEBOOK_PROMPT;
    const r = await patchActivations({ model: tiny, source, target, hook: 'blocks.0.mlp_out', mode: 'add', track: 32955 });
    expect(r.pairs).toEqual([[25, encode(source).length - 1]]);
    expect(r.interventions[0].op).toBe('add');
    await expect(patchActivations({ model: tiny, source, target, hook: 'blocks.0.mlp_out', positions: [3], track: 32955 })).rejects.toThrow(/sourcePositions/);
    const ok = await patchActivations({ model: tiny, source, target, hook: 'blocks.0.mlp_out', positions: [3], sourcePositions: [0], track: 32955 });
    expect(ok.pairs).toEqual([[3, 0]]);
    await expect(patchActivations({ model: tiny, source, target, hook: 'blocks.0.attn_pattern', track: 1 })).rejects.toThrow(/cannot be patched/);
  });
});

describe('direct logit attribution', () => {
  it('the frozen-LN parts add up to w · ln_f(x) exactly (pure function, float64)', () => {
    const d = 16;
    const r = rng(99);
    const vec = () => Float64Array.from({ length: d }, () => r() * 3);
    const parts = { embed: vec(), attnHeadOut: [Float64Array.from({ length: 3 * d }, () => r())], attnBias: [vec()], mlpOut: [vec()] };
    const x = new Float64Array(d);
    for (const v of [parts.embed, parts.attnHeadOut[0], parts.attnBias[0], parts.mlpOut[0]]) for (let i = 0; i < v.length; i++) x[i % d] += v[i];
    const lnf = { weight: vec(), bias: vec(), eps: 1e-5 };
    const t = vec();
    const u = vec();
    const res = directLogitAttribution(parts, x, lnf, { target: t, versus: u });
    const normed = layerNorm(x, 1, d, lnf.weight, lnf.bias, lnf.eps);
    let want = 0;
    for (let i = 0; i < d; i++) want += (t[i] - u[i]) * normed[i];
    expect(res.parts.map((p) => p.name)).toEqual([
      'embed',
      'blocks.0.head.0',
      'blocks.0.head.1',
      'blocks.0.head.2',
      'blocks.0.attn_bias',
      'blocks.0.mlp',
      'ln_f.bias',
    ]);
    expect(Math.abs(res.total - want)).toBeLessThan(1e-12 * Math.abs(want) + 1e-12);
    expect(Math.abs(res.sumOfParts - want)).toBeLessThan(1e-12 * (Math.abs(want) + 1));
    expect(res.residualError).toBeLessThan(1e-14);
    // A constant shift of a component is invisible (ln_f centers it away).
    const shifted = { ...parts, embed: parts.embed.map((v) => v + 10) };
    const xs = x.map((v) => v + 10);
    expect(directLogitAttribution(shifted, xs, lnf, { target: t }).parts[0].value).toBeCloseTo(
      directLogitAttribution(parts, x, lnf, { target: t }).parts[0].value,
      9,
    );
    expect(() => directLogitAttribution(parts, x, lnf, { target: t.subarray(1) })).toThrow(/16/);
  });

  for (const [label, get] of [
    ['tiny', () => ({ model: tiny, ref: tinyRef })],
    ['wide', () => ({ model: wide, ref: wideRef })],
  ] as const) {
    it(`${label}: attributions sum to the model's own logit, for a target and for target − versus`, async () => {
      const { model, ref } = get();
      const { logits } = await model.run(NOTEBOOK_IDS);
      const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
      const [top, second] = order;
      const low = order[order.length - 1];

      const a = await attributeLogit(model, NOTEBOOK_PROMPT, { target: top });
      expect(a.position).toBe(25);
      expect(a.parts.length).toBe(1 + model.info.n_layer * (model.info.n_head + 2) + 1);
      expect(Math.abs(a.sumOfParts - logits[top]) / Math.abs(logits[top])).toBeLessThan(TOL);
      expect(Math.abs(a.total - logits[top]) / Math.abs(logits[top])).toBeLessThan(TOL);
      expect(a.residualError).toBeLessThan(1e-5);

      for (const versus of [second, low]) {
        const b = await attributeLogit(model, NOTEBOOK_PROMPT, { target: top, versus });
        const want = logits[top] - logits[versus];
        expect(Math.abs(b.sumOfParts - want) / Math.abs(want), `versus ${versus}`).toBeLessThan(TOL);
        expect(b.versus?.id).toBe(versus);
      }

      // Per part, against the float64 reference's own components at the same position.
      const exp = forwardReference(ref, NOTEBOOK_IDS);
      const d = model.info.n_embd;
      const L = model.info.n_layer;
      const refParts = {
        embed: exp.row('embed', 25),
        attnHeadOut: Array.from({ length: L }, (_, l) => exp.row(`blocks.${l}.attn_head_out`, 25)),
        attnBias: ref.blocks.map((b) => b.attn_proj_b),
        mlpOut: Array.from({ length: L }, (_, l) => exp.row(`blocks.${l}.mlp_out`, 25)),
      };
      const w = ref.wte.subarray(top * d, (top + 1) * d);
      const r = directLogitAttribution(
        refParts,
        exp.row(`blocks.${L - 1}.resid_post`, 25),
        { weight: ref.lnf_w, bias: ref.lnf_b, eps: ref.config.eps },
        { target: w },
      );
      const refLogit = exp.row('logits', 25)[top];
      expect(Math.abs(r.sumOfParts - refLogit)).toBeLessThan(1e-9 * Math.abs(refLogit));
      const scale = Math.max(...r.parts.map((p) => Math.abs(p.value)));
      for (const [i, p] of r.parts.entries()) {
        expect(a.parts[i].name).toBe(p.name);
        expect(Math.abs(a.parts[i].value - p.value), p.name).toBeLessThan(TOL * scale);
      }
    });
  }

  it('at an earlier position, and after an intervention upstream', async () => {
    const p = 12;
    const refLogits = forwardReference(tinyRef, NOTEBOOK_IDS).row('logits', p);
    const top = argmax(refLogits);
    const a = await attributeLogit(tiny, NOTEBOOK_IDS, { target: top, position: p - NOTEBOOK_IDS.length });
    expect(a.position).toBe(p);
    expect(Math.abs(a.sumOfParts - refLogits[top]) / Math.abs(refLogits[top])).toBeLessThan(TOL);
    expect((await attributeLogit(tiny, NOTEBOOK_PROMPT, { target: ' Paris', versus: ' Warsaw' })).target).toEqual({ id: 6342, token: ' Paris' });

    // An edit of attn_out is absorbed by that block's bias term; the parts still add up.
    const iv: Intervention[] = [{ hook: 'blocks.0.attn_out', op: 'scale', scale: 2 }];
    const { logits } = await tiny.run(NOTEBOOK_IDS, { interventions: iv });
    const best = argmax(logits);
    const b = await attributeLogit(tiny, NOTEBOOK_PROMPT, { target: best, interventions: iv });
    expect(Math.abs(b.sumOfParts - logits[best]) / Math.abs(logits[best])).toBeLessThan(TOL);
    expect(b.residualError).toBeLessThan(1e-5);
    // An edit of the residual stream itself is no component: residualError says so.
    const c = await attributeLogit(tiny, NOTEBOOK_PROMPT, { target: best, interventions: [{ hook: 'blocks.0.resid_mid', op: 'scale', scale: 2 }] });
    expect(c.residualError).toBeGreaterThan(0.01);
    await expect(attributeLogit(tiny, NOTEBOOK_PROMPT, { target: 'Warsaw' })).rejects.toThrow(/one token/);
    await expect(attributeLogit(tiny, NOTEBOOK_PROMPT, { target: 1, position: 26 })).rejects.toThrow(/outside/);
  });
});

describe('examples/merullo.mjs on the tiny synthetic checkpoint', () => {
  // The example imports ../dist/index.js. It runs from a scratch package root holding a fresh build of
  // lib/ (so neither a stale nor a missing dist/ in the repository matters), the addon and node_modules.
  let root = '';
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'layerlens-example-'));
    const tsc = spawnSync(
      process.execPath,
      [
        join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(repoRoot, 'tsconfig.build.json'),
        '--outDir',
        join(root, 'dist'),
        '--declaration',
        'false',
        '--sourceMap',
        'false',
      ],
      { encoding: 'utf8' },
    );
    if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error(`tsc did not build lib/: ${tsc.stdout}${tsc.stderr}`);
    cpSync(join(repoRoot, 'package.json'), join(root, 'package.json'));
    mkdirSync(join(root, 'examples'));
    cpSync(join(repoRoot, 'examples', 'merullo.mjs'), join(root, 'examples', 'merullo.mjs'));
    symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
    for (const dir of ['build', 'prebuilds']) if (existsSync(join(repoRoot, dir))) symlinkSync(join(repoRoot, dir), join(root, dir), 'dir');
  }, 300_000);
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const example = (...args: string[]) =>
    spawnSync(process.execPath, [join(root, 'examples', 'merullo.mjs'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 120_000,
    });

  it('runs with --layer 1 and says loudly that the numbers are not GPT-2', () => {
    const r = example('--model', tinyDir, '--layer', '1', '--device', 'cpu');
    expect(r.stderr + r.stdout).toMatch(/SYNTHETIC.*NOT GPT-2/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(a\)/);
    expect(r.stdout).toMatch(/\(b\)/);
    expect(r.stdout).toContain('blocks.1.resid_post');
    expect(r.stdout).toMatch(/reciprocal rank/i);
  });

  it('rejects a layer the model does not have', () => {
    const r = example('--model', tinyDir, '--device', 'cpu');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--layer 19.*0\.\.1/);
  });
});
