// llama.cpp's control-vector file: a GGUF (v3) with `general.architecture = "controlvector"`,
// `controlvector.model_hint` (the architecture, e.g. "gpt2"), `controlvector.layer_count` (how many
// directions) and one F32 1-D tensor `direction.N` per steered block. direction.N is added to the
// output of block N, 0-based (blocks.N.resid_post), at every position; N = 0 does not exist in the
// format (llama.cpp's loader rejects it), so block 0 cannot be steered.
//
// Written in TypeScript on purpose: the format is a handful of fields, and the native GPT-2 loader
// knows nothing of it. The reader follows llama.cpp's loader (common_control_vector_load_one) and is
// stricter where that loader would sum or skip silently: a duplicate N is an error, not a sum.
import { readFile, writeFile } from 'node:fs/promises';

export interface ControlVector {
  /** `controlvector.model_hint`: the architecture the directions were made for ("gpt2"). */
  modelHint: string;
  /** `direction.N` by N ≥ 1: added to blocks.N.resid_post. All of one length (n_embd). */
  directions: Map<number, Float32Array>;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const GGUF_VERSION = 3;
const DEFAULT_ALIGNMENT = 32;
const GGML_TYPE_F32 = 0;
const ARCH = 'controlvector';
// Bounds that keep a corrupt header from asking for absurd allocations.
const MAX_COUNT = 1 << 20;
const MAX_STRING = 1 << 24;

// GGUF metadata value types.
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;
const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** A scalar metadata value of a known type at `at` (bounds already checked). */
function readScalar(view: DataView, at: number, type: number): unknown {
  const readers: Record<number, () => unknown> = {
    [T.U8]: () => view.getUint8(at),
    [T.I8]: () => view.getInt8(at),
    [T.U16]: () => view.getUint16(at, true),
    [T.I16]: () => view.getInt16(at, true),
    [T.U32]: () => view.getUint32(at, true),
    [T.I32]: () => view.getInt32(at, true),
    [T.F32]: () => view.getFloat32(at, true),
    [T.BOOL]: () => view.getUint8(at) !== 0,
    [T.U64]: () => view.getBigUint64(at, true),
    [T.I64]: () => view.getBigInt64(at, true),
    [T.F64]: () => view.getFloat64(at, true),
  };
  return readers[type]();
}

export class ControlVectorFormatError extends Error {
  override name = 'ControlVectorFormatError';
}

/** Checks what a ControlVector must hold to be written or applied; returns n_embd. */
export function checkControlVector(cv: ControlVector, where = 'control vector'): number {
  if (typeof cv !== 'object' || cv === null || !(cv.directions instanceof Map))
    throw new TypeError(`${where} must be { modelHint, directions: Map<number, Float32Array> }`);
  if (typeof cv.modelHint !== 'string') throw new TypeError(`${where}: modelHint must be a string`);
  if (cv.directions.size === 0) throw new RangeError(`${where} has no directions`);
  let width = -1;
  for (const [n, v] of cv.directions) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${where}: direction index ${n} is not a non-negative integer`);
    if (n === 0) throw new RangeError(`${where}: direction.0 does not exist in llama.cpp's format (block 0's output cannot be steered; directions start at 1)`);
    if (!(v instanceof Float32Array) || v.length === 0) throw new TypeError(`${where}: direction.${n} must be a non-empty Float32Array`);
    if (width >= 0 && v.length !== width) throw new RangeError(`${where}: direction.${n} has ${v.length} values, the others ${width}`);
    width = v.length;
    for (const x of v) if (!Number.isFinite(x)) throw new RangeError(`${where}: direction.${n} holds a non-finite value`);
  }
  return width;
}

/** The GGUF bytes of a control vector (directions in ascending N). */
export function encodeControlVector(cv: ControlVector): Uint8Array {
  const width = checkControlVector(cv);
  const layers = [...cv.directions.keys()].sort((a, b) => a - b);
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
  };
  const u32 = (x: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, x, true);
    push(b);
  };
  const u64 = (x: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
    push(b);
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    u64(b.length);
    push(b);
  };

  u32(GGUF_MAGIC);
  u32(GGUF_VERSION);
  u64(layers.length); // tensors
  u64(3); // metadata entries
  str('general.architecture');
  u32(T.STRING);
  str(ARCH);
  str(`${ARCH}.model_hint`);
  u32(T.STRING);
  str(cv.modelHint);
  // repeng and the brief of the format write a u32 here (llama.cpp's cvector-generator an i32); nobody reads it
  str(`${ARCH}.layer_count`);
  u32(T.U32);
  u32(layers.length);

  const stride = Math.ceil((width * 4) / DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
  layers.forEach((n, i) => {
    str(`direction.${n}`);
    u32(1); // n_dims
    u64(width);
    u32(GGML_TYPE_F32);
    u64(i * stride); // offset inside the data section
  });
  const dataStart = Math.ceil(size / DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
  const out = new Uint8Array(dataStart + stride * layers.length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  const view = new DataView(out.buffer);
  layers.forEach((n, i) => {
    const v = cv.directions.get(n)!;
    for (let j = 0; j < width; j++) view.setFloat32(dataStart + i * stride + j * 4, v[j], true);
  });
  return out;
}

/** Parses a control-vector GGUF; every malformation is a ControlVectorFormatError naming `source`. */
export function decodeControlVector(bytes: Uint8Array, source = 'control vector'): ControlVector {
  const fail = (msg: string): never => {
    throw new ControlVectorFormatError(`${source}: ${msg}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder('utf-8', { fatal: true });
  let at = 0;
  const need = (n: number) => {
    if (n < 0 || at + n > bytes.length) fail(`truncated (needs ${n} more bytes at offset ${at}, file is ${bytes.length} bytes)`);
  };
  const u32 = () => {
    need(4);
    const x = view.getUint32(at, true);
    at += 4;
    return x;
  };
  const u64 = () => {
    need(8);
    const x = view.getBigUint64(at, true);
    at += 8;
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a 64-bit count or size (${x}) is out of range at offset ${at - 8}`);
    return Number(x);
  };
  const str = () => {
    const n = u64();
    if (n > MAX_STRING) fail(`a string of ${n} bytes at offset ${at - 8} is too long`);
    need(n);
    let s = '';
    try {
      s = dec.decode(bytes.subarray(at, at + n));
    } catch {
      fail(`a string at offset ${at} is not valid UTF-8`);
    }
    at += n;
    return s;
  };
  const value = (type: number, depth = 0): unknown => {
    if (type === T.STRING) return str();
    if (type === T.ARRAY) {
      if (depth > 0) fail('nested metadata arrays are not supported');
      const itemType = u32();
      const count = u64();
      if (count > MAX_COUNT) fail(`a metadata array of ${count} items is too long`);
      const items: unknown[] = [];
      for (let i = 0; i < count; i++) items.push(value(itemType, depth + 1));
      return items;
    }
    const size = SCALAR_SIZE[type];
    if (size === undefined) fail(`unknown metadata value type ${type} at offset ${at - 4}`);
    need(size);
    const x = readScalar(view, at, type);
    at += size;
    return x;
  };

  if (bytes.length < 4 || view.getUint32(0, true) !== GGUF_MAGIC) fail('not a GGUF file (no "GGUF" magic)');
  at = 4;
  const version = u32();
  if (version !== 2 && version !== 3) fail(`GGUF version ${version} is not supported (2 or 3)`);
  const nTensors = u64();
  const nKv = u64();
  if (nTensors > MAX_COUNT || nKv > MAX_COUNT) fail(`implausible header counts (${nTensors} tensors, ${nKv} metadata entries)`);
  const meta = new Map<string, unknown>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    if (meta.has(key)) fail(`metadata key ${key} appears twice`);
    meta.set(key, value(type));
  }
  const arch = meta.get('general.architecture');
  if (arch !== ARCH) fail(`general.architecture is ${JSON.stringify(arch ?? null)}, expected "${ARCH}" (is this a model file rather than a control vector?)`);
  const hint = meta.get(`${ARCH}.model_hint`);
  const alignment = meta.get('general.alignment') ?? DEFAULT_ALIGNMENT;
  // llama.cpp's gguf reader wants a power of two
  if (typeof alignment !== 'number' || !Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    fail(`general.alignment ${String(alignment)} is not a power of two`);
  const align = alignment as number;

  const infos: { n: number; width: number; offset: number }[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    if (nDims > 4) fail(`tensor ${name} has ${nDims} dimensions (GGUF allows at most 4)`);
    const dims = Array.from({ length: nDims }, () => u64());
    const type = u32();
    const offset = u64();
    const m = /^direction\.(\d+)$/.exec(name);
    if (!m) fail(`tensor ${JSON.stringify(name)} is not named direction.N`);
    const n = Number(m![1]);
    if (!Number.isSafeInteger(n)) fail(`tensor ${name}: layer index out of range`);
    if (n === 0) fail('direction.0 is not allowed: llama.cpp numbers directions from 1 (block 0 cannot be steered)');
    if (seen.has(n)) fail(`direction.${n} appears twice`);
    seen.add(n);
    if (type !== GGML_TYPE_F32) fail(`direction.${n} has ggml type ${type}, expected F32 (0)`);
    if (nDims !== 1 || dims[0] === 0) fail(`direction.${n} has shape [${dims.join(', ')}], expected one non-empty dimension`);
    if (offset % align !== 0) fail(`direction.${n}'s data offset ${offset} is not aligned to ${align}`);
    infos.push({ n, width: dims[0], offset });
  }
  const dataStart = Math.ceil(at / align) * align;
  const directions = new Map<number, Float32Array>();
  for (const { n, width, offset } of infos) {
    if (width !== infos[0].width) fail(`direction.${n} has ${width} values, direction.${infos[0].n} ${infos[0].width}`);
    const start = dataStart + offset;
    if (start + width * 4 > bytes.length) fail(`direction.${n}'s data (${width * 4} bytes at ${start}) runs past the end of the file (${bytes.length} bytes)`);
    const v = new Float32Array(width);
    for (let j = 0; j < width; j++) v[j] = view.getFloat32(start + j * 4, true);
    directions.set(n, v);
  }
  return { modelHint: typeof hint === 'string' ? hint : '', directions: new Map([...directions].sort((a, b) => a[0] - b[0])) };
}

export async function readControlVector(path: string): Promise<ControlVector> {
  return decodeControlVector(new Uint8Array(await readFile(path)), path);
}

export async function writeControlVector(path: string, cv: ControlVector): Promise<void> {
  await writeFile(path, encodeControlVector(cv));
}
