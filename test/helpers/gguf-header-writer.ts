// A minimal GGUF v3 writer for the model-discovery tests: metadata of a few types and tensor
// descriptions, with a data section of zeros (nothing reads it). Written from the GGUF specification,
// independently of lib/hub/gguf-header.ts, so a file it writes is a check of that reader.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type HeaderValue = { u32: number } | { u64: number } | { f32: number } | { str: string } | { strs: string[] } | { u32s: number[] } | { bool: boolean };

export interface HeaderTensor {
  name: string;
  /** ggml ne[] (ne[0] first). */
  shape: number[];
  /** ggml type number: 0 f32, 1 f16, 8 q8_0, 12 q4_K, … */
  type: number;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const str = (s: string) => {
  const body = Buffer.from(s, 'utf8');
  return Buffer.concat([u64(body.length), body]);
};

function value(v: HeaderValue): Buffer {
  if ('u32' in v) return Buffer.concat([u32(4), u32(v.u32)]);
  if ('u64' in v) return Buffer.concat([u32(10), u64(v.u64)]);
  if ('bool' in v) return Buffer.concat([u32(7), Buffer.from([v.bool ? 1 : 0])]);
  if ('f32' in v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v.f32);
    return Buffer.concat([u32(6), b]);
  }
  if ('str' in v) return Buffer.concat([u32(8), str(v.str)]);
  if ('strs' in v) return Buffer.concat([u32(9), u32(8), u64(v.strs.length), ...v.strs.map(str)]);
  return Buffer.concat([u32(9), u32(4), u64(v.u32s.length), ...v.u32s.map(u32)]);
}

/** Writes a GGUF with this metadata and these tensor descriptions; `dataBytes` zeros follow the header. */
export function writeGgufHeader(file: string, metadata: Record<string, HeaderValue>, tensors: HeaderTensor[], dataBytes = 64): void {
  const kv = Object.entries(metadata).map(([k, v]) => Buffer.concat([str(k), value(v)]));
  const infos = tensors.map((t, i) => Buffer.concat([str(t.name), u32(t.shape.length), ...t.shape.map(u64), u32(t.type), u64(i * 32)]));
  const head = Buffer.concat([Buffer.from('GGUF', 'latin1'), u32(3), u64(tensors.length), u64(kv.length), ...kv, ...infos]);
  const pad = (32 - (head.length % 32)) % 32;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, Buffer.concat([head, Buffer.alloc(pad), Buffer.alloc(dataBytes)]));
}

/** A small llama-like model's header: architecture, file type, a vocabulary array and two tensors. */
export function writeFakeModelGguf(
  file: string,
  o: { arch: string; fileType?: number; name?: string; vocab?: number; tensorType?: number },
): { parameters: number } {
  const tokens = Array.from({ length: o.vocab ?? 300 }, (_, i) => `tok${i}`);
  const meta: Record<string, HeaderValue> = {
    'general.architecture': { str: o.arch },
    ...(o.name === undefined ? {} : { 'general.name': { str: o.name } }),
    ...(o.fileType === undefined ? {} : { 'general.file_type': { u32: o.fileType } }),
    [`${o.arch}.block_count`]: { u32: 2 },
    'tokenizer.ggml.tokens': { strs: tokens },
    'tokenizer.ggml.token_type': { u32s: tokens.map(() => 1) },
  };
  const tensors: HeaderTensor[] = [
    { name: 'token_embd.weight', shape: [64, tokens.length], type: o.tensorType ?? 8 },
    { name: 'output_norm.weight', shape: [64], type: 0 },
  ];
  writeGgufHeader(file, meta, tensors);
  return { parameters: 64 * tokens.length + 64 };
}
