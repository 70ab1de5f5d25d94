// Synthetic checkpoints shared by the tests, generated once into .cache/test-checkpoints/
// (makeCheckpoint skips the work when the directory already holds one with the same options).
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCheckpoint, type CheckpointOptions } from '../../scripts/make-checkpoint.mjs';

export type { CheckpointOptions };

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Directory of a synthetic checkpoint with these options (created on first use). */
export function checkpoint(name: string, options: CheckpointOptions = {}): string {
  const dir = join(repoRoot, '.cache', 'test-checkpoints', name);
  makeCheckpoint(dir, { preset: 'tiny', ...options });
  return dir;
}

export const NOTEBOOK_PROMPT = 'Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Poland?\nA:';
export const NOTEBOOK_IDS = [48, 25, 1867, 318, 262, 3139, 286, 4881, 30, 198, 32, 25, 6342, 198, 48, 25, 1867, 318, 262, 3139, 286, 12873, 30, 198, 32, 25];
