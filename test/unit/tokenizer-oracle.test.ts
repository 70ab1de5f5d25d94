// Our GPT-2 tokenizer against tiktoken's `gpt2` encoding (OpenAI's Rust BPE, whose pre-tokenizer `\s`
// is Unicode White_Space like the Python `regex` module GPT-2 was trained with), id for id, on an
// adversarial corpus: hand-written strings plus deterministic combinations of every Unicode
// White_Space character and its lookalikes with contractions, letters, digits and punctuation, plus
// seeded random mixes of many scripts. Lone surrogates are not in the corpus: tiktoken only sees
// well-formed UTF-8 (its JS binding turns them into U+FFFD first), so they get their own test below.
// Nor are letters first assigned in Unicode 16-17 (e.g. U+323B0, CJK extension J): Node's `\p{L}` and
// current Python `regex` know them, tiktoken 1.0.22's older tables do not, so they split differently.
import { afterAll, describe, expect, it } from 'vitest';
import { get_encoding } from 'tiktoken';
import { decode, encode } from '../../lib/tokens/tokenizer.js';
import { mulberry32 } from '../helpers/random.js';

const oracle = get_encoding('gpt2');
afterAll(() => oracle.free());

/** tiktoken's ids; `special` true: `<|endoftext|>` is the special token, false: it is ordinary text. */
function oracleIds(text: string, special: boolean): number[] {
  return Array.from(special ? oracle.encode(text, 'all') : oracle.encode(text, [], []));
}

// Every Unicode White_Space code point (Python `regex`'s and tiktoken's `\s`).
const WHITE_SPACE = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
  0x2029, 0x202f, 0x205f, 0x3000,
].map((c) => String.fromCodePoint(c));
// Not White_Space although they look or act like it: U+FEFF is `\s` in JavaScript, U+001C-001F are
// `\s` in Python's `re` and `str.isspace`, the rest are zero-width format characters.
const LOOKALIKES = [0x1c, 0x1d, 0x1e, 0x1f, 0x180e, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff].map((c) => String.fromCodePoint(c));

// Each `$` is replaced by the character under test: it sits before/after contractions (both cases),
// letters, digits, punctuation, runs of itself and of spaces, and at both ends of the text.
const CONTEXTS = [
  '$',
  '$$$',
  "x$'s",
  "x$'S",
  "$'ll",
  "it$'re fine",
  "don$'t",
  '$word',
  'word$',
  'word$ ',
  '$$word',
  ' $word',
  '$ word',
  '  $  word',
  'a$b',
  '$123',
  '12$34',
  '$!',
  '!$?',
  'a$.',
  '.$a',
  '$\n',
  '\n$\n',
  'x $ y',
  '$日本',
  'é$ü',
];

const SPACE_RUNS = [0, 1, 2, 3, 4, 5, 8].flatMap((n) => {
  const pad = ' '.repeat(n);
  return [`${pad}word`, `a${pad}word`, `a${pad}`, `${pad}'s`, `${pad}123`, `${pad}!`, `\n${pad}x`, `\t${pad}x`];
});

// Every upper/lower-case spelling of every GPT-2 contraction, plus lookalike apostrophes.
const CONTRACTIONS = ['s', 't', 're', 've', 'm', 'll', 'd'].flatMap((c) =>
  caseVariants(c).flatMap((v) => [`it'${v}`, `'${v}`, ` '${v}`, `x'${v}y`, `'${v}'${v}`, `it’${v}`, `it\`${v}`]),
);

