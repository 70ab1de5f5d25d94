// Direct logit attribution (DLA): how much each component that writes into the residual stream
// contributes to the final logit of one token (or to the difference of two tokens' logits) at one
// position.
//
// The residual stream at the end of GPT-2 is a sum of the outputs of its components:
//
//   x_final = embed + Σ_L ( Σ_h head_{L,h} + attn_bias_L + mlp_out_L )
//
// where head_{L,h} is `blocks.L.attn_head_out` (head h's output through its slice of attn.c_proj, no
// bias) and attn_bias_L is the c_proj bias (attn_out − Σ_h head_{L,h}). The logit of token t is
//
//   logit_t = w_t · ln_f(x_final),  ln_f(x) = γ ⊙ (x − mean(x)) / σ(x) + β,  σ(x) = √(var(x) + ε)
//
// ln_f is not linear in x because of σ. The "frozen LayerNorm" convention (TransformerLens's
// `apply_ln_to_stack` with the final residual's scale) takes σ from the FINAL residual and treats it
// as a constant. Centering is linear, so with σ = σ(x_final) fixed:
//
//   contribution(c) = w_t · (γ ⊙ (c − mean(c)) / σ(x_final))        for each component c
//   contribution('ln_f.bias') = w_t · β
//
// and Σ contributions = w_t · ln_f(x_final) exactly: the parts add up to the model's own logit. For a
// difference of two tokens, w_t is replaced by w_t − w_versus everywhere. A part's value therefore
// depends on every other part through σ: it says how much c moves the logit *given the rest of this
// forward pass*, not what c would do on its own.
import { hookName } from '../hooks.js';
import { tokenizePrompt } from '../lens/decode.js';
import type { Model } from '../model/model.js';
import { resolveTarget } from '../lens/target.js';
import type { Intervention, TokenInfo } from '../types.js';

/** The components of the residual stream at one position, each a d-wide vector (float32 or float64). */
export interface ResidualParts {
  /** `embed`: wte[token] + wpe[position]. */
  embed: ArrayLike<number>;
  /** Per block: `blocks.L.attn_head_out` at the position, [n_head, d] row-major (head-major). */
  attnHeadOut: readonly ArrayLike<number>[];
  /** Per block: the attention output's bias term, attn_out − Σ_h attn_head_out (= attn.c_proj.bias). */
  attnBias: readonly ArrayLike<number>[];
  /** Per block: `blocks.L.mlp_out` at the position. */
  mlpOut: readonly ArrayLike<number>[];
}

/** The final LayerNorm's parameters. */
export interface FinalLayerNorm {
  weight: ArrayLike<number>;
  bias: ArrayLike<number>;
  eps: number;
}

/** The unembedding rows the logit is read with: wte[target] (and wte[versus] for a difference). */
export interface UnembedRows {
  target: ArrayLike<number>;
  versus?: ArrayLike<number>;
}

export interface AttributionPart {
  /** `embed`, `blocks.L.head.H`, `blocks.L.attn_bias`, `blocks.L.mlp` or `ln_f.bias`. */
  name: string;
  /** The block, or null for `embed` and `ln_f.bias`. */
  layer: number | null;
  /** The head, for `blocks.L.head.H` only. */
  head?: number;
  /** Contribution to the logit (or logit difference) under the frozen-LN convention. */
  value: number;
}

export interface Attribution {
  /** The logit of the target (minus that of `versus`): w · ln_f(final residual), in float64. */
  total: number;
  /** Every component, in computation order: embed, per block its heads, attn_bias and mlp, then ln_f.bias. */
  parts: AttributionPart[];
  /** Σ parts.value; equals `total` up to rounding when the parts add up to the final residual. */
  sumOfParts: number;
  /** σ(x_final) = √(var(final residual) + ε), the frozen LayerNorm scale. */
  scale: number;
  /**
   * ‖Σ component vectors − final residual‖ / ‖final residual‖: ~1e-7 when the parts cover the residual
   * stream (float32 rounding of the engine's additions). Large when something that is not a component
   * changed the residual, e.g. an intervention on resid_mid/resid_post; `sumOfParts` then differs from `total`.
   */
  residualError: number;
}

