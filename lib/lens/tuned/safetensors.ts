// The translators' weights as safetensors (`params.safetensors`, keys `{i}.weight`, `{i}.bias`): an
// 8-byte little-endian header length, a JSON header of { name: { dtype, shape, data_offsets } }, then
// the data. Read F32/F16/BF16 with every offset checked; written as F32.
import { widenToFloat32, type TensorDtype } from './dtype.js';
import type { LoadedTensor } from './torch-load.js';

const ITEM_SIZE: Record<TensorDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export function readSafetensorsTensors(file: Uint8Array, what: string): Map<string, LoadedTensor> {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 8) throw new Error(`${what}: too short for a safetensors file`);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(file.length - 8)) throw new Error(`${what}: header length ${headerLen} runs past the end of the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + Number(headerLen)))) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what}: the header is not JSON (${(e as Error).message})`, { cause: e });
  }
  const base = 8 + Number(headerLen);
  const out = new Map<string, LoadedTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`${what}: ${name} has dtype ${String(dtype)}; only F32, F16 and BF16 are read`);
    if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw new Error(`${what}: ${name} has a malformed shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((n) => Number.isSafeInteger(n) && n >= 0))
      throw new Error(`${what}: ${name} has malformed data_offsets`);
    const [begin, end] = offsets as [number, number];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== numel * ITEM_SIZE[dtype])
      throw new Error(`${what}: ${name} spans ${end - begin} bytes but its shape [${shape.join(', ')}] needs ${numel * ITEM_SIZE[dtype]}`);
    if (base + end > file.length) throw new Error(`${what}: ${name} runs past the end of the file`);
    out.set(name, { dtype, shape: shape as number[], data: widenToFloat32(file.subarray(base + begin, base + end), dtype) });
  }
  return out;
}

/** Serializes float32 tensors (name → shape and data) as a safetensors file. */
export function writeSafetensorsTensors(tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(at + i * 4, t.data[i], true);
    at += t.data.length * 4;
  }
  return out;
}
