import { describe, expect, it } from 'vitest';
import { decode, encode, END_OF_TEXT_ID, escapeBytes, tokenBytes, tokenText, unescapeTokenText, vocabSize } from '../../lib/tokens/tokenizer.js';
import { preTokenize } from '../../lib/tokens/pretokenize.js';

const NOTEBOOK_PROMPT = 'Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Poland?\nA:';
const NOTEBOOK_IDS = [48, 25, 1867, 318, 262, 3139, 286, 4881, 30, 198, 32, 25, 6342, 198, 48, 25, 1867, 318, 262, 3139, 286, 12873, 30, 198, 32, 25];

describe('encode', () => {
  it('encodes the notebook prompt to the 26 known ids (no BOS)', () => {
    expect(encode(NOTEBOOK_PROMPT)).toEqual(NOTEBOOK_IDS);
  });

  it('knows the design facts about single tokens', () => {
    expect(tokenText(32955)).toBe(' Warsaw');
    expect(tokenText(26712)).toBe(' unden');
    expect(encode(' Warsaw')).toEqual([32955]);
    expect(vocabSize).toBe(50257);
  });

  it('turns <|endoftext|> into 50256 by default, as Hugging Face does', () => {
    expect(encode('<|endoftext|>')).toEqual([END_OF_TEXT_ID]);
    expect(encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
    expect(encode('Hi<|endoftext|><|endoftext|> there')).toEqual([...encode('Hi'), 50256, 50256, ...encode(' there')]);
    expect(decode(encode('x <|endoftext|> y'))).toBe('x <|endoftext|> y');
  });

  it('encodes <|endoftext|> as plain text with allowSpecial: false', () => {
    const ids = encode('a<|endoftext|>b', { allowSpecial: false });
    expect(ids).not.toContain(50256);
    expect(ids).toEqual([64, 27, 91, 437, 1659, 5239, 91, 29, 65]);
    expect(decode(ids)).toBe('a<|endoftext|>b');
  });

  it('rejects non-strings', () => {
    expect(() => encode(42 as unknown as string)).toThrow(/string/);
  });

  it('splits on Unicode White_Space like GPT-2 (U+0085 is white space, U+FEFF is not)', () => {
    // ids from tiktoken / Hugging Face GPT2Tokenizer, where JavaScript's `\s` would give the other split
    expect(encode("x\u0085's")).toEqual([87, 126, 227, 338]);
    expect(encode("x\ufeff's")).toEqual([87, 171, 119, 123, 6, 82]);
  });
});

describe('preTokenize', () => {
  it("gives the pieces of GPT-2's pattern under Python `regex` (findall output)", () => {
    expect(preTokenize("x\u0085's")).toEqual(['x', '\x85', "'s"]);
    expect(preTokenize("x\ufeff's")).toEqual(['x', "\ufeff'", 's']);
    expect(preTokenize('a\u0085\u0085b')).toEqual(['a', '\x85', '\x85', 'b']);
    expect(preTokenize('  \u3000hi\ufeff\ufeff')).toEqual(['  ', '\u3000', 'hi', '\ufeff\ufeff']);
    expect(preTokenize("It'S 12\u00a0\u00a0\u00a0x")).toEqual(['It', "'", 'S', ' 12', '\xa0\xa0', '\xa0', 'x']);
    expect(preTokenize('end\u0085')).toEqual(['end', '\x85']);
    expect(preTokenize('')).toEqual([]);
  });
});

describe('decode round-trips', () => {
  const samples = [
    '',
    'Hello, world!',
    '  leading and trailing spaces  ',
    'tabs\tand\nnewlines\r\n',
    'Zażółć gęślą jaźń — Kraków, Warszawa',
    'Ünïcödé ñ ß ø å',
    '東京は日本の首都です。北京，上海',
    '한국어 텍스트',
    'emoji 😀👍🏽 👨‍👩‍👧‍👦 🇵🇱',
    'math ∑∫√∞ ≠ ≤',
    'back\\slash \\x41 "quotes" \'single\'',
    'code: function f(x) { return x ** 2; }',
    '\u0000\u0001 control \u007f chars',
    '�',
    '\ufeffhello', // a leading BOM is text, not a byte-order mark to drop
    '\ufeff\ufeff',
    'a\ufeffb \u0085 \u2028',
  ];
  for (const s of samples) {
    it(`round-trips ${JSON.stringify(s).slice(0, 40)}`, () => {
      expect(decode(encode(s))).toBe(s);
      // per-token texts, unescaped to bytes and joined, give back the UTF-8 of the text
      const bytes = encode(s).flatMap((id) => [...unescapeTokenText(tokenText(id))]);
      expect(Buffer.from(bytes).toString('utf8')).toBe(s);
    });
  }

  it('validates ids', () => {
    expect(() => decode([1, 2, 50257])).toThrow(/token id at index 2.*0\.\.50256/);
    expect(() => decode([-1])).toThrow(/out of range/);
    expect(() => decode([1.5])).toThrow(/integer/);
    expect(() => decode([NaN])).toThrow(/integer/);
  });
});

describe('tokenText', () => {
  it('validates ids', () => {
    expect(() => tokenText(50257)).toThrow(/out of range: GPT-2 token ids are 0\.\.50256/);
    expect(() => tokenText(-1)).toThrow(RangeError);
    expect(() => tokenText(3.5)).toThrow(/integer/);
    expect(() => tokenText('5' as unknown as number)).toThrow(/integer, got "5"/);
  });

  it('gives the special token its literal text', () => {
    expect(tokenText(50256)).toBe('<|endoftext|>');
  });

  it('escapes bytes that are not UTF-8 on their own, and backslashes', () => {
    expect(escapeBytes(Uint8Array.of(0x80))).toBe('\\x80');
    expect(escapeBytes(Uint8Array.of(0x20, 0xe6, 0x9d))).toBe(' \\xE6\\x9D');
    expect(escapeBytes(Uint8Array.of(0xc3, 0xa9))).toBe('é');
    expect(escapeBytes(Uint8Array.of(0x5c))).toBe('\\\\');
    expect(escapeBytes(Uint8Array.of(0xed, 0xa0, 0x80))).toBe('\\xED\\xA0\\x80'); // surrogate: not well-formed
    expect(escapeBytes(Uint8Array.of(0xc0, 0xaf))).toBe('\\xC0\\xAF'); // overlong
    expect(tokenText(encode('\\')[0])).toBe('\\\\');
    const partial = [...Array(vocabSize).keys()].filter((id) => tokenText(id).includes('\\x'));
    expect(partial.length).toBeGreaterThan(300);
  });

  it('covers the whole vocabulary: no U+FFFD standing for bad bytes, and injective', () => {
    const seen = new Map<string, number>();
    const fffd = Buffer.from('\ufffd', 'utf8');
    const problems: string[] = [];
    let withFffd = 0;
    for (let id = 0; id < vocabSize; id++) {
      const t = tokenText(id);
      const bytes = Buffer.from(tokenBytes(id));
      if (t.length === 0) problems.push(`token ${id}: empty text`);
      if (t.includes('\ufffd')) {
        withFffd++;
        // only tokens whose bytes really contain EF BF BD (the character itself) may show it
        if (!bytes.includes(fffd)) problems.push(`token ${id}: U+FFFD without EF BF BD in its bytes`);
      }
      const prev = seen.get(t);
      if (prev !== undefined) problems.push(`tokens ${prev} and ${id} both have text ${JSON.stringify(t)}`);
      seen.set(t, id);
      if (!Buffer.from(unescapeTokenText(t)).equals(bytes)) problems.push(`token ${id}: text does not unescape to its bytes`);
    }
    expect(problems).toEqual([]);
    expect(withFffd).toBe(8); // 4210 "�", 6353 "��", ... : the character itself occurred in the training text
    expect(seen.size).toBe(vocabSize);
  });

  it('memoizes', () => {
    expect(tokenText(12873)).toBe(tokenText(12873));
    expect(tokenText(12873)).toBe(' Poland');
  });
});
