// A loaded GPT-2: the native engine plus what the TS side needs to describe it.
import { readConfig, type GPT2Config } from './config.js';
import { resolveHooks, type HookSpec } from '../hooks.js';
import { native, type NativeLensOptions, type NativeModel, type NativeModelInfo, type NativeTrainLensRequest } from './native.js';
import { resolveModelFiles } from '../hub/resolve.js';
import { toNativeInterventions } from '../interp/interventions.js';
import { resolvePositions, type PositionSpec } from './positions.js';
import { DEVICES, DTYPES, MAX_THREADS, type Activation, type Device, type Intervention, type ModelInfo, type WeightDType } from '../types.js';
import { InvalidParameterError, invalidParameterError, is, oneOf } from '../is.js';

/** `LoadOptions.dtype`: 'auto' keeps Hugging Face's float32 compute; the others convert the matrices. */
const LOAD_DTYPES = ['auto', ...DTYPES] as const;

export { resolvePositions, type PositionSpec } from './positions.js';

export type { Device } from '../types.js';

export interface LoadOptions {
  /** Compute device; 'auto' (default) takes a GPU backend when the addon has one, else the CPU. */
  device?: Device;
  /** CPU threads; default: all the machine's cores. */
  threads?: number;
  /**
   * How hooks are copied out of the graph: 'callback' (ggml's scheduler eval callback: the graph is
   * split at each requested hook and its rows are copied as soon as it is computed), 'outputs' (the
   * rows are gathered into extra graph outputs and read once the graph is done: no splits, no
   * per-hook synchronisation), or 'auto' (default: callback on the CPU, outputs on a GPU).
   */
  capture?: 'auto' | 'callback' | 'outputs';
  /**
   * Type the big matrices (wte and each block's four) are stored and multiplied in. 'auto' (default)
   * computes as Hugging Face does: F16 and BF16 weights widened to f32 (exactly), so every hook is
   * within 1e-4 of a float64 forward; a GGUF file's quantized matrices keep their type. 'f32' also
   * dequantizes a GGUF's quantized matrices. 'f16' keeps (or converts to) f16 for half the memory:
   * ggml then rounds the activations entering each matmul to f16 too, which costs up to ~1e-2 relative
   * L2 error per hook (measured 3.7e-3 at worst here, 8.7e-3 in an independent check, at attn_out and
   * attn_pattern). 'q8_0' (safetensors only) quantizes while loading.
   */
  dtype?: 'auto' | 'f32' | 'f16' | 'q8_0';
  /**
   * Environment for the Hugging Face cache and hub (HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE,
   * HF_TOKEN); default process.env.
   */
  env?: NodeJS.ProcessEnv;
  /** Hub revision (branch, tag or commit) of a hub model; default "main". Ignored for paths. */
  revision?: string;
  /** No download progress bar on stderr (it is drawn only when stderr is a TTY anyway). */
  quiet?: boolean;
}

export interface RunOptions {
  /** Hook selection (see resolveHooks); default: none, only the logits. */
  hooks?: HookSpec;
  positions?: PositionSpec;
  /** Edits applied inside the graph (see Intervention); later hooks and the logits see them. */
  interventions?: readonly Intervention[];
  /**
   * Compute the next-token logits (default true). false skips the final unembedding, a product with the
   * whole vocabulary matrix, for callers that only want activations; `logits` is then empty.
   */
  logits?: boolean;
}

export interface RunOutput {
  /** Captured tensors in canonical hook order. */
  activations: Activation[];
  /** Next-token logits at the last position (empty when run with `logits: false`). */
  logits: Float32Array;
}

/** Parameters of the plain-TS reference lens (copied from the engine once, then cached). */
export interface LensWeights {
  wte: Float32Array;
  lnfWeight: Float32Array;
  lnfBias: Float32Array;
  eps: number;
}

function toTokenArray(ids: ArrayLike<number>, nVocab: number): Int32Array {
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw new RangeError(`token id ${id} at index ${i} is outside the vocabulary (0..${nVocab - 1})`);
    out[i] = id;
  }
  return out;
}

export class Model {
  readonly info: ModelInfo;
  /** Device and build facts reported by the engine. */
  readonly runtime: NativeModelInfo;
  readonly config: GPT2Config;
  readonly weightsPath: string;
  #native: NativeModel | undefined;
  #lensWeights: Promise<LensWeights> | undefined;

