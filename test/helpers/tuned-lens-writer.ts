// Writes tuned-lens artifacts the way the tuned-lens package does, without Python: config.json and
// params.pt = torch.save(state_dict) — an uncompressed zip holding `<stem>/data.pkl` (pickle protocol 2,
// emitted opcode by opcode as CPython's Pickler writes a torch state dict: memoized globals and strings,
// `_rebuild_tensor_v2` over BINPERSID storage ids, an OrderedDict whose `_metadata` is set by BUILD),
// `<stem>/data/<n>` raw little-endian storages, `<stem>/byteorder` and `<stem>/version`. Entries are
// 64-byte aligned as torch's writer aligns them. The low-level PickleWriter and storedZip also build the
// hostile files of the unpickler tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signedRandom } from './random.js';

/** Pickle bytes built opcode by opcode, with CPython's memo behaviour for globals and strings. */
export class PickleWriter {
  private readonly bytes: number[] = [];
  private readonly memo = new Map<string, number>();

  raw(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  private u32(n: number): void {
    this.bytes.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  /** BINPUT into the next free memo slot, registering it under `key`. */
  private put(key: string): void {
    const slot = this.memo.size;
    this.memo.set(key, slot);
    if (slot < 256)
      this.raw(0x71, slot); // BINPUT
    else {
      this.raw(0x72); // LONG_BINPUT
      this.u32(slot);
    }
  }
  private memoized(key: string, emit: () => void): this {
    const slot = this.memo.get(key);
    if (slot !== undefined) {
      if (slot < 256)
        this.raw(0x68, slot); // BINGET
      else {
        this.raw(0x6a); // LONG_BINGET
        this.u32(slot);
      }
      return this;
    }
    emit();
    this.put(key);
    return this;
  }
  proto(n = 2): this {
    return this.raw(0x80, n);
  }
  /** GLOBAL `module\nname\n`, memoized like the Pickler memoizes the class object. */
  global(module: string, name: string): this {
    return this.memoized(`global:${module}.${name}`, () => this.raw(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')));
  }
  /** BINUNICODE (protocol 2 has no SHORT_BINUNICODE), memoized. */
  str(s: string): this {
    return this.memoized(`str:${s}`, () => {
      const b = Buffer.from(s, 'utf8');
      this.raw(0x58);
      this.u32(b.length);
      this.raw(...b);
    });
  }
  /** CPython's save_long for protocol 2. */
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.raw(0x4a);
      this.u32(n >>> 0);
      return this;
    }
    const out: number[] = [];
    let v = BigInt(n);
    for (;;) {
      out.push(Number(v & 0xffn));
      v >>= 8n;
      const sign = out[out.length - 1] & 0x80;
      if ((v === 0n && !sign) || (v === -1n && sign)) break;
    }
    return this.raw(0x8a, out.length, ...out);
  }
  /** MARK items TUPLE, or the short forms CPython uses for 0..3 items; memoized with a BINPUT. */
  tuple(items: (() => void)[]): this {
    if (items.length === 0) return this.raw(0x29); // EMPTY_TUPLE is not memoized
    if (items.length > 3) this.raw(0x28);
    items.forEach((f) => f());
    this.raw(items.length > 3 ? 0x74 : 0x84 + items.length);
    this.put(`tuple:${this.memo.size}`);
    return this;
  }
  /** Reserve a memo slot for a freshly built object (REDUCE results, dicts). */
  fresh(): this {
    this.put(`obj:${this.memo.size}`);
    return this;
  }
  bytesOut(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export interface StateTensor {
  name: string;
  shape: number[];
  data: Float32Array;
  /** Stored dtype; default F32. */
  dtype?: 'F32' | 'F16';
  /** Overrides for hostile files. */
  stride?: number[];
  offset?: number;
  /** The numel written into the storage id (default: the real one). */
  declaredNumel?: number;
}

function contiguousStride(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** float32 → IEEE half bits, round to nearest even (overflow to ±Inf). */
export function floatToHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let v = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && v & 1)) v++;
    return sign | v;
  }
  let v = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && v & 1)) v++;
  return sign | v;
}

function storageBytes(t: StateTensor): Uint8Array {
  const f16 = t.dtype === 'F16';
  const out = new Uint8Array(t.data.length * (f16 ? 2 : 4));
  const view = new DataView(out.buffer);
  t.data.forEach((v, i) => (f16 ? view.setUint16(i * 2, floatToHalf(v), true) : view.setFloat32(i * 4, v, true)));
  return out;
}

