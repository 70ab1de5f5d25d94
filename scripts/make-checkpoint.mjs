#!/usr/bin/env node
// layerlens — deterministic synthetic GPT-2 checkpoints in the Hugging Face layout.
//
// Writes DIR/config.json (a GPT2Config with "layerlens_synthetic": true), DIR/model.safetensors
// (hub names and shapes, Conv1D [in, out] layout, tied unembedding: no lm_head.weight) and a stamp
// DIR/layerlens-synthetic.json holding the options, so that a second run with the same options
// does nothing.
//
// Plain ESM JavaScript, Node >= 20, no dependencies. Used as a library by the tests:
//   import { makeCheckpoint, writeSafetensors, encodeSafetensorsHeader } from './make-checkpoint.mjs'
// and as a CLI: node scripts/make-checkpoint.mjs --help
//
// Weights (all seeded, each tensor from its own stream keyed by (seed, unprefixed name), so the
// values of a tensor do not depend on the dtype, the prefix or the order of writing):
//   wte ~ N(0, 3/sqrt(d))          logits of a random unit direction then have std ~3: a peaked
//                                  (not near-uniform) next-token distribution at every width.
//   wpe ~ N(0, 1/sqrt(d))          position matters, but less than the token.
//   ln_*.weight ~ 1 + N(0, 0.05), ln_*.bias ~ N(0, 0.02)
//   attn.c_attn.weight: Q, K ~ N(0, 1.7/sqrt(d)), V ~ N(0, 1/sqrt(d))   attention scores of std ~3:
//                                  patterns are far from uniform.
//   mlp.c_fc.weight    ~ N(0, 1/sqrt(d))     pre-activations ~N(0, 1): GELU is really non-linear.
//   attn.c_proj.weight ~ N(0, 2.5c/d), mlp.c_proj.weight ~ N(0, c/(1.3 d)), c = 0.68 sqrt(d / 2L)
//                                  each block adds vectors of norm ~c, so the residual stream grows
//                                  to ~sqrt(d)/4.4 times the embedding: the lens starts on the
//                                  input token and moves away from it with depth.
//                                  mlp.c_proj columns are centered (sum over rows = 0) so the
//                                  positive mean of GELU does not add one fixed vector everywhere.
//   c_attn/c_fc biases ~ N(0, 0.05), c_proj biases ~ N(0, 0.02)
//   h.0.attn.masked_bias: F32 scalar (shape []) = -1e4, a buffer that loaders must ignore.
// These are not GPT-2's init (std 0.02 everywhere): with it, a 64-wide model's lens is almost
// uniform. The shapes, names, dtypes and file format are exactly those of real checkpoints.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

export const STAMP_FILE = 'layerlens-synthetic.json';
export const GENERATOR_VERSION = 1;

export const PRESETS = Object.freeze({
  tiny: Object.freeze({ layers: 2, embd: 64, heads: 4, ctx: 64, vocab: 50257 }),
  small: Object.freeze({ layers: 12, embd: 768, heads: 12, ctx: 1024, vocab: 50257 }),
  medium: Object.freeze({ layers: 24, embd: 1024, heads: 16, ctx: 1024, vocab: 50257 }),
});

const DTYPE_SIZE = Object.freeze({ F32: 4, F16: 2, BF16: 2 });

if (os.endianness() !== 'LE') {
  throw new Error('make-checkpoint: big-endian hosts are not supported (safetensors is little-endian)');
}

// ---------------------------------------------------------------------------------------------
// Float conversions (round to nearest, ties to even).

const cvtF32 = new Float32Array(1);
const cvtU32 = new Uint32Array(cvtF32.buffer);