  /** Use loadModel(). */
  constructor(nativeModel: NativeModel, config: GPT2Config, name: string, weightsPath: string) {
    this.#native = nativeModel;
    this.config = config;
    this.weightsPath = weightsPath;
    this.runtime = nativeModel.info();
    const dtype = this.runtime.matrixType as WeightDType;
    this.info = {
      name,
      n_layer: config.n_layer,
      n_embd: config.n_embd,
      n_head: config.n_head,
      n_vocab: config.n_vocab,
      n_ctx: config.n_ctx,
      dtype,
    };
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  #engine(): NativeModel {
    if (!this.#native) throw new Error('this model has been disposed');
    return this.#native;
  }

  #checkTokens(ids: ArrayLike<number>): Int32Array {
    if (ids.length === 0) throw new Error('no tokens to run: the prompt is empty');
    if (ids.length > this.info.n_ctx) {
      throw new RangeError(`the prompt has ${ids.length} tokens, more than the model's context of ${this.info.n_ctx} tokens`);
    }
    return toTokenArray(ids, this.info.n_vocab);
  }

  /** One forward pass over token ids, capturing the selected hooks at the selected positions. */
  async run(ids: ArrayLike<number>, options: RunOptions = {}): Promise<RunOutput> {
    const tokens = this.#checkTokens(ids);
    const hooks = options.hooks === undefined ? [] : resolveHooks(options.hooks, this.info.n_layer);
    const positions = resolvePositions(options.positions ?? 'last', tokens.length);
    const all = positions.length === tokens.length;
    const edits = toNativeInterventions(options.interventions ?? [], this.info, tokens.length);
    if (options.logits !== undefined && !is.bool(options.logits)) throw new InvalidParameterError(`logits must be a boolean, got ${typeof options.logits}`);
    const out = await this.#engine().run({
      tokens,
      hooks: hooks.map((h) => h.name),
      ...(all ? {} : { positions: Int32Array.from(positions) }),
      interventions: edits,
      logits: options.logits ?? true,
    });
    const activations = out.captured.map((c): Activation => ({ name: c.name, layer: c.layer, kind: c.kind, positions, data: c.data, shape: c.shape }));
    return { activations, logits: out.logits };
  }

  /**
   * The tuned lens's training objective and gradients for a batch of positions, on the CPU
   * (native/train); lib/lens/tuned/train.ts drives it.
   */
  async tunedLensGradients(request: NativeTrainLensRequest) {
    return this.#engine().trainLens(request);
  }

  /**
   * Batched ln_f + unembedding + top-k on the engine's backend for `count` rows of n_embd floats,
   * with optional per-row measures (entropy, a target token's logit/probability/rank, KL to another row)
   * and the `sums` speed hint (see NativeLensOptions).
   */
  async lensNative(vectors: Float32Array, count: number, k: number, measures?: NativeLensOptions) {
    this.#checkK(k);
    if (!Number.isInteger(count) || count < 0 || vectors.length !== count * this.info.n_embd) {
      throw new RangeError(`expected ${count} vectors of ${this.info.n_embd} floats, got ${vectors.length} floats`);
    }
    const perRow = (a: Int32Array | undefined, what: string, limit: number) => {
      if (a === undefined) return;
      if (!(a instanceof Int32Array) || a.length !== count) throw new RangeError(`${what} must be an Int32Array with one entry per vector (${count})`);
      for (const x of a) if (x < -1 || x >= limit) throw new RangeError(`${what}: entry ${x} is outside -1..${limit - 1}`);
    };
    perRow(measures?.targets, 'targets', this.info.n_vocab);
    perRow(measures?.references, 'references', count);
    const sums = measures?.sums;
    if (sums !== undefined) {
      if (!(sums instanceof Int32Array) || sums.length % 3 !== 0) throw new RangeError('sums must be an Int32Array of [row, a, b] triples');
      for (const x of sums) if (x < 0 || x >= count) throw new RangeError(`sums: row ${x} is outside 0..${count - 1}`);
    }
    return this.#engine().lens({ ...measures, vectors, count, k });
  }

  #checkK(k: number): void {
    if (!is.integerIn(k, 1, this.info.n_vocab)) throw invalidParameterError('topK', `an integer in 1..${this.info.n_vocab}`, k);
  }

  /** wte and ln_f as float32, for the plain-TS reference lens (fetched once). */
  lensWeights(): Promise<LensWeights> {
    const engine = this.#engine();
    this.#lensWeights ??= Promise.all([engine.weight('wte'), engine.weight('ln_f.weight'), engine.weight('ln_f.bias')]).then(([wte, lnfWeight, lnfBias]) => ({
      wte,
      lnfWeight,
      lnfBias,
      eps: this.config.eps,
    }));
    return this.#lensWeights;
  }

  /** Greedy decoding with a KV cache; returns the new token ids (stops early after `stopToken`).
   *  Interventions apply to the prompt's positions; the generated tokens see them through the cache.
   *  `stepInterventions` (positions relative to the one new token, so 'all' = it) apply to each generated token's own pass. */
  async generateIds(
    ids: ArrayLike<number>,
    maxNewTokens: number,
    stopToken = -1,
    interventions: readonly Intervention[] = [],
    stepInterventions: readonly Intervention[] = [],
  ): Promise<number[]> {
    const tokens = this.#checkTokens(ids);
    if (!is.integer(maxNewTokens) || maxNewTokens < 0) throw invalidParameterError('maxNewTokens', 'a non-negative integer', maxNewTokens);
    const edits = toNativeInterventions(interventions, this.info, tokens.length);
    const steps = toNativeInterventions(stepInterventions, this.info, 1);
    return Array.from(
      await this.#engine().generate({ tokens, maxNewTokens, stopToken, interventions: edits, ...(steps.length ? { stepInterventions: steps } : {}) }),
    );
  }

  /** Frees the weights. Calls already running finish first; later calls throw. */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
    this.#lensWeights = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}

