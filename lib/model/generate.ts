// Greedy continuation of a prompt (the notebook's first cell), with the engine's KV cache.
import { modelFrom, tokenizePrompt, tokenLabel } from '../lens/decode.js';
import type { Model } from './model.js';
import { decode, END_OF_TEXT_ID, vocabSize } from '../tokens/tokenizer.js';
import type { Intervention, TokenInfo } from '../types.js';
import { resolveControlVectors, steeringInterventions, type SteeringOptions } from '../interp/steering.js';

/** controlVectors apply to every token, generated ones included, as in llama.cpp. */
export interface GenerateOptions extends SteeringOptions {
  model?: Model | string;
  /** Tokens to add; default 20. Generation also stops at the context limit. */
  maxNewTokens?: number;
  /** Stop after <|endoftext|> (included in the output). Default true, as Hugging Face's generate(). */
  stopAtEndOfText?: boolean;
  /** Edits applied to the prompt's forward pass (see Intervention); the new tokens see them through the KV cache. */
  interventions?: readonly Intervention[];
}

export interface GenerateResult {
  prompt: string;
  /** The new tokens only. */
  tokens: TokenInfo[];
  /** Decoded text of the new tokens. */
  text: string;
}

export async function generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResult> {
  const model = await modelFrom(options.model);
  const ids = tokenizePrompt(prompt, model.info.n_ctx);
  const maxNew = options.maxNewTokens ?? 20;
  const stop = options.stopAtEndOfText === false ? -1 : END_OF_TEXT_ID;
  const steering = steeringInterventions(await resolveControlVectors(options, model.info));
  // the prompt's pass: steering then the caller's edits; each new token's pass: the steering alone
  const out = await model.generateIds(ids, maxNew, stop, [...steering, ...(options.interventions ?? [])], steering);
  return { prompt, tokens: out.map((id) => ({ id, token: tokenLabel(id) })), text: decode(out.filter((id) => id < vocabSize)) };
}
