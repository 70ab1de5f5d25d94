// Loads the compiled addon (a prebuild under prebuilds/ or build/Release) and types its surface.
// Everything here is a thin mirror of native/addon.cpp; validation for users happens in model.ts.
import { createRequire } from 'node:module';
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
  name: string;
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

export interface NativeModel {
  run(tokens: Int32Array, hooks: string[], positions: Int32Array | null, interventions?: NativeIntervention[], logits?: boolean): Promise<NativeRunResult>;
  lens(vectors: Float32Array, count: number, k: number, options?: NativeLensOptions): Promise<NativeTopK>;
  generate(tokens: Int32Array, maxNewTokens: number, stopToken: number, interventions?: NativeIntervention[]): Promise<Int32Array>;
  weight(name: 'wte' | 'wpe' | 'ln_f.weight' | 'ln_f.bias'): Promise<Float32Array>;
  info(): NativeModelInfo;
  dispose(): void;
}

export interface NativeAddon {
  /** hparams may be null for a .gguf file, which carries its own. */
  loadModel(path: string, hparams: NativeHParams | null, options: { device?: string; threads?: number; capture?: string; dtype?: string }): Promise<NativeModel>;
  gpuBackends(): string[];
  convertToGguf(
    src: string,
    hparams: NativeHParams,
    dst: string,
    type: string,
    name: string,
    threads: number,
    vocab?: { tokens: string[]; merges: string[]; types: Int32Array; eosId: number },
  ): Promise<void>;
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
    );
  }
  return addon;
}
