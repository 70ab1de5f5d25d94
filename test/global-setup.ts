// Vitest global setup: generates the synthetic checkpoints the suite shares, once per run, before
// any test file starts (so parallel files never race to write the same directory), and tells the
// tests where they are.
//
// Checkpoints (scripts/make-checkpoint.mjs, preset 'tiny' = 2 layers x 64 wide x 4 heads, ctx 64,
// GPT-2's vocabulary of 50257, seed 0, deterministic), under <repo>/.cache/test-checkpoints/:
//
//   name          options                         env var                        inject('testCheckpoints')[name]
//   tiny-f32      { preset: 'tiny' }               LAYERLENS_TEST_TINY_F32        'tiny-f32'
//   tiny-f16      { preset: 'tiny', dtype: 'f16' } LAYERLENS_TEST_TINY_F16        'tiny-f16'
//   tiny-bf16     { preset: 'tiny', dtype: 'bf16'} LAYERLENS_TEST_TINY_BF16       'tiny-bf16'
//   tiny-prefix   { preset: 'tiny', prefix: true } LAYERLENS_TEST_TINY_PREFIX     'tiny-prefix'
//                 (keys named "transformer.*", as save_pretrained writes them)
//
//   LAYERLENS_TEST_CHECKPOINTS = the parent directory (.cache/test-checkpoints), also inject('testCheckpointsDir').
//
// Each value is an absolute directory holding config.json + model.safetensors, loadable with
// loadModel(dir). The same names and options are what test/helpers/checkpoints.ts's
// checkpoint(name, options) produces, so a test may use either; makeCheckpoint() skips the work when
// a directory already holds a checkpoint made with the same options (stamp file), so reruns are cheap.
//
// Usage in a test:
//   import { inject } from 'vitest';
//   const dir = inject('testCheckpoints')['tiny-f32'];        // or process.env.LAYERLENS_TEST_TINY_F32
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { makeCheckpoint, type CheckpointOptions } from '../scripts/make-checkpoint.mjs';

export const TEST_CHECKPOINTS = {
  'tiny-f32': { env: 'LAYERLENS_TEST_TINY_F32', options: { preset: 'tiny' } },
  'tiny-f16': { env: 'LAYERLENS_TEST_TINY_F16', options: { preset: 'tiny', dtype: 'f16' } },
  'tiny-bf16': { env: 'LAYERLENS_TEST_TINY_BF16', options: { preset: 'tiny', dtype: 'bf16' } },
  'tiny-prefix': { env: 'LAYERLENS_TEST_TINY_PREFIX', options: { preset: 'tiny', prefix: true } },
} as const satisfies Record<string, { env: string; options: CheckpointOptions }>;

export type TestCheckpointName = keyof typeof TEST_CHECKPOINTS;

declare module 'vitest' {
  export interface ProvidedContext {
    /** Absolute directory of each shared synthetic checkpoint (see test/global-setup.ts). */
    testCheckpoints: Record<TestCheckpointName, string>;
    /** <repo>/.cache/test-checkpoints */
    testCheckpointsDir: string;
  }
}

export const testCheckpointsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '.cache', 'test-checkpoints');

export default function setup(project: TestProject): void {
  mkdirSync(testCheckpointsDir, { recursive: true });
  const dirs = {} as Record<TestCheckpointName, string>;
  const made: string[] = [];
  for (const [name, spec] of Object.entries(TEST_CHECKPOINTS) as [TestCheckpointName, (typeof TEST_CHECKPOINTS)[TestCheckpointName]][]) {
    const r = makeCheckpoint(join(testCheckpointsDir, name), { ...spec.options });
    dirs[name] = r.dir;
    process.env[spec.env] = r.dir; // inherited by the forked test workers
    if (!r.skipped) made.push(`${name} (${(r.bytes / 1e6).toFixed(1)} MB, ${r.seconds.toFixed(1)} s)`);
  }
  process.env.LAYERLENS_TEST_CHECKPOINTS = testCheckpointsDir;
  project.provide('testCheckpoints', dirs);
  project.provide('testCheckpointsDir', testCheckpointsDir);
  if (made.length > 0) console.log(`global-setup: wrote synthetic checkpoints ${made.join(', ')} into ${testCheckpointsDir}`);
}
