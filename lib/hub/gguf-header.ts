// Reads the header of a GGUF file (metadata and tensor descriptions, never the tensor data) without
// ggml: `layerlens models` describes files whose architecture the native engine may not know, and a
// many-GB file must cost a few reads. Big arrays (a vocabulary of 150k strings) are stepped over, not
// kept. Every length is bounded, so a corrupt header is an error, not a huge allocation.
import { open, type FileHandle } from 'node:fs/promises';

/** A metadata value: scalars, strings, and arrays (kept when short, else only described). */
export type GgufValue = number | bigint | boolean | string | GgufValue[] | { arrayOf: string; length: number };

export interface GgufTensorInfo {
  name: string;
  /** ggml's ne[]: ne[0] is the row length. */
  shape: number[];
  /** ggml type number (0 f32, 1 f16, 8 q8_0, …). */
  type: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
}

export class GgufHeaderError extends Error {
  override name = 'GgufHeaderError';
}

const MAGIC = 'GGUF';
const MAX_STRING = 1 << 24;
const MAX_COUNT = 1 << 24;
const MAX_DIMS = 8;
/** Arrays up to this many scalar items are kept as values; longer ones are only described. */
const KEEP_ARRAY = 64;
const CHUNK = 1 << 16;

// GGUF metadata value types (gguf.h).
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;
const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const TYPE_NAME: Record<number, string> = {
  0: 'u8',
  1: 'i8',
  2: 'u16',
  3: 'i16',
  4: 'u32',
  5: 'i32',
  6: 'f32',
  7: 'bool',
  8: 'string',
  10: 'u64',
  11: 'i64',
  12: 'f64',
};

/** ggml_type numbers → names (ggml.h), for describing a file's tensors. */
export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
  40: 'NVFP4',
  41: 'Q1_0',
});

/** llama.cpp's `general.file_type` (llama_ftype) → the quant name its tools put in file names. */
export const LLAMA_FILE_TYPES: Readonly<Record<number, string>> = Object.freeze({
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
  38: 'MXFP4_MOE',
  39: 'NVFP4',
  40: 'Q1_0',
  41: 'Q2_0',
});

/** Sequential reads from a file through a small buffer; `skip` moves past bytes without reading them. */
class HeaderReader {
  #buf = Buffer.alloc(0);
  #at = 0; // read position inside #buf
  #filePos = 0; // file offset of #buf's end
  constructor(
    private readonly file: FileHandle,
    private readonly size: number,
    private readonly path: string,
  ) {}

  get offset(): number {
    return this.#filePos - (this.#buf.length - this.#at);
  }

  fail(what: string): never {
    throw new GgufHeaderError(`${this.path}: not a readable GGUF header (${what} at byte ${this.offset})`);
  }