const HAND_WRITTEN = [
  '',
  'Hello, world!',
  "I'm sure they'll say we've done what you'd've said isn't",
  "DON'T SHOUT, I'M HERE. WE'LL SEE",
  "rock 'n' roll, 'tis the '90s",
  // emoji: skin tones, ZWJ families and professions, flags (regional indicators, tag sequences), keycaps
  'emoji 😀👍🏽 👨‍👩‍👧‍👦 🇵🇱🇯🇵 🏳️‍🌈 🏴󠁧󠁢󠁳󠁣󠁴󠁿 1️⃣ #️⃣ ❤️ 🧑🏿‍💻 👩‍❤️‍💋‍👨',
  '😀😀😀😀😀😀😀😀',
  ' 🇺🇸 🇺🇸🇺🇸',
  // CJK, kana, Hangul (precomposed and conjoining jamo)
  '東京は日本の首都です。北京，上海',
  '漢字かなカタカナｶﾀｶﾅ',
  '한국어 텍스트 ᄒᆞᆫ글',
  '𠀀𠀁𪚥 𝕏𝔂𝓏',
  // combining marks (not letters: they split words)
  'cafe\u0301 nai\u0308ve Z\u0351\u0358a\u0344l\u036bg\u0300o\u0335',
  'e\u0301\u0301\u0301\u0301',
  // right-to-left scripts and Indic scripts with vowel signs and viramas
  'مرحبا بالعالم، كيف حالك؟',
  'שָׁלוֹם עוֹלָם',
  'हिन्दी भाषा में नमस्ते',
  'ภาษาไทยไม่มีช่องว่าง',
  'Ελληνικά και Русский язык',
  'ქართული ენა',
  // digits in many scripts, numerals that are not decimal digits
  '0123456789 ٠١٢٣٤٥٦٧٨٩ ۰۱۲۳ ०१२३४५ ০১২৩ ๐๑๒๓ １２３４ 𝟘𝟙𝟚',
  'Ⅻ ⅻ ½ ¾ ² ³ ① ⑩ 〇 二',
  '3.14159 1,000,000 1e-10 0x1F 12:30 2024-01-01',
  '12345678901234567890',
  // code
  'function f(x) { return x ** 2; }',
  'def f(x):\n    if x:\n        return [i for i in range(x)]\n    return None\n',
  'template <typename T> std::vector<T> v{1, 2, 3}; // C++\n',
  '{"key": "value", "n": [1, 2.5, null], "ok": true}',
  '<div class="a">&nbsp;&amp;</div>\n<!-- comment -->',
  "const re = /^(?:\\s+|'s)\\p{L}+$/u;",
  'if [ -z "$HOME" ]; then echo "no home" >&2; fi',
  '\tindented\n\t\tmore\r\n\r\nwindows',
  '    \n\n\n    ',
  // control characters and the replacement character itself
  '\u0000\u0001\u0007 control \u007f chars \u009f',
  '\ufffd \ufffd\ufffd',
  'back\\slash \\x41 "quotes" \'single\'',
  // private use, noncharacters, variation selectors, astral symbols
  '\ue000\uf8ff \ufdd0 \uffff 𝄞 \u{10ffff}',
  'A\ufe0f B\u{e0100}',
  // long runs
  'a'.repeat(300),
  ' '.repeat(50) + 'x',
  '!'.repeat(100),
  '\u0085'.repeat(10) + 'x' + '\ufeff'.repeat(10),
];

// `<|endoftext|>` in every position, next to itself, and near-misses that must stay ordinary text.
const END_OF_TEXT_CASES = [
  '<|endoftext|>',
  '<|endoftext|>hello',
  'hello<|endoftext|>',
  'a <|endoftext|> b',
  'a<|endoftext|><|endoftext|>b',
  '<|endoftext|> <|endoftext|>',
  " <|endoftext|>'s",
  '\u0085<|endoftext|>\ufeff',
  '<<|endoftext|>>',
  '<|endoftext|',
  '|endoftext|>',
  '<|ENDOFTEXT|>',
  '<| endoftext |>',
  '<|endoftext|>\n\n<|endoftext|>The end',
];

const FRAGMENTS = [
  ...WHITE_SPACE,
  ...LOOKALIKES,
  "'s",
  "'S",
  "'ll",
  "'LL",
  "'re",
  "'ve",
  "'m",
  "'d",
  "'t",
  "'",
  'a',
  'Z',
  'word',
  ' the',
  'é',
  'ß',
  'Ǆ',
  'ǅ',
  '\u0301',
  '\u093f',
  '\u094d',
  '0',
  '42',
  '٣',
  '५',
  '½',
  '²',
  'Ⅻ',
  '.',
  ',',
  '!',
  '?',
  '-',
  '_',
  '(',
  ')',
  '{',
  '"',
  '`',
  '\\',
  '/',
  '<|',
  '|>',
  '日',
  '本',
  'ア',
  '한',
  'ש',
  'م',
  'क',
  'ไ',
  'Ж',
  '😀',
  '👍🏽',
  '\u200d',
  '🇵',
  '🇱',
  '\ufe0f',
  '𝕏',
  '\ufffd',
  '\u0000',
];

function randomStrings(count: number, seed: number): string[] {
  const rand = mulberry32(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(rand() * 12);
    let s = '';
    for (let j = 0; j < length; j++) s += FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)];
    out.push(s);
  }
  return out;
}

// Single pieces of 128 bytes and more (one run of letters, digits, punctuation or white space), which
// take the tokenizer's long-piece merge path; skewed alphabets so that many different merges fire.
const LONG_ALPHABETS = ['etaoinshrdlu', 'abcdefghijklmnopqrstuvwxyzAEIOU', 'ąęółżźćńaeoyz', '日本語中文字漢', '0123456789', '=-_*#!.', ' \t\n'];

