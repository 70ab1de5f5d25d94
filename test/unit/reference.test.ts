// Checks of the float64 reference GPT-2 (the parity oracle) and of the synthetic checkpoint
// generator, against facts that do not depend on the engine: algebraic identities of the forward,
// a 1-layer d=2 model computed by hand, exhaustive float16 rounding, the Hugging Face layout.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PRESETS,
  STAMP_FILE,
  bf16BitsToNumber,
  encodeSafetensorsHeader,
  encodeTensorData,
  f16BitsToNumber,
  f32ToBf16Bits,
  f32ToF16Bits,
  makeCheckpoint,
  writeSafetensors,
} from '../../scripts/make-checkpoint.mjs';
import {
  argmax,
  forwardReference,
  greedyReference,
  lensLogitsReference,
  lensReference,
  loadReference,
  relativeL2Error,
  softmax64,
  vectorHookNames,
  type RefModel,
} from '../reference/gpt2-f64.js';
import { halfToNumber, readSafetensors } from '../reference/read-safetensors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.join(here, '..', '..', 'scripts', 'make-checkpoint.mjs');

let tmp = '';
let tinyDir = '';
let tiny: RefModel;
const IDS = [48, 25, 1867, 318, 262, 3139, 286, 4881, 30, 198, 0, 50256];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-ref-'));
  tinyDir = path.join(tmp, 'tiny');
  makeCheckpoint(tinyDir, { preset: 'tiny', seed: 7 });
  tiny = loadReference(tinyDir);
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function rawHeader(file: string): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + len).toString('utf8'));
}

