// A loaded model: one of the two native engines (GPT-2's own graph, or libllama for any GGUF decoder), its
// tokenizer, and what the TS side needs to describe it.
import { readConfig, type GPT2Config } from './config.js';
import { HOOK_KINDS, resolveHooks, type HookSpec } from '../hooks.js';
import {
  native,
  type NativeLensOptions,
  type NativeLlamaModel,
  type NativeLlamaModelInfo,
  type NativeModel,
  type NativeModelInfo,
  type NativeRunResult,
  type NativeTrainLensRequest,
} from './native.js';
import { readGgufHeader } from '../hub/gguf-header.js';
import { gpt2Tokenizer, llamaTokenizer, type ModelTokenizer } from '../tokens/model-tokenizer.js';
import { resolveModelFiles } from '../hub/resolve.js';
import { toNativeInterventions } from '../interp/interventions.js';
import { isRpcDevice, parseRpcDevice } from './rpc-device.js';
import { resolvePositions, type PositionSpec } from './positions.js';
import { resolveSampling, type SamplingOptions } from './sampling.js';
import {
  DEVICES,
  DTYPES,
  MAX_RPC_TIMEOUT_MS,
  MAX_THREADS,
  MODEL_ENGINES,
  type ModelEngine,
  type Activation,
  type Device,
  type Intervention,
  type ModelInfo,
  type WeightDType,
} from '../types.js';
import { InvalidParameterError, invalidParameterError, is, oneOf } from '../is.js';

/** `LoadOptions.dtype`: 'auto' keeps Hugging Face's float32 compute; the others convert the matrices. */
const LOAD_DTYPES = ['auto', ...DTYPES] as const;

export { resolvePositions, type PositionSpec } from './positions.js';

export type { Device } from '../types.js';

export interface LoadOptions {
  /**
   * Compute device; 'auto' (default) takes a GPU backend when the addon has one, else the CPU.
   * 'rpc://host:port' runs the forward on a `layerlens rpc-server` (several, comma-separated, split a
   * llama.cpp-engine model's layers; the GPT-2 engine takes one). The RPC protocol has no
   * authentication or encryption: trusted networks only (docs/remote.md).
   */
  device?: Device;
  /**
   * With an rpc:// device: how long one call to the servers (the load included: it uploads the
   * weights) may take, in milliseconds, before it is rejected; default 0, no limit. A server that
   * stays connected but stops answering otherwise leaves the call's promise pending forever. A call
   * that times out gives the servers up for this process, as a dead server does: the model can no
   * longer be used (ggml keeps one connection per server, and a half-answered request on it would
   * garble the next), so set it well above the longest call you expect.
   */
  rpcTimeoutMs?: number;
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
  /**
   * Which engine runs the model: 'auto' (default) runs a GGUF whose `general.architecture` is `gpt2`, and
   * safetensors checkpoints, on the GPT-2 engine, and every other GGUF on the llama.cpp engine;
   * 'gpt2' or 'llama.cpp' force one (a GPT-2 GGUF can go through either; the llama.cpp engine reads only GGUF).
   */
  engine?: 'auto' | ModelEngine;
  /** llama.cpp engine: context length (default: the model's training context, at most 4096). */
  contextLength?: number;
  /** llama.cpp engine: the most tokens one forward takes (default 512). */
  batchSize?: number;
  /** llama.cpp engine: what llama.cpp and ggml print to stderr: 'errors' (default), 'quiet' or 'verbose'. */
  logLevel?: 'quiet' | 'errors' | 'verbose';
}

export { MODEL_ENGINES, type ModelEngine } from '../types.js';

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

