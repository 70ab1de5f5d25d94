import { defineConfig } from 'vitest/config';

// The suite loads the native addon (build/Release/layerlens.node) and several small models.
// - pool 'forks': each test file runs in a child process, not a worker thread; a native addon
//   is not safe to load into several worker threads of one process, and a crash stays contained.
// - fileParallelism false: files run one after another. Each model's ggml CPU backend already uses
//   every core (and its threads spin while waiting), so running files side by side on a 2-core CI
//   machine only oversubscribes the CPU and multiplies memory; sequential files are as fast and
//   their timings are meaningful.
// - generous timeouts: the float64 reference forward and model loads are slow on small machines.
// - sequence.hooks 'stack' (vitest's default, pinned because test/helpers/fixtures.ts relies on it):
//   beforeAll hooks run one after another in registration order and afterAll hooks in reverse, so a
//   hook registered after useTestModel sees the loaded model and finishes with it before the dispose.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    sequence: { hooks: 'stack' },
  },
});
