// A deliberately small, independent safetensors reader for the float64 reference model.
// It shares no code with lib/ or the native engine: it is part of the test oracle.
// Reads F32, F16 and BF16 tensors into Float64Array (exact conversions), strips an optional
// "transformer." prefix from names, and checks just enough to never read outside the file.

import fs from 'node:fs';
import os from 'node:os';

if (os.endianness() !== 'LE') throw new Error('read-safetensors: little-endian hosts only');

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface RefTensor {
  /** name without the optional "transformer." prefix */
  name: string;
  /** name exactly as stored in the file */
  storedName: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float64Array;
}

export interface RefSafetensors {
  tensors: Map<string, RefTensor>;
  metadata: Record<string, string> | undefined;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
const PREFIX = 'transformer.';

/** Exact value of an IEEE binary16 bit pattern. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

function decode(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float64Array {
  const out = new Float64Array(count);
  // `bytes` owns its ArrayBuffer (a fresh Uint8Array), so the typed views below are aligned.
  if (dtype === 'F32') {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
  } else if (dtype === 'F16') {
    const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = halfToNumber(u16[i]!);
  } else {
    // bfloat16 = the high half of a float32
    const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    for (let i = 0; i < count; i++) {
      u32[0] = u16[i]! << 16;
      out[i] = f32[0]!;
    }
  }
  return out;
}

/**
 * Read every tensor of a safetensors file into float64.
 * @param file path of a .safetensors file
 * @param opts.skip names (after prefix stripping) to leave out, e.g. buffers such as *.attn.masked_bias
 */
export function readSafetensors(file: string, opts: { skip?: (name: string) => boolean } = {}): RefSafetensors {
  const fd = fs.openSync(file, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) throw new Error(`${file}: too small for a safetensors file`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(fileSize - 8)) throw new Error(`${file}: header length ${headerLen} exceeds the file`);
    const headerBuf = Buffer.alloc(Number(headerLen));
    fs.readSync(fd, headerBuf, 0, headerBuf.length, 8);
    const header = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
    const dataStart = 8 + headerBuf.length;
    const dataSize = fileSize - dataStart;

    const tensors = new Map<string, RefTensor>();
    let metadata: Record<string, string> | undefined;
    for (const [storedName, raw] of Object.entries(header)) {
      if (storedName === '__metadata__') {
        metadata = raw as Record<string, string>;
        continue;
      }
      const e = raw as HeaderEntry;
      const name = storedName.startsWith(PREFIX) ? storedName.slice(PREFIX.length) : storedName;
      if (opts.skip?.(name)) continue;
      if (!(e.dtype in DTYPE_BYTES)) throw new Error(`${file}: ${storedName}: unsupported dtype ${e.dtype}`);
      const dtype = e.dtype as SafetensorsDtype;
      const count = e.shape.reduce((a, b) => a * b, 1);
      const [begin, end] = e.data_offsets;
      if (!(Number.isSafeInteger(begin) && Number.isSafeInteger(end) && begin >= 0 && begin <= end && end <= dataSize)) {
        throw new Error(`${file}: ${storedName}: data_offsets [${begin}, ${end}] outside the data (${dataSize} bytes)`);
      }
      if (end - begin !== count * DTYPE_BYTES[dtype]) {
        throw new Error(`${file}: ${storedName}: ${end - begin} bytes for ${count} ${dtype} values`);
      }
      if (tensors.has(name)) throw new Error(`${file}: ${name} appears twice (with and without prefix?)`);
      const bytes = new Uint8Array(end - begin);
      let got = 0;
      while (got < end - begin) {
        const n = fs.readSync(fd, bytes, got, end - begin - got, dataStart + begin + got);
        if (n <= 0) throw new Error(`${file}: short read in ${storedName}`);
        got += n;
      }
      tensors.set(name, { name, storedName, dtype, shape: [...e.shape], data: decode(dtype, bytes, count) });
    }
    return { tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}