function checkWidth(v: ArrayLike<number>, d: number, what: string): void {
  if (!v || typeof v.length !== 'number' || v.length !== d) throw new RangeError(`${what} must have ${d} values, got ${v?.length}`);
}

/**
 * Direct logit attribution at one position, under the frozen-LayerNorm convention described at the top
 * of this file: contribution(c) = w · (γ ⊙ (c − mean(c)) / σ(x_final)), plus `ln_f.bias` = w · β, where
 * w = wte[target] (− wte[versus]). All arithmetic is float64.
 */
export function directLogitAttribution(parts: ResidualParts, finalResidual: ArrayLike<number>, lnf: FinalLayerNorm, rows: UnembedRows): Attribution {
  const d = finalResidual.length;
  if (d === 0) throw new RangeError('finalResidual is empty');
  checkWidth(lnf.weight, d, 'ln_f weight');
  checkWidth(lnf.bias, d, 'ln_f bias');
  checkWidth(rows.target, d, 'the target unembedding row');
  if (rows.versus !== undefined) checkWidth(rows.versus, d, 'the versus unembedding row');
  if (!(lnf.eps > 0)) throw new RangeError(`ln_f eps must be positive, got ${lnf.eps}`);
  checkWidth(parts.embed, d, 'embed');
  const nLayer = parts.mlpOut.length;
  if (parts.attnHeadOut.length !== nLayer || parts.attnBias.length !== nLayer) {
    throw new RangeError(`attnHeadOut, attnBias and mlpOut need one entry per block (got ${parts.attnHeadOut.length}, ${parts.attnBias.length}, ${nLayer})`);
  }

  // w = wte[target] (− wte[versus]); σ of the final residual.
  const w = new Float64Array(d);
  for (let i = 0; i < d; i++) w[i] = rows.target[i] - (rows.versus ? rows.versus[i] : 0);
  let mean = 0;
  for (let i = 0; i < d; i++) mean += finalResidual[i];
  mean /= d;
  let variance = 0;
  for (let i = 0; i < d; i++) variance += (finalResidual[i] - mean) ** 2;
  variance /= d;
  const sigma = Math.sqrt(variance + lnf.eps);

  // g = w ⊙ γ / σ and G = Σ g: contribution(c) = g · c − mean(c) · G.
  const g = new Float64Array(d);
  let G = 0;
  for (let i = 0; i < d; i++) {
    g[i] = (w[i] * lnf.weight[i]) / sigma;
    G += g[i];
  }
  let total = 0;
  let biasTerm = 0;
  for (let i = 0; i < d; i++) {
    total += g[i] * (finalResidual[i] - mean);
    biasTerm += w[i] * lnf.bias[i];
  }
  total += biasTerm;

  const sum = new Float64Array(d); // Σ of the component vectors, to check they cover the residual
  const contribution = (v: ArrayLike<number>, offset: number): number => {
    let dot = 0;
    let s = 0;
    for (let i = 0; i < d; i++) {
      const x = v[offset + i];
      dot += g[i] * x;
      s += x;
      sum[i] += x;
    }
    return dot - (s / d) * G;
  };

  const out: AttributionPart[] = [{ name: 'embed', layer: null, value: contribution(parts.embed, 0) }];
  for (let l = 0; l < nLayer; l++) {
    const heads = parts.attnHeadOut[l];
    if (heads.length === 0 || heads.length % d !== 0)
      throw new RangeError(`attnHeadOut[${l}] must hold n_head rows of ${d} values, got ${heads.length} values`);
    for (let h = 0; h < heads.length / d; h++) out.push({ name: `blocks.${l}.head.${h}`, layer: l, head: h, value: contribution(heads, h * d) });
    checkWidth(parts.attnBias[l], d, `attnBias[${l}]`);
    out.push({ name: `blocks.${l}.attn_bias`, layer: l, value: contribution(parts.attnBias[l], 0) });
    checkWidth(parts.mlpOut[l], d, `mlpOut[${l}]`);
    out.push({ name: `blocks.${l}.mlp`, layer: l, value: contribution(parts.mlpOut[l], 0) });
  }
  out.push({ name: 'ln_f.bias', layer: null, value: biasTerm });

  let num = 0;
  let den = 0;
  for (let i = 0; i < d; i++) {
    num += (sum[i] - finalResidual[i]) ** 2;
    den += finalResidual[i] ** 2;
  }
  const sumOfParts = out.reduce((s, p) => s + p.value, 0);
  return { total, parts: out, sumOfParts, scale: sigma, residualError: den === 0 ? Math.sqrt(num) : Math.sqrt(num / den) };
}

