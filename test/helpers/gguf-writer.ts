// A GPT-2 GGUF writer for the tests, independent of the engine's (native/io/gguf_model.cpp): each
// tensor in a type of the test's choosing (f32, f16, q8_0, q4_0), so that files llama.cpp's tools
// write (e.g. a token embedding kept at f16 beside q8_0 blocks) can be made from a synthetic checkpoint.
// It also returns the float64 reference model holding exactly the values the file stores
// (dequantized), so the engine can be held to the 1e-4 bar on what it actually reads.
import { writeFileSync } from 'node:fs';
import { f16BitsToNumber, f32ToF16Bits } from '../../scripts/make-checkpoint.mjs';
import type { RefBlock, RefModel } from '../reference/gpt2-f64.js';

export type GgufTensorType = 'f32' | 'f16' | 'q8_0' | 'q4_0';

// ggml_type numbers and GGUF value types, from the GGUF specification.
export const GGML_TYPE: Record<GgufTensorType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 8 };
const GGUF_UINT32 = 4;
const GGUF_FLOAT32 = 6;
const GGUF_STRING = 8;
export const ALIGNMENT = 32;
const QK = 32; // values per q8_0 / q4_0 block

/** Bytes of `values` (one ggml row after another, rows of `rowLength`) in `type`, and the values they decode to. */
export function encode(values: Float64Array, rowLength: number, type: GgufTensorType): { bytes: Buffer; decoded: Float64Array } {
  const n = values.length;
  const decoded = new Float64Array(n);
  if (type === 'f32') {
    const f = Float32Array.from(values);
    decoded.set(f);
    return { bytes: Buffer.from(f.buffer), decoded };
  }
  if (type === 'f16') {
    const bytes = Buffer.alloc(2 * n);
    for (let i = 0; i < n; i++) {
      const h = f32ToF16Bits(values[i]);
      bytes.writeUInt16LE(h, 2 * i);
      decoded[i] = f16BitsToNumber(h);
    }
    return { bytes, decoded };
  }
  if (rowLength % QK !== 0) throw new Error(`${type} needs rows of a multiple of ${QK} values, got ${rowLength}`);
  const blocks = n / QK;
  const blockBytes = type === 'q8_0' ? 2 + QK : 2 + QK / 2;
  const bytes = Buffer.alloc(blocks * blockBytes);
  for (let b = 0; b < blocks; b++) {
    const x = values.subarray(b * QK, (b + 1) * QK);
    const out = b * blockBytes;
    if (type === 'q8_0') {
      // Symmetric: d = max|x| / 127, q = round(x / d) in -127..127.
      let amax = 0;
      for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[j]));
      const dBits = f32ToF16Bits(amax / 127);
      const d = f16BitsToNumber(dBits);
      bytes.writeUInt16LE(dBits, out);
      for (let j = 0; j < QK; j++) {
        const q = d === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(x[j] / d)));
        bytes[out + 2 + j] = q & 0xff; // int8, two's complement
        decoded[b * QK + j] = q * d;
      }
    } else {
      // 4-bit, offset 8: value = (q - 8) * d with d = (the value of largest magnitude) / -8.
      // Nibble j of the block's 16 bytes holds value j (low half) and value j + 16 (high half).
      let max = 0;
      for (const v of x) if (Math.abs(v) > Math.abs(max)) max = v;
      const dBits = f32ToF16Bits(max / -8);
      const d = f16BitsToNumber(dBits);
      bytes.writeUInt16LE(dBits, out);
      const quant = (v: number) => (d === 0 ? 8 : Math.max(0, Math.min(15, Math.round(v / d) + 8)));
      for (let j = 0; j < QK / 2; j++) {
        const lo = quant(x[j]),
          hi = quant(x[j + QK / 2]);
        bytes.writeUInt8(lo | (hi << 4), out + 2 + j);
        decoded[b * QK + j] = (lo - 8) * d;
        decoded[b * QK + j + QK / 2] = (hi - 8) * d;
      }
    }
  }
  return { bytes, decoded };
}

/** [rows, cols] row-major -> [cols, rows] row-major. */
function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