describe('reference forward: identities on the tiny synthetic model', () => {
  it('has every hook point with the documented shapes', () => {
    const acts = forwardReference(tiny, IDS);
    const { n_layer, n_embd: d, n_head, n_vocab } = tiny.config;
    const n = IDS.length;
    expect(acts.shape('embed')).toEqual([n, d]);
    for (let l = 0; l < n_layer; l++) {
      for (const k of ['attn_out', 'resid_mid', 'mlp_out', 'resid_post']) expect(acts.shape(`blocks.${l}.${k}`)).toEqual([n, d]);
      expect(acts.shape(`blocks.${l}.mlp_post`)).toEqual([n, 4 * d]);
      expect(acts.shape(`blocks.${l}.attn_pattern`)).toEqual([n_head, n, n]);
    }
    expect(acts.shape('logits')).toEqual([n, n_vocab]);
    for (const name of vectorHookNames(n_layer)) expect(acts.has(name)).toBe(true);
    expect(vectorHookNames(2)).toEqual([
      'embed',
      'blocks.0.attn_out',
      'blocks.0.resid_mid',
      'blocks.0.mlp_post',
      'blocks.0.mlp_out',
      'blocks.0.resid_post',
      'blocks.1.attn_out',
      'blocks.1.resid_mid',
      'blocks.1.mlp_post',
      'blocks.1.mlp_out',
      'blocks.1.resid_post',
    ]);
    expect(acts.row('blocks.0.attn_pattern', 3)).toHaveLength(n_head * n);
    expect(() => acts.row('embed', n)).toThrow(RangeError);
    expect(() => acts.get('blocks.9.resid_post')).toThrow(/no hook point/);
  });

  it('embed is wte[id] + wpe[pos]', () => {
    const acts = forwardReference(tiny, IDS);
    const d = tiny.config.n_embd;
    for (let p = 0; p < IDS.length; p++) {
      const row = acts.row('embed', p);
      for (let i = 0; i < d; i++) expect(row[i]).toBe(tiny.wte[IDS[p]! * d + i]! + tiny.wpe[p * d + i]!);
    }
  });

  it('the residual stream is the sum of its parts', () => {
    const acts = forwardReference(tiny, IDS);
    const L = tiny.config.n_layer;
    const sum = Float64Array.from(acts.get('embed'));
    let pre = acts.get('embed');
    for (let l = 0; l < L; l++) {
      const attn = acts.get(`blocks.${l}.attn_out`);
      const mid = acts.get(`blocks.${l}.resid_mid`);
      const mlp = acts.get(`blocks.${l}.mlp_out`);
      const post = acts.get(`blocks.${l}.resid_post`);
      for (let i = 0; i < sum.length; i++) {
        expect(mid[i]).toBe(pre[i]! + attn[i]!);
        expect(post[i]).toBe(mid[i]! + mlp[i]!);
        sum[i]! += attn[i]! + mlp[i]!;
      }
      pre = post;
    }
    const last = acts.get(`blocks.${L - 1}.resid_post`);
    expect(maxAbsDiff(sum, last)).toBeLessThan(1e-9);
    expect(norm(last)).toBeGreaterThan(0);
  });

  it('attention patterns are causal probability rows, and not uniform', () => {
    const acts = forwardReference(tiny, IDS);
    const n = IDS.length;
    const H = tiny.config.n_head;
    let farFromUniform = 0;
    for (let l = 0; l < tiny.config.n_layer; l++) {
      const pat = acts.get(`blocks.${l}.attn_pattern`);
      for (let h = 0; h < H; h++) {
        for (let q = 0; q < n; q++) {
          let s = 0;
          let max = 0;
          for (let k = 0; k < n; k++) {
            const a = pat[(h * n + q) * n + k]!;
            if (k > q) expect(a).toBe(0);
            else expect(a).toBeGreaterThan(0);
            s += a;
            max = Math.max(max, a);
          }
          expect(Math.abs(s - 1)).toBeLessThan(1e-12);
          if (q > 0 && max > 1 / (q + 1) + 0.05) farFromUniform++;
        }
      }
      // row(name, q) is [head][key] for that query
      const r = acts.row(`blocks.${l}.attn_pattern`, 5);
      for (let h = 0; h < H; h++) for (let k = 0; k < n; k++) expect(r[h * n + k]).toBe(pat[(h * n + 5) * n + k]);
    }
    expect(farFromUniform).toBeGreaterThan(0);
    expect(
      acts
        .row('blocks.0.attn_pattern', 0)
        .filter((_, i) => i % n === 0)
        .every((v) => v === 1),
    ).toBe(true);
  });

  it('is causal: a prefix gives the same activations at its positions', () => {
    const full = forwardReference(tiny, IDS);
    const k = 5;
    const pre = forwardReference(tiny, IDS.slice(0, k));
    for (const name of [...vectorHookNames(tiny.config.n_layer), 'logits']) {
      for (let p = 0; p < k; p++) expect(maxAbsDiff(pre.row(name, p), full.row(name, p))).toBe(0);
    }
  });

  it('the lens of the last resid_post is the model output distribution', () => {
    const acts = forwardReference(tiny, IDS);
    const last = `blocks.${tiny.config.n_layer - 1}.resid_post`;
    for (const p of [0, 3, IDS.length - 1]) {
      const lens = lensReference(tiny, acts.row(last, p));
      const model = softmax64(acts.row('logits', p));
      expect(maxAbsDiff(lens, model)).toBeLessThan(1e-14);
      expect(maxAbsDiff(lensLogitsReference(tiny, acts.row(last, p)), acts.row('logits', p))).toBe(0);
      let s = 0;
      for (const v of lens) s += v;
      expect(Math.abs(s - 1)).toBeLessThan(1e-12);
    }
    const lastOnly = forwardReference(tiny, IDS, { logits: 'last' });
    expect(lastOnly.shape('logits')).toEqual([1, tiny.config.n_vocab]);
    expect(maxAbsDiff(lastOnly.row('logits', IDS.length - 1), acts.row('logits', IDS.length - 1))).toBe(0);
    expect(() => lastOnly.row('logits', 0)).toThrow(RangeError);
    expect(forwardReference(tiny, IDS, { logits: 'none' }).has('logits')).toBe(false);
  });

  it('the synthetic model is far from uniform and its lens changes with depth', () => {
    const acts = forwardReference(tiny, IDS);
    const V = tiny.config.n_vocab;
    const p = IDS.length - 1;
    const probs = softmax64(acts.row('logits', p));
    const top = probs[argmax(probs)]!;
    expect(top).toBeGreaterThan(100 / V);
    // embedding lens predicts the input token itself, the final one (mostly) does not
    let embedIsInput = 0;
    let finalIsInput = 0;
    for (let q = 0; q < IDS.length; q++) {
      if (argmax(lensReference(tiny, acts.row('embed', q))) === IDS[q]) embedIsInput++;
      if (argmax(acts.row('logits', q)) === IDS[q]) finalIsInput++;
    }
    expect(embedIsInput).toBe(IDS.length);
    expect(finalIsInput).toBeLessThan(IDS.length / 2);
    // residual norm grows across blocks
    const n0 = norm(acts.row('embed', p));
    const n1 = norm(acts.row(`blocks.${tiny.config.n_layer - 1}.resid_post`, p));
    expect(n1).toBeGreaterThan(1.5 * n0);
  });

  it('greedy decoding = argmax of repeated full forwards', () => {
    const prompt = IDS.slice(0, 4);
    const out = greedyReference(tiny, prompt, 3);
    expect(out).toHaveLength(3);
    const seq = [...prompt];
    for (const id of out) {
      const acts = forwardReference(tiny, seq);
      expect(id).toBe(argmax(acts.row('logits', seq.length - 1)));
      seq.push(id);
    }
    expect(greedyReference(tiny, prompt, 0)).toEqual([]);
    expect(() => greedyReference(tiny, prompt, tiny.config.n_ctx)).toThrow(/n_ctx/);
  });

  it('rejects bad inputs', () => {
    expect(() => forwardReference(tiny, [])).toThrow(/no tokens/);
    expect(() => forwardReference(tiny, [tiny.config.n_vocab])).toThrow(/outside/);
    expect(() => forwardReference(tiny, [1.5])).toThrow(/outside/);
    expect(() => forwardReference(tiny, new Array<number>(tiny.config.n_ctx + 1).fill(1))).toThrow(/n_ctx/);
    expect(() => lensReference(tiny, [1, 2, 3])).toThrow(/length/);
  });

  it('relativeL2Error', () => {
    expect(relativeL2Error([1, 2, 2], [1, 2, 2])).toBe(0);
    expect(relativeL2Error([1, 2, 2.3], [1, 2, 2])).toBeCloseTo(0.1, 12);
    expect(relativeL2Error([0, 0], [0, 0])).toBe(0);
  });
});

