// The batch input reader: JSONL and .txt lines with their line numbers, bad lines reported (never
// thrown), ids unique, and --shard splitting by a stable hash of the id.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { idHash, inShard, parseShard, readBatchInput, type BadLine, type BatchItem } from '../../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'layerlens-batch-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(path: string, shard?: { index: number; count: number }): Promise<(BatchItem | BadLine)[]> {
  const out: (BatchItem | BadLine)[] = [];
  for await (const x of readBatchInput(path, shard ? { shard } : {})) out.push(x);
  return out;
}

describe('readBatchInput', () => {
  it('reads JSONL items with ids (default: the line number) and targets; reports bad lines by number', async () => {
    const file = join(dir, 'in.jsonl');
    writeFileSync(
      file,
      '\uFEFF{"id": "a", "prompt": "Hello", "target": " world"}\r\n' +
        '{"prompt": "no id"}\n' +
        '\n' +
        'not json\n' +
        '{"id": "b"}\n' +
        '{"id": "a", "prompt": "again"}\n' +
        '[1, 2]\n' +
        '{"prompt": "", "id": "c"}\n' +
        '{"prompt": "x", "id": 7}\n' +
        '{"prompt": "id target", "target": 318}\n' +
        '{"prompt": "bad target", "target": [1]}\n' +
        '{"prompt": "last, no newline"}',
    );
    const got = await readAll(file);
    expect(got).toEqual([
      { kind: 'item', line: 1, id: 'a', prompt: 'Hello', target: ' world' },
      { kind: 'item', line: 2, id: '2', prompt: 'no id' },
      { kind: 'bad', line: 4, message: expect.stringMatching(/^not JSON/) },
      { kind: 'bad', line: 5, message: '"prompt" must be a string (it is missing)' },
      { kind: 'bad', line: 6, message: 'id "a" was already used by an earlier line' },
      { kind: 'bad', line: 7, message: expect.stringContaining('not a JSON object') },
      { kind: 'bad', line: 8, message: '"prompt" is empty' },
      { kind: 'bad', line: 9, message: '"id" must be a non-empty string' },
      { kind: 'item', line: 10, id: '10', prompt: 'id target', target: 318 },
      { kind: 'bad', line: 11, message: expect.stringContaining('"target" must be') },
      { kind: 'item', line: 12, id: '12', prompt: 'last, no newline' },
    ]);
  });

  it('reads a .txt file as one prompt per line, id = line number, blank lines skipped', async () => {
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'first prompt\n\n  second, with spaces  \n{"prompt": "literal"}\n');
    expect(await readAll(file)).toEqual([
      { kind: 'item', line: 1, id: '1', prompt: 'first prompt' },
      { kind: 'item', line: 3, id: '3', prompt: '  second, with spaces  ' },
      { kind: 'item', line: 4, id: '4', prompt: '{"prompt": "literal"}' },
    ]);
  });
});

describe('shards', () => {
  it('parses i/N and rejects the rest', () => {
    expect(parseShard('0/2')).toEqual({ index: 0, count: 2 });
    expect(parseShard(' 3 / 4 ')).toEqual({ index: 3, count: 4 });
    for (const bad of ['2/2', '1', '-1/2', '0/0', 'a/b', '1/2/3']) expect(() => parseShard(bad), bad).toThrow(/--shard must be i\/N/);
  });

  it('hashes ids with 32-bit FNV-1a (published test vectors)', () => {
    expect(idHash('')).toBe(0x811c9dc5);
    expect(idHash('a')).toBe(0xe40c292c);
    expect(idHash('foobar')).toBe(0xbf9cf968);
  });

  it('N shards cover the input exactly once, and an item keeps its shard when lines move', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `item-${i}`);
    const lines = ids.map((id) => JSON.stringify({ id, prompt: `p ${id}` }));
    const file = join(dir, 'shard.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const reversed = join(dir, 'shard-rev.jsonl');
    writeFileSync(reversed, [...lines].reverse().join('\n') + '\n');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const part = (await readAll(file, { index: i, count: 3 })).map((x) => (x as BatchItem).id);
      expect(part.length).toBeGreaterThan(60); // roughly a third each
      const again = (await readAll(reversed, { index: i, count: 3 })).map((x) => (x as BatchItem).id);
      expect(new Set(again)).toEqual(new Set(part));
      for (const id of part) expect(inShard(id, { index: i, count: 3 })).toBe(true);
      seen.push(...part);
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });
});
