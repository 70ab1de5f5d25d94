// llama.cpp's control-vector GGUF, checked byte by byte against the GGUF v3 layout (parsed by hand
// here, not with lib/interp/control-vector.ts), plus files built by hand the way llama.cpp's
// cvector-generator and repeng write them, and the malformed files the reader must refuse.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ControlVectorFormatError,
  decodeControlVector,
  encodeControlVector,
  readControlVector,
  writeControlVector,
  type ControlVector,
} from '../../lib/interp/control-vector.js';

const dir = mkdtempSync(join(tmpdir(), 'layerlens-cv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sample(): ControlVector {
  return {
    modelHint: 'gpt2',
    directions: new Map([
      [3, Float32Array.from({ length: 5 }, (_, i) => i + 0.25)],
      [1, Float32Array.from({ length: 5 }, (_, i) => 0.5 - i * 1.5)],
    ]),
  };
}

// ---- a GGUF builder for the tests (GGUF v3, little endian, from the specification) ----
type Kv = [key: string, type: 'string' | 'u32' | 'i32' | 'f32' | 'str_array', value: string | number | string[]];
interface RawTensor {
  name: string;
  dims: number[];
  type: number;
  data: Uint8Array;
}
const f32Bytes = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

function buildGguf(kvs: Kv[], tensors: RawTensor[], opts: { magic?: string; version?: number; alignment?: number } = {}): Uint8Array {
  const chunks: Buffer[] = [];
  const u32 = (x: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(x);
    chunks.push(b);
  };
  const u64 = (x: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(x));
    chunks.push(b);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    u64(b.length);
    chunks.push(b);
  };
  chunks.push(Buffer.from(opts.magic ?? 'GGUF', 'latin1'));
  u32(opts.version ?? 3);
  u64(tensors.length);
  u64(kvs.length);
  for (const [key, type, value] of kvs) {
    str(key);
    if (type === 'string') {
      u32(8);
      str(value as string);
    } else if (type === 'u32') {
      u32(4);
      u32(value as number);
    } else if (type === 'i32') {
      u32(5);
      const b = Buffer.alloc(4);
      b.writeInt32LE(value as number);
      chunks.push(b);
    } else if (type === 'f32') {
      u32(6);
      const b = Buffer.alloc(4);
      b.writeFloatLE(value as number);
      chunks.push(b);
    } else {
      u32(9);
      u32(8);
      u64((value as string[]).length);
      for (const s of value as string[]) str(s);
    }
  }
  const align = opts.alignment ?? 32;
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    str(t.name);
    u32(t.dims.length);
    for (const d of t.dims) u64(d);
    u32(t.type);
    u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.data.length / align) * align;
  }
  const head = Buffer.concat(chunks);
  const start = Math.ceil(head.length / align) * align;
  const out = new Uint8Array(start + offset);
  out.set(head, 0);
  tensors.forEach((t, i) => out.set(t.data, start + offsets[i]));
  return out;
}

const ARCH: Kv = ['general.architecture', 'string', 'controlvector'];
const dirTensor = (name: string, values: number[], type = 0, dims = [values.length]): RawTensor => ({ name, dims, type, data: f32Bytes(values) });

