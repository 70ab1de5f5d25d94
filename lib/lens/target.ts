// Token lookups shared by decodeLayers, the CLI and the viewer: a token's label, and the token a
// `target` option names. Only the tokenizer is needed here (no model, no native addon).
import { quoteToken } from '../render/format.js';
import { encode, tokenText, vocabSize } from '../tokens/tokenizer.js';
import type { TokenInfo } from '../types.js';
import type { ModelTokenizer } from '../tokens/model-tokenizer.js';

/** Token text, or a placeholder for ids a padded vocabulary has beyond the tokenizer's 50257. */
export function tokenLabel(id: number): string {
  return id < vocabSize ? tokenText(id) : `<|padding:${id}|>`;
}

/**
 * The token a `target` option names: a string must encode to exactly one token (the error lists what
 * it became otherwise), a number must be a token id of the model's vocabulary (default GPT-2's 50257).
 */
export function resolveTarget(target: string | number, nVocab: number = vocabSize, tokenizer?: ModelTokenizer): TokenInfo {
  const label = tokenizer ? tokenizer.label : tokenLabel;
  const encodeText = tokenizer ? tokenizer.encodeText : encode;
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0 || target >= nVocab) {
      throw new RangeError(`target id ${target} is not a token id of this model (an integer in 0..${nVocab - 1})`);
    }
    return { id: target, token: label(target) };
  }
  if (typeof target !== 'string') throw new TypeError(`target must be a string of one token or a token id, got ${target === null ? 'null' : typeof target}`);
  if (target === '') throw new Error('target is empty: give the text of one token, e.g. " Warsaw" (GPT-2 tokens usually start with a space)');
  const ids = encodeText(target);
  if (ids.length !== 1) {
    const parts = ids.map((id) => `${quoteToken(label(id))} (${id})`).join(', ');
    let msg = `target ${quoteToken(target)} is ${ids.length} tokens, not one: ${parts}. Give the text of a single token or its id`;
    if (!/^\s/.test(target) && encodeText(' ' + target).length === 1) msg += `; ${quoteToken(' ' + target)}, with a leading space, is one token`;
    throw new Error(msg);
  }
  if (ids[0] >= nVocab) throw new RangeError(`target ${quoteToken(target)} is token ${ids[0]}, outside this model's vocabulary (0..${nVocab - 1})`);
  return { id: ids[0], token: tokenizer ? label(ids[0]) : tokenText(ids[0]) };
}
