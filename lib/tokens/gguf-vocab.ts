// GPT-2's vocabulary in the form GGUF (llama.cpp, tokenizer.ggml.model = "gpt2") stores it: every
// token as its byte-level BPE string (bytes mapped to printable code points, as in GPT-2's
// encoder.json) and the 50000 merges ("Ġ t") in rank order. gpt-tokenizer ships only token bytes and
// ranks, so the merges are rebuilt: token 256 + i is merge i, and running byte-pair merging over its
// bytes with the ranks below it ends in exactly the two pieces that merge i joins.
import { tokenBytes, vocabSize } from './tokenizer.js';

export const END_OF_TEXT = '<|endoftext|>';

/** GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest map to 256+. */
export function byteToUnicode(): string[] {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
}

export interface GgufVocab {
  tokens: string[];
  merges: string[];
  /** llama.cpp token types: 1 = normal, 3 = control (<|endoftext|>). */
  types: number[];
  eosId: number;
}

export function gpt2GgufVocab(): GgufVocab {
  const b2u = byteToUnicode();
  const special = vocabSize - 1; // 50256
  const bytesOf: Uint8Array[] = [];
  const idOf = new Map<string, number>(); // key: the token's bytes as a latin1 string
  for (let id = 0; id < special; id++) {
    const b = tokenBytes(id);
    bytesOf.push(b);
    idOf.set(Buffer.from(b).toString('latin1'), id);
  }
  const tokens = bytesOf.map((b) => Array.from(b, (x) => b2u[x]).join(''));
  tokens.push(END_OF_TEXT);

  const merges: string[] = [];
  for (let id = 256; id < special; id++) {
    // Byte-pair merging of this token's bytes, only with tokens ranked below it.
    let parts = Array.from(bytesOf[id], (x) => String.fromCharCode(x));
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = idOf.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < id && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0 || parts.length === 2) break;
      parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
    }
    if (parts.length !== 2) throw new Error(`cannot rebuild the merge that makes token ${id}`);
    const uni = (latin: string) => Array.from(latin, (c) => b2u[c.charCodeAt(0)]).join('');
    merges.push(`${uni(parts[0])} ${uni(parts[1])}`);
  }
  const types = tokens.map((_, i) => (i === special ? 3 : 1));
  return { tokens, merges, types, eosId: special };
}
