// GPT-2's byte-pair merge over one pre-tokenized piece, with gpt-tokenizer's r50k_base ranks
// (a token's rank is its id; lower ranks merge first), as in OpenAI's encoder and tiktoken.
//
// Bytes are held as "byte strings", one char U+0000-00FF per byte: a rank lookup is then a Map get
// on a string slice, with no UTF-8 decoding of every candidate pair (what made gpt-tokenizer's own
// merge several times slower on text it had not cached).

import bpeRanks from 'gpt-tokenizer/bpeRanks/r50k_base';

const textEncoder = new TextEncoder();

function byteString(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

const NON_ASCII = /\P{ASCII}/u;

/** Byte string of the UTF-8 of `text`; ASCII text (most of it) is its own byte string. */
function utf8ByteString(text: string): string {
  return NON_ASCII.test(text) ? byteString(textEncoder.encode(text)) : text;
}

/** Rank (= token id) of every mergeable token, by its byte string. `<|endoftext|>` is not mergeable. */
const rankOf = new Map<string, number>();
(bpeRanks as ReadonlyArray<string | readonly number[] | undefined>).forEach((v, rank) => {
  if (v !== undefined) rankOf.set(typeof v === 'string' ? utf8ByteString(v) : byteString(v), rank);
});

/** Token ids of one piece given as a byte string: merge the lowest-ranked adjacent pair, leftmost first. */
function mergeBytes(b: string): number[] {
  const whole = rankOf.get(b);
  if (whole !== undefined) return [whole];
  return b.length < LONG_PIECE ? mergeShort(b) : mergeLong(b);
}

// From this many bytes on, a heap replaces the quadratic scan, whose cost grows with the square of the
// length (a long run of one letter, minified code); typical pieces are far shorter. Not tuned.
const LONG_PIECE = 128;

function idsOfParts(b: string, starts: ArrayLike<number>, count: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const end = i + 1 < count ? starts[i + 1] : b.length;
    const id = rankOf.get(b.slice(starts[i], end));
    if (id === undefined) throw new Error(`tokenizer data has no token for bytes ${JSON.stringify(b)}`);
    ids.push(id);
  }
  return ids;
}

/** The textbook merge: rescan all pairs for the lowest rank after every merge (fast for short pieces). */
function mergeShort(b: string): number[] {
  // Part i is b.slice(starts[i], starts[i + 1]); ranks[i] is the rank of parts i and i+1 joined.
  const starts: number[] = [];
  for (let i = 0; i <= b.length; i++) starts.push(i);
  const pairRank = (i: number): number => (i + 2 < starts.length ? (rankOf.get(b.slice(starts[i], starts[i + 2])) ?? Infinity) : Infinity);
  const ranks: number[] = [];
  for (let i = 0; i < b.length; i++) ranks.push(pairRank(i));
  for (;;) {
    let lowest = Infinity;
    let at = -1;
    for (let i = 0; i < ranks.length; i++) {
      if (ranks[i] < lowest) {
        lowest = ranks[i];
        at = i;
      }
    }
    if (at < 0) break;
    starts.splice(at + 1, 1);
    ranks.splice(at + 1, 1);
    ranks[at] = pairRank(at);
    if (at > 0) ranks[at - 1] = pairRank(at - 1);
  }
  return idsOfParts(b, starts, starts.length - 1);
}

/**
 * The same merges in O(n log n): parts are a linked list named by their first byte offset, candidate
 * pairs sit in a min-heap keyed rank * 2^32 + offset, so ties go to the leftmost pair as in the scan.
 * Entries made stale by a merge are skipped when popped (pairRank[i] no longer equals their rank: a
 * rank names one byte string, so the pair starting at i changes rank whenever it changes).
 */
function mergeLong(b: string): number[] {
  const n = b.length;
  const next = new Int32Array(n + 1); // offset of the part after part i (n: none)
  const prev = new Int32Array(n + 1); // offset of the part before part i (-1: none)
  const pairRank = new Float64Array(n).fill(Infinity); // rank of part i joined with its successor
  for (let i = 0; i <= n; i++) {
    next[i] = Math.min(i + 1, n);
    prev[i] = i - 1;
  }
  const heap: number[] = [];
  const rankPairAt = (i: number): void => {
    const j = next[i];
    const rank = j < n ? rankOf.get(b.slice(i, next[j])) : undefined;
    pairRank[i] = rank ?? Infinity;
    if (rank !== undefined) heapPush(heap, rank * 2 ** 32 + i);
  };
  for (let i = 0; i + 1 < n; i++) rankPairAt(i);
  while (heap.length > 0) {
    const key = heapPop(heap);
    const i = key % 2 ** 32;
    if (pairRank[i] !== (key - i) / 2 ** 32) continue;
    const j = next[i]; // absorbed into part i
    next[i] = next[j];
    if (next[j] < n) prev[next[j]] = i;
    pairRank[j] = Infinity;
    rankPairAt(i);
    if (prev[i] >= 0) rankPairAt(prev[i]);
  }
  const starts: number[] = [];
  for (let i = 0; i < n; i = next[i]) starts.push(i);
  return idsOfParts(b, starts, starts.length);
}

function heapPush(heap: number[], key: number): void {
  let i = heap.length;
  heap.push(key);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= key) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = key;
}

function heapPop(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1] < heap[child]) child++;
      if (heap[child] >= last) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
  return top;
}

// Text repeats its words, so pieces are memoized; the cache is emptied when full to bound memory.
const MAX_CACHED_PIECES = 100_000;
const idsOfPiece = new Map<string, readonly number[]>();

/** Token ids of one pre-tokenized piece (a lone surrogate is encoded as U+FFFD, like TextEncoder does). */
export function encodePiece(piece: string): readonly number[] {
  let ids = idsOfPiece.get(piece);
  if (ids === undefined) {
    ids = mergeBytes(utf8ByteString(piece));
    if (idsOfPiece.size >= MAX_CACHED_PIECES) idsOfPiece.clear();
    idsOfPiece.set(piece, ids);
  }
  return ids;
}
