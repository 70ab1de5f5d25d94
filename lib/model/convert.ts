// `layerlens convert`: a Hugging Face GPT-2 checkpoint written out as GGUF (llama.cpp's tensor
// names and metadata for architecture "gpt2"), with f32, f16 or q8_0 matrices.
import { basename } from 'node:path';
import { readConfig } from './config.js';
import { native } from './native.js';
import { resolveCheckpointPath } from '../hub/resolve.js';
import { gpt2GgufVocab } from '../tokens/gguf-vocab.js';
import { vocabSize } from '../tokens/tokenizer.js';
import type { DTYPES } from '../types.js';

/** Types `convertToGguf` writes the matrices in. */
export type GgufType = (typeof DTYPES)[number];

export interface ConvertOptions {
  /** Storage of the big matrices in the GGUF file; default 'f16'. */
  type?: GgufType;
  /** general.name in the metadata; default: the checkpoint directory's name. */
  name?: string;
  /** CPU threads for conversion; default all cores. */
  threads?: number;
}

/** Converts a checkpoint (directory or .safetensors with config.json beside it) to a .gguf file. */
export async function convertToGguf(checkpoint: string, outFile: string, options: ConvertOptions = {}): Promise<void> {
  const type = options.type ?? 'f16';
  if (!['f32', 'f16', 'q8_0'].includes(type)) throw new TypeError(`type must be f32, f16 or q8_0, got ${JSON.stringify(type)}`);
  if (!outFile.endsWith('.gguf')) throw new Error(`the output file must end in .gguf, got ${outFile}`);
  const files = resolveCheckpointPath(checkpoint);
  if (files.config === undefined) throw new Error(`${checkpoint} is already a GGUF file; convert reads Hugging Face checkpoints`);
  const config = await readConfig(files.config);
  // GPT-2's tokenizer goes into the file too (tokenizer.ggml.*), as llama.cpp expects for "gpt2".
  const vocab = config.n_vocab === vocabSize ? gpt2GgufVocab() : undefined;
  await native().convertToGguf({
    src: files.weights,
    hparams: config,
    dst: outFile,
    type,
    name: options.name ?? basename(files.name),
    threads: options.threads ?? 0,
    ...(vocab ? { vocab: { tokens: vocab.tokens, merges: vocab.merges, types: Int32Array.from(vocab.types), eosId: vocab.eosId } } : {}),
  });
}
