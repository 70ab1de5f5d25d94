// Loads the compiled addon (a prebuild under prebuilds/ or build/Release) and types its surface.
// Everything here is a thin mirror of native/addon.cpp; validation for users happens in model.ts.
import { createRequire } from 'node:module';
import type { HookKind, HookKindInfo } from '../hooks.js';
import type { NativeIntervention } from '../interp/interventions.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeHParams {
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_vocab: number;
  n_ctx: number;
  eps: number;
}

export interface NativeCaptured {
  /** Canonical hook name, formatted by the engine from kind and layer. */
  name: string;
  kind: HookKind;
  /** Block index; null for embed. */
  layer: number | null;
  /** [positions, width] or, for attn_pattern, [positions, n_head, n_tokens] */
  shape: number[];
  data: Float32Array;
}

export interface NativeRunResult {
  captured: NativeCaptured[];
  /** next-token logits at the last position */
  logits: Float32Array;
}

export interface NativeTopK {
  k: number;
  ids: Int32Array;
  logits: Float32Array;
  probs: Float32Array;
  logSumExp: Float64Array;
  /** Present when measures were asked for; NaN (or rank 0) where a row had no target/reference. */
  entropy?: Float64Array;
  targetLogit?: Float32Array;
  targetProb?: Float64Array;
  targetRank?: Int32Array;
  kl?: Float64Array;
}

/** Extra per-row measures of the lens distribution q. */
export interface NativeLensOptions {
  /** H(q) in nats for every row. */
  entropy?: boolean;
  /** Per row: a token id whose logit, probability and rank (1 = top) to report, or -1. */
  targets?: Int32Array;
  /** Per row: the index of another row p; reports KL(p ‖ q) in nats. -1 for none. */
  references?: Int32Array;
  /**
   * A speed hint, not a measure: flattened [row, a, b] triples claiming vector[row] = vector[a] + vector[b]
   * (a residual stream is the sum of what was written into it). Such a row's projection is the sum of its
   * parts' projections, so it costs an addition instead of a matmul. Each claim is checked against the
   * vectors; one that does not hold (an intervention edited the residual) is ignored.
   */
  sums?: Int32Array;
}

export interface NativeModelInfo {
  eps: number;
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_vocab: number;
  n_ctx: number;
  matrixType: string;
  fileDtype: string;
  weightBytes: number;
  device: string;
  deviceDescription: string;
  notice: string;
  threads: number;
  /** how run() copies hooks out: 'callback' or 'outputs' */
  capture: 'callback' | 'outputs';
}

/** run()'s request (the engine's RunRequest). */
export interface NativeRunRequest {
  tokens: Int32Array;
  /** Canonical hook names (`embed`, `blocks.L.KIND`); the addon parses them once into {kind, layer}. */
  hooks?: string[];
  /** Rows to capture, ascending and unique; absent = every position. */
  positions?: Int32Array;
  interventions?: NativeIntervention[];
  /** Compute the next-token logits (default true). */
  logits?: boolean;
}

/** runBatch()'s request (the engine's BatchRunRequest): sequences packed into one forward, no padding. */
export interface NativeBatchRunRequest {
  sequences: Int32Array[];
  /** Row hooks only (no attn_pattern / attn_head_out). */
  hooks?: string[];
  /** Per sequence: rows to capture, ascending and unique; absent = every position of each. */
  positions?: Int32Array[];
  /** Each sequence's next-token logits (default true). */
  logits?: boolean;
}

/** lens()'s request (the engine's LensRequest): `count` rows of n_embd floats in `vectors`. */
export interface NativeLensRequest extends NativeLensOptions {
  vectors: Float32Array;
  count: number;
  k: number;
}

/** generate()'s request. */
export interface NativeGenerateRequest extends NativeSamplingRequest {
  tokens: Int32Array;
  maxNewTokens: number;
  /** Stop after emitting this token; -1 (default) = never. */
  stopToken?: number;
  interventions?: NativeIntervention[];
  /** Edits of each generated token's own pass, sized for one token (steering: the same addition at every position). */
  stepInterventions?: NativeIntervention[];
}

