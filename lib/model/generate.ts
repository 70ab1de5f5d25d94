// Greedy continuation of a prompt (the notebook's first cell), with the engine's KV cache.
import { modelFrom, tokenizePrompt } from '../lens/decode.js';
import type { Model } from './model.js';
import { END_OF_TEXT_ID } from '../tokens/tokenizer.js';
import type { Intervention, TokenInfo } from '../types.js';
import { resolveControlVectors, steeringInterventions, type SteeringOptions } from '../interp/steering.js';

/** controlVectors apply to every token, generated ones included, as in llama.cpp. */
export interface GenerateOptions extends SteeringOptions {
  model?: Model | string;
  /** Tokens to add; default 20. Generation also stops at the context limit. */
  maxNewTokens?: number;
  /** Stop after <|endoftext|> (a llama.cpp model: its end-of-generation tokens), included in the output. Default true, as Hugging Face's generate(). */
  stopAtEndOfText?: boolean;
  /** Edits applied to the prompt's forward pass (see Intervention); the new tokens see them through the KV cache. */
  interventions?: readonly Intervention[];
  /** Wrap the prompt in the model's chat template first (llama.cpp engine; see DecodeOptions.chat). */
  chat?: boolean | { system?: string };
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
  const text = options.chat ? model.applyChatTemplate(prompt, typeof options.chat === 'object' ? options.chat.system : undefined) : prompt;
  const ids = tokenizePrompt(text, model);
  const maxNew = options.maxNewTokens ?? 20;
  const stop = options.stopAtEndOfText === false ? -1 : END_OF_TEXT_ID;
  const steering = steeringInterventions(await resolveControlVectors(options, model.info));
  // the prompt's pass: steering then the caller's edits; each new token's pass: the steering alone
  const out = await model.generateIds(ids, maxNew, stop, [...steering, ...(options.interventions ?? [])], steering);
  return { prompt, tokens: out.map((id) => ({ id, token: model.tokenizer.label(id) })), text: model.tokenizer.decode(out) };
}