function longPieces(count: number, seed: number): string[] {
  const rand = mulberry32(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const alphabet = [...LONG_ALPHABETS[i % LONG_ALPHABETS.length]];
    const length = 128 + Math.floor(rand() * 1400);
    let s = i % 2 === 0 ? ' ' : '';
    for (let j = 0; j < length; j++) s += alphabet[Math.floor(rand() * rand() * alphabet.length)];
    out.push(s);
  }
  return out;
}

function caseVariants(s: string): string[] {
  if (s.length === 0) return [''];
  const rest = caseVariants(s.slice(1));
  return [s[0].toLowerCase(), s[0].toUpperCase()].flatMap((c) => rest.map((r) => c + r));
}

const WHITE_SPACE_CORPUS = [...WHITE_SPACE, ...LOOKALIKES].flatMap((ch) => CONTEXTS.map((context) => context.replaceAll('$', ch)));

const CORPUS: Record<string, string[]> = {
  'white space and lookalikes in context': WHITE_SPACE_CORPUS,
  'runs of spaces': SPACE_RUNS,
  contractions: CONTRACTIONS,
  'hand-written (scripts, emoji, digits, code, controls)': HAND_WRITTEN,
  '<|endoftext|>': END_OF_TEXT_CASES,
  'seeded random mixes': randomStrings(300, 0x6c6c),
  'long pieces': [...longPieces(42, 0x10e6), 'x'.repeat(5000), 'ab'.repeat(2000), ' ' + 'é'.repeat(700)],
};

/** Strings where `encode(s, options)` differs from tiktoken, shown with both id lists. */
function mismatches(strings: string[], special: boolean): string[] {
  const out: string[] = [];
  for (const s of strings) {
    const ours = encode(s, { allowSpecial: special });
    const theirs = oracleIds(s, special);
    if (ours.length !== theirs.length || ours.some((id, i) => id !== theirs[i])) {
      out.push(`${JSON.stringify(s)}: ours [${ours}] tiktoken [${theirs}]`);
    }
  }
  return out;
}

describe('encode agrees with tiktoken gpt2 id for id', () => {
  it('has the specific splits that JavaScript `\\s` gets wrong', () => {
    // ids from tiktoken / Hugging Face GPT2Tokenizer: U+0085 is whitespace, U+FEFF is not
    expect(encode("x\u0085's")).toEqual([87, 126, 227, 338]);
    expect(encode("x\ufeff's")).toEqual([87, 171, 119, 123, 6, 82]);
    expect(oracleIds("x\u0085's", true)).toEqual([87, 126, 227, 338]);
    expect(oracleIds("x\ufeff's", true)).toEqual([87, 171, 119, 123, 6, 82]);
  });

  it('has a corpus of several hundred strings', () => {
    const total = Object.values(CORPUS).reduce((n, strings) => n + strings.length, 0);
    expect(total).toBeGreaterThan(1000);
    expect(WHITE_SPACE_CORPUS.length).toBe((25 + 10) * CONTEXTS.length);
  });

  for (const [name, strings] of Object.entries(CORPUS)) {
    it(`${name} (${strings.length} strings), <|endoftext|> special`, () => {
      expect(mismatches(strings, true)).toEqual([]);
    });
    it(`${name}, <|endoftext|> as ordinary text`, () => {
      expect(mismatches(strings, false)).toEqual([]);
    });
    it(`${name}: decode(encode(s)) === s`, () => {
      const broken = strings.filter((s) => decode(encode(s)) !== s || decode(encode(s, { allowSpecial: false })) !== s);
      expect(broken.map((s) => JSON.stringify(s))).toEqual([]);
    });
  }

  it('treats <|endoftext|> as special by default and as text with allowSpecial: false', () => {
    expect(encode('a<|endoftext|>b')).toContain(50256);
    expect(encode('a<|endoftext|>b', { allowSpecial: false })).not.toContain(50256);
  });

  it('encodes a lone surrogate as U+FFFD, as tiktoken does (decode cannot give it back)', () => {
    for (const s of ['a\ud800b', '\udfff', "x\ud83d's", ' \udc00 \ud800']) {
      const wellFormed = s.replace(/[\ud800-\udfff]/g, '\ufffd'); // no other surrogates in these strings
      expect(encode(s)).toEqual(oracleIds(wellFormed, true));
      expect(decode(encode(s))).toBe(wellFormed);
    }
  });
});
