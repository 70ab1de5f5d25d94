// The model fixture every engine/e2e file relies on (test/helpers/fixtures.ts): loaded before the scope's
// tests, disposed after them, the reference read from the same checkpoint, a clear error when read too early.
import { afterAll, describe, expect, it } from 'vitest';
import type { Model } from '../../lib/index.js';
import { loadReference } from '../reference/gpt2-f64.js';
import { checkpoint } from '../helpers/checkpoints.js';
import { useTestModel, useTinyModel } from '../helpers/fixtures.js';

let seenInScope: Model | undefined;
// Registered before the describe, so it runs after the describe's own afterAll (the fixture's dispose).
afterAll(() => {
  expect(resolvedInSkippedScope, 'a skipped scope resolves no path').toBe(false);
  expect(seenInScope, 'the scoped test ran').toBeDefined();
  expect(seenInScope!.disposed, 'disposed once its scope is done').toBe(true);
});

describe('useTinyModel', () => {
  const tiny = useTinyModel({ device: 'cpu', threads: 1 });
  let readTooEarly: unknown;
  try {
    void tiny.model;
  } catch (err) {
    readTooEarly = err;
  }

  it('refuses .model before its beforeAll has run, naming the checkpoint', () => {
    expect(readTooEarly).toBeInstanceOf(Error);
    expect((readTooEarly as Error).message).toMatch(/tiny-f32 is not loaded: read \.model inside a test or a hook/);
  });

  it('gives the loaded model of the tiny checkpoint, with its float64 reference', () => {
    seenInScope = tiny.model;
    expect(tiny.dir).toBe(checkpoint('tiny-f32'));
    expect(tiny.model.disposed).toBe(false);
    expect(tiny.model.info.n_layer).toBe(2);
    expect(tiny.model.runtime.device, 'the load options override the test device').toBe('CPU');
    expect(tiny.ref.config).toEqual(loadReference(checkpoint('tiny-f32')).config);
    expect(tiny.ref).toBe(tiny.ref); // read once and kept
  });
});

// A skipped scope (golden-gpt2-medium.test.ts without weights) must not even resolve its path.
let resolvedInSkippedScope = false;
describe.skip('useTestModel in a skipped scope', () => {
  useTestModel(() => {
    resolvedInSkippedScope = true;
    return '/nonexistent/checkpoint';
  });
  it('never runs', () => {});
});
