// Writes a state dict of float32 tensors as torch.save does (torch ≥ 1.6 zip format), so that Python's
// torch.load and the tuned-lens package read what layerlens trains:
//   <stem>/data.pkl   pickle protocol 2 of an OrderedDict name → torch._utils._rebuild_tensor_v2(
//                     persistent id ('storage', torch.FloatStorage, key, 'cpu', numel), offset 0, size,
//                     stride, False, OrderedDict()), with `_metadata` set by BUILD as nn.Module.state_dict does;
//   <stem>/data/<key> each tensor's little-endian storage;  <stem>/byteorder "little";  <stem>/version "3\n".
// Entries are stored uncompressed with their data aligned to 64 bytes (torch's writer pads the local
// header's extra field), which lets torch memory-map them.

/** One entry of a state dict: row-major float32 values of `shape`. */
export interface SavedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

// Pickle opcodes (protocol 2) used here.
const PROTO = 0x80,
  GLOBAL = 0x63,
  BINPUT = 0x71,
  LONG_BINPUT = 0x72,
  BINGET = 0x68,
  LONG_BINGET = 0x6a;
const BINUNICODE = 0x58,
  BININT1 = 0x4b,
  BININT2 = 0x4d,
  BININT = 0x4a,
  EMPTY_TUPLE = 0x29,
  MARK = 0x28;
const TUPLE = 0x74,
  TUPLE1 = 0x85,
  REDUCE = 0x52,
  BINPERSID = 0x51,
  NEWFALSE = 0x89,
  EMPTY_DICT = 0x7d;
const SETITEM = 0x73,
  SETITEMS = 0x75,
  BUILD = 0x62,
  STOP = 0x2e;

/** Pickle bytes with CPython's memo behaviour: globals and strings are written once, then fetched. */
class Pickler {
  private readonly chunks: number[] = [];
  private readonly memo = new Map<string, number>();
  private slots = 0;

  op(...bytes: number[]): this {
    for (const b of bytes) this.chunks.push(b);
    return this;
  }
  private u32(n: number): void {
    this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  /** Memoizes the object just built in the next slot (BINPUT), as the Pickler does for every non-atomic object. */
  put(key?: string): this {
    const slot = this.slots++;
    if (key !== undefined) this.memo.set(key, slot);
    if (slot < 256) this.op(BINPUT, slot);
    else {
      this.op(LONG_BINPUT);
      this.u32(slot);
    }
    return this;
  }
  private memoized(key: string, emit: () => void): this {
    const slot = this.memo.get(key);
    if (slot === undefined) {
      emit();
      return this.put(key);
    }
    if (slot < 256) return this.op(BINGET, slot);
    this.op(LONG_BINGET);
    this.u32(slot);
    return this;
  }
  global(module: string, name: string): this {
    return this.memoized(`g:${module}.${name}`, () => this.op(GLOBAL, ...Buffer.from(`${module}\n${name}\n`, 'latin1')));
  }
  /**
   * BINUNICODE, memoized under `identity`: CPython memoizes by object, so equal strings built apart
   * (a storage key and a module prefix, both '0') are written twice, while a literal is written once.
   */
  str(s: string, identity = ''): this {
    return this.memoized(`s:${identity}:${s}`, () => {
      const b = Buffer.from(s, 'utf8');
      this.op(BINUNICODE);
      this.u32(b.length);
      this.op(...b);
    });
  }
  int(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 31) throw new RangeError(`torch.save writer: integer ${n} out of range`);
    if (n < 256) return this.op(BININT1, n);
    if (n < 65536) return this.op(BININT2, n & 0xff, n >>> 8);
    this.op(BININT);
    this.u32(n);
    return this;
  }
  /** A tuple of ints: TUPLE1..3 for short ones, MARK … TUPLE otherwise, memoized like CPython. */
  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.op(EMPTY_TUPLE);
    if (values.length > 3) this.op(MARK);
    values.forEach((v) => this.int(v));
    this.op(values.length > 3 ? TUPLE : TUPLE1 - 1 + values.length);
    return this.put();
  }
  /** OrderedDict() via REDUCE on an empty argument tuple. */
  emptyOrderedDict(): this {
    return this.global('collections', 'OrderedDict').op(EMPTY_TUPLE, REDUCE).put();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** The data.pkl of torch.save(state_dict) where storage key i holds tensors[i]. */
export function stateDictPickle(tensors: readonly SavedTensor[], metadataKeys: readonly string[]): Uint8Array {
  const p = new Pickler().op(PROTO, 2);
  p.emptyOrderedDict();
  if (tensors.length > 1) p.op(MARK);
  tensors.forEach((t, key) => {
    p.str(t.name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.op(MARK);
    // The persistent id tuple ('storage', torch.FloatStorage, key, 'cpu', numel)
    p.op(MARK).str('storage').global('torch', 'FloatStorage').str(String(key), 'storage key').str('cpu').int(t.data.length).op(TUPLE).put();
    p.op(BINPERSID);
    p.int(0);
    p.intTuple(t.shape);
    p.intTuple(contiguousStride(t.shape));
    p.op(NEWFALSE); // requires_grad
    p.emptyOrderedDict(); // backward hooks
    p.op(TUPLE).put();
    p.op(REDUCE).put();
  });
  if (tensors.length > 1) p.op(SETITEMS);
  else if (tensors.length === 1) p.op(SETITEM);
  // BUILD with the state {'_metadata': OrderedDict(prefix → {'version': 1})}
  p.op(EMPTY_DICT).put().str('_metadata');
  p.emptyOrderedDict();
  if (metadataKeys.length > 1) p.op(MARK);
  for (const k of metadataKeys) p.str(k, 'module prefix').op(EMPTY_DICT).put().str('version').int(1).op(SETITEM);
  if (metadataKeys.length > 1) p.op(SETITEMS);
  else if (metadataKeys.length === 1) p.op(SETITEM);
  p.op(SETITEM, BUILD, STOP);
  return p.bytes();
}

function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = acc;
    acc *= shape[i];
  }
  return stride;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An uncompressed zip, each entry's data 64-byte aligned through padding in its local extra field. */
export function storedZip(entries: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    if (offset + data.length > 0xfffffff0) throw new RangeError('torch.save writer: archives over 4 GB (ZIP64) are not written');
    const pad = (64 - ((offset + 30 + nameBytes.length + 4) % 64)) % 64;
    const local = Buffer.alloc(30 + nameBytes.length + 4 + pad);
    const crc = crc32(data);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(4 + pad, 28);
    nameBytes.copy(local, 30);
    local.writeUInt16LE(0x4246, 30 + nameBytes.length); // the 'FB' padding field torch writes
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

/** Little-endian float32 bytes (a copy; the host's byte order does not matter). */
function float32Bytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

/**
 * torch.save(state_dict) as bytes. `metadataKeys` are the module prefixes of `_metadata` (for an
 * nn.ModuleList of n Linear layers: '', '0', …, 'n−1').
 */
export function torchSaveStateDict(tensors: readonly SavedTensor[], metadataKeys: readonly string[] = [''], stem = 'params'): Uint8Array {
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new RangeError(`torch.save writer: ${t.name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  }
  return storedZip([
    [`${stem}/data.pkl`, stateDictPickle(tensors, metadataKeys)],
    [`${stem}/byteorder`, Buffer.from('little')],
    ...tensors.map((t, i) => [`${stem}/data/${i}`, float32Bytes(t.data)] as const),
    [`${stem}/version`, Buffer.from('3\n')],
  ]);
}