const CAPTURES = ['auto', 'callback', 'outputs'] as const;

/**
 * Loads a GPT-2 checkpoint: a directory (config.json + model.safetensors), a .safetensors file, or a hub
 * id (default gpt2-medium) taken from the local HF cache, else downloaded from the hub into it.
 */
export async function loadModel(model?: string, options: LoadOptions = {}): Promise<Model> {
  if (model !== undefined && !is.string(model)) throw invalidParameterError('model', 'a path or hub id string', model);
  // Options are checked before anything is resolved, so a typo never costs a download.
  if (!is.object(options)) throw invalidParameterError('options', 'an object', options);
  if (options.threads !== undefined && !is.integerIn(options.threads, 1, MAX_THREADS))
    throw invalidParameterError('threads', `an integer in 1..${MAX_THREADS}`, options.threads);
  const device = options.device ?? 'auto';
  if (!is.inArray(device, DEVICES)) throw invalidParameterError('device', oneOf(DEVICES), device);
  const capture = options.capture ?? 'auto';
  if (!is.inArray(capture, CAPTURES)) throw invalidParameterError('capture', oneOf(CAPTURES), capture);
  const dtype = options.dtype ?? 'auto';
  if (!is.inArray(dtype, LOAD_DTYPES)) throw invalidParameterError('dtype', oneOf(LOAD_DTYPES), dtype);
  const files = await resolveModelFiles(model, {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.revision === undefined ? {} : { revision: options.revision }),
    ...(options.quiet === undefined ? {} : { quiet: options.quiet }),
  });
  const native_ = native();
  let config: GPT2Config;
  let nativeModel: NativeModel;
  if (files.config === undefined) {
    // A .gguf file: the engine reads the hyperparameters from its metadata.
    if (dtype === 'q8_0')
      throw new TypeError(
        `dtype 'q8_0' quantizes safetensors checkpoints; ${files.weights} is a GGUF file (use 'auto', 'f32' or 'f16', or convert the checkpoint with --type q8_0)`,
      );
    nativeModel = await native_.loadModel({ path: files.weights, device, threads: options.threads ?? 0, capture, dtype });
    const { n_layer, n_embd, n_head, n_vocab, n_ctx, eps } = nativeModel.info();
    config = { model_type: 'gpt2', n_layer, n_embd, n_head, n_vocab, n_ctx, eps };
  } else {
    config = await readConfig(files.config);
    nativeModel = await native_.loadModel({ path: files.weights, hparams: config, device, threads: options.threads ?? 0, capture, dtype });
  }
  const m = new Model(nativeModel, config, files.name, files.weights);
  if (m.runtime.notice) console.warn(m.runtime.notice);
  return m;
}