  async #need(n: number): Promise<void> {
    const have = this.#buf.length - this.#at;
    if (have >= n) return;
    if (this.offset + n > this.size) this.fail(`the file ends inside the header (needs ${n} bytes)`);
    const want = Math.max(n - have, CHUNK);
    const chunk = Buffer.alloc(Math.min(want, this.size - this.#filePos));
    const { bytesRead } = await this.file.read(chunk, 0, chunk.length, this.#filePos);
    this.#filePos += bytesRead;
    this.#buf = Buffer.concat([this.#buf.subarray(this.#at), chunk.subarray(0, bytesRead)]);
    this.#at = 0;
    if (this.#buf.length < n) this.fail('a short read');
  }

  async bytes(n: number): Promise<Buffer> {
    await this.#need(n);
    const b = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return b;
  }

  async skip(n: number): Promise<void> {
    const have = this.#buf.length - this.#at;
    if (n <= have) {
      this.#at += n;
      return;
    }
    if (this.offset + n > this.size) this.fail('the file ends inside the header');
    this.#filePos += n - have;
    this.#buf = Buffer.alloc(0);
    this.#at = 0;
  }

  async u32(): Promise<number> {
    return (await this.bytes(4)).readUInt32LE(0);
  }

  /** A u64 that must fit a JS number below `max`. */
  async count(what: string, max: number): Promise<number> {
    const v = (await this.bytes(8)).readBigUInt64LE(0);
    if (v > BigInt(max)) this.fail(`${what} ${v} exceeds ${max}`);
    return Number(v);
  }

  async string(): Promise<string> {
    const n = await this.count('a string length', MAX_STRING);
    return (await this.bytes(n)).toString('utf8');
  }

  async scalar(type: number): Promise<number | bigint | boolean> {
    const b = await this.bytes(SCALAR_SIZE[type]);
    switch (type) {
      case T.U8:
        return b.readUInt8(0);
      case T.I8:
        return b.readInt8(0);
      case T.U16:
        return b.readUInt16LE(0);
      case T.I16:
        return b.readInt16LE(0);
      case T.U32:
        return b.readUInt32LE(0);
      case T.I32:
        return b.readInt32LE(0);
      case T.F32:
        return b.readFloatLE(0);
      case T.BOOL:
        return b.readUInt8(0) !== 0;
      case T.U64:
        return b.readBigUInt64LE(0);
      case T.I64:
        return b.readBigInt64LE(0);
      default:
        return b.readDoubleLE(0);
    }
  }

  async value(type: number, depth = 0): Promise<GgufValue> {
    if (type === T.STRING) return this.string();
    if (type in SCALAR_SIZE) return this.scalar(type);
    if (type !== T.ARRAY || depth > 0) this.fail(`an unknown value type ${type}`);
    const itemType = await this.u32();
    const length = await this.count('an array length', MAX_COUNT);
    if (itemType !== T.STRING && !(itemType in SCALAR_SIZE)) this.fail(`an array of unknown type ${itemType}`);
    if (length <= KEEP_ARRAY) {
      const items: GgufValue[] = [];
      for (let i = 0; i < length; i++) items.push(await this.value(itemType, depth + 1));
      return items;
    }
    if (itemType === T.STRING) {
      for (let i = 0; i < length; i++) await this.skip(await this.count('a string length', MAX_STRING));
    } else await this.skip(length * SCALAR_SIZE[itemType]);
    return { arrayOf: TYPE_NAME[itemType], length };
  }
}

/** The header of the GGUF file at `path` (GGUF v2 and v3). Throws GgufHeaderError for anything else. */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const r = new HeaderReader(file, size, path);
    if (size < 4 || (await r.bytes(4)).toString('latin1') !== MAGIC) throw new GgufHeaderError(`${path}: not a GGUF file (its first bytes are not "GGUF")`);
    const version = await r.u32();
    if (version !== 2 && version !== 3) throw new GgufHeaderError(`${path}: GGUF version ${version} is not supported (2 and 3 are)`);
    const nTensors = await r.count('the tensor count', MAX_COUNT);
    const nKv = await r.count('the metadata count', MAX_COUNT);
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = await r.string();
      metadata.set(key, await r.value(await r.u32()));
    }
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = await r.string();
      const nDims = await r.u32();
      if (nDims < 1 || nDims > MAX_DIMS) r.fail(`tensor ${name} with ${nDims} dimensions`);
      const shape: number[] = [];
      for (let d = 0; d < nDims; d++) shape.push(await r.count(`a dimension of tensor ${name}`, Number.MAX_SAFE_INTEGER));
      const type = await r.u32();
      await r.skip(8); // data offset
      tensors.push({ name, shape, type });
    }
    return { version, metadata, tensors };
  } finally {
    await file.close();
  }
}

/** What a listing shows of a GGUF: architecture, quant and parameter count. */
export interface GgufSummary {
  architecture?: string;
  /** `general.name`, when present. */
  name?: string;
  /** From `general.file_type` (llama.cpp's names: Q8_0, Q4_K_M, …), else the type most weights are stored in. */
  quant?: string;
  /** Elements of all tensors (a model's parameter count). */
  parameters: number;
  /** `general.size_label` ("1B"), when present. */
  sizeLabel?: string;
}

export function summarizeGguf(h: GgufHeader): GgufSummary {
  const str = (key: string) => {
    const v = h.metadata.get(key);
    return typeof v === 'string' ? v : undefined;
  };
  let parameters = 0;
  const byType = new Map<number, number>();
  for (const t of h.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    parameters += n;
    byType.set(t.type, (byType.get(t.type) ?? 0) + n);
  }
  const ft = h.metadata.get('general.file_type');
  let quant = typeof ft === 'number' ? LLAMA_FILE_TYPES[ft] : undefined;
  if (quant === undefined && byType.size > 0) {
    const [most] = [...byType.entries()].sort((a, b) => b[1] - a[1])[0];
    quant = GGML_TYPE_NAMES[most] ?? `type ${most}`;
  }
  const out: GgufSummary = { parameters };
  const architecture = str('general.architecture');
  if (architecture !== undefined) out.architecture = architecture;
  const name = str('general.name');
  if (name !== undefined) out.name = name;
  if (quant !== undefined) out.quant = quant;
  const sizeLabel = str('general.size_label');
  if (sizeLabel !== undefined) out.sizeLabel = sizeLabel;
  return out;
}
