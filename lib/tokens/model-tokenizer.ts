// The tokenizer a loaded model uses, behind one interface: GPT-2's own BPE (lib/tokens/tokenizer.ts) for
// the GPT-2 engine, and the GGUF file's tokenizer through libllama (llama_tokenize / llama_token_to_piece)
// for the llama.cpp engine. Labels follow one rule for both: a token's bytes as text, with bytes outside
// well-formed UTF-8 written as `\xNN`.
import { decode as gpt2Decode, encode as gpt2Encode, END_OF_TEXT_ID, escapeBytes, tokenText, vocabSize as gpt2VocabSize } from './tokenizer.js';
import type { NativeLlamaModel } from '../model/native.js';

export interface ModelTokenizer {
  /** Which tokenizer: 'gpt2' (GPT-2's BPE, r50k_base) or 'llama.cpp' (the GGUF file's own). */
  readonly kind: 'gpt2' | 'llama.cpp';
  /** Tokens of a prompt as the model expects them (for a llama.cpp model, its BOS when its tokenizer adds one). */
  encode(text: string): number[];
  /** Tokens of a piece of text without BOS/EOS (e.g. a target word, a steering prompt continuation). */
  encodeText(text: string): number[];
  /** Exact text of one token: well-formed UTF-8 as characters, other bytes as `\xNN`. */
  label(id: number): string;
  /** Text of a sequence of tokens. */
  decode(ids: readonly number[]): string;
  /** True for the token that ends a text (GPT-2: <|endoftext|>; a llama.cpp model: its EOS). Generation on the
   *  llama.cpp engine stops natively at every end-of-generation token of the vocabulary (EOS, EOT, …). */
  endsGeneration(id: number): boolean;
}

/** GPT-2's BPE, for the GPT-2 engine. `nVocab` may exceed GPT-2's 50257 (padded checkpoints): ids past it are padding. */
export function gpt2Tokenizer(nVocab: number = gpt2VocabSize): ModelTokenizer {
  return {
    kind: 'gpt2',
    encode: (text) => gpt2Encode(text),
    encodeText: (text) => gpt2Encode(text),
    label: (id) => (id < gpt2VocabSize ? tokenText(id) : id < nVocab ? `<|padding:${id}|>` : `<|invalid:${id}|>`),
    decode: (ids) => gpt2Decode(ids.filter((id) => id < gpt2VocabSize)),
    endsGeneration: (id) => id === END_OF_TEXT_ID,
  };
}

/** A GGUF model's own tokenizer, through libllama. Labels are cached per id. */
export function llamaTokenizer(model: NativeLlamaModel, eogIds: ReadonlySet<number>): ModelTokenizer {
  const labels = new Map<number, string>();
  const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  return {
    kind: 'llama.cpp',
    encode: (text) => Array.from(model.tokenize({ text, addSpecial: true, parseSpecial: true })),
    encodeText: (text) => Array.from(model.tokenize({ text, addSpecial: false, parseSpecial: false })),
    label(id) {
      let l = labels.get(id);
      if (l === undefined) {
        l = escapeBytes(model.pieces(Int32Array.of(id))[0]);
        labels.set(id, l);
      }
      return l;
    },
    decode: (ids) => utf8.decode(model.detokenize(Int32Array.from(ids))),
    endsGeneration: (id) => eogIds.has(id),
  };
}