describe('control-vector GGUF', () => {
  it('writes GGUF v3 field by field: header, metadata, tensor infos, aligned F32 data', () => {
    const bytes = encodeControlVector(sample());
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    const u32 = () => ((at += 4), v.getUint32(at - 4, true));
    const u64 = () => ((at += 8), Number(v.getBigUint64(at - 8, true)));
    const str = () => {
      const n = u64();
      at += n;
      return Buffer.from(bytes.subarray(at - n, at)).toString('utf8');
    };
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('GGUF');
    at = 4;
    expect(u32()).toBe(3); // version
    expect(u64()).toBe(2); // tensors
    expect(u64()).toBe(3); // metadata entries
    expect([str(), u32(), str()]).toEqual(['general.architecture', 8, 'controlvector']);
    expect([str(), u32(), str()]).toEqual(['controlvector.model_hint', 8, 'gpt2']);
    expect([str(), u32(), u32()]).toEqual(['controlvector.layer_count', 4, 2]);
    // tensor infos, ascending N: name, n_dims, dims, ggml type (F32 = 0), offset in the data section
    expect([str(), u32(), u64(), u32(), u64()]).toEqual(['direction.1', 1, 5, 0, 0]);
    expect([str(), u32(), u64(), u32(), u64()]).toEqual(['direction.3', 1, 5, 0, 32]); // 20 bytes padded to 32
    const dataStart = Math.ceil(at / 32) * 32;
    expect(bytes.length).toBe(dataStart + 64);
    for (let i = at; i < dataStart; i++) expect(bytes[i], 'padding before the data').toBe(0);
    const floats = (off: number) => Array.from({ length: 5 }, (_, j) => v.getFloat32(dataStart + off + 4 * j, true));
    expect(floats(0)).toEqual([0.5, -1, -2.5, -4, -5.5]);
    expect(floats(32)).toEqual([0.25, 1.25, 2.25, 3.25, 4.25]);
  });

  it('round-trips through a file', async () => {
    const file = join(dir, 'v.gguf');
    await writeControlVector(file, sample());
    const back = await readControlVector(file);
    expect(back.modelHint).toBe('gpt2');
    expect([...back.directions.keys()]).toEqual([1, 3]);
    expect(back.directions.get(1)).toEqual(sample().directions.get(1));
    expect(back.directions.get(3)).toEqual(sample().directions.get(3));
  });

  it("reads cvector-generator's and repeng's files: i32 layer_count, other metadata, custom alignment", () => {
    const bytes = buildGguf(
      [
        ARCH,
        ['controlvector.model_hint', 'string', 'llama'],
        ['controlvector.layer_count', 'i32', 2],
        ['general.alignment', 'u32', 64],
        ['x.list', 'str_array', ['a', 'bc']],
        ['x.f', 'f32', 0.5],
      ],
      [dirTensor('direction.2', [1, 2, 3]), dirTensor('direction.1', [4, 5, 6])],
      { alignment: 64 },
    );
    const cv = decodeControlVector(bytes);
    expect(cv.modelHint).toBe('llama');
    expect([...cv.directions.keys()]).toEqual([1, 2]);
    expect(Array.from(cv.directions.get(2)!)).toEqual([1, 2, 3]);
    expect(Array.from(cv.directions.get(1)!)).toEqual([4, 5, 6]);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    [
      'a model file (wrong architecture)',
      buildGguf([['general.architecture', 'string', 'gpt2']], [dirTensor('direction.1', [1])]),
      /general\.architecture is "gpt2"/,
    ],
    ['no architecture', buildGguf([], [dirTensor('direction.1', [1])]), /general\.architecture is null/],
    ['direction.0', buildGguf([ARCH], [dirTensor('direction.0', [1, 2])]), /direction\.0 is not allowed/],
    ['a duplicate N', buildGguf([ARCH], [dirTensor('direction.2', [1, 2]), dirTensor('direction.2', [3, 4])]), /direction\.2 appears twice/],
    ['an F16 tensor', buildGguf([ARCH], [dirTensor('direction.1', [1, 2], 1)]), /ggml type 1, expected F32/],
    ['a 2-D tensor', buildGguf([ARCH], [dirTensor('direction.1', [1, 2, 3, 4], 0, [2, 2])]), /shape \[2, 2\]/],
    ['another tensor name', buildGguf([ARCH], [dirTensor('token_embd.weight', [1])]), /not named direction\.N/],
    ['mixed widths', buildGguf([ARCH], [dirTensor('direction.1', [1, 2]), dirTensor('direction.2', [1, 2, 3])]), /direction\.2 has 3 values/],
    ['a bad magic', buildGguf([ARCH], [], { magic: 'GGML' }), /not a GGUF file/],
    ['version 1', buildGguf([ARCH], [], { version: 1 }), /version 1 is not supported/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => decodeControlVector(bytes, 'f.gguf')).toThrow(ControlVectorFormatError);
      expect(() => decodeControlVector(bytes, 'f.gguf')).toThrow(message);
    });
  }

  it('refuses a truncated file at every length', () => {
    const bytes = encodeControlVector(sample());
    for (let n = 0; n < bytes.length - 31; n++) expect(() => decodeControlVector(bytes.subarray(0, n))).toThrow(ControlVectorFormatError);
  });

  it('will not write direction.0, mixed widths, non-finite values or nothing', () => {
    const one = (n: number, v: Float32Array): ControlVector => ({ modelHint: 'gpt2', directions: new Map([[n, v]]) });
    expect(() => encodeControlVector(one(0, new Float32Array(2)))).toThrow(/direction\.0/);
    expect(() => encodeControlVector(one(1, Float32Array.of(1, NaN)))).toThrow(/non-finite/);
    expect(() => encodeControlVector({ modelHint: 'gpt2', directions: new Map() })).toThrow(/no directions/);
    const mixed: ControlVector = {
      modelHint: 'gpt2',
      directions: new Map([
        [1, new Float32Array(2)],
        [2, new Float32Array(3)],
      ]),
    };
    expect(() => encodeControlVector(mixed)).toThrow(/has 3 values/);
  });
});
