// Reads a Hugging Face GPT-2 config.json into the hyperparameters the engine needs.
import { readFile } from 'node:fs/promises';
import type { NativeHParams } from './native.js';

export interface GPT2Config extends NativeHParams {
  /** model_type from the file (always "gpt2" once validated) */
  model_type: string;
}

function positiveInt(raw: Record<string, unknown>, keys: string[], file: string): number {
  for (const key of keys) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new Error(`${file}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  throw new Error(`${file}: missing "${keys[0]}"`);
}

/** Validates the parsed JSON of a GPT-2 config.json. */
export function parseConfig(raw: unknown, file = 'config.json'): GPT2Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  const modelType = o.model_type ?? 'gpt2';
  if (modelType !== 'gpt2') {
    throw new Error(`${file}: model_type is ${JSON.stringify(modelType)}; layerlens runs GPT-2 checkpoints (model_type "gpt2")`);
  }
  const act = o.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new') {
    throw new Error(`${file}: activation_function ${JSON.stringify(act)} is not supported (GPT-2 uses "gelu_new")`);
  }
  const eps = o.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) throw new Error(`${file}: layer_norm_epsilon must be a number in (0, 1)`);
  const cfg: GPT2Config = {
    model_type: 'gpt2',
    n_layer: positiveInt(o, ['n_layer', 'num_hidden_layers'], file),
    n_embd: positiveInt(o, ['n_embd', 'hidden_size'], file),
    n_head: positiveInt(o, ['n_head', 'num_attention_heads'], file),
    n_vocab: positiveInt(o, ['vocab_size'], file),
    n_ctx: positiveInt(o, ['n_positions', 'n_ctx', 'max_position_embeddings'], file),
    eps,
  };
  if (cfg.n_vocab < 50257) {
    throw new Error(`${file}: vocab_size ${cfg.n_vocab} is smaller than GPT-2's tokenizer (50257 tokens)`);
  }
  if (cfg.n_embd % cfg.n_head !== 0) throw new Error(`${file}: n_embd (${cfg.n_embd}) is not divisible by n_head (${cfg.n_head})`);
  return cfg;
}

export async function readConfig(file: string): Promise<GPT2Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(raw, file);
}
