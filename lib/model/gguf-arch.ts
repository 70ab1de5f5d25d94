// Reads `general.architecture` from a GGUF file's header, to choose the engine before loading: only the
// key-value section is read, value by value, so a 262k-token vocabulary array is skipped, not loaded.
import { open, type FileHandle } from 'node:fs/promises';

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
// Byte sizes of the fixed-size GGUF value types (uint8 … float64), by type id; 8 = string, 9 = array.
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
const MAX_KEYS = 1 << 20;

class Reader {
  #buf = Buffer.alloc(0);
  #pos = 0; // file offset of #buf[0]
  #at = 0; // read cursor (file offset)
  constructor(private readonly fh: FileHandle) {}

  async #need(n: number): Promise<Buffer> {
    const off = this.#at - this.#pos;
    if (off + n > this.#buf.length) {
      const size = Math.max(n, 1 << 16);
      const fresh = Buffer.alloc(size);
      const { bytesRead } = await this.fh.read(fresh, 0, size, this.#at);
      if (bytesRead < n) throw new Error('the GGUF header ends early');
      this.#buf = fresh.subarray(0, bytesRead);
      this.#pos = this.#at;
    }
    const start = this.#at - this.#pos;
    this.#at += n;
    return this.#buf.subarray(start, start + n);
  }
  async u32(): Promise<number> {
    return (await this.#need(4)).readUInt32LE(0);
  }
  async u64(): Promise<number> {
    const v = (await this.#need(8)).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('a GGUF length is out of range');
    return Number(v);
  }
  async string(): Promise<string> {
    const n = await this.u64();
    if (n > 1 << 26) throw new Error('a GGUF string is longer than 64 MiB');
    return (await this.#need(n)).toString('utf8');
  }
  skip(n: number): void {
    this.#at += n;
  }
  async skipValue(type: number): Promise<void> {
    if (type in FIXED_SIZE) return this.skip(FIXED_SIZE[type]);
    if (type === STRING) return this.skip(await this.u64());
    if (type !== ARRAY) throw new Error(`unknown GGUF value type ${type}`);
    const elem = await this.u32();
    const count = await this.u64();
    if (elem in FIXED_SIZE) return this.skip(FIXED_SIZE[elem] * count);
    for (let i = 0; i < count; i++) await this.skipValue(elem);
  }
}

/** `general.architecture` of a GGUF file; throws if the file is not GGUF or has no such key. */
export async function readGgufArchitecture(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const r = new Reader(fh);
    if ((await r.u32()) !== GGUF_MAGIC) throw new Error(`${path} is not a GGUF file (bad magic)`);
    const version = await r.u32();
    if (version < 2 || version > 3) throw new Error(`${path}: GGUF version ${version} is not supported (2 or 3)`);
    await r.u64(); // tensor count
    const nKv = await r.u64();
    if (nKv > MAX_KEYS) throw new Error(`${path}: ${nKv} metadata keys is implausible`);
    for (let i = 0; i < nKv; i++) {
      const key = await r.string();
      const type = await r.u32();
      if (key === 'general.architecture') {
        if (type !== STRING) throw new Error(`${path}: general.architecture is not a string`);
        return await r.string();
      }
      await r.skipValue(type);
    }
    throw new Error(`${path} has no general.architecture`);
  } finally {
    await fh.close();
  }
}
