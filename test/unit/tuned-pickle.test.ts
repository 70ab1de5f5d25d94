// The restricted unpickler and the torch zip reader: real torch.save layouts read back exactly, and
// hostile files (code-running globals, unknown opcodes, lying sizes, offsets and strides, broken zips)
// refused with an error that names what was refused.
import { describe, expect, it } from 'vitest';
import { loadTorchStateDict } from '../../lib/lens/tuned/torch-load.js';
import { unpickle } from '../../lib/lens/tuned/pickle.js';
import { readStoredZip } from '../../lib/lens/tuned/zip.js';
import { PickleWriter, stateDictPickle, storedZip, torchSaveBytes, type StateTensor } from '../helpers/tuned-lens-writer.js';

const noPersistent = { persistentLoad: () => ({}), what: 'test.pkl' };

function matrix(rows: number, cols: number, seed = 1): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin(seed * 1000 + i) * 3));
}

describe('torch.save state dicts', () => {
  it('reads every tensor of a protocol-2 state dict back exactly, in order, with shapes', () => {
    const tensors: StateTensor[] = [
      { name: '0.weight', shape: [3, 3], data: matrix(3, 3, 1) },
      { name: '0.bias', shape: [3], data: matrix(1, 3, 2) },
      { name: '1.weight', shape: [3, 3], data: matrix(3, 3, 3) },
    ];
    const sd = loadTorchStateDict(torchSaveBytes(tensors), 'params.pt');
    expect([...sd.keys()]).toEqual(['0.weight', '0.bias', '1.weight']);
    for (const t of tensors) {
      expect(sd.get(t.name)!.shape).toEqual(t.shape);
      expect(sd.get(t.name)!.dtype).toBe('F32');
      expect(Array.from(sd.get(t.name)!.data)).toEqual(Array.from(t.data));
    }
  });

  it('reads f16 storages as the exact half values', () => {
    // 1, -2, 1/3 → 0x3c00, 0xc000, 0x3555 (= 0.333251953125), 65504 (largest half), 2^-24 (smallest subnormal)
    const data = Float32Array.from([1, -2, 1 / 3, 65504, 2 ** -24]);
    const sd = loadTorchStateDict(torchSaveBytes([{ name: 'x', shape: [5], data, dtype: 'F16' }]), 'params.pt');
    expect(sd.get('x')!.dtype).toBe('F16');
    expect(Array.from(sd.get('x')!.data)).toEqual([1, -2, 0.333251953125, 65504, 2 ** -24]);
  });

  it('reads a view with a storage offset and large integers (BININT2, BININT, LONG1)', () => {
    const storage = Float32Array.from({ length: 70000 }, (_, i) => i);
    const sd = loadTorchStateDict(torchSaveBytes([{ name: 'v', shape: [2, 2], data: storage, offset: 65540 }]), 'params.pt');
    expect(Array.from(sd.get('v')!.data)).toEqual([65540, 65541, 65542, 65543]);
  });

  it('finds the archive under any stem (torch names it after the file)', () => {
    const t: StateTensor = { name: 'a', shape: [2], data: Float32Array.from([5, 6]) };
    expect(Array.from(loadTorchStateDict(torchSaveBytes([t], 'archive'), 'x.pt').get('a')!.data)).toEqual([5, 6]);
  });
});

describe('the unpickler refuses what a state dict does not need', () => {
  const hostile: [string, PickleWriter, RegExp][] = [
    ['os.system', new PickleWriter().proto(2).global('os', 'system').str('touch /tmp/pwned').raw(0x85, 0x52, 0x2e), /refusing global os\.system/],
    ['posix.system', new PickleWriter().proto(2).global('posix', 'system').str('id').raw(0x85, 0x52, 0x2e), /refusing global posix\.system/],
    ['builtins.eval', new PickleWriter().proto(2).global('builtins', 'eval').str('1+1').raw(0x85, 0x52, 0x2e), /refusing global builtins\.eval/],
    [
      'builtins.exec via STACK_GLOBAL',
      new PickleWriter()
        .proto(4)
        .raw(0x8c, 8, ...Buffer.from('builtins'), 0x8c, 4, ...Buffer.from('exec'), 0x93)
        .raw(0x2e),
      /refusing global builtins\.exec/,
    ],
    ['torch.load itself', new PickleWriter().proto(2).global('torch', 'load').raw(0x2e), /refusing global torch\.load/],
    ['the INST opcode', new PickleWriter().proto(2).raw(0x28, 0x69, ...Buffer.from('os\nsystem\n'), 0x2e), /refusing pickle opcode 0x69/],
    ['the OBJ opcode', new PickleWriter().proto(2).raw(0x28, 0x6f, 0x2e), /refusing pickle opcode 0x6f/],
    ['the STRING opcode', new PickleWriter().proto(2).raw(0x53, ...Buffer.from("'x'\n"), 0x2e), /refusing pickle opcode 0x53/],
    ['an EXT code', new PickleWriter().proto(2).raw(0x82, 1, 0x2e), /refusing pickle opcode 0x82/],
    ['REDUCE of an allowed storage class', new PickleWriter().proto(2).global('torch', 'FloatStorage').raw(0x29, 0x52, 0x2e), /REDUCE of torch\.FloatStorage/],
    ['REDUCE of a non-global', new PickleWriter().proto(2).str('x').raw(0x29, 0x52, 0x2e), /REDUCE on "x"/],
    ['OrderedDict with arguments', new PickleWriter().proto(2).global('collections', 'OrderedDict').int(1).raw(0x85, 0x52, 0x2e), /OrderedDict called with 1/],
    ['BUILD on a string', new PickleWriter().proto(2).str('x').raw(0x7d, 0x62, 0x2e), /BUILD on "x"/],
    ['GET of an unset memo slot', new PickleWriter().proto(2).raw(0x68, 7, 0x2e), /memo slot 7/],
    ['a truncated BINUNICODE', new PickleWriter().proto(2).raw(0x58, 0xff, 0xff, 0xff, 0x7f, 0x41), /truncated pickle: BINUNICODE/],
    ['no STOP', new PickleWriter().proto(2).raw(0x7d), /no STOP/],
    ['SETITEMS without MARK', new PickleWriter().proto(2).raw(0x7d, 0x75, 0x2e), /SETITEMS without a MARK/],
    ['a tuple key', new PickleWriter().proto(2).raw(0x7d, 0x29, 0x4b, 1, 0x73, 0x2e), /key that is a tuple/],
  ];
  for (const [what, pickle, error] of hostile) {
    it(`refuses ${what}`, () => {
      expect(() => unpickle(pickle.bytesOut(), noPersistent)).toThrow(error);
    });
  }

  it('refuses a hostile data.pkl inside a torch zip, naming the global', () => {
    const pkl = new PickleWriter().proto(2).global('subprocess', 'Popen').str('ls').raw(0x85, 0x52, 0x2e).bytesOut();
    expect(() => loadTorchStateDict(torchSaveBytes([], 'params', pkl), 'params.pt')).toThrow(/params\.pt: refusing global subprocess\.Popen/);
  });
});