/** generate()'s sampling fields, the same on both engines (native/sampling.hpp). */
export interface NativeSamplingRequest {
  /** Sampling (native/sampling.hpp): 0 (default) = greedy; else finite, > 0, kept as a float32. */
  temperature?: number;
  /** Keep the topK most likely tokens; ≤ 0 (default 0) = all. */
  topK?: number;
  /** In (0, 1], default 1. */
  topP?: number;
  /** The PRNG's seed, an integer in 0..2^53-1; default 0. */
  seed?: number;
}

/** loadModel()'s request (the engine's EngineOptions plus what to load). */
export interface NativeLoadRequest {
  path: string;
  /** Required for safetensors checkpoints; absent for a .gguf file, which carries its own. */
  hparams?: NativeHParams;
  device?: string;
  threads?: number;
  capture?: 'auto' | 'callback' | 'outputs';
  dtype?: string;
  /** With rpc:// devices: how long one call may wait for the servers, in ms; 0 = no limit. */
  rpcTimeoutMs?: number;
}

/** convertToGguf()'s request. */
export interface NativeConvertRequest {
  src: string;
  hparams: NativeHParams;
  dst: string;
  type: 'f32' | 'f16' | 'q8_0';
  /** general.name in the metadata */
  name: string;
  threads?: number;
  vocab?: { tokens: string[]; merges: string[]; types: Int32Array; eosId?: number };
}

/** Every method takes one options object; an unknown or mistyped field is a TypeError naming it. */
/** trainLens()'s request (native/train/lens_trainer.hpp): `count` translators over `rows` positions. */
export interface NativeTrainLensRequest {
  /** [count, rows, n_embd]: the hidden state each translator acts on. */
  inputs: Float32Array;
  /** [rows, n_embd]: the last block's resid_post, whose lens is the model's output distribution. */
  final: Float32Array;
  /** [count, n_embd, n_embd]: each translator's weight, row-major out × in. */
  weights: Float32Array;
  /** [count, n_embd] */
  biases: Float32Array;
  rows: number;
  count: number;
  /** Compute the gradients (default true); false: the loss only. */
  gradients?: boolean;
}

/** Sums over the rows: loss[i] = Σ KL(p ‖ q_i) in nats, and its gradients. */
export interface NativeTrainLensResult {
  loss: Float64Array;
  gradWeights?: Float32Array;
  gradBiases?: Float32Array;
}

export interface NativeModel {
  run(request: NativeRunRequest): Promise<NativeRunResult>;
  /** One result per sequence, each equal to run() of that sequence alone. */
  runBatch(request: NativeBatchRunRequest): Promise<NativeRunResult[]>;
  trainLens(request: NativeTrainLensRequest): Promise<NativeTrainLensResult>;
  lens(request: NativeLensRequest): Promise<NativeTopK>;
  generate(request: NativeGenerateRequest): Promise<Int32Array>;
  weight(name: 'wte' | 'wpe' | 'ln_f.weight' | 'ln_f.bias'): Promise<Float32Array>;
  info(): NativeModelInfo;
  dispose(): void;
}

/** The llama.cpp engine's description of a loaded GGUF (native/llama/llama_addon.cpp). */
export interface NativeLlamaModelInfo {
  engine: 'llama.cpp';
  /** general.architecture */
  architecture: string;
  /** llama.cpp's one-line description (architecture, size, file type), e.g. "llama 1B Q8_0". */
  description: string;
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_head_kv: number;
  /** FFN width of block 0 (mlp_post's width). */
  n_ff: number;
  n_vocab: number;
  /** The context this model was loaded with. */
  n_ctx: number;
  n_ctx_train: number;
  /** The most tokens one forward takes. */
  n_batch: number;
  /** The final norm's epsilon. */
  eps: number;
  bos: number;
  eos: number;
  /** The tokenizer adds BOS in front of a prompt. */
  addBos: boolean;
  chatTemplate: string | null;
  sizeBytes: number;
  nParams: number;
  /** The hook map of this architecture was checked by value (else only embed and resid_post). */
  hooksVerified: boolean;
  /** Hook kinds this architecture offers. */
  hooks: HookKind[];
  finalNorm: 'rms' | 'layer';
  finalLogitSoftcap: number;
  tiedOutput: boolean;
  threads: number;
  /** 'cpu', or the RPC servers holding the blocks ('rpc://a:50052,rpc://b:50052'). */
  device: string;
}

export interface NativeLlamaGenerateRequest extends NativeSamplingRequest {
  tokens: Int32Array;
  maxNewTokens: number;
  /** Stop after an end-of-generation token (default true). */
  stopAtEog?: boolean;
  interventions?: NativeIntervention[];
  stepInterventions?: NativeIntervention[];
}

