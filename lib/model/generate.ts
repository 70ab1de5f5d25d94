// Continuation of a prompt (the notebook's first cell), with the engine's KV cache: greedy, or sampled
// with a seed that the result reports, so that any run can be replayed.
import { modelFrom, tokenizePrompt } from '../lens/decode.js';
import type { Model } from './model.js';
import { END_OF_TEXT_ID } from '../tokens/tokenizer.js';
import type { Intervention, TokenInfo } from '../types.js';
import { resolveControlVectors, steeringInterventions, type SteeringOptions } from '../interp/steering.js';
import { resolveSampling, type SamplingOptions } from './sampling.js';

/** controlVectors apply to every token, generated ones included, as in llama.cpp. Greedy unless `temperature` > 0. */
export interface GenerateOptions extends SteeringOptions, SamplingOptions {
  model?: Model | string;
  /** Tokens to add; default 20. Generation also stops at the context limit. */
  maxNewTokens?: number;
  /** Stop after <|endoftext|> (a llama.cpp model: its end-of-generation tokens), included in the output. Default true, as Hugging Face's generate(). */
  stopAtEndOfText?: boolean;
  /** Edits applied to the prompt's forward pass (see Intervention); the new tokens see them through the KV cache. */
  interventions?: readonly Intervention[];
  /** Wrap the prompt in the model's chat template first (llama.cpp engine; see DecodeOptions.chat). */
  chat?: boolean | { system?: string };
  /** Edits applied to each generated token's own pass, positions relative to that one token ('all' = it):
   *  with the same edits in `interventions`, the continuation of the edited model (an ablation, say). */
  stepInterventions?: readonly Intervention[];
}

export interface GenerateResult {
  prompt: string;
  /** The new tokens only. */
  tokens: TokenInfo[];
  /** Decoded text of the new tokens. */
  text: string;
  /** The seed used: `options.seed`, else the random one picked (pass it back to replay a sampled run). */
  seed: number;
}

export async function generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResult> {
  const sampling = resolveSampling(options);
  const model = await modelFrom(options.model);
  const text = options.chat ? model.applyChatTemplate(prompt, typeof options.chat === 'object' ? options.chat.system : undefined) : prompt;
  const ids = tokenizePrompt(text, model);
  const maxNew = options.maxNewTokens ?? 20;
  const stop = options.stopAtEndOfText === false ? -1 : END_OF_TEXT_ID;
  const steering = steeringInterventions(await resolveControlVectors(options, model.info));
  // the prompt's pass: steering then the caller's edits; each new token's pass: steering then the step edits
  const promptEdits = [...steering, ...(options.interventions ?? [])];
  const stepEdits = [...steering, ...(options.stepInterventions ?? [])];
  const out = await model.generateIds(ids, maxNew, stop, promptEdits, stepEdits, sampling);
  return {
    prompt,
    tokens: out.map((id) => ({ id, token: model.tokenizer.label(id) })),
    text: model.tokenizer.decode(out),
    seed: sampling.seed,
  };
}
