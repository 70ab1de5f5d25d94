// Sanity of the float64 reference for the GGUF architectures (test/reference/llama-f64.ts) and of the
// synthetic GGUF writer (test/helpers/gguf-arch-writer.ts), without the engine: RoPE, the norms and
// GELU against their definitions, grouped-query attention against multi-head attention with repeated
// heads, a one-layer llama computed by hand, the residual structure of each architecture, and the
// written files read back with a small GGUF reader of this file's own, against the metadata keys and
// tensor names/shapes llama.cpp (80fb11a) requires for each architecture.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archGguf, archGgufPath, writeArchGguf, type ArchGguf, type ArchGgufOptions, type ArchSpec } from '../helpers/gguf-arch-writer.js';
import {
  ARCH_NAMES,
  archForward,
  archHookValues,
  geluTanh,
  layerNorm,
  rmsNorm,
  ropeInPlace,
  type ArchConfig,
  type ArchName,
  type ArchWeights,
} from '../reference/llama-f64.js';
import { forwardReference, type RefModel } from '../reference/gpt2-f64.js';

const dir = mkdtempSync(join(tmpdir(), 'layerlens-arch-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const write = (spec: ArchSpec, opts: ArchGgufOptions = {}): ArchGguf => writeArchGguf(spec, join(dir, `m${fileNo++}.gguf`), opts);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const IDS = [5, 300, 17, 42, 99, 260, 3, 8];

// ---------------------------------------------------------------------------------------------
// A GGUF reader of this test's own (GGUF v3: header, key/values, tensor infos, aligned data).

type ParsedValue = { type: number; value: unknown };
interface ParsedGguf {
  kv: Map<string, ParsedValue>;
  tensors: Map<string, { ne: number[]; type: number; values: Float64Array }>;
}

function f16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function parseGguf(file: string): ParsedGguf {
  const buf = readFileSync(file);
  let at = 0;
  const u32 = () => ((at += 4), buf.readUInt32LE(at - 4));
  const u64 = () => ((at += 8), Number(buf.readBigUInt64LE(at - 8)));
  const str = () => {
    const n = u64();
    at += n;
    return buf.toString('utf8', at - n, at);
  };
  const value = (type: number): unknown => {
    switch (type) {
      case 0:
        return buf.readUInt8(at++);
      case 1:
        return buf.readInt8(at++);
      case 4:
        return u32();
      case 5:
        return ((at += 4), buf.readInt32LE(at - 4));
      case 6:
        return ((at += 4), buf.readFloatLE(at - 4));
      case 7:
        return buf.readUInt8(at++) !== 0;
      case 8:
        return str();
      case 9: {
        const itemType = u32();
        const n = u64();
        return { itemType, items: Array.from({ length: n }, () => value(itemType)) };
      }
      case 10:
        return u64();
      case 12:
        return ((at += 8), buf.readDoubleLE(at - 8));
      default:
        throw new Error(`GGUF value type ${type} not handled by the test reader`);
    }
  };
  expect(buf.toString('latin1', 0, 4)).toBe('GGUF');
  at = 4;
  expect(u32()).toBe(3);
  const nTensors = u64();
  const nKv = u64();
  const kv = new Map<string, ParsedValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    expect(kv.has(key), `duplicate key ${key}`).toBe(false);
    kv.set(key, { type, value: value(type) });
  }
  const infos: { name: string; ne: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const ne = Array.from({ length: nDims }, u64);
    const type = u32();
    infos.push({ name, ne, type, offset: u64() });
  }
  const alignment = (kv.get('general.alignment')?.value as number | undefined) ?? 32;
  const dataStart = Math.ceil(at / alignment) * alignment;
  const tensors = new Map<string, { ne: number[]; type: number; values: Float64Array }>();
  for (const t of infos) {
    expect(t.offset % alignment, `${t.name} offset alignment`).toBe(0);
    const n = t.ne.reduce((a, b) => a * b, 1);
    const start = dataStart + t.offset;
    const values = new Float64Array(n);
    if (t.type === 0) {
      for (let i = 0; i < n; i++) values[i] = buf.readFloatLE(start + 4 * i);
    } else if (t.type === 8) {
      // q8_0: blocks of 32 values, an f16 scale then 32 int8
      for (let b = 0; b < n / 32; b++) {
        const d = f16(buf.readUInt16LE(start + 34 * b));
        for (let j = 0; j < 32; j++) values[32 * b + j] = d * buf.readInt8(start + 34 * b + 2 + j);
      }
    } else throw new Error(`tensor type ${t.type} not handled by the test reader`);
    expect(tensors.has(t.name), `duplicate tensor ${t.name}`).toBe(false);
    tensors.set(t.name, { ne: t.ne, type: t.type, values });
  }
  return { kv, tensors };
}

// ---------------------------------------------------------------------------------------------
// What llama.cpp 80fb11a reads, per architecture (src/models/<arch>.cpp load_arch_hparams /
// load_arch_tensors, src/llama-model.cpp load_hparams, src/llama-vocab.cpp), written down here.

const GGUF_U32 = 4,
  GGUF_I32 = 5,
  GGUF_F32 = 6,
  GGUF_BOOL = 7,
  GGUF_STR = 8,
  GGUF_ARRAY = 9;

/** key -> GGUF type (arrays as their item type, negated) */
function expectedKeys(arch: ArchName): Map<string, number> {
  const a = arch;
  const keys = new Map<string, number>([
    ['general.architecture', GGUF_STR],
    ['general.name', GGUF_STR],
    ['general.alignment', GGUF_U32],
    ['general.file_type', GGUF_U32],
    [`${a}.context_length`, GGUF_U32],
    [`${a}.embedding_length`, GGUF_U32],
    [`${a}.block_count`, GGUF_U32],
    [`${a}.feed_forward_length`, GGUF_U32],
    [`${a}.attention.head_count`, GGUF_U32],
    [`${a}.attention.head_count_kv`, GGUF_U32],
    [`${a}.rope.dimension_count`, GGUF_U32],
    [`${a}.rope.freq_base`, GGUF_F32],
    ['tokenizer.ggml.model', GGUF_STR],
    ['tokenizer.ggml.pre', GGUF_STR],
    ['tokenizer.ggml.tokens', -GGUF_STR],
    ['tokenizer.ggml.token_type', -GGUF_I32],
    ['tokenizer.ggml.merges', -GGUF_STR],
    ['tokenizer.ggml.bos_token_id', GGUF_U32],
    ['tokenizer.ggml.eos_token_id', GGUF_U32],
    ['tokenizer.ggml.eot_token_id', GGUF_U32],
    ['tokenizer.ggml.add_bos_token', GGUF_BOOL],
    ['tokenizer.chat_template', GGUF_STR],
  ]);
  if (a === 'gptneox') {
    keys.set(`${a}.attention.layer_norm_epsilon`, GGUF_F32);
    keys.set(`${a}.use_parallel_residual`, GGUF_BOOL);
  } else keys.set(`${a}.attention.layer_norm_rms_epsilon`, GGUF_F32);
  if (a === 'qwen3' || a === 'gemma2') {
    keys.set(`${a}.attention.key_length`, GGUF_U32);
    keys.set(`${a}.attention.value_length`, GGUF_U32);
  }
  if (a === 'gemma2') {
    keys.set(`${a}.attn_logit_softcapping`, GGUF_F32);
    keys.set(`${a}.final_logit_softcapping`, GGUF_F32);
    keys.set(`${a}.attention.sliding_window`, GGUF_U32);
  }
  return keys;
}

/** "name [ne0, ne1]" of every tensor llama.cpp creates for the model (it rejects any other). */
function expectedTensors(c: ArchConfig, tied: boolean): string[] {
  const { nEmbd: d, nFf: ff, nVocab: V, headDim: hd } = c;
  const q = c.nHead * hd,
    kv = c.nHeadKv * hd;
  const t = (name: string, ...ne: number[]) => `${name} [${ne.join(', ')}]`;
  const out = [t('token_embd.weight', d, V), t('output_norm.weight', d)];
  if (c.arch === 'gptneox') out.push(t('output_norm.bias', d));
  if (!tied) out.push(t('output.weight', d, V));
  for (let il = 0; il < c.nLayer; il++) {
    const p = `blk.${il}.`;
    const qkvSeparate = [t(`${p}attn_q.weight`, d, q), t(`${p}attn_k.weight`, d, kv), t(`${p}attn_v.weight`, d, kv)];
    const swiglu = [t(`${p}ffn_gate.weight`, d, ff), t(`${p}ffn_up.weight`, d, ff), t(`${p}ffn_down.weight`, ff, d)];
    switch (c.arch) {
      case 'llama':
      case 'qwen2':
      case 'qwen3':
        out.push(t(`${p}attn_norm.weight`, d), ...qkvSeparate, t(`${p}attn_output.weight`, q, d), t(`${p}ffn_norm.weight`, d), ...swiglu);
        if (c.arch === 'qwen2') out.push(t(`${p}attn_q.bias`, q), t(`${p}attn_k.bias`, kv), t(`${p}attn_v.bias`, kv));
        if (c.arch === 'qwen3') out.push(t(`${p}attn_q_norm.weight`, hd), t(`${p}attn_k_norm.weight`, hd));
        break;
      case 'olmo2':
        out.push(...qkvSeparate, t(`${p}attn_output.weight`, d, d), t(`${p}attn_q_norm.weight`, d), t(`${p}attn_k_norm.weight`, kv));
        out.push(t(`${p}post_attention_norm.weight`, d), ...swiglu, t(`${p}post_ffw_norm.weight`, d));
        break;
      case 'gptneox':
        out.push(t(`${p}attn_norm.weight`, d), t(`${p}attn_norm.bias`, d), t(`${p}attn_qkv.weight`, d, d + 2 * kv), t(`${p}attn_qkv.bias`, d + 2 * kv));
        out.push(t(`${p}attn_output.weight`, d, d), t(`${p}attn_output.bias`, d), t(`${p}ffn_norm.weight`, d), t(`${p}ffn_norm.bias`, d));
        out.push(t(`${p}ffn_down.weight`, ff, d), t(`${p}ffn_down.bias`, d), t(`${p}ffn_up.weight`, d, ff), t(`${p}ffn_up.bias`, ff));
        break;
      case 'phi3':
        out.push(t(`${p}attn_norm.weight`, d), t(`${p}attn_qkv.weight`, d, d + 2 * kv), t(`${p}attn_output.weight`, d, d));
        out.push(t(`${p}ffn_norm.weight`, d), t(`${p}ffn_down.weight`, ff, d), t(`${p}ffn_up.weight`, d, 2 * ff));
        break;
      case 'gemma2':
        out.push(t(`${p}attn_norm.weight`, d), ...qkvSeparate, t(`${p}attn_output.weight`, q, d), t(`${p}post_attention_norm.weight`, d));
        out.push(t(`${p}ffn_norm.weight`, d), ...swiglu, t(`${p}post_ffw_norm.weight`, d));
        break;
    }
  }
  return out.sort();
}

/** The reference weights as this test reads them from the parsed file (fused tensors split by rows). */
function weightsFromFile(g: ParsedGguf, c: ArchConfig): ArchWeights {
  const get = (name: string) => {
    const t = g.tensors.get(name);
    if (!t) throw new Error(`missing ${name}`);
    return t.values;
  };
  const opt = (name: string) => g.tensors.get(name)?.values;
  const d = c.nEmbd,
    q = c.nHead * c.headDim,
    kv = c.nHeadKv * c.headDim;
  const split = (a: Float64Array, cols: number, rows: number[]) => {
    let r = 0;
    return rows.map((n) => a.slice(cols * r, cols * (r += n)));
  };
  const tokenEmbd = get('token_embd.weight');
  return {
    config: c,
    tokenEmbd,
    output: opt('output.weight') ?? tokenEmbd,
    outputNorm: get('output_norm.weight'),
    outputNormB: opt('output_norm.bias'),
    layers: Array.from({ length: c.nLayer }, (_, il) => {
      const p = `blk.${il}.`;
      const fusedQkv = opt(`${p}attn_qkv.weight`);
      const [wq, wk, wv] = fusedQkv ? split(fusedQkv, d, [q, kv, kv]) : [get(`${p}attn_q.weight`), get(`${p}attn_k.weight`), get(`${p}attn_v.weight`)];
      const qkvBias = opt(`${p}attn_qkv.bias`);
      const [bq, bk, bv] = qkvBias ? split(qkvBias, 1, [q, kv, kv]) : [opt(`${p}attn_q.bias`), opt(`${p}attn_k.bias`), opt(`${p}attn_v.bias`)];
      const up = get(`${p}ffn_up.weight`);
      const [ffnGate, ffnUp] = c.arch === 'phi3' ? split(up, d, [c.nFf, c.nFf]) : [opt(`${p}ffn_gate.weight`), up];
      return {
        attnNorm: opt(`${p}attn_norm.weight`),
        attnNormB: opt(`${p}attn_norm.bias`),
        wq,
        wk,
        wv,
        bq,
        bk,
        bv,
        qNorm: opt(`${p}attn_q_norm.weight`),
        kNorm: opt(`${p}attn_k_norm.weight`),
        wo: get(`${p}attn_output.weight`),
        bo: opt(`${p}attn_output.bias`),
        attnPostNorm: opt(`${p}post_attention_norm.weight`),
        ffnNorm: opt(`${p}ffn_norm.weight`),
        ffnNormB: opt(`${p}ffn_norm.bias`),
        ffnGate,
        ffnUp,
        ffnUpB: opt(`${p}ffn_up.bias`),
        ffnDown: get(`${p}ffn_down.weight`),
        ffnDownB: opt(`${p}ffn_down.bias`),
        ffnPostNorm: opt(`${p}post_ffw_norm.weight`),
      };
    }),
  };
}

function expectSameWeights(actual: ArchWeights, expected: ArchWeights): void {
  expect(maxAbsDiff(actual.tokenEmbd, expected.tokenEmbd)).toBe(0);
  expect(maxAbsDiff(actual.output, expected.output)).toBe(0);
  expect(maxAbsDiff(actual.outputNorm, expected.outputNorm)).toBe(0);
  expect(actual.outputNormB === undefined).toBe(expected.outputNormB === undefined);
  actual.layers.forEach((layer, il) => {
    const want = expected.layers[il] as unknown as Record<string, Float64Array | undefined>;
    const got = layer as unknown as Record<string, Float64Array | undefined>;
    for (const key of new Set([...Object.keys(want), ...Object.keys(got)])) {
      const a = got[key],
        b = want[key];
      expect(a === undefined, `layer ${il} ${key} presence`).toBe(b === undefined);
      if (a && b) expect(maxAbsDiff(a, b), `layer ${il} ${key}`).toBe(0);
    }
  });
}

// ---------------------------------------------------------------------------------------------

describe('RoPE, norms and GELU', () => {
  const vec = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 2);

  it('is the identity at position 0 in both layouts', () => {
    for (const mode of ['norm', 'neox'] as const) {
      const v = vec(16, 1);
      const r = v.slice();
      ropeInPlace(r, 0, 16, 10000, mode);
      expect(maxAbsDiff(r, v)).toBe(0);
    }
  });

  it('rotates pairs: NORM turns (x0, x1) by pos·θ^0 and NEOX pairs dim i with i + n_rot/2', () => {
    const v = Float64Array.from([1, 2, 3, 4]);
    const norm = v.slice();
    ropeInPlace(norm, 2, 4, 100, 'norm');
    // pair 0: angle 2; pair 1: angle 2·100^(-1/2) = 0.2
    expect(
      maxAbsDiff(norm, [
        1 * Math.cos(2) - 2 * Math.sin(2),
        1 * Math.sin(2) + 2 * Math.cos(2),
        3 * Math.cos(0.2) - 4 * Math.sin(0.2),
        3 * Math.sin(0.2) + 4 * Math.cos(0.2),
      ]),
    ).toBeLessThan(1e-15);
    const neox = v.slice();
    ropeInPlace(neox, 2, 4, 100, 'neox');
    expect(
      maxAbsDiff(neox, [
        1 * Math.cos(2) - 3 * Math.sin(2),
        2 * Math.cos(0.2) - 4 * Math.sin(0.2),
        1 * Math.sin(2) + 3 * Math.cos(2),
        2 * Math.sin(0.2) + 4 * Math.cos(0.2),
      ]),
    ).toBeLessThan(1e-15);
  });

  it('NEOX equals NORM on the interleaved vector, and both keep the norm and depend on relative position only', () => {
    const n = 8;
    const v = vec(n, 2);
    const interleave = (a: Float64Array) => Float64Array.from({ length: n }, (_, j) => (j % 2 === 0 ? a[j / 2] : a[(j - 1) / 2 + n / 2]));
    const neox = v.slice();
    ropeInPlace(neox, 5, n, 10000, 'neox');
    const norm = interleave(v);
    ropeInPlace(norm, 5, n, 10000, 'norm');
    expect(maxAbsDiff(norm, interleave(neox))).toBeLessThan(1e-14);
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i], 0);
    for (const mode of ['norm', 'neox'] as const) {
      const at = (x: Float64Array, p: number) => {
        const r = x.slice();
        ropeInPlace(r, p, n, 10000, mode);
        return r;
      };
      const q = vec(n, 3),
        k = vec(n, 4);
      expect(Math.abs(dot(at(q, 7), at(q, 7)) - dot(q, q))).toBeLessThan(1e-12);
      expect(Math.abs(dot(at(q, 9), at(k, 4)) - dot(at(q, 12), at(k, 7)))).toBeLessThan(1e-12);
    }
  });

  it('partial rotary leaves the dims past n_rot unchanged', () => {
    const v = vec(16, 5);
    const r = v.slice();
    ropeInPlace(r, 3, 4, 10000, 'neox');
    expect(maxAbsDiff(r.subarray(4), v.subarray(4))).toBe(0);
    expect(maxAbsDiff(r.subarray(0, 4), v.subarray(0, 4))).toBeGreaterThan(0.1);
  });

  it('RMSNorm of a constant vector is the weight (scaled by |c| / sqrt(c² + eps)); LayerNorm of one is the bias', () => {
    const w = Float64Array.from([0.5, 1, 2, -1]);
    const c = -3,
      eps = 1e-5;
    const r = rmsNorm(new Float64Array(4).fill(c), w, eps);
    expect(
      maxAbsDiff(
        r,
        Array.from(w, (x) => (x * c) / Math.sqrt(c * c + eps)),
      ),
    ).toBeLessThan(1e-15);
    const b = Float64Array.from([0.1, 0.2, 0.3, 0.4]);
    expect(maxAbsDiff(layerNorm(new Float64Array(4).fill(c), w, b, eps), b)).toBe(0);
    // LayerNorm of [1, -1, 1, -1] (mean 0, variance 1) is w·x/sqrt(1 + eps) + b
    const ln = layerNorm(Float64Array.from([1, -1, 1, -1]), w, b, eps);
    expect(
      maxAbsDiff(
        ln,
        [0.5, -1, 2, 1].map((x, i) => x / Math.sqrt(1 + eps) + b[i]),
      ),
    ).toBeLessThan(1e-15);
  });

  it('GELU is the tanh form (ggml_gelu), not the erf one Hugging Face Pythia uses', () => {
    // 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))) at x = 1 and x = -2
    expect(geluTanh(1)).toBeCloseTo(0.8411919906082768, 14);
    expect(geluTanh(-2)).toBeCloseTo(-0.04540230591222, 12);
    // the erf GELU at 1 is 0.8413447460685429
    expect(Math.abs(geluTanh(1) - 0.8413447460685429)).toBeGreaterThan(1e-4);
  });
});