describe('tensor records are checked against their storage', () => {
  const base: StateTensor = { name: 'w', shape: [4, 4], data: new Float32Array(16).fill(1) };
  const cases: [string, StateTensor, RegExp][] = [
    ['a storage that declares more values than it holds', { ...base, declaredNumel: 2 ** 40 }, /declares 1099511627776 F32 values .* holds 64 bytes/],
    ['an offset past the storage', { ...base, shape: [4], offset: 13 }, /offset 13 \+ 4 values runs past its storage of 16/],
    ['a negative offset', { ...base, shape: [4], offset: -1 }, /offset -1/],
    ['a huge size', { ...base, shape: [1e9, 1e9], stride: [1e9, 1] }, /needs more values than its storage holds \(16\)/],
    ['a transposed (non-contiguous) stride', { ...base, stride: [1, 4] }, /non-contiguous stride \[1,4\]/],
    ['a broadcast (zero) stride', { ...base, stride: [0, 1] }, /non-contiguous stride \[0,1\]/],
    ['a rank mismatch between size and stride', { ...base, stride: [4] }, /size has 2 dimensions but stride 1/],
  ];
  for (const [what, t, error] of cases) {
    it(`refuses ${what}`, () => {
      expect(() => loadTorchStateDict(torchSaveBytes([t]), 'params.pt')).toThrow(error);
    });
  }

  it('refuses a storage id whose file is missing from the archive', () => {
    const zip = storedZip([['params/data.pkl', stateDictPickle([base])]]);
    expect(() => loadTorchStateDict(zip, 'params.pt')).toThrow(/storage 0 is missing/);
  });

  it('refuses a state dict value that is not a tensor', () => {
    const pkl = new PickleWriter().proto(2).global('collections', 'OrderedDict').raw(0x29, 0x52).fresh().str('x').int(3).raw(0x73, 0x2e).bytesOut();
    expect(() => loadTorchStateDict(torchSaveBytes([], 'params', pkl), 'params.pt')).toThrow(/params\.pt: x is not a tensor/);
  });
});

describe('the zip reader', () => {
  const zip = () => Buffer.from(torchSaveBytes([{ name: 'a', shape: [2], data: Float32Array.from([1, 2]) }]));
  const centralOffset = (z: Buffer) => z.readUInt32LE(z.length - 22 + 16);

  it('lists the entries torch.save writes, 64-byte aligned', () => {
    const z = zip();
    const entries = readStoredZip(z, 'params.pt');
    expect([...entries.keys()]).toEqual(['params/data.pkl', 'params/byteorder', 'params/data/0', 'params/version']);
    expect((entries.get('params/data/0')!.byteOffset - z.byteOffset) % 64).toBe(0);
    expect(Buffer.from(entries.get('params/version')!).toString()).toBe('3\n');
  });

  it('refuses a compressed entry', () => {
    const z = zip();
    z.writeUInt16LE(8, centralOffset(z) + 10);
    expect(() => readStoredZip(z, 'params.pt')).toThrow(/params\/data\.pkl is compressed \(method 8\)/);
  });

  it('refuses an entry whose size runs past the end of the file', () => {
    const z = zip();
    const cd = centralOffset(z);
    z.writeUInt32LE(0x7fffffff, cd + 20);
    z.writeUInt32LE(0x7fffffff, cd + 24);
    expect(() => readStoredZip(z, 'params.pt')).toThrow(/run past the end of the file/);
  });

  it('refuses a file that is not a zip', () => {
    expect(() => readStoredZip(Buffer.from('not a zip at all, just some text'), 'params.pt')).toThrow(/no end-of-central-directory record/);
  });

  it('refuses a central directory offset out of range', () => {
    const z = zip();
    z.writeUInt32LE(z.length + 100, z.length - 22 + 16);
    expect(() => readStoredZip(z, 'params.pt')).toThrow(/central directory entry 0 is out of range/);
  });
});
