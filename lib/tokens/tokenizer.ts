// GPT-2's byte-level BPE tokenizer (r50k_base): our pre-tokenizer (pretokenize.ts) and byte-pair
// merge (bpe.ts) over gpt-tokenizer's ranks.
//
// Decisions (also in docs/architecture.md):
//
// * Pre-tokenization is ours, not gpt-tokenizer's: GPT-2's pattern with Python's (Unicode) notion of
//   white space, which JavaScript's `\s` does not have (see pretokenize.ts). Ids match tiktoken's `gpt2`
//   and Hugging Face's GPT2Tokenizer, checked on an adversarial corpus by test/unit/tokenizer-oracle.
//
// * No BOS token is prepended (Hugging Face and the notebook do not; TransformerLens does by default).
//
// * Special tokens. GPT-2 has exactly one: `<|endoftext|>` = 50256. By default `encode` turns every
//   occurrence of that literal string in the text into token 50256, which is what Hugging Face's GPT-2
//   tokenizer (the notebook's) does. Pass `{ allowSpecial: false }` to encode it as ordinary text
//   (`<`, `|`, `end`, `of`, `text`, `|`, `>`). The text between special tokens is pre-tokenized
//   independently, as in HF and tiktoken. (gpt-tokenizer 3.4's own `allowedSpecial` only recognises a
//   special token at the very start of the text, a sticky-regex bug; we do not use its encoder.)
//
// * Token text. `tokenText(id)` is the exact text of ONE token. GPT-2 tokens are byte strings and some
//   are not valid UTF-8 on their own (a multi-byte character split across tokens). Every byte that is
//   not part of a complete, well-formed UTF-8 sequence inside that token is written as `\xNN`
//   (two upper-case hex digits); a literal backslash is written as `\\`, so the mapping from ids to
//   strings is injective and a reader can always recover the bytes: undo `\\` -> `\` and
//   `\xNN` -> byte NN, everything else is UTF-8. No other character is escaped (newlines, tabs and
//   spaces stay raw; formatters quote them). A handful of tokens contain the character U+FFFD itself
//   (the bytes EF BF BD occurred in the training text, e.g. id 4210): that is their exact text and is
//   kept; U+FFFD never stands for an undecodable byte.
//
// * `decode(ids)` decodes a whole sequence as text: bytes of adjacent tokens are joined first, then
//   decoded as UTF-8 (invalid sequences become U+FFFD, as in every GPT-2 decoder). Use `tokenText`
//   for lossless per-token display.

import bpeRanks from 'gpt-tokenizer/bpeRanks/r50k_base';
import { encodePiece } from './bpe.js';
import { GPT2_PIECE } from './pretokenize.js';

/** Number of token ids of GPT-2 (50,000 merges + 256 bytes + `<|endoftext|>`). */
export const vocabSize = 50257;

/** `<|endoftext|>`, GPT-2's only special token. */
export const END_OF_TEXT = '<|endoftext|>';
export const END_OF_TEXT_ID = 50256;

export interface EncodeOptions {
  /** Encode the literal text `<|endoftext|>` as the special token 50256 (default true, like Hugging Face). */
  allowSpecial?: boolean;
}

/** Appends the ids of ordinary text (no special tokens) to `out`. */
function encodeOrdinary(text: string, out: number[]): void {
  for (const m of text.matchAll(GPT2_PIECE)) for (const id of encodePiece(m[0])) out.push(id);
}

