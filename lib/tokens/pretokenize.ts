// GPT-2's pre-tokenizer: the regular expression that cuts text into the pieces BPE encodes independently.
//
// GPT-2 was trained with Python's `regex` module, whose `\s` on str patterns is exactly the Unicode
// White_Space property: U+0009-000D, U+0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029,
// U+202F, U+205F, U+3000 (25 code points; tiktoken's Rust regex agrees). JavaScript's `\s` differs in
// two: it lacks U+0085 (NEXT LINE) and adds U+FEFF (BOM / ZERO WIDTH NO-BREAK SPACE), so a JS port of
// the pattern (gpt-tokenizer's) splits text containing either differently from OpenAI's encoder,
// Hugging Face and tiktoken. Not white space here although they are elsewhere or look like it:
// U+001C-001F (`\s` in Python's `re` and `str.isspace`), U+180E, U+200B-200D, U+2060, U+FEFF.
const WHITE_SPACE = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` with `\s` spelled out
 * as WHITE_SPACE and `\S` as its complement. The `u` flag makes it match code points (as Python does
 * on str) and gives `\p{L}` / `\p{N}` their Unicode general-category meaning (Node's tables agree with
 * Python `regex`'s on every code point). Contractions are case-sensitive, as in GPT-2 (`'S` is `'`
 * then `S`). Global: use with `matchAll`, which works on a copy, so sharing it is safe.
 */
export const GPT2_PIECE = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WHITE_SPACE}\\p{L}\\p{N}]+` + `|[${WHITE_SPACE}]+(?![^${WHITE_SPACE}])|[${WHITE_SPACE}]+`,
  'gu',
);

/** The pieces GPT-2 byte-pair-encodes independently (`<|endoftext|>` is not special here). */
export function preTokenize(text: string): string[] {
  return Array.from(text.matchAll(GPT2_PIECE), (m) => m[0]);
}