/** A native run's result as the API's: each captured tensor an Activation at `positions`. */
function runOutput(r: NativeRunResult, positions: number[]): RunOutput {
  const activations = r.captured.map((c): Activation => ({ name: c.name, layer: c.layer, kind: c.kind, positions, data: c.data, shape: c.shape }));
  return { activations, logits: r.logits };
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

/** Runtime facts of a loaded model: the GPT-2 engine's own, or those the llama.cpp engine reports mapped onto them. */
export type ModelRuntime = NativeModelInfo & {
  /** The llama.cpp engine's description of the model (absent on the GPT-2 engine). */
  llama?: NativeLlamaModelInfo;
};

export class Model {
  readonly info: ModelInfo;
  /** Device and build facts reported by the engine. */
  readonly runtime: ModelRuntime;
  readonly config: GPT2Config;
  readonly weightsPath: string;
  /** The model's own tokenizer (GPT-2's BPE, or the GGUF's through libllama). */
  readonly tokenizer: ModelTokenizer;
  #native: NativeModel | NativeLlamaModel | undefined;
  #lensWeights: Promise<LensWeights> | undefined;

  /** Use loadModel(). */
  constructor(nativeModel: NativeModel | NativeLlamaModel, config: GPT2Config, name: string, weightsPath: string) {
    this.#native = nativeModel;
    this.config = config;
    this.weightsPath = weightsPath;
    const raw = nativeModel.info();
    if ('engine' in raw && raw.engine === 'llama.cpp') {
      const fileType = raw.description.split(' ').pop() ?? '';
      this.runtime = {
        eps: raw.eps,
        n_layer: raw.n_layer,
        n_embd: raw.n_embd,
        n_head: raw.n_head,
        n_vocab: raw.n_vocab,
        n_ctx: raw.n_ctx,
        matrixType: fileType.toLowerCase(),
        fileDtype: `GGUF ${fileType}`,
        weightBytes: raw.sizeBytes,
        device: raw.device,
        deviceDescription: raw.device === 'cpu' ? 'CPU (llama.cpp)' : `${raw.device} (llama.cpp)`,
        notice: '',
        threads: raw.threads,
        capture: 'callback',
        llama: raw,
      };
      this.tokenizer = llamaTokenizer(nativeModel as NativeLlamaModel, new Set([raw.eos]));
      this.info = {
        name,
        engine: 'llama.cpp',
        architecture: raw.architecture,
        n_layer: raw.n_layer,
        n_embd: raw.n_embd,
        n_head: raw.n_head,
        n_ff: raw.n_ff,
        n_vocab: raw.n_vocab,
        n_ctx: Math.min(raw.n_ctx, raw.n_batch),
        dtype: fileType.toLowerCase(),
        hookKinds: HOOK_KINDS.filter((k) => raw.hooks.includes(k)),
      };
    } else {
      this.runtime = raw as NativeModelInfo;
      this.tokenizer = gpt2Tokenizer(config.n_vocab);
      this.info = {
        name,
        engine: 'gpt2',
        architecture: 'gpt2',
        n_layer: config.n_layer,
        n_embd: config.n_embd,
        n_head: config.n_head,
        n_ff: 4 * config.n_embd,
        n_vocab: config.n_vocab,
        n_ctx: config.n_ctx,
        dtype: this.runtime.matrixType as WeightDType,
        hookKinds: [...HOOK_KINDS],
      };
    }
  }

  /** True when the llama.cpp engine runs this model. */
  get isLlama(): boolean {
    return this.info.engine === 'llama.cpp';
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  #engine(): NativeModel | NativeLlamaModel {
    if (!this.#native) throw new Error('this model has been disposed');
    return this.#native;
  }

  #gpt2(): NativeModel {
    const e = this.#engine();
    if (this.isLlama) throw new Error(`this needs the GPT-2 engine; ${this.info.name} runs on the llama.cpp engine`);
    return e as NativeModel;
  }

  /**
   * The prompt wrapped in the model's own chat template as one user message, with the assistant turn opened
   * (llama.cpp's `llama_chat_apply_template`), so an instruct model is probed the way it is used.
   */
  applyChatTemplate(prompt: string, system?: string): string {
    if (!this.isLlama) throw new Error('chat templates come with GGUF models on the llama.cpp engine; GPT-2 has none');
    const messages = [...(system === undefined ? [] : [{ role: 'system', content: system }]), { role: 'user', content: prompt }];
    return (this.#engine() as NativeLlamaModel).applyChatTemplate({ messages, addAssistant: true });
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
    const hooks = options.hooks === undefined ? [] : resolveHooks(options.hooks, this.info.n_layer, this.info.hookKinds);
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
    return runOutput(out, positions);
  }

  /**
   * Several prompts in one forward pass: their tokens packed end to end with no padding, each at
   * positions 0..n−1 and attending only to its own earlier tokens, so each output equals `run()` of that
   * prompt alone (bit for bit on the GPT-2 engine's CPU kernels but the logits, which are unembedded
   * together; to float rounding on a GPU and on the llama.cpp engine, whose attention sums over the KV
   * cells, where a prompt's keys sit at other offsets). `positions` is one spec for all prompts or one per
   * prompt. Row hooks only (attn_pattern and attn_head_out are per head: run those prompts one at a
   * time), no interventions; at most 256 prompts, and 2048 tokens in all (GPT-2 engine) or the model's
   * batchSize (llama.cpp engine) per call.
   */
  async runBatch(
    prompts: readonly ArrayLike<number>[],
    options: Omit<RunOptions, 'interventions' | 'positions'> & { positions?: PositionSpec | readonly PositionSpec[] } = {},
  ): Promise<RunOutput[]> {
    if (!Array.isArray(prompts) || prompts.length === 0) throw invalidParameterError('prompts', 'a non-empty array of token id arrays', prompts);
    const sequences = prompts.map((ids) => this.#checkTokens(ids));
    const hooks = options.hooks === undefined ? [] : resolveHooks(options.hooks, this.info.n_layer, this.info.hookKinds);
    const spec = options.positions ?? 'last';
    const perPrompt = Array.isArray(spec) && spec.length > 0 && typeof spec[0] !== 'number';
    if (perPrompt && spec.length !== prompts.length) throw new RangeError(`positions: ${spec.length} specs for ${prompts.length} prompts`);
    const positions = sequences.map((t, i) => resolvePositions((perPrompt ? spec[i] : spec) as PositionSpec, t.length));
    if (options.logits !== undefined && !is.bool(options.logits)) throw new InvalidParameterError(`logits must be a boolean, got ${typeof options.logits}`);
    const out = await this.#engine().runBatch({
      sequences,
      hooks: hooks.map((h) => h.name),
      positions: positions.map((p) => Int32Array.from(p)),
      logits: options.logits ?? true,
    });
    return out.map((r, i) => runOutput(r, positions[i]));
  }

  /**
   * The tuned lens's training objective and gradients for a batch of positions, on the CPU
   * (native/train); lib/lens/tuned/train.ts drives it. GPT-2 engine only: the trainer reads its ln_f and wte.
   */
  async tunedLensGradients(request: NativeTrainLensRequest) {
    return this.#gpt2().trainLens(request);
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
    if (this.isLlama) {
      return Promise.reject(new Error("the plain-TS reference lens covers the GPT-2 engine; the llama.cpp engine's lens runs natively (lensImpl: 'native')"));
    }
    const engine = this.#gpt2();
    this.#lensWeights ??= Promise.all([engine.weight('wte'), engine.weight('ln_f.weight'), engine.weight('ln_f.bias')]).then(([wte, lnfWeight, lnfBias]) => ({
      wte,
      lnfWeight,
      lnfBias,
      eps: this.config.eps,
    }));
    return this.#lensWeights;
  }

  /** Decoding with a KV cache, greedy by default, else sampled as `sampling` says (whose seed defaults
   *  to 0 here: generate() picks a random one); returns the new token ids (stops early after `stopToken`).
   *  Interventions apply to the prompt's positions; the generated tokens see them through the cache.
   *  `stepInterventions` (positions relative to the one new token, so 'all' = it) apply to each generated token's own pass. */
  async generateIds(
    ids: ArrayLike<number>,
    maxNewTokens: number,
    stopToken = -1,
    interventions: readonly Intervention[] = [],
    stepInterventions: readonly Intervention[] = [],
    sampling: SamplingOptions = {},
  ): Promise<number[]> {
    const tokens = this.#checkTokens(ids);
    if (!is.integer(maxNewTokens) || maxNewTokens < 0) throw invalidParameterError('maxNewTokens', 'a non-negative integer', maxNewTokens);
    const edits = toNativeInterventions(interventions, this.info, tokens.length);
    const steps = toNativeInterventions(stepInterventions, this.info, 1);
    const pick = resolveSampling(sampling, () => 0);
    const extra = { ...(steps.length ? { stepInterventions: steps } : {}), ...pick };
    if (this.isLlama) {
      // The llama.cpp engine stops at the vocabulary's end-of-generation tokens (any stopToken asks for that).
      const llama = this.#engine() as NativeLlamaModel;
      return Array.from(await llama.generate({ tokens, maxNewTokens, stopAtEog: stopToken >= 0, interventions: edits, ...extra }));
    }
    return Array.from(await this.#gpt2().generate({ tokens, maxNewTokens, stopToken, interventions: edits, ...extra }));
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

/** `general.architecture` of a GGUF file (the header only is read), to choose its engine. */
async function ggufArchitecture(path: string): Promise<string | undefined> {
  try {
    const arch = (await readGgufHeader(path)).metadata.get('general.architecture');
    return typeof arch === 'string' ? arch : undefined;
  } catch {
    // A file whose header does not parse goes to the GPT-2 engine's own GGUF parser, which says what is wrong.
    return undefined;
  }
}
const LOG_LEVELS = ['quiet', 'errors', 'verbose'] as const;

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
  if (isRpcDevice(device)) parseRpcDevice(device);
  else if (!is.inArray(device, DEVICES)) throw invalidParameterError('device', oneOf(DEVICES), device);
  const rpcTimeoutMs = options.rpcTimeoutMs ?? 0;
  if (!is.integerIn(rpcTimeoutMs, 0, MAX_RPC_TIMEOUT_MS))
    throw invalidParameterError('rpcTimeoutMs', `an integer number of milliseconds in 0..${MAX_RPC_TIMEOUT_MS} (0: no limit)`, options.rpcTimeoutMs);
  if (rpcTimeoutMs > 0 && !isRpcDevice(device)) throw new InvalidParameterError(`rpcTimeoutMs applies to rpc:// devices only (device is '${device}')`);
  const capture = options.capture ?? 'auto';
  if (!is.inArray(capture, CAPTURES)) throw invalidParameterError('capture', oneOf(CAPTURES), capture);
  const dtype = options.dtype ?? 'auto';
  if (!is.inArray(dtype, LOAD_DTYPES)) throw invalidParameterError('dtype', oneOf(LOAD_DTYPES), dtype);
  const engine = options.engine ?? 'auto';
  if (!is.inArray(engine, ['auto', ...MODEL_ENGINES] as const)) throw invalidParameterError('engine', oneOf(['auto', ...MODEL_ENGINES]), engine);
  for (const key of ['contextLength', 'batchSize'] as const) {
    const v = options[key];
    if (v !== undefined && !is.integerIn(v, 1, 1 << 20)) throw invalidParameterError(key, 'an integer in 1..1048576', v);
  }
  const logLevel = options.logLevel ?? 'errors';
  if (!is.inArray(logLevel, LOG_LEVELS)) throw invalidParameterError('logLevel', oneOf(LOG_LEVELS), logLevel);
  const files = await resolveModelFiles(model, {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.revision === undefined ? {} : { revision: options.revision }),
    ...(options.quiet === undefined ? {} : { quiet: options.quiet }),
  });
  const native_ = native();
  let config: GPT2Config;
  let nativeModel: NativeModel;
  const gguf = files.config === undefined;
  if (engine === 'llama.cpp' && !gguf) {
    throw new TypeError(`the llama.cpp engine reads GGUF files; ${files.weights} is a safetensors checkpoint (convert it with \`layerlens convert\`)`);
  }
  if (gguf && (engine === 'llama.cpp' || (engine === 'auto' && ![undefined, 'gpt2'].includes(await ggufArchitecture(files.weights))))) {
    if (dtype !== 'auto') throw new TypeError(`dtype '${dtype}' is a GPT-2 engine option; the llama.cpp engine computes in the file's own types`);
    if (options.capture !== undefined && options.capture !== 'auto' && options.capture !== 'callback')
      throw new TypeError("the llama.cpp engine captures through its eval callback: capture must be 'auto' or 'callback'");
    native_.setLogLevel(logLevel);
    const llama = await native_.loadLlamaModel({
      path: files.weights,
      device,
      threads: options.threads ?? 0,
      contextLength: options.contextLength ?? 0,
      batchSize: options.batchSize ?? 512,
      rpcTimeoutMs,
    });
    const li = llama.info();
    config = { model_type: li.architecture, n_layer: li.n_layer, n_embd: li.n_embd, n_head: li.n_head, n_vocab: li.n_vocab, n_ctx: li.n_ctx, eps: li.eps };
    return new Model(llama, config, files.name, files.weights);
  }
  if (gguf) {
    // A .gguf file: the engine reads the hyperparameters from its metadata.
    if (dtype === 'q8_0')
      throw new TypeError(
        `dtype 'q8_0' quantizes safetensors checkpoints; ${files.weights} is a GGUF file (use 'auto', 'f32' or 'f16', or convert the checkpoint with --type q8_0)`,
      );
    nativeModel = await native_.loadModel({ path: files.weights, device, threads: options.threads ?? 0, capture, dtype, rpcTimeoutMs });
    const { n_layer, n_embd, n_head, n_vocab, n_ctx, eps } = nativeModel.info();
    config = { model_type: 'gpt2', n_layer, n_embd, n_head, n_vocab, n_ctx, eps };
  } else {
    config = await readConfig(files.config as string);
    nativeModel = await native_.loadModel({ path: files.weights, hparams: config, device, threads: options.threads ?? 0, capture, dtype, rpcTimeoutMs });
  }
  const m = new Model(nativeModel, config, files.name, files.weights);
  if (m.runtime.notice) console.warn(m.runtime.notice);
  return m;
}
