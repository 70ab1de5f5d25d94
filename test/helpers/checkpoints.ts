// Synthetic checkpoints shared by the tests, generated once into .cache/test-checkpoints/
// (makeCheckpoint skips the work when the directory already holds one with the same options).
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCheckpoint, type CheckpointOptions } from '../../scripts/make-checkpoint.mjs';
import { convertToGguf } from '../../lib/model/convert.js';

export type { CheckpointOptions };

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Directory of a synthetic checkpoint with these options (created on first use). */
export function checkpoint(name: string, options: CheckpointOptions = {}): string {
  const dir = join(repoRoot, '.cache', 'test-checkpoints', name);
  makeCheckpoint(dir, { preset: 'tiny', ...options });
  return dir;
}

/** The tiny-f32 checkpoint as an f32 GPT-2 GGUF written by layerlens' own converter into `dir` (tiny.gguf); its path. */
export async function tinyGpt2Gguf(dir: string): Promise<string> {
  const file = join(dir, 'tiny.gguf');
  await convertToGguf(checkpoint('tiny-f32'), file, { type: 'f32' });
  return file;
}

export const NOTEBOOK_PROMPT = 'Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Poland?\nA:';
export const NOTEBOOK_IDS = [48, 25, 1867, 318, 262, 3139, 286, 4881, 30, 198, 32, 25, 6342, 198, 48, 25, 1867, 318, 262, 3139, 286, 12873, 30, 198, 32, 25];
