// The batch output file: whole lines appended, the ids of an earlier run found again, and an
// incomplete last line (a crash mid-write) cut off.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputWriter, scanOutput } from '../../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'layerlens-batch-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('batch output', () => {
  it('an absent file has no ids and is not created', async () => {
    const file = join(dir, 'absent.jsonl');
    expect(await scanOutput(file)).toEqual({ ids: new Set(), cutBytes: 0 });
    expect(existsSync(file)).toBe(false);
  });

  it('appends whole lines across reopenings', async () => {
    const file = join(dir, 'out.jsonl');
    let w = await OutputWriter.open(file);
    await w.writeLine({ id: 'a', x: 'é\n' });
    await w.writeLine({ id: 'b' });
    await w.close();
    w = await OutputWriter.open(file);
    await w.writeLine({ id: 'c' });
    await w.close();
    expect(readFileSync(file, 'utf8')).toBe('{"id":"a","x":"é\\n"}\n{"id":"b"}\n{"id":"c"}\n');
    expect(await scanOutput(file)).toEqual({ ids: new Set(['a', 'b', 'c']), cutBytes: 0 });
  });

  it('cuts an incomplete last line (a crash mid-write) and keeps the whole ones', async () => {
    const file = join(dir, 'cut.jsonl');
    const whole = '{"id":"a"}\n{"id":"b","v":[1,2]}\n';
    const partial = '{"id":"c","v":[1,';
    writeFileSync(file, whole + partial);
    expect(await scanOutput(file)).toEqual({ ids: new Set(['a', 'b']), cutBytes: Buffer.byteLength(partial) });
    expect(readFileSync(file, 'utf8')).toBe(whole);
    // a whole JSON object without its newline is cut too: the writer always ends a line with one
    writeFileSync(file, whole + '{"id":"c"}');
    expect((await scanOutput(file)).ids).toEqual(new Set(['a', 'b']));
    expect(readFileSync(file, 'utf8')).toBe(whole);
  });

  it('refuses a file that is not a batch output, and leaves it alone', async () => {
    const file = join(dir, 'other.jsonl');
    const text = '{"id":"a"}\nsomething else\n{"id":"b"}\npartial';
    writeFileSync(file, text);
    await expect(scanOutput(file)).rejects.toThrow(/other\.jsonl:2 is not a line of a layerlens batch output/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});