/** A GGUF model run by libllama: the same run/lens as NativeModel plus the model's own tokenizer. */
export interface NativeLlamaModel {
  run(request: NativeRunRequest): Promise<NativeRunResult>;
  /** Several sequences in one llama_decode; each result agrees with run() of it alone to float rounding. */
  runBatch(request: NativeBatchRunRequest): Promise<NativeRunResult[]>;
  lens(request: NativeLensRequest): Promise<NativeTopK>;
  generate(request: NativeLlamaGenerateRequest): Promise<Int32Array>;
  tokenize(request: { text: string; addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  /** Each token's bytes (special tokens rendered). */
  pieces(ids: Int32Array): Uint8Array[];
  /** UTF-8 bytes of the text of `ids`. */
  detokenize(ids: Int32Array): Uint8Array;
  applyChatTemplate(request: { messages: { role: string; content: string }[]; addAssistant?: boolean }): string;
  /**
   * llama.cpp's own control vector (llama_set_adapter_cvec), kept for every later run and generate:
   * `directions` = direction.1, direction.2, … (nEmbd each), or control-vector `files` read and summed as
   * llama.cpp's --control-vector-scaled reads them (ggml's GGUF reader), added to the output of blocks
   * ilStart..ilEnd (inclusive; default 1..n_layer). With neither it is cleared. decodeLayers/generate
   * steer through interventions instead; this is llama.cpp's path, for comparison.
   */
  setControlVector(request: {
    directions?: Float32Array;
    files?: { path: string; scale?: number }[];
    nEmbd: number;
    ilStart?: number;
    ilEnd?: number;
  }): Promise<void>;
  info(): NativeLlamaModelInfo;
  dispose(): void;
}

export interface NativeLlamaLoadRequest {
  path: string;
  device?: string;
  threads?: number;
  /** Context length; 0 = the model's training context, at most 4096. */
  contextLength?: number;
  /** The most tokens one forward takes (default 512). */
  batchSize?: number;
  /** With rpc:// devices: how long one call may wait for the servers, in ms; 0 = no limit. */
  rpcTimeoutMs?: number;
}

/** Tuned-lens translators copied into native memory (native/lens/translate.hpp); see lib/lens/tuned/translate.ts. */
export interface NativeTranslators {
  /** `rows` ([Σ counts, d]) translated as h + A·h + b; `groups` = [translator, rowCount] pairs, in row order. */
  translate(request: { rows: Float32Array; groups: Int32Array; threads?: number }): Promise<Float32Array>;
  /** Frees the native copy now (else when garbage-collected); later translate() calls throw. */
  dispose(): void;
  /** Native memory held for the weights. */
  readonly bytes: number;
}

export interface NativeAddon {
  /** Copies translators (row-major [d, d] weights, optional d-wide biases) into native memory. */
  Translators: new (request: { d: number; weights: Float32Array[]; biases?: Float32Array[] }) => NativeTranslators;
  loadModel(request: NativeLoadRequest): Promise<NativeModel>;
  loadLlamaModel(request: NativeLlamaLoadRequest): Promise<NativeLlamaModel>;
  /** What llama.cpp and ggml print to stderr: nothing, errors only (default) or everything. */
  setLogLevel(level: 'quiet' | 'errors' | 'verbose'): void;
  gpuBackends(): string[];
  convertToGguf(request: NativeConvertRequest): Promise<void>;
  /** ggml's RPC server on this machine's devices (native/rpc_server.hpp): rejects when it cannot start,
   *  otherwise never settles. */
  startRpcServer(request: { host: string; port: number; threads?: number }): Promise<void>;
  /** The engine's hook registry (native/graph/hook_kinds.hpp), in result order; lib/hooks.ts mirrors it. */
  hookKinds: HookKindInfo[];
  ggmlVersion: string;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  try {
    addon = require('node-gyp-build')(packageRoot) as NativeAddon;
  } catch (err) {
    throw new Error(
      `layerlens: the native addon is not built for ${process.platform}-${process.arch} (Node ${process.version}). ` +
        `Run \`npm rebuild layerlens\` (or \`npm run build:native\` in a clone); it needs CMake and a C++17 compiler.\n` +
        `Cause: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return addon;
}
