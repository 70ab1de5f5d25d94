// Public types of layerlens. Shapes follow ../docs/architecture.md and the JSON of the CLI's --json.

/** What a hook point holds (TransformerLens names without the `hook_` prefix). */
export type HookKind = 'embed' | 'attn_out' | 'resid_mid' | 'mlp_post' | 'mlp_out' | 'resid_post' | 'attn_pattern';

/** Kinds that live inside a block, in the order the block computes them. */
export const BLOCK_HOOK_KINDS: readonly HookKind[] = ['attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post', 'attn_pattern'];

/** Kinds whose vectors are d_model wide and can therefore be pushed through ln_f and the unembedding. */
export const LENSABLE_KINDS: readonly HookKind[] = ['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'];

/** Weight storage type of a loaded model. */
export type WeightDType = 'f32' | 'f16';

export interface ModelInfo {
  /** Directory name or hub id the model was loaded from. */
  name: string;
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_vocab: number;
  n_ctx: number;
  /** Storage type of the matrices as loaded: F16 files stay f16, F32 and BF16 (widened exactly) are f32.
   *  LayerNorm parameters and biases are always f32. `Model.runtime.fileDtype` has the file's own dtype. */
  dtype: WeightDType;
}

export interface TokenInfo {
  id: number;
  /** Exact text of this one token; bytes that are not valid UTF-8 on their own appear as `\xNN` escapes. */
  token: string;
}

export interface TopEntry {
  id: number;
  token: string;
  /** softmax probability under the lens */
  prob: number;
  /** raw logit: wte · ln_f(h) */
  logit: number;
}

export interface HookLens {
  /** Hook point name, e.g. `blocks.19.resid_post`. */
  name: string;
  /** Block index, null for `embed`. */
  layer: number | null;
  kind: HookKind;
  /** Token position this row describes. */
  position: number;
  /** Top-k of the lens distribution; absent for `mlp_post` and `attn_pattern`, which are not d-wide. */
  top?: TopEntry[];
  /** The captured activation row, only when `vectors: true`. */
  vector?: Float32Array;
}

/** One captured tensor: the rows of the requested positions. */
export interface Activation {
  name: string;
  layer: number | null;
  kind: HookKind;
  /** Positions captured, in order; one row of `data` per position. */
  positions: number[];
  /** Row-major. d-wide kinds: [positions, n_embd]; mlp_post: [positions, 4·n_embd];
   *  attn_pattern: [positions, n_head, n_tokens] (query row per position, one softmax row per head). */
  data: Float32Array;
  shape: number[];
}

export interface Prediction {
  id: number;
  token: string;
  prob: number;
}

export interface LensResult {
  model: ModelInfo;
  prompt: string;
  tokens: TokenInfo[];
  /** The position the lens rows describe when a single position was asked for (the last token by default). */
  position: number;
  /** All positions that were lensed, ascending. */
  positions: number[];
  /** The model's own next-token prediction at `position`. */
  prediction: Prediction;
  /** Lens rows, ordered by position, then `embed`, then per block attn_out, resid_mid, mlp_post, mlp_out, resid_post, attn_pattern. */
  hooks: HookLens[];
  /** Every captured tensor (also those without a lens). */
  activations: Activation[];
}