export interface AttributeOptions {
  /** The token whose logit is attributed: its text (exactly one token, e.g. `" Warsaw"`) or its id. */
  target: string | number;
  /** Attribute target − versus (a logit difference) instead of the target's logit alone. */
  versus?: string | number;
  /** Token position (default: the last; negative counts from the end). */
  position?: number;
  /** Edits applied during the forward pass (see Intervention); the attribution is of the edited run. */
  interventions?: readonly Intervention[];
}

export interface LogitAttribution extends Attribution {
  target: TokenInfo;
  versus?: TokenInfo;
  /** The position attributed. */
  position: number;
  /** The prompt's tokens. */
  tokens: number[];
}

/**
 * Direct logit attribution of one token's logit (or a difference of two) at one position of a prompt:
 * one forward pass capturing embed, every block's attn_head_out, attn_out and mlp_out and the final
 * resid_post at that position, then `directLogitAttribution` with ln_f and wte from `model.lensWeights()`.
 * The attention bias term of block L is attn_out − Σ_h attn_head_out (the c_proj bias, as the engine added it).
 */
export async function attributeLogit(model: Model, prompt: string | readonly number[], options: AttributeOptions): Promise<LogitAttribution> {
  const { n_layer, n_vocab, n_embd: d } = model.info;
  if (typeof options !== 'object' || options === null) throw new TypeError('attributeLogit needs options with a target');
  const ids = typeof prompt === 'string' ? tokenizePrompt(prompt, model) : [...prompt];
  if (ids.length === 0) throw new Error('no tokens to attribute: the prompt is empty');
  const target = resolveTarget(options.target, n_vocab);
  const versus = options.versus === undefined ? undefined : resolveTarget(options.versus, n_vocab);
  const p = options.position ?? -1;
  if (!Number.isInteger(p) || p < -ids.length || p >= ids.length) {
    throw new RangeError(`position ${p} is outside the prompt's ${ids.length} tokens (0..${ids.length - 1}, or -1..-${ids.length})`);
  }
  const position = p < 0 ? ids.length + p : p;

  const finalName = hookName('resid_post', n_layer - 1);
  const hooks = ['embed', finalName];
  for (let l = 0; l < n_layer; l++) hooks.push(hookName('attn_head_out', l), hookName('attn_out', l), hookName('mlp_out', l));
  const [{ activations }, lw] = await Promise.all([
    model.run(ids, { hooks, positions: [position], ...(options.interventions ? { interventions: options.interventions } : {}) }),
    model.lensWeights(),
  ]);
  const byName = new Map(activations.map((a) => [a.name, a.data]));
  const get = (name: string): Float32Array => {
    const v = byName.get(name);
    if (!v) throw new Error(`attributeLogit: the engine returned no ${name}`);
    return v;
  };

  const attnHeadOut: Float32Array[] = [];
  const attnBias: Float64Array[] = [];
  const mlpOut: Float32Array[] = [];
  for (let l = 0; l < n_layer; l++) {
    const heads = get(hookName('attn_head_out', l));
    const attnOut = get(hookName('attn_out', l));
    const bias = Float64Array.from(attnOut);
    for (let o = 0; o < heads.length; o += d) for (let i = 0; i < d; i++) bias[i] -= heads[o + i];
    attnHeadOut.push(heads);
    attnBias.push(bias);
    mlpOut.push(get(hookName('mlp_out', l)));
  }
  const row = (id: number) => lw.wte.subarray(id * d, (id + 1) * d);
  const result = directLogitAttribution(
    { embed: get('embed'), attnHeadOut, attnBias, mlpOut },
    get(finalName),
    { weight: lw.lnfWeight, bias: lw.lnfBias, eps: lw.eps },
    versus ? { target: row(target.id), versus: row(versus.id) } : { target: row(target.id) },
  );
  return { ...result, target, ...(versus ? { versus } : {}), position, tokens: ids };
}