describe('reference forward: a 1-layer, d=2 model computed by hand', () => {
  // vocab 3, n_embd 2, n_head 1 (head_dim 2), n_ctx 4, eps 1e-5.
  const eps = 1e-5;
  const tensors = {
    'wte.weight': { shape: [3, 2], data: [1, 0, 0, 1, 1, 1] },
    'wpe.weight': { shape: [4, 2], data: [0, 0, 0.5, 0, 0, 0, 0, 0] },
    'h.0.ln_1.weight': { shape: [2], data: [1, 1] },
    'h.0.ln_1.bias': { shape: [2], data: [0, 0] },
    // Conv1D [in, out]: q = x, k = x, v = 2x
    'h.0.attn.c_attn.weight': { shape: [2, 6], data: [1, 0, 1, 0, 2, 0, 0, 1, 0, 1, 0, 2] },
    'h.0.attn.c_attn.bias': { shape: [6], data: [0, 0, 0, 0, 0, 0] },
    'h.0.attn.c_proj.weight': { shape: [2, 2], data: [1, 0, 0, 1] },
    'h.0.attn.c_proj.bias': { shape: [2], data: [0.1, -0.1] },
    'h.0.ln_2.weight': { shape: [2], data: [2, 2] },
    'h.0.ln_2.bias': { shape: [2], data: [0.5, 0.5] },
    // pre = [x0, x1, 1, -1, 0, 0, 0, 0]
    'h.0.mlp.c_fc.weight': { shape: [2, 8], data: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] },
    'h.0.mlp.c_fc.bias': { shape: [8], data: [0, 0, 1, -1, 0, 0, 0, 0] },
    // out = [g0 + g2, g1 + g2 + 2 g3] + bias
    'h.0.mlp.c_proj.weight': { shape: [8, 2], data: [1, 0, 0, 1, 1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0] },
    'h.0.mlp.c_proj.bias': { shape: [2], data: [0, 0.25] },
    'ln_f.weight': { shape: [2], data: [1, 1] },
    'ln_f.bias': { shape: [2], data: [0, 0] },
  } satisfies Record<string, { shape: number[]; data: number[] }>;

  function writeToy(dir: string, prefix = ''): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        model_type: 'gpt2',
        n_layer: 1,
        n_embd: 2,
        n_head: 1,
        n_positions: 4,
        n_ctx: 4,
        vocab_size: 3,
        layer_norm_epsilon: eps,
        activation_function: 'gelu_new',
      }),
    );
    const list = Object.entries(tensors).map(([name, t]) => ({
      name: prefix + name,
      dtype: 'F32' as const,
      shape: t.shape,
      data: Float32Array.from(t.data),
    }));
    // a buffer the loader must ignore
    list.push({ name: prefix + 'h.0.attn.bias', dtype: 'F32', shape: [1, 1, 4, 4], data: new Float32Array(16).fill(1) });
    writeSafetensors(path.join(dir, 'model.safetensors'), list);
  }

  // --- the hand computation (2-vectors only) ---
  // LayerNorm of [a, b] with weight w, bias c: the centered values are ±(a-b)/2, variance (a-b)²/4.
  const ln2 = (x: number[], w: number, c: number): number[] => {
    const half = (x[0]! - x[1]!) / 2;
    const u = half / Math.sqrt(half * half + eps);
    return [w * u + c, -w * u + c];
  };
  const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  const add = (a: number[], b: number[]): number[] => [a[0]! + b[0]!, a[1]! + b[1]!];
  const scale = (s: number, a: number[]): number[] => [s * a[0]!, s * a[1]!];

  function handForward(): Record<string, number[][]> {
    const embed = [
      [1, 0],
      [0.5, 1],
      [1, 1],
    ]; // ids [0, 1, 2]
    const h = embed.map((x) => ln2(x, 1, 0));
    const k = 0.5 / Math.sqrt(0.25 + eps);
    const m = 0.25 / Math.sqrt(0.0625 + eps);
    expect(h[0]![0]).toBeCloseTo(k, 15);
    expect(h[1]![1]).toBeCloseTo(m, 15);
    expect(h[2]).toEqual([0, 0]); // zero variance: LayerNorm gives its bias
    // q = k = h, v = 2h; scores / sqrt(2)
    const s10 = (-2 * m * k) / Math.SQRT2;
    const s11 = (2 * m * m) / Math.SQRT2;
    const p10 = 1 / (1 + Math.exp(s11 - s10));
    const p11 = 1 - p10;
    const pattern = [
      [1, 0, 0],
      [p10, p11, 0],
      [1 / 3, 1 / 3, 1 / 3],
    ];
    const v = h.map((x) => scale(2, x));
    const z = [v[0]!, add(scale(p10, v[0]!), scale(p11, v[1]!)), scale(1 / 3, add(add(v[0]!, v[1]!), v[2]!))];
    const f = Math.fround; // the file stores float32: 0.1 is really f(0.1)
    const attnOut = z.map((x) => add(x, [f(0.1), f(-0.1)]));
    const mid = embed.map((x, i) => add(x, attnOut[i]!));
    const h2 = mid.map((x) => ln2(x, 2, 0.5));
    const post = h2.map((x) => [gelu(x[0]!), gelu(x[1]!), gelu(1), gelu(-1), 0, 0, 0, 0]);
    const mlpOut = post.map((g) => [g[0]! + g[2]!, g[1]! + g[2]! + 2 * g[3]! + 0.25]);
    const resid = mid.map((x, i) => add(x, mlpOut[i]!));
    const logits = resid.map((x) => {
      const y = ln2(x, 1, 0);
      return [y[0]!, y[1]!, y[0]! + y[1]!];
    });
    return {
      embed,
      'blocks.0.attn_out': attnOut,
      'blocks.0.resid_mid': mid,
      'blocks.0.mlp_post': post,
      'blocks.0.mlp_out': mlpOut,
      'blocks.0.resid_post': resid,
      'blocks.0.attn_pattern': pattern,
      logits,
    };
  }

  it('gelu_new anchors', () => {
    expect(gelu(1)).toBeCloseTo(0.8411919906082768, 15);
    expect(gelu(-1)).toBeCloseTo(-0.15880800939172324, 15);
    expect(gelu(2)).toBeCloseTo(1.954597694087775, 14);
  });

  it.each([[''], ['transformer.']])('matches the hand computation (key prefix %j)', (prefix) => {
    const dir = path.join(tmp, `toy${prefix ? '-prefixed' : ''}`);
    writeToy(dir, prefix);
    const model = loadReference(dir);
    expect(model.config).toEqual({ n_layer: 1, n_embd: 2, n_head: 1, n_ctx: 4, n_vocab: 3, eps });
    const acts = forwardReference(model, [0, 1, 2]);
    const want = handForward();
    for (const [name, rows] of Object.entries(want)) {
      for (let p = 0; p < 3; p++) {
        const got = acts.row(name, p);
        const exp = rows[p]!;
        expect(got.length, name).toBe(exp.length);
        for (let i = 0; i < exp.length; i++) {
          expect(Math.abs(got[i]! - exp[i]!), `${name}[${p}][${i}] = ${got[i]} vs ${exp[i]}`).toBeLessThan(1e-12);
        }
      }
    }
    // the output distribution of the last token, by hand
    const l = want['logits']![2]!;
    const z = Math.exp(l[0]!) + Math.exp(l[1]!) + Math.exp(l[2]!);
    const lens = lensReference(model, acts.row('blocks.0.resid_post', 2));
    for (let i = 0; i < 3; i++) expect(lens[i]).toBeCloseTo(Math.exp(l[i]!) / z, 14);
  });
});