/** The data.pkl of torch.save(OrderedDict(tensors)) with protocol 2, each tensor in its own storage. */
export function stateDictPickle(tensors: StateTensor[], metadataKeys: string[] = ['']): Uint8Array {
  const p = new PickleWriter().proto(2);
  p.global('collections', 'OrderedDict').raw(0x29, 0x52).fresh(); // OrderedDict() via REDUCE
  // CPython's _batch_setitems: MARK … SETITEMS for two or more items, a bare SETITEM for one
  if (tensors.length > 1) p.raw(0x28);
  tensors.forEach((t, key) => {
    p.str(t.name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.raw(0x28); // MARK: the argument tuple
    // persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
    p.tuple([
      () => p.str('storage'),
      () => p.global('torch', t.dtype === 'F16' ? 'HalfStorage' : 'FloatStorage'),
      () => p.str(String(key)),
      () => p.str('cpu'),
      () => p.int(t.declaredNumel ?? t.data.length),
    ]);
    p.raw(0x51); // BINPERSID
    p.int(t.offset ?? 0);
    p.tuple(t.shape.map((n) => () => p.int(n)));
    p.tuple((t.stride ?? contiguousStride(t.shape)).map((n) => () => p.int(n)));
    p.raw(0x89); // requires_grad False
    p.global('collections', 'OrderedDict').raw(0x29, 0x52).fresh(); // backward_hooks
    p.raw(0x74).fresh(); // TUPLE (of the MARK above)
    p.raw(0x52).fresh(); // REDUCE
  });
  if (tensors.length > 1)
    p.raw(0x75); // SETITEMS
  else if (tensors.length === 1) p.raw(0x73); // SETITEM
  // state {'_metadata': OrderedDict(key → {'version': 1})}, set by BUILD
  p.raw(0x7d).fresh().str('_metadata');
  p.global('collections', 'OrderedDict').raw(0x29, 0x52).fresh();
  if (metadataKeys.length > 1) p.raw(0x28);
  for (const k of metadataKeys) {
    p.str(k);
    p.raw(0x7d).fresh().str('version').int(1).raw(0x73); // {'version': 1} via SETITEM
  }
  if (metadataKeys.length > 1)
    p.raw(0x75); // SETITEMS
  else if (metadataKeys.length === 1) p.raw(0x73); // SETITEM
  p.raw(0x73); // SETITEM '_metadata'
  p.raw(0x62); // BUILD
  p.raw(0x2e); // STOP
  return p.bytesOut();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An uncompressed zip with every entry's data 64-byte aligned (padding in the local extra field, as torch does). */
export function storedZip(entries: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const pad = (64 - ((offset + 30 + nameBytes.length + 4) % 64)) % 64;
    const extraLen = 4 + pad;
    const local = Buffer.alloc(30 + nameBytes.length + extraLen);
    const crc = crc32(data);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extraLen, 28);
    nameBytes.copy(local, 30);
    local.writeUInt16LE(0x4246, 30 + nameBytes.length); // 'FB' padding field
    local.writeUInt16LE(pad, 32 + nameBytes.length);
    const cd = Buffer.alloc(46 + nameBytes.length);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(nameBytes.length, 28);
    cd.writeUInt32LE(offset, 42);
    nameBytes.copy(cd, 46);
    parts.push(local, data);
    central.push(cd);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, eocd]);
}

/** torch.save(OrderedDict(tensors), `<stem>.pt`) as bytes; `pickle` replaces data.pkl (hostile files). */
export function torchSaveBytes(tensors: StateTensor[], stem = 'params', pickle?: Uint8Array): Uint8Array {
  return storedZip([
    [`${stem}/data.pkl`, pickle ?? stateDictPickle(tensors, ['', ...tensors.map((_, i) => String(i))])],
    [`${stem}/byteorder`, Buffer.from('little')],
    ...tensors.map((t, i): [string, Uint8Array] => [`${stem}/data/${i}`, storageBytes(t)]),
    [`${stem}/version`, Buffer.from('3\n')],
  ]);
}

export interface TunedLensSpec {
  baseModel: string;
  d: number;
  translators: { weight: Float32Array; bias?: Float32Array }[];
  dtype?: 'F32' | 'F16';
  /** Write the older config key `unemebd_hash` instead of `unembed_hash`. */
  oldHashKey?: boolean;
}

/**
 * A lens of `nLayer` random translators for a model `d` wide, big enough to change the top tokens:
 * A ~ U(-2, 2)/√d, b ~ U(-0.5, 0.5), drawn from signedRandom(seed), each translator's weight then its bias.
 */
export function randomTunedLensSpec(baseModel: string, d: number, nLayer: number, seed: number, dtype: 'F32' | 'F16' = 'F32'): TunedLensSpec {
  const rnd = signedRandom(seed);
  const translators = Array.from({ length: nLayer }, () => ({
    weight: Float32Array.from({ length: d * d }, () => (rnd() * 2) / Math.sqrt(d)),
    bias: Float32Array.from({ length: d }, () => rnd() * 0.5),
  }));
  return { baseModel, d, translators, dtype };
}

/** The state dict tensors of a lens: `{i}.weight` [d, d], `{i}.bias` [d]. */
export function translatorTensors(spec: TunedLensSpec): StateTensor[] {
  return spec.translators.flatMap((t, i) => [
    { name: `${i}.weight`, shape: [spec.d, spec.d], data: t.weight, dtype: spec.dtype },
    ...(t.bias ? [{ name: `${i}.bias`, shape: [spec.d], data: t.bias, dtype: spec.dtype }] : []),
  ]);
}

/** Writes `dir/config.json` and `dir/params.pt` as the tuned-lens package saves a lens. */
export function writeTunedLensFolder(dir: string, spec: TunedLensSpec): string {
  mkdirSync(dir, { recursive: true });
  const hasBias = spec.translators.every((t) => t.bias);
  const config = {
    base_model_name_or_path: spec.baseModel,
    d_model: spec.d,
    num_hidden_layers: spec.translators.length,
    bias: hasBias,
    base_model_revision: null,
    [spec.oldHashKey ? 'unemebd_hash' : 'unembed_hash']: '0123abcd',
    lens_type: 'linear_tuned_lens',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'params.pt'), torchSaveBytes(translatorTensors(spec)));
  return dir;
}
