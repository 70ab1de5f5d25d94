// The vocabulary written into GGUF files: the rebuilt merges must reproduce GPT-2's tokenization
// when used the way llama.cpp / Hugging Face use merges (pair ranks, not token ranks).
import { describe, expect, it } from 'vitest';
import { encode } from '../../lib/tokens/tokenizer.js';
import { byteToUnicode, gpt2GgufVocab } from '../../lib/tokens/gguf-vocab.js';

// GPT-2's pre-tokenizer pattern.
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

function bpeWithMerges(text: string, merges: string[], tokens: string[]): number[] {
  const rank = new Map(merges.map((m, i) => [m, i]));
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const b2u = byteToUnicode();
  const out: number[] = [];
  for (const word of text.match(PRETOKENIZE) ?? []) {
    let parts = Array.from(Buffer.from(word, 'utf8'), (b) => b2u[b]);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
    }
    for (const p of parts) out.push(idOf.get(p)!);
  }
  return out;
}

describe('GGUF vocabulary (tokens + rebuilt merges)', () => {
  const vocab = gpt2GgufVocab();
  it('has every token, 50000 merges and <|endoftext|> as a control token', () => {
    expect(vocab.tokens.length).toBe(50257);
    expect(vocab.merges.length).toBe(50000);
    expect(vocab.tokens[50256]).toBe('<|endoftext|>');
    expect(vocab.types[50256]).toBe(3);
    expect(vocab.tokens[32955]).toBe('ĠWarsaw');
    expect(vocab.merges.slice(0, 3)).toEqual(['Ġ t', 'Ġ a', 'h e']);
  });
  it('merge-rank BPE with these merges reproduces the tokenizer on varied text', () => {
    const texts = [
      'Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Poland?\nA:',
      "It's a test — with ünïcödé, emoji 🤖🚀, CJK 漢字かな, numbers 1234567 and   spaces\t\ttabs.",
      'function f(x) { return x ** 2; } // code-ish text <div class="a">&amp;</div>',
    ];
    for (const t of texts) expect(bpeWithMerges(t, vocab.merges, vocab.tokens), t).toEqual(encode(t, { allowSpecial: false }));
  });
});
