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

const NON_ASCII = /[^\x00-\x7f]/;

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
  // Part i is b.slice(starts[i], starts[i + 1]); ranks[i] is the rank of parts i and i+1 joined.
  const starts: number[] = [];
  for (let i = 0; i <= b.length; i++) starts.push(i);
  const pairRank = (i: number): number =>
    i + 2 < starts.length ? (rankOf.get(b.slice(starts[i], starts[i + 2])) ?? Infinity) : Infinity;
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
  const ids: number[] = [];
  for (let i = 0; i + 1 < starts.length; i++) {
    const id = rankOf.get(b.slice(starts[i], starts[i + 1]));
    if (id === undefined) throw new Error(`tokenizer data has no token for bytes ${JSON.stringify(b)}`);
    ids.push(id);
  }
  return ids;
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
