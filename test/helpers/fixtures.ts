// One loaded model per test scope, in the spirit of node-llama-cpp's getTestLlama: a test file (or a
// describe block) calls useTestModel once at collection time, and the helper registers the beforeAll
// that loads the model and the afterAll that disposes it in that scope. The handle it returns is read
// inside tests and hooks:
//
//   const tiny = useTinyModel({ threads: 2 });
//   it('…', async () => { await decodeLayers('Hi', { model: tiny.model }); expect(…).toBe(tiny.ref…); });
//
// A file whose tests already name `model` / `ref` binds them once:
//
//   let model: Model;
//   let ref: RefModel;
//   beforeAll(() => ({ model, ref } = tiny));
//
// Hook order: vitest runs beforeAll hooks in registration order and afterAll hooks in reverse
// (sequence.hooks 'stack', pinned in vitest.config.ts), so a hook registered after useTestModel sees the
// loaded model, and its afterAll (closing a server that holds the model, say) runs before the dispose.
import { afterAll, beforeAll } from 'vitest';
import { loadModel, type LoadOptions, type Model } from '../../lib/index.js';
import { loadReference, type RefModel } from '../reference/gpt2-f64.js';
import { checkpoint } from './checkpoints.js';
import { testDevice } from './device.js';

export interface TestModel {
  /** The checkpoint's path (a directory, or a weights file) as given to loadModel. */
  readonly dir: string;
  /** The loaded model; only inside tests and hooks that run after the fixture's beforeAll. */
  readonly model: Model;
  /** The float64 reference of the same weights (test/reference), read on first use and kept. */
  readonly ref: RefModel;
}

export interface TestModelOptions {
  /** loadModel options; `device` defaults to the test device (LAYERLENS_TEST_DEVICE, else cpu). */
  load?: LoadOptions;
  /** Timeout of the loading hook in ms; default the config's hookTimeout. */
  timeout?: number;
}

/**
 * Loads the model at `source` before the tests of the current scope and disposes it after them.
 * `source` is a path, or a function that returns one: it runs in the hook, so a synthetic checkpoint is
 * only generated (and a missing file only reported) when the scope is not skipped.
 */
export function useTestModel(source: string | (() => string), options: TestModelOptions = {}): TestModel {
  let dir: string | undefined = typeof source === 'string' ? source : undefined;
  let model: Model | undefined;
  let ref: RefModel | undefined;
  const resolveDir = (): string => (dir ??= (source as () => string)());

  beforeAll(async () => {
    model = await loadModel(resolveDir(), { device: testDevice(), ...options.load });
  }, options.timeout);
  afterAll(() => model?.dispose());

  return {
    get dir() {
      return resolveDir();
    },
    get model() {
      if (!model) throw new Error(`the model at ${resolveDir()} is not loaded: read .model inside a test or a hook that runs after useTestModel's beforeAll`);
      return model;
    },
    get ref() {
      return (ref ??= loadReference(resolveDir()));
    },
  };
}

/** The tiny synthetic GPT-2 (2 layers, 64 wide, f32; test/helpers/checkpoints.ts) for the current scope. */
export function useTinyModel(load: LoadOptions = {}): TestModel {
  return useTestModel(() => checkpoint('tiny-f32'), { load });
}

/** Loads the model at `source`, gives it to `f` and disposes it after, also when `f` throws: one model for one test. */
export async function withModel<T>(source: string, f: (m: Model) => Promise<T>, load: LoadOptions = { threads: 2 }): Promise<T> {
  const m = await loadModel(source, load);
  try {
    return await f(m);
  } finally {
    m.dispose();
  }
}