describe('reference forward', () => {
  it('matches a one-layer llama computed by hand', () => {
    const cfg: ArchConfig = {
      arch: 'llama',
      nLayer: 1,
      nEmbd: 2,
      nHead: 1,
      nHeadKv: 1,
      headDim: 2,
      nFf: 1,
      nCtx: 4,
      nVocab: 2,
      nRot: 2,
      ropeTheta: 10000,
      normEps: 0,
      parallelResidual: false,
      attnSoftcap: 0,
      finalSoftcap: 0,
      slidingWindow: 0,
    };
    const I = Float64Array.from([1, 0, 0, 1]);
    const ones = Float64Array.from([1, 1]);
    const E = Float64Array.from([1, 0, 0, 2]);
    const model: ArchWeights = {
      config: cfg,
      tokenEmbd: E,
      output: E,
      outputNorm: ones,
      layers: [
        {
          attnNorm: ones,
          wq: I,
          wk: I,
          wv: I,
          wo: I,
          ffnNorm: ones,
          ffnGate: Float64Array.from([1, 0]),
          ffnUp: Float64Array.from([0, 1]),
          ffnDown: Float64Array.from([1, 1]),
        },
      ],
    };
    const fwd = archForward(model, [0, 1]);
    const s2 = Math.SQRT2;
    const silu = (x: number) => x / (1 + Math.exp(-x));
    // Position 0 attends to itself: z0 = v0 = RMS([1, 0]) = [√2, 0]. Position 1: q1 = k1 = RoPE([0, √2], angle 1).
    const q1 = [-s2 * Math.sin(1), s2 * Math.cos(1)];
    const sc0 = (q1[0] * s2) / s2; // q1·k0 / sqrt(2)
    const sc1 = 2 / s2; // q1·k1 / sqrt(2), |q1|² = 2
    const p0 = Math.exp(sc0) / (Math.exp(sc0) + Math.exp(sc1)),
      p1 = 1 - p0;
    const attn = [s2, 0, p0 * s2, p1 * s2];
    expect(maxAbsDiff(fwd.layers[0].attn_out, attn)).toBeLessThan(1e-14);
    expect(maxAbsDiff(fwd.layers[0].attn_pattern, [1, 0, p0, p1])).toBeLessThan(1e-14);
    const mid = [1 + s2, 0, p0 * s2, 2 + p1 * s2];
    expect(maxAbsDiff(fwd.layers[0].resid_mid!, mid)).toBeLessThan(1e-14);
    // FFN on RMS(mid): gate = first coordinate, up = second; down copies the product to both.
    const rms = (a: number, b: number) => Math.sqrt((a * a + b * b) / 2);
    const r1 = rms(mid[2], mid[3]);
    const m1 = silu(mid[2] / r1) * (mid[3] / r1);
    expect(maxAbsDiff(fwd.layers[0].mlp_post, [0, m1])).toBeLessThan(1e-14);
    const post = [mid[0], mid[1], mid[2] + m1, mid[3] + m1];
    expect(maxAbsDiff(fwd.layers[0].resid_post, post)).toBeLessThan(1e-14);
    // Tied logits: E·RMS(post) = [y0, 2·y1].
    const y = [post[0] / rms(post[0], post[1]), post[1] / rms(post[0], post[1]), post[2] / rms(post[2], post[3]), post[3] / rms(post[2], post[3])];
    expect(maxAbsDiff(fwd.final_norm, y)).toBeLessThan(1e-14);
    expect(maxAbsDiff(fwd.logits, [y[0], 2 * y[1], y[2], 2 * y[3]])).toBeLessThan(1e-14);
  });

  it('llama rotates adjacent dims (NORM); qwen2, qwen3 and phi3 rotate dims i and i + n_rot/2 (NEOX)', () => {
    // One head of 4 dims, identity projections. Token 1 = [1, 0, 0, 0] and token 0 = [0, 1, 0, 0]
    // RMS-normalise to 2·e1 and 2·e2. At position 1, q = RoPE(2·e1): NORM turns it towards dim 1
    // ([2cos1, 2sin1, 0, 0]), NEOX towards dim 2 ([2cos1, 0, 2sin1, 0]). So the score of key 0 is
    // (q·k0)/sqrt(4) = 2·sin 1 under NORM and 0 under NEOX; the score of key 1 is |q|²/2 = 2 either way.
    const I4 = Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const ones = new Float64Array(4).fill(1);
    const E = Float64Array.from([0, 1, 0, 0, 1, 0, 0, 0]);
    const pattern = (arch: ArchName) => {
      const cfg: ArchConfig = {
        arch,
        nLayer: 1,
        nEmbd: 4,
        nHead: 1,
        nHeadKv: 1,
        headDim: 4,
        nFf: 1,
        nCtx: 4,
        nVocab: 2,
        nRot: 4,
        ropeTheta: 10000,
        normEps: 0,
        parallelResidual: false,
        attnSoftcap: 1e9,
        finalSoftcap: 1e9,
        slidingWindow: 1e9,
      };
      const layer = {
        attnNorm: ones,
        attnNormB: new Float64Array(4),
        wq: I4,
        wk: I4,
        wv: I4,
        wo: I4,
        ffnNorm: ones,
        ffnNormB: new Float64Array(4),
        ffnGate: new Float64Array(4),
        ffnUp: new Float64Array(4),
        ffnDown: new Float64Array(4),
        qNorm: ones,
        kNorm: ones,
        attnPostNorm: ones,
        ffnPostNorm: ones,
      };
      const m: ArchWeights = {
        config: cfg,
        tokenEmbd: E,
        output: E,
        outputNorm: ones,
        outputNormB: arch === 'gptneox' ? new Float64Array(4) : undefined,
        layers: [layer],
      };
      return archForward(m, [0, 1]).layers[0].attn_pattern;
    };
    const softmax2 = (a: number, b: number) => [Math.exp(a) / (Math.exp(a) + Math.exp(b)), Math.exp(b) / (Math.exp(a) + Math.exp(b))];
    expect(maxAbsDiff(pattern('llama'), [1, 0, ...softmax2(2 * Math.sin(1), 2)])).toBeLessThan(1e-14);
    for (const arch of ['qwen2', 'qwen3', 'phi3'] as const) expect(maxAbsDiff(pattern(arch), [1, 0, ...softmax2(0, 2)]), arch).toBeLessThan(1e-14);
  });

  it('grouped-query attention equals multi-head attention with each key/value head repeated for its group', () => {
    for (const arch of ['llama', 'qwen2', 'olmo2', 'phi3'] as const) {
      const gqa = write({ arch, nHead: 4, nHeadKv: 2 });
      const hd = gqa.config.headDim,
        d = gqa.config.nEmbd;
      // query heads 2g and 2g+1 read kv head g
      const repeatRows = (a: Float64Array, width: number) => {
        const out = new Float64Array(a.length * 2);
        for (let g = 0; g < 2; g++) for (const h of [2 * g, 2 * g + 1]) out.set(a.subarray(g * hd * width, (g + 1) * hd * width), h * hd * width);
        return out;
      };
      const mha: ArchWeights = {
        ...gqa,
        config: { ...gqa.config, nHeadKv: 4 },
        layers: gqa.layers.map((l) => ({
          ...l,
          wk: repeatRows(l.wk, d),
          wv: repeatRows(l.wv, d),
          ...(l.bk ? { bk: repeatRows(l.bk, 1), bv: repeatRows(l.bv!, 1) } : {}),
          // olmo2's k norm spans the whole k projection: RMS over the repeated vector is the same
          ...(arch === 'olmo2' ? { kNorm: repeatRows(l.kNorm!, 1) } : {}),
        })),
      };
      const a = archForward(gqa, IDS),
        b = archForward(mha, IDS);
      expect(maxAbsDiff(a.logits, b.logits), arch).toBeLessThan(1e-12);
      expect(maxAbsDiff(a.layers[1].attn_pattern, b.layers[1].attn_pattern), arch).toBeLessThan(1e-12);
    }
  });

  it('is causal, attention rows sum to 1, and hooks compose into the residual stream', () => {
    for (const arch of ARCH_NAMES) {
      const m = write({ arch });
      const fwd = archForward(m, IDS);
      const changed = archForward(m, [...IDS.slice(0, 5), 7, 7, 7]);
      expect(maxAbsDiff(fwd.logits.subarray(0, 5 * m.config.nVocab), changed.logits.subarray(0, 5 * m.config.nVocab)), arch).toBe(0);
      expect(maxAbsDiff(fwd.logits, changed.logits), arch).toBeGreaterThan(1e-3);
      const n = IDS.length,
        d = m.config.nEmbd;
      fwd.layers.forEach((l, il) => {
        for (let h = 0; h < m.config.nHead; h++)
          for (let i = 0; i < n; i++) {
            const rowP = l.attn_pattern.subarray((h * n + i) * n, (h * n + i + 1) * n);
            expect(Math.abs(rowP.reduce((s, x) => s + x, 0) - 1)).toBeLessThan(1e-12);
            expect(rowP.subarray(i + 1).every((x) => x === 0)).toBe(true);
          }
        if (m.config.parallelResidual) {
          expect(l.resid_mid, arch).toBeUndefined();
          expect(
            maxAbsDiff(
              l.resid_post,
              l.resid_pre.map((x, k) => x + l.attn_out[k] + l.mlp_out[k]),
            ),
          ).toBeLessThan(1e-12);
        } else {
          expect(
            maxAbsDiff(
              l.resid_mid!,
              l.resid_pre.map((x, k) => x + l.attn_out[k]),
            ),
          ).toBeLessThan(1e-12);
          expect(
            maxAbsDiff(
              l.resid_post,
              l.resid_mid!.map((x, k) => x + l.mlp_out[k]),
            ),
          ).toBeLessThan(1e-12);
        }
        if (il + 1 < fwd.layers.length) expect(fwd.layers[il + 1].resid_pre).toBe(l.resid_post);
        // Without a post-attention norm, the heads' outputs (plus the output bias) add up to attn_out.
        if (arch !== 'olmo2' && arch !== 'gemma2') {
          const bo = m.layers[il].bo;
          const summed = new Float64Array(n * d);
          for (let i = 0; i < n; i++)
            for (let h = 0; h < m.config.nHead; h++)
              for (let c = 0; c < d; c++) summed[i * d + c] += l.attn_head_out[(i * m.config.nHead + h) * d + c] + (h === 0 && bo ? bo[c] : 0);
          expect(maxAbsDiff(summed, l.attn_out), arch).toBeLessThan(1e-12);
        }
      });
      const hooks = archHookValues(fwd);
      expect(hooks.has('blocks.0.resid_mid')).toBe(!m.config.parallelResidual);
      expect(hooks.get(`blocks.${m.config.nLayer - 1}.resid_post`)).toBe(fwd.layers[m.config.nLayer - 1].resid_post);
    }
  });

  it('gptneox, sequential and without rotary, equals the GPT-2 reference with zero position embeddings', () => {
    // With RoPE rotating no dims and a sequential residual, GPT-NeoX is GPT-2 without learned
    // positions: LayerNorms with biases, fused [Q | K | V] with bias, tanh GELU, biased projections.
    const m = write({ arch: 'gptneox', parallelResidual: false });
    const c = m.config;
    const neox: ArchWeights = { ...m, config: { ...c, nRot: 0 }, output: m.tokenEmbd };
    const d = c.nEmbd;
    const transpose = (a: Float64Array, rows: number, cols: number) => {
      const t = new Float64Array(a.length);
      for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) t[k * rows + r] = a[r * cols + k];
      return t;
    };
    const concat = (...parts: Float64Array[]) => {
      const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) out.set(p, (at += p.length) - p.length);
      return out;
    };
    const gpt2: RefModel = {
      dir: m.file,
      config: { n_layer: c.nLayer, n_embd: d, n_head: c.nHead, n_ctx: c.nCtx, n_vocab: c.nVocab, eps: c.normEps },
      dtype: 'F32',
      wte: m.tokenEmbd,
      wpe: new Float64Array(c.nCtx * d),
      lnf_w: m.outputNorm,
      lnf_b: m.outputNormB!,
      blocks: m.layers.map((l) => ({
        ln1_w: l.attnNorm!,
        ln1_b: l.attnNormB!,
        attn_w: transpose(concat(l.wq, l.wk, l.wv), 3 * d, d),
        attn_b: concat(l.bq!, l.bk!, l.bv!),
        attn_proj_w: transpose(l.wo, d, d),
        attn_proj_b: l.bo!,
        ln2_w: l.ffnNorm!,
        ln2_b: l.ffnNormB!,
        fc_w: transpose(l.ffnUp, c.nFf, d),
        fc_b: l.ffnUpB!,
        proj_w: transpose(l.ffnDown, d, c.nFf),
        proj_b: l.ffnDownB!,
      })),
    };
    const a = archForward(neox, IDS);
    const b = forwardReference(gpt2, IDS);
    expect(maxAbsDiff(a.embed, b.get('embed'))).toBe(0);
    for (const [name, value] of archHookValues(a)) expect(maxAbsDiff(value, b.get(name)), name).toBeLessThan(1e-12);
    expect(maxAbsDiff(a.logits, b.get('logits'))).toBeLessThan(1e-12);
  });

  it('gptneox without a parallel residual runs attention then FFN on the updated stream', () => {
    const par = write({ arch: 'gptneox' });
    const seq = write({ arch: 'gptneox', parallelResidual: false });
    const a = archForward(par, IDS),
      b = archForward(seq, IDS);
    expect(b.layers[0].resid_mid).toBeDefined();
    // same weights (same seed), so layer 0's attention agrees and its FFN input differs
    expect(maxAbsDiff(a.layers[0].attn_out, b.layers[0].attn_out)).toBe(0);
    expect(maxAbsDiff(a.layers[0].mlp_out, b.layers[0].mlp_out)).toBeGreaterThan(1e-3);
  });

  it('gemma2: embeddings scaled by sqrt(d), logits soft-capped, even layers windowed', () => {
    const m = write({ arch: 'gemma2', finalSoftcap: 1.5, slidingWindow: 2, nLayer: 3 });
    const fwd = archForward(m, IDS);
    const d = m.config.nEmbd,
      n = IDS.length;
    expect(
      maxAbsDiff(
        fwd.embed.subarray(0, d),
        m.tokenEmbd.subarray(IDS[0] * d, (IDS[0] + 1) * d).map((x) => x * 8),
      ),
    ).toBeLessThan(1e-14);
    expect(fwd.logits.every((x) => Math.abs(x) <= 1.5)).toBe(true);
    expect(Math.max(...fwd.logits.map(Math.abs))).toBeGreaterThan(1);
    const far = (il: number) => {
      let s = 0;
      const p = fwd.layers[il].attn_pattern;
      for (let h = 0; h < m.config.nHead; h++) for (let i = 0; i < n; i++) for (let j = 0; j + 2 <= i; j++) s += p[(h * n + i) * n + j];
      return s;
    };
    expect(far(0)).toBe(0);
    expect(far(2)).toBe(0);
    expect(far(1)).toBeGreaterThan(0.1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('synthetic GGUF writer', () => {
  for (const arch of ARCH_NAMES) {
    for (const type of ['f32', 'q8_0'] as const) {
      it(`${arch} ${type}: the file holds exactly llama.cpp's keys and tensors, and the values returned`, () => {
        const m = write({ arch }, { type });
        const g = parseGguf(m.file);
        // keys and their GGUF types
        const want = expectedKeys(arch);
        expect([...g.kv.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [key, t] of want) {
          const got = g.kv.get(key)!;
          if (t < 0) {
            expect(got.type, key).toBe(GGUF_ARRAY);
            expect((got.value as { itemType: number }).itemType, key).toBe(-t);
          } else expect(got.type, key).toBe(t);
        }
        const kv = (k: string) => g.kv.get(k)!.value;
        const c = m.config;
        expect(kv('general.architecture')).toBe(arch);
        expect(kv('general.alignment')).toBe(32);
        expect(kv('general.file_type')).toBe(type === 'q8_0' ? 7 : 0);
        expect(kv(`${arch}.embedding_length`)).toBe(64);
        expect(kv(`${arch}.context_length`)).toBe(128);
        expect(kv(`${arch}.block_count`)).toBe(c.nLayer);
        expect(kv(`${arch}.attention.head_count`)).toBe(4);
        expect(kv(`${arch}.attention.head_count_kv`)).toBe(c.nHeadKv);
        expect(kv(`${arch}.rope.dimension_count`)).toBe(arch === 'gptneox' ? 4 : c.headDim);
        expect(kv(`${arch}.rope.freq_base`)).toBe(Math.fround(c.ropeTheta));
        expect(kv(arch === 'gptneox' ? `${arch}.attention.layer_norm_epsilon` : `${arch}.attention.layer_norm_rms_epsilon`)).toBe(Math.fround(c.normEps));
        if (arch === 'gptneox') expect(kv('gptneox.use_parallel_residual')).toBe(true);
        if (arch === 'gemma2') {
          expect(kv('gemma2.attn_logit_softcapping')).toBe(50);
          expect(kv('gemma2.final_logit_softcapping')).toBe(30);
        }
        // every value as the writer reports it
        for (const [key, v] of m.metadata) {
          const got = kv(key);
          if (Array.isArray(v.value)) expect((got as { items: unknown[] }).items, key).toEqual(v.value);
          else expect(got, key).toBe(v.type === 'f32' ? Math.fround(v.value as number) : v.value);
        }
        // tensors: names and ggml shapes as llama.cpp creates them, norms and biases in f32
        const tied = arch === 'gemma2';
        expect(m.tied).toBe(tied);
        expect([...g.tensors].map(([name, t]) => `${name} [${t.ne.join(', ')}]`).sort()).toEqual(expectedTensors(c, tied));
        for (const [name, t] of g.tensors) {
          const isMatrix = t.ne.length === 2;
          expect(t.type, name).toBe(isMatrix && type === 'q8_0' ? 8 : 0);
          expect(maxAbsDiff(t.values, m.tensorValues.get(name)!), name).toBe(0);
        }
        expectSameWeights(m, weightsFromFile(g, c));
        if (type === 'q8_0') {
          // the values are dequantized q8_0, not the f32 draws: a block's values are multiples of its scale
          const block = g.tensors.get('token_embd.weight')!.values.subarray(0, 32);
          const scale = Math.max(...block.map(Math.abs)) / 127;
          expect(block.every((x) => Math.abs(x / scale - Math.round(x / scale)) < 1e-6)).toBe(true);
        }
      });
    }
  }

  it('writes tied and untied variants where llama.cpp allows both, and refuses the others', () => {
    for (const arch of ['llama', 'qwen2', 'qwen3', 'phi3'] as const) {
      const tied = write({ arch }, { tiedOutput: true });
      const untied = write({ arch }, { tiedOutput: false });
      expect(parseGguf(tied.file).tensors.has('output.weight')).toBe(false);
      expect(tied.output).toBe(tied.tokenEmbd);
      expect(parseGguf(untied.file).tensors.has('output.weight')).toBe(true);
      expect(maxAbsDiff(untied.output, untied.tokenEmbd)).toBeGreaterThan(0.1);
    }
    expect(() => write({ arch: 'olmo2' }, { tiedOutput: true })).toThrow(/requires output.weight/);
    expect(() => write({ arch: 'gptneox' }, { tiedOutput: true })).toThrow(/requires output.weight/);
    expect(() => write({ arch: 'gemma2' }, { tiedOutput: false })).toThrow(/always ties/);
  });

  it('refuses shapes llama.cpp cannot load', () => {
    expect(() => write({ arch: 'llama', nRot: 8 })).toThrow(/rope.dimension_count/);
    expect(() => write({ arch: 'qwen2', headDim: 32 })).toThrow(/head_dim must be/);
    expect(() => write({ arch: 'llama', nHeadKv: 3 })).toThrow(/multiple/);
    expect(() => write({ arch: 'llama', nFf: 100 }, { type: 'q8_0' })).toThrow(/multiple of 32/);
  });

  it('is deterministic: the same spec and seed give the same bytes, another seed other weights', () => {
    const a = write({ arch: 'qwen3' });
    const b = write({ arch: 'qwen3' });
    const c = write({ arch: 'qwen3' }, { seed: 7 });
    expect(readFileSync(a.file).equals(readFileSync(b.file))).toBe(true);
    expect(maxAbsDiff(a.layers[0].wq, c.layers[0].wq)).toBeGreaterThan(0.1);
  });

  it('the vocabulary is a byte-level BPE llama.cpp accepts, with a chat template it recognises', () => {
    for (const chat of ['llama3', 'chatml'] as const) {
      const m = write({ arch: 'llama' }, { chatTemplate: chat });
      const g = parseGguf(m.file);
      const items = (k: string) => (g.kv.get(k)!.value as { items: unknown[] }).items;
      const tokens = items('tokenizer.ggml.tokens') as string[];
      const types = items('tokenizer.ggml.token_type') as number[];
      const merges = items('tokenizer.ggml.merges') as string[];
      // GPT-2's byte tokens: '!' is 0, 'Ċ' (newline) 198, 'Ġ' (space) 220
      expect([tokens[0], tokens[198], tokens[220], tokens[255]]).toEqual(['!', 'Ċ', 'Ġ', 'Ń']);
      expect(new Set(tokens).size).toBe(tokens.length);
      expect(types.length).toBe(tokens.length);
      const ids = new Map(tokens.map((t, i) => [t, i]));
      for (const merge of merges) {
        const parts = merge.split(' ');
        expect(parts.length, merge).toBe(2);
        expect(ids.has(parts[0]) && ids.has(parts[1]) && ids.has(parts[0] + parts[1]), merge).toBe(true);
      }
      expect(merges.length).toBeGreaterThan(20);
      const tokenAt = (k: string) => tokens[g.kv.get(k)!.value as number];
      expect(tokenAt('tokenizer.ggml.bos_token_id')).toBe('<|begin_of_text|>');
      expect(tokenAt('tokenizer.ggml.eos_token_id')).toBe('<|end_of_text|>');
      expect(tokenAt('tokenizer.ggml.eot_token_id')).toBe(chat === 'llama3' ? '<|eot_id|>' : '<|im_end|>');
      for (const [i, t] of tokens.entries()) expect(types[i], t).toBe(t.startsWith('<|') ? 3 : 1);
      const template = g.kv.get('tokenizer.chat_template')!.value as string;
      // llama.cpp's detection: ChatML by "<|im_start|>", Llama 3 by both header markers
      if (chat === 'chatml') expect(template).toContain('<|im_start|>');
      else expect(template.includes('<|start_header_id|>') && template.includes('<|end_header_id|>') && !template.includes('<|im_start|>')).toBe(true);
      for (const special of template.match(/<\|[a-z_]+\|>/g)!) expect(ids.has(special), special).toBe(true);
      expect(g.kv.get('tokenizer.ggml.add_bos_token')!.value).toBe(chat === 'llama3');
      expect(g.kv.get('tokenizer.ggml.pre')!.value).toBe('llama-bpe');
    }
  });

  it('archGguf keeps one file per options under .cache/test-checkpoints and does not rewrite it', () => {
    const a = archGguf('phi3', 'q8_0');
    const before = statSync(a.file).mtimeMs;
    const b = archGguf('phi3', 'q8_0');
    expect(b.file).toBe(a.file);
    expect(a.file).toContain(join('.cache', 'test-checkpoints', 'arch-gguf'));
    expect(statSync(b.file).mtimeMs).toBe(before);
    expect(maxAbsDiff(b.layers[1].ffnDown, a.layers[1].ffnDown)).toBe(0);
    expect(archGgufPath('phi3', 'q8_0', { tiedOutput: true })).not.toBe(a.file);
  });

  it('a large vocabulary (128,256 tokens) keeps tokens unique and the file small', () => {
    const m = write({ arch: 'llama' }, { vocab: 128256, type: 'q8_0', tiedOutput: true });
    const g = parseGguf(m.file);
    const tokens = (g.kv.get('tokenizer.ggml.tokens')!.value as { items: string[] }).items;
    expect(tokens.length).toBe(128256);
    expect(new Set(tokens).size).toBe(128256);
    expect(g.tensors.get('token_embd.weight')!.ne).toEqual([64, 128256]);
    expect(readFileSync(m.file).length).toBeLessThan(16 * 1024 * 1024);
    const fwd = archForward(m, [0, 128000, 128255]);
    expect(fwd.logits.length).toBe(3 * 128256);
  }, 60_000);
});