export function ggufString(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([len, body]);
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

export function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/**
 * Writes `ref` as a GPT-2 GGUF at `file`: `typeOf(name)` picks each matrix's type (GGUF names, e.g.
 * token_embd.weight, blk.0.attn_qkv.weight); vectors and position_embd are f32. Returns the reference
 * model with the values as stored.
 */
export function writeGpt2Gguf(ref: RefModel, file: string, typeOf: (ggufName: string) => GgufTensorType): RefModel {
  const { n_layer: L, n_embd: d, n_head, n_ctx, n_vocab: V, eps } = ref.config;
  const tensors: GgufTensorBytes[] = [];
  // A Hugging Face tensor in, the stored values (Hugging Face layout) out. Conv1D weights [in, out]
  // are stored transposed (ggml's ne0 = in); wte [V, d] and vectors keep their layout.
  const add = (name: string, values: Float64Array, hfShape: number[], conv1d: boolean, matrix: boolean): Float64Array => {
    const type = matrix ? typeOf(name) : 'f32';
    const [rows, cols] = hfShape.length === 2 ? hfShape : [1, hfShape[0]];
    const ggml = conv1d ? transpose(values, rows, cols) : values;
    const ne = conv1d ? [rows, cols] : hfShape.length === 2 ? [cols, rows] : [cols];
    const { bytes, decoded } = encode(ggml, ne[0], type);
    tensors.push({ name, ne, type, bytes });
    return conv1d ? transpose(decoded, cols, rows) : decoded;
  };
  const wte = add('token_embd.weight', ref.wte, [V, d], false, true);
  const wpe = add('position_embd.weight', ref.wpe, [n_ctx, d], false, false);
  const lnf_w = add('output_norm.weight', ref.lnf_w, [d], false, false);
  const lnf_b = add('output_norm.bias', ref.lnf_b, [d], false, false);
  const blocks: RefBlock[] = ref.blocks.map((b, l) => {
    const p = `blk.${l}.`;
    return {
      ln1_w: add(`${p}attn_norm.weight`, b.ln1_w, [d], false, false),
      ln1_b: add(`${p}attn_norm.bias`, b.ln1_b, [d], false, false),
      attn_w: add(`${p}attn_qkv.weight`, b.attn_w, [d, 3 * d], true, true),
      attn_b: add(`${p}attn_qkv.bias`, b.attn_b, [3 * d], false, false),
      attn_proj_w: add(`${p}attn_output.weight`, b.attn_proj_w, [d, d], true, true),
      attn_proj_b: add(`${p}attn_output.bias`, b.attn_proj_b, [d], false, false),
      ln2_w: add(`${p}ffn_norm.weight`, b.ln2_w, [d], false, false),
      ln2_b: add(`${p}ffn_norm.bias`, b.ln2_b, [d], false, false),
      fc_w: add(`${p}ffn_up.weight`, b.fc_w, [d, 4 * d], true, true),
      fc_b: add(`${p}ffn_up.bias`, b.fc_b, [4 * d], false, false),
      proj_w: add(`${p}ffn_down.weight`, b.proj_w, [4 * d, d], true, true),
      proj_b: add(`${p}ffn_down.bias`, b.proj_b, [d], false, false),
    };
  });

  const kv = [
    Buffer.concat([ggufString('general.architecture'), u32(GGUF_STRING), ggufString('gpt2')]),
    ...(
      [
        ['gpt2.block_count', L],
        ['gpt2.context_length', n_ctx],
        ['gpt2.embedding_length', d],
        ['gpt2.feed_forward_length', 4 * d],
        ['gpt2.attention.head_count', n_head],
      ] as const
    ).map(([k, v]) => Buffer.concat([ggufString(k), u32(GGUF_UINT32), u32(v)])),
    (() => {
      const f = Buffer.alloc(4);
      f.writeFloatLE(eps);
      return Buffer.concat([ggufString('gpt2.attention.layer_norm_epsilon'), u32(GGUF_FLOAT32), f]);
    })(),
  ];
  writeFileSync(file, ggufFileBytes(kv, tensors));
  return { ...ref, dir: file, wte, wpe, lnf_w, lnf_b, blocks };
}

/** One tensor of a GGUF file: ggml dims (ne0 first), type, and its encoded bytes. */
export interface GgufTensorBytes {
  name: string;
  ne: number[];
  type: GgufTensorType;
  bytes: Buffer;
}

/** A whole GGUF v3 file: header, the encoded key/value pairs `kv`, tensor infos, then the data, each tensor aligned. */
export function ggufFileBytes(kv: Buffer[], tensors: GgufTensorBytes[]): Buffer {
  const pad = (n: number) => (ALIGNMENT - (n % ALIGNMENT)) % ALIGNMENT;
  let offset = 0;
  const infos: Buffer[] = [];
  const data: Buffer[] = [];
  for (const t of tensors) {
    infos.push(Buffer.concat([ggufString(t.name), u32(t.ne.length), ...t.ne.map(u64), u32(GGML_TYPE[t.type]), u64(offset)]));
    data.push(t.bytes, Buffer.alloc(pad(t.bytes.length)));
    offset += t.bytes.length + pad(t.bytes.length);
  }
  const head = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(kv.length), ...kv, ...infos]);
  return Buffer.concat([head, Buffer.alloc(pad(head.length)), ...data]);
}
