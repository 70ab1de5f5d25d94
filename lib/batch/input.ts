// The input of a data-set run, read as a stream (any size, bounded memory), one item per line:
//   .jsonl: {"id"?: string, "prompt": string, "target"?: string | number}; id defaults to the line number;
//   .txt:   one prompt per line, id = the line number (1-based, as text). Blank lines are skipped.
// A line that cannot be used (bad JSON, no prompt, a repeated id) becomes a BadLine with its line
// number, never an exception: one bad line must not end a run over a million good ones.
//
// Sharding (`--shard i/N`) is by a stable hash of the id, not by line index: an item stays in its shard
// when lines are inserted or reordered, and resuming (which works by id) sees the same split.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type InputFormat = 'jsonl' | 'txt';

export interface BatchItem {
  kind: 'item';
  /** 1-based line number in the input. */
  line: number;
  id: string;
  prompt: string;
  /** The token to track for this prompt (overrides the run's --target). */
  target?: string | number;
}

export interface BadLine {
  kind: 'bad';
  line: number;
  message: string;
}

export interface Shard {
  /** 0-based shard index, < count. */
  index: number;
  count: number;
}

export interface ReadInputOptions {
  /** Default: from the extension (.txt → txt, anything else → jsonl). */
  format?: InputFormat;
  /** Only the items of this shard (bad lines are reported in every shard). */
  shard?: Shard;
}

/** `i/N` with 0 ≤ i < N. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(count) || count < 1 || index >= count)
    throw new TypeError(`--shard must be i/N with 0 <= i < N (e.g. 0/4), got ${JSON.stringify(text)}`);
  return { index, count };
}

/** 32-bit FNV-1a of the id's UTF-8 bytes: stable across machines, Node versions and runs. */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(id, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Whether the item with this id belongs to the shard. */
export function inShard(id: string, shard: Shard | undefined): boolean {
  return shard === undefined || idHash(id) % shard.count === shard.index;
}

export function inputFormat(path: string): InputFormat {
  return path.toLowerCase().endsWith('.txt') ? 'txt' : 'jsonl';
}

function parseJsonLine(text: string, line: number): BatchItem | BadLine {
  const bad = (message: string): BadLine => ({ kind: 'bad', line, message });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return bad(`not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('not a JSON object ({"prompt": "…"} expected)');
  const o = v as Record<string, unknown>;
  if (typeof o.prompt !== 'string') return bad(`"prompt" must be a string${o.prompt === undefined ? ' (it is missing)' : ''}`);
  if (o.prompt === '') return bad('"prompt" is empty');
  if (o.id !== undefined && (typeof o.id !== 'string' || o.id === '')) return bad('"id" must be a non-empty string');
  if (o.target !== undefined && typeof o.target !== 'string' && !(typeof o.target === 'number' && Number.isInteger(o.target)))
    return bad('"target" must be a string (the text of one token) or a token id');
  return {
    kind: 'item',
    line,
    id: (o.id as string | undefined) ?? String(line),
    prompt: o.prompt,
    ...(o.target === undefined ? {} : { target: o.target as string | number }),
  };
}

/**
 * The input's items (in this shard) and bad lines, in file order. Ids must be unique: a repeated id is a
 * bad line (the first one counts), since resuming and sharding go by id. Memory: the set of ids seen.
 */
export async function* readBatchInput(path: string, options: ReadInputOptions = {}): AsyncGenerator<BatchItem | BadLine> {
  const format = options.format ?? inputFormat(path);
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  const seen = new Set<string>();
  let line = 0;
  for await (const raw of lines) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    const parsed: BatchItem | BadLine = format === 'txt' ? { kind: 'item', line, id: String(line), prompt: text } : parseJsonLine(text, line);
    if (parsed.kind === 'bad') {
      yield parsed;
      continue;
    }
    if (seen.has(parsed.id)) {
      yield { kind: 'bad', line, message: `id ${JSON.stringify(parsed.id)} was already used by an earlier line` };
      continue;
    }
    seen.add(parsed.id);
    if (inShard(parsed.id, options.shard)) yield parsed;
  }
}
