// Public types of layerlens. Shapes follow ../docs/architecture.md and the JSON of the CLI's --json.

// The hook kinds are defined once, in the registry (lib/hooks.ts mirrors the engine's table).
import type { HookKind } from './hooks.js';
export { BLOCK_HOOK_KINDS, LENSABLE_KINDS, type HookKind } from './hooks.js';

/** Weight storage types: of a loaded model, of `LoadOptions.dtype` conversions and of `convert --type`
 *  (convert's default, f16, first). */
export const DTYPES = ['f16', 'q8_0', 'f32'] as const;
/** Type a loaded model's matrices are stored and multiplied in (q4_0 comes only from GGUF files). */
export type WeightDType = (typeof DTYPES)[number] | 'q4_0';

/** Compute devices of `LoadOptions.device` and --device ('auto': a GPU backend when the build has one). */
export const DEVICES = ['auto', 'cpu', 'cuda', 'metal'] as const;
/** One of DEVICES, or ggml RPC servers: 'rpc://host:port', several comma-separated (docs/remote.md). */
export type Device = (typeof DEVICES)[number] | `rpc://${string}`;

/** Most CPU threads a model may be given (`LoadOptions.threads`, --threads). */
export const MAX_THREADS = 1024;
/** The longest rpcTimeoutMs (the addon holds it in an int32): ~24.8 days. */
export const MAX_RPC_TIMEOUT_MS = 2 ** 31 - 1;

/** The two engines: GPT-2 on layerlens' own ggml graph, or any GGUF decoder through libllama. */
export const MODEL_ENGINES = ['gpt2', 'llama.cpp'] as const;
export type ModelEngine = (typeof MODEL_ENGINES)[number];

/** A GGUF file type the llama.cpp engine reports (e.g. 'q4_k_m', 'bf16'), lower case. */
export type LlamaFileType = string & Record<never, never>;

/** Engine-agnostic facts of a loaded model. Fields marked optional are always set by loadModel(); they are
 *  optional so that results and ModelInfo objects written before the llama.cpp engine still type-check. */
export interface ModelInfo {
  /** Directory name or hub id the model was loaded from. */
  name: string;
  /** The engine running the model: 'gpt2' (layerlens' own GPT-2 graph) or 'llama.cpp' (libllama, any GGUF decoder). */
  engine?: 'gpt2' | 'llama.cpp';
  /** GGUF `general.architecture` ('gpt2' for GPT-2 checkpoints): llama, qwen2, gemma2, … */
  architecture?: string;
  n_layer: number;
  n_embd: number;
  n_head: number;
  /** Width of the FFN's hidden layer (mlp_post): 4·n_embd for GPT-2. */
  n_ff?: number;
  n_vocab: number;
  /** The longest prompt one forward takes. */
  n_ctx: number;
  /** The hook kinds this model offers (every kind on the GPT-2 engine; per architecture on llama.cpp's). */
  hookKinds?: readonly HookKind[];
  /** Type the blocks' matrices are computed in (the least precise one if they differ). By default F32, F16
   *  and BF16 files are all f32 (F16/BF16 widened exactly, as Hugging Face computes them) and a quantized
   *  GGUF keeps its type (q8_0, q4_0); `LoadOptions.dtype` asks for f32, f16 or q8_0 instead.
   *  LayerNorm parameters and biases are always f32. `Model.runtime.fileDtype` has the file's own types. */
  dtype: WeightDType | LlamaFileType;
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

/** Where a chosen target token stands in one lens distribution (decodeLayers' `target` option). */
export interface TargetStats {
  id: number;
  token: string;
  /** softmax probability of the target under the lens */
  prob: number;
  /** raw logit of the target: wte[target] · ln_f(h) */
  logit: number;
  /** 1 = the lens's top token; ties rank the lower id first */
  rank: number;
  /** 1 / rank */
  reciprocalRank: number;
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
  /** The target token under this lens row; only with the `target` option, only for lensed rows. */
  target?: TargetStats;
  /** Entropy of the lens distribution in nats; only with `metrics: true`, only for lensed rows. */
  entropy?: number;
  /**
   * KL(final ‖ this row) in nats, where "final" is the model's own output distribution at the same position
   * (the lens of the last block's resid_post). 0 for that row itself. Only with `metrics: true`.
   */
  kl?: number;
  /** Only with the tuned lens: which lens this row shows ('tuned' where a translator exists, else 'logit'). */
  lens?: 'tuned' | 'logit';
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

/** The attention of one block at the captured query positions (from its `attn_pattern` capture). */
export interface AttentionLayer {
  /** `blocks.L.attn_pattern` */
  name: string;
  layer: number;
  /** Query positions captured, ascending; `patterns[i]` belongs to `positions[i]`. */
  positions: number[];
  n_head: number;
  n_tokens: number;
  /**
   * `patterns[i][h]`: the softmax weights of head h for query `positions[i]` over the n_tokens keys (0 after
   * the query). Views into the activation's `data`, not copies.
   */
  patterns: Float32Array[][];
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
  /** The target token, when the `target` option was given (each lensed row then has `target`). */
  target?: TokenInfo;
  /** One entry per captured `attn_pattern` hook, in block order; absent when none was captured. */
  attention?: AttentionLayer[];
  /** 'tuned' when the tuned lens was applied (see DecodeOptions.tunedLens); absent for the plain logit lens. */
  lens?: 'tuned';
}

/** How an intervention changes a hook's value (see Intervention). */
export type InterventionOp = 'add' | 'set' | 'scale' | 'zero';

/**
 * An edit applied inside the graph at a hook, so every later hook, the lens, the prediction and
 * generation see it. Applies to the d-wide hooks (embed, attn_out, resid_mid, mlp_out, resid_post) and
 * to mlp_post (optionally to chosen neurons only).
 */
export interface Intervention {
  hook: string;
  /** Token positions it applies to; default 'all'. Negative indices count from the end. */
  positions?: 'all' | readonly number[];
  op: InterventionOp;
  /** add / set: the hook's width (n_embd, or 4·n_embd for mlp_post). */
  vector?: Float32Array;
  /** scale: the factor. */
  scale?: number;
  /** mlp_post only: the neuron indices the op touches (default: all). */
  neurons?: readonly number[];
}

/**
 * Lookups by hook on a decodeLayers result, like TransformerLens's `cache["resid_post", 19]`. `hook` is a
 * kind (`'resid_post'`, or TL's short names `'resid_pre'`, `'pattern'`, `'result'`, `'post'`) with a
 * `layer` (negative counts from the last block: -1 = the last), or a full hook name alone (canonical or a
 * TransformerLens alias). `position` is a prompt position (negative counts from the end of the prompt) among
 * the lensed ones; default: the result's `position`. A hook that was not captured throws, naming the
 * captured ones. The methods are non-enumerable: JSON.stringify and toJSON output is unchanged.
 */
export interface LensResultAccessors {
  /** The lens row of a hook at one position. */
  get(hook: string, layer?: number, position?: number): HookLens;
  /** The lens rows of a hook at every lensed position, ascending. */
  rows(hook: string, layer?: number): HookLens[];
  /** The captured tensor of a hook. */
  activation(hook: string, layer?: number): Activation;
  /** The captured values of a hook at one position (a view into the activation's data; per-head kinds: [n_head, width] flattened). */
  vector(hook: string, layer?: number, position?: number): Float32Array;
}

/** What decodeLayers returns: the plain result plus its non-enumerable accessors. */
export type DecodedLens = LensResult & LensResultAccessors;