/** IEEE binary16 bits of the float32 `bits` (u32), round-to-nearest-even, inf/NaN/subnormals kept. */
function f32BitsToF16Bits(f) {
  const sign = (f >>> 16) & 0x8000;
  const fexp = f & 0x7f800000;
  if (fexp >= 0x47800000) {
    // |x| >= 65536, inf or NaN
    if (fexp === 0x7f800000) {
      const mant = f & 0x007fffff;
      if (mant !== 0) return sign | 0x7e00 | (mant >>> 13); // NaN stays NaN (quiet)
      return sign | 0x7c00;
    }
    return sign | 0x7c00; // overflow to inf
  }
  if (fexp <= 0x38000000) {
    // |x| < 2^-14: subnormal half or zero
    if (fexp < 0x33000000) return sign; // < 2^-25: rounds to (signed) zero
    const e = fexp >>> 23; // 102..112
    let sig = 0x00800000 + (f & 0x007fffff);
    const shift = 113 - e; // 1..11
    // round to nearest even at bit (13 + shift)
    const keepShift = 13 + shift;
    const halfBit = 1 << (keepShift - 1);
    const rem = sig & ((1 << keepShift) - 1);
    let h = sig >>> keepShift;
    if (rem > halfBit || (rem === halfBit && (h & 1) === 1)) h += 1;
    return sign | h; // a carry into the exponent field gives the smallest normal: correct
  }
  // normal range
  const hexp = (fexp - 0x38000000) >>> 13;
  const mant = f & 0x007fffff;
  let h = hexp + (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h += 1; // may carry into inf: correct
  return sign | h;
}

/** bfloat16 bits of the float32 `bits` (u32), round-to-nearest-even, NaN stays a quiet NaN. */
function f32BitsToBf16Bits(f) {
  if ((f & 0x7f800000) === 0x7f800000 && (f & 0x007fffff) !== 0) return ((f >>> 16) | 0x0040) & 0xffff;
  return ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
}

/** @param {number} x @returns {number} binary16 bits of Math.fround(x) rounded to nearest even */
export function f32ToF16Bits(x) {
  cvtF32[0] = x;
  return f32BitsToF16Bits(cvtU32[0]);
}

/** @param {number} x @returns {number} bfloat16 bits of Math.fround(x) rounded to nearest even */
export function f32ToBf16Bits(x) {
  cvtF32[0] = x;
  return f32BitsToBf16Bits(cvtU32[0]);
}

/** @param {number} h binary16 bits @returns {number} its exact value */
export function f16BitsToNumber(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}

/** @param {number} h bfloat16 bits @returns {number} its exact value */
export function bf16BitsToNumber(h) {
  cvtU32[0] = (h & 0xffff) << 16;
  return cvtF32[0];
}

/**
 * Encode float32 values as the bytes of a safetensors tensor of `dtype`.
 * @param {'F32'|'F16'|'BF16'} dtype
 * @param {Float32Array} data
 * @returns {Uint8Array}
 */
export function encodeTensorData(dtype, data) {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const u32 = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  if (dtype === 'F16') for (let i = 0; i < u32.length; i++) out[i] = f32BitsToF16Bits(u32[i]);
  else if (dtype === 'BF16') for (let i = 0; i < u32.length; i++) out[i] = f32BitsToBf16Bits(u32[i]);
  else throw new Error(`unsupported dtype ${dtype}`);
  return new Uint8Array(out.buffer);
}

// ---------------------------------------------------------------------------------------------
// safetensors writing

/**
 * Header bytes of a safetensors file: u64 little-endian length, then the JSON text padded with
 * spaces so that the data starts at a multiple of 8.
 * @param {object} obj the header object (tensor entries and optional __metadata__), written as is
 * @param {{pad?: boolean}} [opts] pad: false writes the JSON unpadded (to craft odd files)
 * @returns {Buffer}
 */
export function encodeSafetensorsHeader(obj, opts = {}) {
  const pad = opts.pad ?? true;
  let json = Buffer.from(JSON.stringify(obj), 'utf8');
  if (pad && json.length % 8 !== 0) {
    json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  }
  const out = Buffer.alloc(8 + json.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

function numel(shape) {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Build header object + byte layout for a list of {name, dtype, shape}. Data in list order. */
function layoutHeader(entries, metadata) {
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const layout = [];
  for (const e of entries) {
    if (!(e.dtype in DTYPE_SIZE)) throw new Error(`unsupported dtype ${e.dtype} for ${e.name}`);
    if (e.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, e.name)) {
      throw new Error(`duplicate or reserved tensor name ${e.name}`);
    }
    const bytes = numel(e.shape) * DTYPE_SIZE[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [offset, offset + bytes] };
    layout.push({ ...e, begin: offset, bytes });
    offset += bytes;
  }
  return { header, layout, dataBytes: offset };
}

/**
 * Write a safetensors file (tensors in the given order, contiguous).
 * @param {string} file
 * @param {{name: string, dtype: 'F32'|'F16'|'BF16', shape: number[], data: Float32Array}[]} tensors
 * @param {{metadata?: Record<string,string>|null}} [opts] metadata defaults to {format: "pt"}; null omits it
 * @returns {{headerBytes: number, dataBytes: number}}
 */
export function writeSafetensors(file, tensors, opts = {}) {
  const metadata = opts.metadata === undefined ? { format: 'pt' } : opts.metadata;
  for (const t of tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${t.name}: data must be a Float32Array`);
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`${t.name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    }
  }
  const { header, dataBytes } = layoutHeader(tensors, metadata);
  const head = encodeSafetensorsHeader(header);
  const fd = fs.openSync(file, 'w');
  try {
    writeAll(fd, head);
    for (const t of tensors) writeAll(fd, encodeTensorData(t.dtype, t.data));
  } finally {
    fs.closeSync(fd);
  }
  return { headerBytes: head.length, dataBytes };
}

function writeAll(fd, bytes) {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness: splitmix32 seeding, xoshiro128** stream, Box–Muller normals.

function fnv1a(str) {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state) {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Fills `out` with N(mean, std) samples; one instance per tensor, state kept across calls. */
class NormalStream {
  constructor(seed, key) {
    const sm = splitmix32((Math.imul(seed >>> 0, 0x9e3779b1) ^ fnv1a(key)) >>> 0);
    this.s0 = sm() | 0;
    this.s1 = sm() | 0;
    this.s2 = sm() | 0;
    this.s3 = sm() | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spare = NaN;
  }

  fill(out, mean, std) {
    let s0 = this.s0,
      s1 = this.s1,
      s2 = this.s2,
      s3 = this.s3;
    let i = 0;
    const n = out.length;
    if (n > 0 && this.spare === this.spare) {
      out[i++] = mean + std * this.spare;
      this.spare = NaN;
    }
    const TWO_PI = 2 * Math.PI;
    const INV32 = 2.3283064365386963e-10; // 2^-32
    while (i < n) {
      // xoshiro128** twice
      let r = Math.imul(s1, 5);
      r = Math.imul((r << 7) | (r >>> 25), 9);
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const u1 = ((r >>> 0) + 0.5) * INV32;
      r = Math.imul(s1, 5);
      r = Math.imul((r << 7) | (r >>> 25), 9);
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const u2 = ((r >>> 0) + 0.5) * INV32;
      const rad = Math.sqrt(-2 * Math.log(u1));
      const th = TWO_PI * u2;
      out[i++] = mean + std * rad * Math.cos(th);
      const z2 = rad * Math.sin(th);
      if (i < n) out[i++] = mean + std * z2;
      else this.spare = z2;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

// ---------------------------------------------------------------------------------------------
// The checkpoint

function resolveOptions(opts = {}) {
  const presetName = opts.preset ?? 'tiny';
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`unknown preset ${JSON.stringify(presetName)} (tiny, small, medium)`);
  const o = {
    layers: opts.layers ?? preset.layers,
    embd: opts.embd ?? preset.embd,
    heads: opts.heads ?? preset.heads,
    ctx: opts.ctx ?? preset.ctx,
    vocab: opts.vocab ?? preset.vocab,
    dtype: String(opts.dtype ?? 'f32').toUpperCase(),
    seed: opts.seed ?? 0,
    prefix: Boolean(opts.prefix ?? false),
  };
  for (const k of ['layers', 'embd', 'heads', 'ctx', 'vocab']) {
    if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new Error(`${k} must be a positive integer, got ${o[k]}`);
  }
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) {
    throw new Error(`seed must be an integer in [0, 2^32), got ${o.seed}`);
  }
  if (o.embd % o.heads !== 0) throw new Error(`embd (${o.embd}) must be a multiple of heads (${o.heads})`);
  if (!(o.dtype in DTYPE_SIZE)) throw new Error(`dtype must be f32, f16 or bf16, got ${opts.dtype}`);
  return o;
}

function gpt2Config(o) {
  const special = Math.min(50256, o.vocab - 1);
  return {
    _name_or_path: 'layerlens-synthetic',
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: special,
    embd_pdrop: 0.1,
    eos_token_id: special,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: o.ctx,
    n_embd: o.embd,
    n_head: o.heads,
    n_inner: null,
    n_layer: o.layers,
    n_positions: o.ctx,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[o.dtype],
    transformers_version: '4.44.0',
    use_cache: true,
    vocab_size: o.vocab,
    layerlens_synthetic: true,
  };
}

/** Std of the lens logits of a random direction (wte std is LOGIT_SCALE / sqrt(d)). */
const LOGIT_SCALE = 3;
/** Q and K weights std * sqrt(d): attention scores have std ~QK_STD^2. */
const QK_STD = 1.7;
/** attn.c_proj std * d / c (attention averages its values, so it needs more than the MLP). */
const ATTN_PROJ = 2.5;

/**
 * Every tensor of the checkpoint: unprefixed name, shape, and how its values are drawn.
 * Order: as safetensors' own writer does, by dtype (F32 buffer first), then by name.
 */
function tensorSpecs(o) {
  const d = o.embd;
  const L = o.layers;
  const N = (std, mean = 0) => ({ kind: 'normal', mean, std });
  // Target norm of each block's attn_out / mlp_out: the 2L contributions then sum to a residual
  // ~sqrt(d)/4.4 times the embedding's norm, where the lens of the input token stops dominating.
  const contrib = 0.227 * LOGIT_SCALE * Math.sqrt(d / (2 * L));
  const specs = [];
  specs.push({ name: 'wte.weight', shape: [o.vocab, d], init: N(LOGIT_SCALE / Math.sqrt(d)) });
  specs.push({ name: 'wpe.weight', shape: [o.ctx, d], init: N(1 / Math.sqrt(d)) });
  for (let i = 0; i < L; i++) {
    const p = `h.${i}.`;
    specs.push({ name: `${p}ln_1.weight`, shape: [d], init: N(0.05, 1) });
    specs.push({ name: `${p}ln_1.bias`, shape: [d], init: N(0.02) });
    specs.push({
      name: `${p}attn.c_attn.weight`,
      shape: [d, 3 * d],
      init: {
        ...N(0),
        colStd: [
          [2 * d, QK_STD / Math.sqrt(d)],
          [d, 1 / Math.sqrt(d)],
        ],
      },
    });
    specs.push({ name: `${p}attn.c_attn.bias`, shape: [3 * d], init: N(0.05) });
    specs.push({ name: `${p}attn.c_proj.weight`, shape: [d, d], init: N((ATTN_PROJ * contrib) / d) });
    specs.push({ name: `${p}attn.c_proj.bias`, shape: [d], init: N(0.02) });
    if (i === 0) {
      specs.push({ name: `${p}attn.masked_bias`, shape: [], init: { kind: 'const', value: -1e4 }, dtype: 'F32' });
    }
    specs.push({ name: `${p}ln_2.weight`, shape: [d], init: N(0.05, 1) });
    specs.push({ name: `${p}ln_2.bias`, shape: [d], init: N(0.02) });
    specs.push({ name: `${p}mlp.c_fc.weight`, shape: [d, 4 * d], init: N(1 / Math.sqrt(d)) });
    specs.push({ name: `${p}mlp.c_fc.bias`, shape: [4 * d], init: N(0.05) });
    specs.push({ name: `${p}mlp.c_proj.weight`, shape: [4 * d, d], init: { ...N(contrib / (1.3 * d)), centerColumns: true } });
    specs.push({ name: `${p}mlp.c_proj.bias`, shape: [d], init: N(0.02) });
  }
  specs.push({ name: 'ln_f.weight', shape: [d], init: N(0.05, 1) });
  specs.push({ name: 'ln_f.bias', shape: [d], init: N(0.02) });
  for (const s of specs) s.dtype = s.dtype ?? o.dtype;
  const rank = (dt) => (dt === 'F32' ? 0 : 1);
  specs.sort((a, b) => rank(a.dtype) - rank(b.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return specs;
}

const CHUNK = 1 << 20; // elements per write

/**
 * A whole [rows, cols] normal matrix, for the recipes that need more than a stream:
 * - colStd: [[columns, std], ...] column segments with their own std (c_attn's Q | K | V);
 * - centerColumns: every column's mean over the rows removed. Used for mlp.c_proj: GELU outputs
 *   have a positive mean (~0.29), which would otherwise add the same vector at every position in
 *   every layer and make one token win the lens everywhere.
 */
function wholeMatrix(stream, init, shape) {
  const [rows, cols] = shape;
  const m = new Float32Array(rows * cols);
  if (init.colStd) {
    const std = new Float64Array(cols);
    let c0 = 0;
    for (const [count, sd] of init.colStd) std.fill(sd, c0, (c0 += count));
    if (c0 !== cols) throw new Error('internal: colStd does not cover the columns');
    const row = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      stream.fill(row, 0, 1);
      for (let c = 0; c < cols; c++) m[r * cols + c] = init.mean + std[c] * row[c];
    }
  } else {
    stream.fill(m, init.mean, init.std);
  }
  if (init.centerColumns) {
    const mean = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c] += m[r * cols + c];
    for (let c = 0; c < cols; c++) mean[c] = mean[c] / rows - init.mean;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) m[r * cols + c] -= mean[c];
  }
  return m;
}

/** Write via a temporary file + rename, so concurrent generators never expose a partial file. */
function writeFileAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function readStamp(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STAMP_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Generate (or reuse) a synthetic GPT-2 checkpoint in `outDir`.
 * @param {string} outDir
 * @param {object} [opts] preset ('tiny' default), layers, embd, heads, ctx, vocab, dtype ('f32'|'f16'|'bf16'),
 *   seed (default 0), prefix (keys start with "transformer."), force (rewrite even if stamped),
 *   log (function receiving progress lines; default silent)
 * @returns {{dir: string, configPath: string, modelPath: string, skipped: boolean, seconds: number,
 *   bytes: number, options: object, config: object}}
 */
export function makeCheckpoint(outDir, opts = {}) {
  const t0 = process.hrtime.bigint();
  const o = resolveOptions(opts);
  const log = typeof opts.log === 'function' ? opts.log : () => {};
  const dir = path.resolve(outDir);
  const configPath = path.join(dir, 'config.json');
  const modelPath = path.join(dir, 'model.safetensors');
  const stampOptions = { ...o };
  const config = gpt2Config(o);

  const specs = tensorSpecs(o);
  const entries = specs.map((s) => ({ ...s, name: (o.prefix ? 'transformer.' : '') + s.name }));
  const { header, layout, dataBytes } = layoutHeader(entries, { format: 'pt' });
  const head = encodeSafetensorsHeader(header);
  const totalBytes = head.length + dataBytes;
  // Any change of names, shapes, order or value recipe changes this, so old stamps go stale.
  const recipe = fnv1a(JSON.stringify(specs)).toString(16).padStart(8, '0');

  const stamp = readStamp(dir);
  if (
    !opts.force &&
    stamp &&
    stamp.version === GENERATOR_VERSION &&
    stamp.recipe === recipe &&
    JSON.stringify(stamp.options) === JSON.stringify(stampOptions) &&
    stamp.bytes === totalBytes
  ) {
    try {
      if (fs.statSync(modelPath).size === totalBytes && fs.statSync(configPath).isFile()) {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        log(`${dir}: up to date, skipped`);
        return { dir, configPath, modelPath, skipped: true, seconds, bytes: totalBytes, options: stampOptions, config };
      }
    } catch {
      // fall through and regenerate
    }
  }

  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, STAMP_FILE), { force: true });
  const tmpPath = `${modelPath}.tmp-${process.pid}`;
  const fd = fs.openSync(tmpPath, 'w');
  try {
    writeAll(fd, head);
    const f32 = new Float32Array(CHUNK);
    const f32bytes = new Uint8Array(f32.buffer);
    const u32 = new Uint32Array(f32.buffer);
    const u16 = new Uint16Array(CHUNK);
    const u16bytes = new Uint8Array(u16.buffer);
    for (let k = 0; k < layout.length; k++) {
      const t = layout[k];
      const spec = specs[k];
      const count = numel(t.shape);
      const stream = spec.init.kind === 'normal' ? new NormalStream(o.seed, spec.name) : null;
      const whole = spec.init.centerColumns || spec.init.colStd ? wholeMatrix(stream, spec.init, t.shape) : null;
      for (let done = 0; done < count; done += CHUNK) {
        const n = Math.min(CHUNK, count - done);
        const view = n === CHUNK ? f32 : f32.subarray(0, n);
        if (whole) view.set(whole.subarray(done, done + n));
        else if (stream) stream.fill(view, spec.init.mean, spec.init.std);
        else view.fill(spec.init.value);
        if (t.dtype === 'F32') {
          writeAll(fd, f32bytes.subarray(0, 4 * n));
        } else {
          if (t.dtype === 'F16') for (let i = 0; i < n; i++) u16[i] = f32BitsToF16Bits(u32[i]);
          else for (let i = 0; i < n; i++) u16[i] = f32BitsToBf16Bits(u32[i]);
          writeAll(fd, u16bytes.subarray(0, 2 * n));
        }
      }
    }
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmpPath, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmpPath, modelPath);
  writeFileAtomic(configPath, JSON.stringify(config, null, 2) + '\n');
  writeFileAtomic(
    path.join(dir, STAMP_FILE),
    JSON.stringify(
      { generator: 'layerlens scripts/make-checkpoint.mjs', version: GENERATOR_VERSION, recipe, options: stampOptions, bytes: totalBytes },
      null,
      2,
    ) + '\n',
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  log(`${dir}: wrote ${(totalBytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s`);
  return { dir, configPath, modelPath, skipped: false, seconds, bytes: totalBytes, options: stampOptions, config };
}

// ---------------------------------------------------------------------------------------------
// CLI

const HELP = `Usage: node scripts/make-checkpoint.mjs --out DIR [options]

Writes a deterministic synthetic GPT-2 checkpoint (config.json + model.safetensors, Hugging Face
names and layout, tied unembedding) for tests and benchmarks. No real weights are involved: the
values are seeded normals scaled so that the logit lens is peaked and changes with depth (see the
comment at the top of this file), not GPT-2's init.

  --out DIR           output directory (created if missing)              [required]
  --preset NAME       tiny   = 2 layers x 64 wide x 4 heads, ctx 64      [default: tiny]
                      small  = gpt2 shape, 12 x 768 x 12, ctx 1024
                      medium = gpt2-medium shape, 24 x 1024 x 16, ctx 1024
  --layers N          override n_layer
  --embd N            override n_embd (a multiple of --heads)
  --heads N           override n_head
  --ctx N             override n_positions = n_ctx
  --vocab N           override vocab_size                                [default: 50257]
  --dtype T           f32 | f16 | bf16 (round to nearest even)           [default: f32]
  --seed N            PRNG seed, integer in [0, 2^32)                    [default: 0]
  --prefix            name keys "transformer.*" as save_pretrained does (hub files have no prefix)
  --force             regenerate even if DIR holds a checkpoint made with the same options
  --quiet             print nothing but errors
  -h, --help          show this help

The options are stamped into DIR/${STAMP_FILE}; a rerun with identical options is a no-op.
`;

function parseArgs(argv) {
  const opts = {};
  let out;
  let quiet = false;
  const intFlags = { '--layers': 'layers', '--embd': 'embd', '--heads': 'heads', '--ctx': 'ctx', '--vocab': 'vocab', '--seed': 'seed' };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = () => {
      if (val !== undefined) return val;
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '-h' || a === '--help') return { help: true };
    else if (a === '--out') out = next();
    else if (a === '--preset') opts.preset = next();
    else if (a === '--dtype') opts.dtype = next();
    else if (a === '--prefix') opts.prefix = true;
    else if (a === '--force') opts.force = true;
    else if (a === '--quiet') quiet = true;
    else if (a in intFlags) {
      const v = next();
      if (!/^\d+$/.test(v)) throw new Error(`${a} expects a non-negative integer, got ${JSON.stringify(v)}`);
      opts[intFlags[a]] = Number(v);
    } else throw new Error(`unknown argument ${JSON.stringify(a)} (see --help)`);
  }
  if (!out) throw new Error('--out DIR is required (see --help)');
  return { out, opts, quiet };
}

function main() {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`make-checkpoint: ${err.message}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return;
  }
  const { out, opts, quiet } = parsed;
  try {
    const r = makeCheckpoint(out, { ...opts, log: quiet ? undefined : (s) => process.stdout.write(s + '\n') });
    if (!quiet && !r.skipped) {
      const o = r.options;
      process.stdout.write(
        `  n_layer=${o.layers} n_embd=${o.embd} n_head=${o.heads} n_ctx=${o.ctx} ` +
          `vocab=${o.vocab} dtype=${o.dtype} seed=${o.seed}${o.prefix ? ' prefix=transformer.' : ''}\n`,
      );
    }
  } catch (err) {
    process.stderr.write(`make-checkpoint: ${err.message}\n`);
    process.exit(1);
  }
}

const invokedPath = process.argv[1] ? path.resolve(process.argv[1]) : '';
let selfPath = fileURLToPath(import.meta.url);
try {
  selfPath = fs.realpathSync(selfPath);
} catch {
  // keep the unresolved path
}
let invokedReal = invokedPath;
try {
  invokedReal = fs.realpathSync(invokedPath);
} catch {
  // keep the unresolved path
}
if (invokedReal === selfPath) main();