/** Token ids of `text` (no BOS). */
export function encode(text: string, options: EncodeOptions = {}): number[] {
  if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${typeof text}`);
  const allowSpecial = options.allowSpecial ?? true;
  const out: number[] = [];
  if (!allowSpecial || !text.includes(END_OF_TEXT)) {
    encodeOrdinary(text, out);
    return out;
  }
  text.split(END_OF_TEXT).forEach((part, i) => {
    if (i > 0) out.push(END_OF_TEXT_ID);
    encodeOrdinary(part, out);
  });
  return out;
}

/** Throws a RangeError unless `id` is an integer token id of GPT-2. */
export function checkTokenId(id: unknown, what = 'token id'): asserts id is number {
  if (typeof id !== 'number' || !Number.isInteger(id)) {
    throw new RangeError(`${what} must be an integer, got ${describe(id)}`);
  }
  if (id < 0 || id >= vocabSize) {
    throw new RangeError(`${what} ${id} is out of range: GPT-2 token ids are 0..${vocabSize - 1}`);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v;
}

const textEncoder = new TextEncoder();
// Non-fatal (invalid UTF-8 becomes U+FFFD, like every GPT-2 decoder) and ignoreBOM: by default a
// TextDecoder drops a leading U+FEFF, but here it is text the user encoded (or a token's own bytes).
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Raw bytes of one token (`<|endoftext|>` gives the bytes of its literal text). Do not mutate. */
export function tokenBytes(id: number): Uint8Array {
  checkTokenId(id);
  let b = bytesCache[id];
  if (b === undefined) {
    const v = (bpeRanks as ReadonlyArray<string | readonly number[] | undefined>)[id];
    if (id === END_OF_TEXT_ID) b = textEncoder.encode(END_OF_TEXT);
    else if (typeof v === 'string') b = textEncoder.encode(v);
    else if (v !== undefined) b = Uint8Array.from(v);
    else throw new Error(`tokenizer data has no entry for token ${id}`);
    bytesCache[id] = b;
  }
  return b;
}

const bytesCache: (Uint8Array | undefined)[] = new Array(vocabSize);
const textCache: (string | undefined)[] = new Array(vocabSize);

/** Text of a whole token sequence (lossy for broken UTF-8, see the module comment). */
export function decode(ids: Iterable<number>): string {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let i = 0;
  for (const id of ids) {
    checkTokenId(id, `token id at index ${i}`);
    const b = tokenBytes(id);
    chunks.push(b);
    total += b.length;
    i++;
  }
  const all = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  return utf8Decoder.decode(all);
}

/**
 * Exact text of one token: complete UTF-8 sequences as characters, every other byte as `\xNN`,
 * a backslash as `\\`. Injective over 0..50256. Memoized.
 */
export function tokenText(id: number): string {
  checkTokenId(id);
  let t = textCache[id];
  if (t === undefined) {
    t = escapeBytes(tokenBytes(id));
    textCache[id] = t;
  }
  return t;
}

/** Length of the well-formed UTF-8 sequence starting at b[i] (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), or 0. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const c0 = b[i];
  if (c0 < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean => j < b.length && b[j] >= lo && b[j] <= hi;
  if (c0 >= 0xc2 && c0 <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c0 === 0xe0) return cont(i + 1, 0xa0) && cont(i + 2) ? 3 : 0;
  if ((c0 >= 0xe1 && c0 <= 0xec) || c0 === 0xee || c0 === 0xef) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c0 === 0xed) return cont(i + 1, 0x80, 0x9f) && cont(i + 2) ? 3 : 0;
  if (c0 === 0xf0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c0 >= 0xf1 && c0 <= 0xf3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c0 === 0xf4) return cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

/** Bytes -> text with `\xNN` for bytes outside well-formed UTF-8 sequences and `\\` for backslash. */
export function escapeBytes(b: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = utf8SequenceLength(b, i);
    if (n === 0) {
      out += '\\x' + b[i].toString(16).toUpperCase().padStart(2, '0');
      i += 1;
    } else if (n === 1) {
      out += b[i] === 0x5c ? '\\\\' : String.fromCharCode(b[i]);
      i += 1;
    } else {
      out += utf8Decoder.decode(b.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** Inverse of `escapeBytes` / `tokenText`: the bytes a token text stands for. */
export function unescapeTokenText(text: string): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '\\') {
      if (text[i + 1] === '\\') {
        out.push(0x5c);
        i += 2;
        continue;
      }
      const m = /^x([0-9A-F]{2})/.exec(text.slice(i + 1, i + 4));
      if (m) {
        out.push(parseInt(m[1], 16));
        i += 4;
        continue;
      }
      throw new SyntaxError(`invalid escape at index ${i} in token text ${JSON.stringify(text)}`);
    }
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const byte of textEncoder.encode(ch)) out.push(byte);
    i += ch.length;
  }
  return Uint8Array.from(out);
}