describe('float16 / bfloat16 conversions of the writer', () => {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const bitsOf = (x: number): number => {
    f32[0] = x;
    return u32[0]!;
  };
  const fromBits = (b: number): number => {
    u32[0] = b >>> 0;
    return f32[0]!;
  };

  it('f16: every value is exact, every midpoint ties to even, neighbours round to nearest', () => {
    for (let h = 0; h < 0x7c00; h++) {
      const v = halfToNumber(h);
      expect(f16BitsToNumber(h)).toBe(v);
      if (f32ToF16Bits(v) !== h) expect.fail(`value of 0x${h.toString(16)}`);
      if (f32ToF16Bits(-v) !== (h | 0x8000)) expect.fail(`negative value of 0x${h.toString(16)}`);
      const next = h + 1 === 0x7c00 ? 65536 : halfToNumber(h + 1); // 65536 = where inf begins
      const mid = (v + next) / 2; // exact in float32 (12 significant bits)
      expect(Math.fround(mid)).toBe(mid);
      const even = h % 2 === 0 ? h : h + 1;
      if (f32ToF16Bits(mid) !== even) expect.fail(`midpoint after 0x${h.toString(16)}`);
      if (f32ToF16Bits(fromBits(bitsOf(mid) - 1)) !== h) expect.fail(`below midpoint after 0x${h.toString(16)}`);
      if (f32ToF16Bits(fromBits(bitsOf(mid) + 1)) !== h + 1) expect.fail(`above midpoint after 0x${h.toString(16)}`);
    }
  });

  it('f16: specials', () => {
    expect(f32ToF16Bits(0)).toBe(0);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519.99)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    const nan = f32ToF16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(f32ToF16Bits(2 ** -24)).toBe(1); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie to even (0)
    expect(f32ToF16Bits(2 ** -25 * 1.0001)).toBe(1);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2); // tie between 1 and 2 -> 2
    expect(f32ToF16Bits(1e-10)).toBe(0);
    expect(f32ToF16Bits(-1e-10)).toBe(0x8000);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('bf16: nearest, ties to even, specials', () => {
    let state = 12345;
    const rnd = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state;
    };
    for (let i = 0; i < 200000; i++) {
      const bits = i < 1000 ? ((rnd() & 0xffff0000) | 0x8000) >>> 0 : rnd(); // first: exact ties
      const x = fromBits(bits);
      if (!Number.isFinite(x)) continue;
      const lo = bits >>> 16;
      const a = bf16BitsToNumber(lo);
      // the pattern after the largest finite one is inf: rounding treats it as 2^128
      const b = ((lo + 1) & 0x7fff) === 0x7f80 ? Math.sign(x) * 2 ** 128 : bf16BitsToNumber(lo + 1);
      const da = Math.abs(x - a);
      const db = Math.abs(x - b);
      const want = da < db ? lo : db < da ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
      if (f32ToBf16Bits(x) !== (want & 0xffff)) expect.fail(`bf16 of bits 0x${bits.toString(16)}`);
    }
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // max f32 rounds up to inf
    const nan = f32ToBf16Bits(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
  });

  it('writeSafetensors + reader round-trip F32, F16, BF16', () => {
    const values = Float32Array.from([0, -0, 1, -2.5, 65504, 65520, 1e-8, 3e-8, 6.1e-5, 0.1, -3.14159, 1 + 2 ** -11, 1e30]);
    const file = path.join(tmp, 'roundtrip.safetensors');
    writeSafetensors(file, [
      { name: 'a', dtype: 'F32', shape: [values.length], data: values },
      { name: 'transformer.b', dtype: 'F16', shape: [values.length], data: values },
      { name: 'c', dtype: 'BF16', shape: [1, values.length], data: values },
    ]);
    const st = readSafetensors(file);
    expect(st.metadata).toEqual({ format: 'pt' });
    expect([...st.tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(st.tensors.get('b')!.storedName).toBe('transformer.b');
    expect(st.tensors.get('c')!.shape).toEqual([1, values.length]);
    const a = st.tensors.get('a')!.data;
    const b = st.tensors.get('b')!.data;
    const c = st.tensors.get('c')!.data;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      expect(Object.is(a[i], x)).toBe(true);
      expect(Object.is(b[i], halfToNumber(f32ToF16Bits(x)))).toBe(true);
      expect(Object.is(c[i], bf16BitsToNumber(f32ToBf16Bits(x)))).toBe(true);
      if (Math.abs(x) >= 2 ** -14 && Math.abs(x) <= 65504) expect(Math.abs(b[i]! - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11);
      else if (Math.abs(x) < 2 ** -14) expect(Math.abs(b[i]! - x)).toBeLessThanOrEqual(2 ** -25);
      expect(Math.abs(c[i]! - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -8);
    }
    expect(b[5]).toBe(Infinity); // 65520 overflows float16
    expect(b[6]).toBe(0); // 1e-8 underflows
    expect(b[7]).toBe(2 ** -24); // 3e-8 -> smallest subnormal
    expect(c[12]).toBeCloseTo(1e30, -27);
    expect(encodeTensorData('F16', Float32Array.from([1, -2]))).toEqual(new Uint8Array([0x00, 0x3c, 0x00, 0xc0]));
  });

  it('the reader refuses offsets outside the file', () => {
    const file = path.join(tmp, 'bad.safetensors');
    const head = encodeSafetensorsHeader({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } });
    fs.writeFileSync(file, Buffer.concat([head, Buffer.alloc(8)]));
    expect(() => readSafetensors(file)).toThrow(/outside/);
    const head2 = encodeSafetensorsHeader({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } });
    fs.writeFileSync(file, Buffer.concat([head2, Buffer.alloc(16)]));
    expect(() => readSafetensors(file)).toThrow(/bytes for 3/);
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(1n << 40n, 0);
    fs.writeFileSync(file, huge);
    expect(() => readSafetensors(file)).toThrow(/exceeds/);
  });
});

describe('encodeSafetensorsHeader / writeSafetensors', () => {
  it('prefixes the length and pads with spaces to a multiple of 8', () => {
    for (const obj of [{}, { a: 1 }, { __metadata__: { format: 'pt' }, t: { dtype: 'F32', shape: [], data_offsets: [0, 4] } }]) {
      const buf = encodeSafetensorsHeader(obj);
      const len = Number(buf.readBigUInt64LE(0));
      expect(buf.length).toBe(8 + len);
      expect(len % 8).toBe(0);
      const text = buf.subarray(8).toString('utf8');
      expect(JSON.parse(text)).toEqual(obj);
      expect(text).toBe(JSON.stringify(obj).padEnd(len, ' '));
    }
    const raw = encodeSafetensorsHeader({ a: 1 }, { pad: false });
    expect(Number(raw.readBigUInt64LE(0))).toBe('{"a":1}'.length);
  });

  it('validates what it writes and lays data out contiguously', () => {
    const file = path.join(tmp, 'w.safetensors');
    expect(() => writeSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/shape/);
    const r = writeSafetensors(
      file,
      [
        { name: 'x', dtype: 'F16', shape: [3], data: new Float32Array(3) },
        { name: 'y', dtype: 'F32', shape: [], data: Float32Array.of(-1e4) },
      ],
      { metadata: null },
    );
    expect(r.dataBytes).toBe(10);
    const h = rawHeader(file);
    expect(h).toEqual({
      x: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      y: { dtype: 'F32', shape: [], data_offsets: [6, 10] },
    });
    expect(fs.statSync(file).size).toBe(r.headerBytes + 10);
  });
});

describe('make-checkpoint: the Hugging Face layout', () => {
  it('writes config.json like GPT2Config', () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(tinyDir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      n_layer: 2,
      n_embd: 64,
      n_head: 4,
      n_positions: 64,
      n_ctx: 64,
      vocab_size: 50257,
      layer_norm_epsilon: 1e-5,
      activation_function: 'gelu_new',
      layerlens_synthetic: true,
      torch_dtype: 'float32',
    });
    expect(PRESETS.small).toMatchObject({ layers: 12, embd: 768, heads: 12, ctx: 1024, vocab: 50257 });
    expect(PRESETS.medium).toMatchObject({ layers: 24, embd: 1024, heads: 16, ctx: 1024, vocab: 50257 });
  });

  it('has exactly the hub tensor names and shapes, contiguous, tied unembedding', () => {
    const file = path.join(tinyDir, 'model.safetensors');
    const h = rawHeader(file);
    const d = 64;
    const want: Record<string, number[]> = { 'wte.weight': [50257, d], 'wpe.weight': [64, d], 'ln_f.weight': [d], 'ln_f.bias': [d] };
    for (let l = 0; l < 2; l++) {
      Object.assign(want, {
        [`h.${l}.ln_1.weight`]: [d],
        [`h.${l}.ln_1.bias`]: [d],
        [`h.${l}.attn.c_attn.weight`]: [d, 3 * d],
        [`h.${l}.attn.c_attn.bias`]: [3 * d],
        [`h.${l}.attn.c_proj.weight`]: [d, d],
        [`h.${l}.attn.c_proj.bias`]: [d],
        [`h.${l}.ln_2.weight`]: [d],
        [`h.${l}.ln_2.bias`]: [d],
        [`h.${l}.mlp.c_fc.weight`]: [d, 4 * d],
        [`h.${l}.mlp.c_fc.bias`]: [4 * d],
        [`h.${l}.mlp.c_proj.weight`]: [4 * d, d],
        [`h.${l}.mlp.c_proj.bias`]: [d],
      });
    }
    want['h.0.attn.masked_bias'] = [];
    const { __metadata__: meta, ...entries } = h as Record<string, unknown>;
    expect(meta).toEqual({ format: 'pt' });
    expect(Object.keys(entries).sort()).toEqual(Object.keys(want).sort());
    let offset = 0;
    for (const [name, e] of Object.entries(h)) {
      if (name === '__metadata__') continue;
      expect(e.shape, name).toEqual(want[name]);
      expect(e.dtype).toBe('F32');
      expect(e.data_offsets[0], name).toBe(offset);
      offset = e.data_offsets[1];
    }
    const headerLen = Number(fs.readFileSync(file).readBigUInt64LE(0));
    expect(fs.statSync(file).size).toBe(8 + headerLen + offset);
    expect(headerLen % 8).toBe(0);
    const buffer = readSafetensors(file).tensors.get('h.0.attn.masked_bias')!;
    expect(buffer.dtype).toBe('F32');
    expect([...buffer.data]).toEqual([-1e4]);
  });

  it('is deterministic, seed-dependent, and skips work when up to date', () => {
    const a = path.join(tmp, 'det-a');
    const b = path.join(tmp, 'det-b');
    const c = path.join(tmp, 'det-c');
    const opts = { layers: 1, embd: 16, heads: 2, ctx: 8, vocab: 100, seed: 3 };
    const ra = makeCheckpoint(a, opts);
    makeCheckpoint(b, opts);
    makeCheckpoint(c, { ...opts, seed: 4 });
    expect(ra.skipped).toBe(false);
    expect(sha256(path.join(a, 'model.safetensors'))).toBe(sha256(path.join(b, 'model.safetensors')));
    expect(sha256(path.join(a, 'model.safetensors'))).not.toBe(sha256(path.join(c, 'model.safetensors')));
    expect(fs.statSync(path.join(a, 'model.safetensors')).size).toBe(ra.bytes);
    const stamp = JSON.parse(fs.readFileSync(path.join(a, STAMP_FILE), 'utf8'));
    expect(stamp.options).toEqual(ra.options);

    const before = fs.statSync(path.join(a, 'model.safetensors')).mtimeMs;
    expect(makeCheckpoint(a, opts).skipped).toBe(true);
    expect(fs.statSync(path.join(a, 'model.safetensors')).mtimeMs).toBe(before);
    expect(makeCheckpoint(a, { ...opts, force: true }).skipped).toBe(false);
    expect(makeCheckpoint(a, { ...opts, dtype: 'f16' }).skipped).toBe(false);
    expect(rawHeader(path.join(a, 'model.safetensors'))['wte.weight']!.dtype).toBe('F16');
    // a truncated file is regenerated
    fs.truncateSync(path.join(a, 'model.safetensors'), 100);
    expect(makeCheckpoint(a, { ...opts, dtype: 'f16' }).skipped).toBe(false);
    expect(() => makeCheckpoint(path.join(tmp, 'bad'), { embd: 10, heads: 3 })).toThrow(/multiple/);
    expect(() => makeCheckpoint(path.join(tmp, 'bad'), { dtype: 'q8' as 'f32' })).toThrow(/dtype/);
  });

  it('"transformer." keys load identically', () => {
    const dir = path.join(tmp, 'tiny-prefixed');
    makeCheckpoint(dir, { preset: 'tiny', seed: 7, prefix: true });
    const names = Object.keys(rawHeader(path.join(dir, 'model.safetensors'))).filter((k) => k !== '__metadata__');
    expect(names.every((k) => k.startsWith('transformer.'))).toBe(true);
    const model = loadReference(dir);
    expect(maxAbsDiff(model.wte, tiny.wte)).toBe(0);
    expect(maxAbsDiff(model.blocks[1]!.proj_w, tiny.blocks[1]!.proj_w)).toBe(0);
    const x = forwardReference(model, IDS);
    const y = forwardReference(tiny, IDS);
    for (const name of [...vectorHookNames(2), 'logits', 'blocks.1.attn_pattern']) expect(maxAbsDiff(x.get(name), y.get(name))).toBe(0);
  });

  it.each([
    ['f16', 2 ** -11],
    ['bf16', 2 ** -8],
  ] as const)('%s weights are the rounded f32 weights', (dtype, rel) => {
    const dir = path.join(tmp, `tiny-${dtype}`);
    makeCheckpoint(dir, { preset: 'tiny', seed: 7, dtype });
    const model = loadReference(dir);
    expect(model.dtype).toBe(dtype.toUpperCase());
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.torch_dtype).toBe(dtype === 'f16' ? 'float16' : 'bfloat16');
    const pairs: [Float64Array, Float64Array][] = [
      [model.wte, tiny.wte],
      [model.blocks[0]!.attn_w, tiny.blocks[0]!.attn_w],
      [model.blocks[1]!.proj_w, tiny.blocks[1]!.proj_w],
      [model.lnf_w, tiny.lnf_w],
    ];
    for (const [lo, hi] of pairs) {
      for (let i = 0; i < hi.length; i++) {
        const x = hi[i]!;
        const want = dtype === 'f16' ? halfToNumber(f32ToF16Bits(x)) : bf16BitsToNumber(f32ToBf16Bits(x));
        if (lo[i] !== want) expect.fail(`element ${i}: ${lo[i]} vs ${want}`);
        const tol = dtype === 'f16' && Math.abs(x) < 2 ** -14 ? 2 ** -25 : Math.abs(x) * rel;
        if (Math.abs(lo[i]! - x) > tol) expect.fail(`element ${i} not within ${dtype} precision`);
      }
    }
    // the low-precision model computes nearly the same thing
    const a = forwardReference(model, IDS, { logits: 'last' });
    const b = forwardReference(tiny, IDS, { logits: 'last' });
    expect(relativeL2Error(a.get('logits'), b.get('logits'))).toBeLessThan(dtype === 'f16' ? 1e-2 : 5e-2);
  });

  it('CLI: --help, flags, errors', () => {
    const help = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const flag of ['--out', '--preset', '--layers', '--embd', '--heads', '--ctx', '--vocab', '--dtype', '--seed', '--prefix', '--force']) {
      expect(help.stdout).toContain(flag);
    }
    const dir = path.join(tmp, 'cli');
    const args = [script, '--out', dir, '--layers', '1', '--embd=8', '--heads', '2', '--ctx', '8', '--vocab', '16', '--dtype', 'bf16', '--prefix'];
    const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/wrote .* in [\d.]+ s/);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ n_layer: 1, n_embd: 8, n_head: 2, n_ctx: 8, vocab_size: 16, eos_token_id: 15 });
    expect(rawHeader(path.join(dir, 'model.safetensors'))['transformer.wte.weight']).toMatchObject({ dtype: 'BF16', shape: [16, 8] });
    const again = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(again.stdout).toMatch(/up to date/);
    expect(loadReference(dir).config.n_vocab).toBe(16);

    expect(spawnSync(process.execPath, [script, '--out', dir, '--bogus'], { encoding: 'utf8' }).status).toBe(2);
    expect(spawnSync(process.execPath, [script], { encoding: 'utf8' }).status).toBe(2);
    expect(spawnSync(process.execPath, [script, '--out', dir, '--layers', 'x'], { encoding: 'utf8' }).status).toBe(2);
    const bad = spawnSync(process.execPath, [script, '--out', path.join(tmp, 'cli-bad'), '--embd', '10', '--heads', '3'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/multiple of heads/);
  });
});
