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

/** lens()'s request (the engine's LensRequest): `count` rows of n_embd floats in `vectors`. */
export interface NativeLensRequest extends NativeLensOptions {
  vectors: Float32Array;
  count: number;
  k: number;
}

/** generate()'s request. */
export interface NativeGenerateRequest {
  tokens: Int32Array;
  maxNewTokens: number;
  /** Stop after emitting this token; -1 (default) = never. */
  stopToken?: number;
  interventions?: NativeIntervention[];
  /** Edits of each generated token's own pass, sized for one token (steering: the same addition at every position). */
  stepInterventions?: NativeIntervention[];
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
  trainLens(request: NativeTrainLensRequest): Promise<NativeTrainLensResult>;
  lens(request: NativeLensRequest): Promise<NativeTopK>;
  generate(request: NativeGenerateRequest): Promise<Int32Array>;
  weight(name: 'wte' | 'wpe' | 'ln_f.weight' | 'ln_f.bias'): Promise<Float32Array>;
  info(): NativeModelInfo;
  dispose(): void;
}

export interface NativeAddon {
  loadModel(request: NativeLoadRequest): Promise<NativeModel>;
  gpuBackends(): string[];
  convertToGguf(request: NativeConvertRequest): Promise<void>;
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
