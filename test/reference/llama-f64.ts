// Float64 reference forward for the GGUF architectures of the libllama engine: llama, qwen2, qwen3,
// olmo2, gptneox, phi3 and gemma2. The oracle the engine's parity tests compare against.
//
// Written from the math of each architecture as a GGUF file holds it (not from llama.cpp's code): plain
// loops, every intermediate in float64. The weights come in the layout a GGUF stores them (a matrix
// with ggml dims [in, out] is `out` rows of `in` values, i.e. a torch Linear weight [out, in]), already
// split (a fused qkv or gate|up tensor arrives as its parts) and already dequantized, as returned by
// test/helpers/gguf-arch-writer.ts.
//
// What each architecture computes (x = residual stream, one row per position; RMS(v) = v / sqrt(mean(v²) + eps)):
//   llama    x0 = E[id]. Per layer: h = RMS(x)·w_attn_norm; q, k, v = Wq h, Wk h, Wv h (grouped-query:
//            n_head_kv ≤ n_head, query head i reads key/value head floor(i / (n_head / n_head_kv)));
//            RoPE in NORM layout on q and k; causal softmax(q·k / sqrt(head_dim)); attn_out = Wo z;
//            x += attn_out; x += W_down(silu(W_gate h') ⊙ W_up h') with h' = RMS(x)·w_ffn_norm.
//            Logits = W_out · RMS(x)·w_out_norm, W_out = E when the file has no output.weight (tied).
//            llama.cpp's converter permutes Hugging Face's q/k rows so that NORM RoPE on the GGUF equals
//            HF's rotate-half RoPE on the original; a synthetic GGUF is already in GGUF terms.
//   qwen2    llama with biases on q, k and v, and RoPE in NEOX layout.
//   qwen3    llama with RoPE in NEOX layout and, before RoPE, an RMSNorm of every head of q and of k
//            (weights attn_q_norm / attn_k_norm, head_dim wide); head_dim may differ from n_embd / n_head.
//   olmo2    no norm before attention or FFN. q and k are RMS-normed over the whole projection
//            (attn_q_norm is n_head·head_dim wide, attn_k_norm n_head_kv·head_dim), then NEOX RoPE;
//            attn_out = RMS(Wo z)·w_post_attention_norm, mlp_out = RMS(ffn(x))·w_post_ffw_norm. Untied output.
//   gptneox  (Pythia) LayerNorm with weight and bias, (v - mean) / sqrt(var + eps); one fused qkv with
//            bias whose rows are [Q | K | V]; partial rotary: NEOX RoPE on the first rope.dimension_count
//            dims of each head, the rest unrotated; attention output bias; FFN = W_down gelu(W_up h + b) + b
//            with GELU in its tanh form, as ggml_gelu computes it (Hugging Face's Pythia uses the exact erf
//            GELU; the two differ by up to ~6e-4 on the residual). With use_parallel_residual (Pythia):
//            x_next = x + attn(LN1(x)) + ffn(LN2(x)) and there is no resid_mid; else sequential.
//            Output norm has a bias; output.weight is required (untied).
//   phi3     llama with a fused qkv ([Q | K | V] rows, no bias), NEOX RoPE (possibly partial), and a fused
//            gate|up matrix (first n_ff rows the gate, the next n_ff the up): silu(gate) ⊙ up.
//   gemma2   x0 = E[id]·sqrt(n_embd). Pre and post RMSNorms around attention and around the FFN:
//            attn_out = RMS(Wo z)·w_post_attention_norm, mlp_out = RMS(ffn(RMS(x)·w_ffn_norm))·w_post_ffw_norm;
//            FFN is GEGLU: gelu_tanh(W_gate h) ⊙ W_up h. Scores are soft-capped before the softmax:
//            s = c·tanh((q·k)·scale / c), c = attn_logit_softcapping, scale = 1/sqrt(head_dim) (1/sqrt(n_embd /
//            n_head) for the 46-layer 27B); even layers use a sliding window (a key is seen when
//            query_pos - key_pos < sliding_window; llama.cpp's default pattern has every 2nd layer global);
//            NEOX RoPE; logits = f·tanh(W_out y / f), f = final_logit_softcapping; output tied to E.
//            Hugging Face's Gemma RMSNorm scales by (1 + w); the converter stores 1 + w, so a GGUF's norm
//            weights multiply directly.
//
// RoPE: for pair index i < n_rot/2, θ_i = pos · base^(-2i / n_rot), base = <arch>.rope.freq_base; NORM rotates
// dims (2i, 2i+1), NEOX rotates dims (i, i + n_rot/2); dims ≥ n_rot are left as they are.
//
// Hook values (row-major Float64Array, n = number of input tokens, no BOS added):
//   embed                 [n, d]       the scaled embedding row that enters layer 0
//   layers[L].resid_pre   [n, d]       the stream entering layer L
//   layers[L].attn_out    [n, d]       what attention adds to the stream (after post-norm where there is one)
//   layers[L].attn_head_out [n, n_head, d]  each head's z_h through its columns of Wo, no bias, before any post-norm
//   layers[L].resid_mid   [n, d]       resid_pre + attn_out (absent with a parallel residual)
//   layers[L].mlp_post    [n, n_ff]    the activation entering the down projection
//   layers[L].mlp_out     [n, d]       what the FFN adds to the stream (after post-norm where there is one)
//   layers[L].resid_post  [n, d]       the stream leaving layer L
//   layers[L].attn_pattern [n_head, n, n]  softmax weights [head][query][key], zero where masked
//   final_norm            [n, d]       the output norm of the last stream (llama.cpp's result_norm)
//   logits                [n, vocab]   every position (soft-capped for gemma2)

export type ArchName = 'llama' | 'qwen2' | 'qwen3' | 'olmo2' | 'gptneox' | 'phi3' | 'gemma2';

export const ARCH_NAMES: readonly ArchName[] = ['llama', 'qwen2', 'qwen3', 'olmo2', 'gptneox', 'phi3', 'gemma2'];

/** Hyperparameters as the GGUF metadata states them. */
export interface ArchConfig {
  arch: ArchName;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  nCtx: number;
  nVocab: number;
  /** rope.dimension_count: dims of each head that RoPE rotates */
  nRot: number;
  ropeTheta: number;
  /** layer_norm_rms_epsilon (RMSNorm archs) or layer_norm_epsilon (gptneox) */
  normEps: number;
  /** gptneox only */
  parallelResidual: boolean;
  /** gemma2 only: attn_logit_softcapping, final_logit_softcapping, sliding_window */
  attnSoftcap: number;
  finalSoftcap: number;
  slidingWindow: number;
}

/** One layer's weights, matrices [out, in] row-major; which are present depends on the architecture. */
export interface ArchLayerWeights {
  attnNorm?: Float64Array;
  attnNormB?: Float64Array;
  wq: Float64Array;
  wk: Float64Array;
  wv: Float64Array;
  bq?: Float64Array;
  bk?: Float64Array;
  bv?: Float64Array;
  qNorm?: Float64Array;
  kNorm?: Float64Array;
  wo: Float64Array;
  bo?: Float64Array;
  attnPostNorm?: Float64Array;
  ffnNorm?: Float64Array;
  ffnNormB?: Float64Array;
  ffnGate?: Float64Array;
  ffnUp: Float64Array;
  ffnUpB?: Float64Array;
  ffnDown: Float64Array;
  ffnDownB?: Float64Array;
  ffnPostNorm?: Float64Array;
}

export interface ArchWeights {
  config: ArchConfig;
  tokenEmbd: Float64Array; // [vocab, d]
  /** [vocab, d]; the same array as tokenEmbd when the output is tied */
  output: Float64Array;
  outputNorm: Float64Array;
  outputNormB?: Float64Array;
  layers: ArchLayerWeights[];
}

export interface ArchLayerHooks {
  resid_pre: Float64Array;
  attn_out: Float64Array;
  attn_head_out: Float64Array;
  resid_mid?: Float64Array;
  mlp_post: Float64Array;
  mlp_out: Float64Array;
  resid_post: Float64Array;
  attn_pattern: Float64Array;
}

export interface ArchForward {
  embed: Float64Array;
  layers: ArchLayerHooks[];
  final_norm: Float64Array;
  logits: Float64Array;
}

export type RopeMode = 'norm' | 'neox';

/** How an architecture computes, beyond its dimensions. */
interface Recipe {
  norm: 'rms' | 'layer';
  rope: RopeMode;
  /** a norm before attention and before the FFN */
  preNorms: boolean;
  /** RMSNorms on the attention and FFN outputs before they join the stream */
  postNorms: boolean;
  qkNorm: 'none' | 'per-head' | 'whole';
  ffn: 'swiglu' | 'geglu' | 'gelu';
  embedScale: boolean;
  softcaps: boolean;
}

const RECIPES: Record<ArchName, Recipe> = {
  llama: { norm: 'rms', rope: 'norm', preNorms: true, postNorms: false, qkNorm: 'none', ffn: 'swiglu', embedScale: false, softcaps: false },
  qwen2: { norm: 'rms', rope: 'neox', preNorms: true, postNorms: false, qkNorm: 'none', ffn: 'swiglu', embedScale: false, softcaps: false },
  qwen3: { norm: 'rms', rope: 'neox', preNorms: true, postNorms: false, qkNorm: 'per-head', ffn: 'swiglu', embedScale: false, softcaps: false },
  olmo2: { norm: 'rms', rope: 'neox', preNorms: false, postNorms: true, qkNorm: 'whole', ffn: 'swiglu', embedScale: false, softcaps: false },
  gptneox: { norm: 'layer', rope: 'neox', preNorms: true, postNorms: false, qkNorm: 'none', ffn: 'gelu', embedScale: false, softcaps: false },
  phi3: { norm: 'rms', rope: 'neox', preNorms: true, postNorms: false, qkNorm: 'none', ffn: 'swiglu', embedScale: false, softcaps: false },
  gemma2: { norm: 'rms', rope: 'neox', preNorms: true, postNorms: true, qkNorm: 'none', ffn: 'geglu', embedScale: true, softcaps: true },
};

/** The RoPE layout llama.cpp uses for `arch`. */
export function ropeModeOf(arch: ArchName): RopeMode {
  return RECIPES[arch].rope;
}

/** w ⊙ v / sqrt(mean(v²) + eps) */
export function rmsNorm(v: Float64Array, w: Float64Array | undefined, eps: number): Float64Array {
  let ss = 0;
  for (const x of v) ss += x * x;
  const r = 1 / Math.sqrt(ss / v.length + eps);
  return v.map((x, i) => x * r * (w ? w[i] : 1));
}

/** w ⊙ (v - mean) / sqrt(var + eps) + b, var the population variance */
export function layerNorm(v: Float64Array, w: Float64Array, b: Float64Array | undefined, eps: number): Float64Array {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let variance = 0;
  for (const x of v) variance += (x - mean) * (x - mean);
  variance /= v.length;
  const r = 1 / Math.sqrt(variance + eps);
  return v.map((x, i) => (x - mean) * r * w[i] + (b ? b[i] : 0));
}

/** GELU, tanh approximation (the form ggml_gelu computes). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/**
 * Rotates one head vector (head_dim values, modified in place) for position `pos`: pair index
 * i < nRot/2 turns by pos · theta^(-2i/nRot); NORM pairs dims (2i, 2i+1), NEOX pairs (i, i + nRot/2).
 */
export function ropeInPlace(head: Float64Array, pos: number, nRot: number, theta: number, mode: RopeMode): void {
  const half = nRot / 2;
  for (let i = 0; i < half; i++) {
    const angle = pos * Math.pow(theta, (-2 * i) / nRot);
    const c = Math.cos(angle),
      s = Math.sin(angle);
    const a = mode === 'norm' ? 2 * i : i;
    const b = mode === 'norm' ? 2 * i + 1 : i + half;
    const x0 = head[a],
      x1 = head[b];
    head[a] = x0 * c - x1 * s;
    head[b] = x0 * s + x1 * c;
  }
}

/** W [rows, cols] · x (+ bias) */
function matVec(w: Float64Array, x: Float64Array, rows: number, bias?: Float64Array): Float64Array {
  const cols = x.length;
  if (w.length !== rows * cols) throw new Error(`matrix of ${w.length} values is not [${rows}, ${cols}]`);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = bias ? bias[r] : 0;
    const off = r * cols;
    for (let c = 0; c < cols; c++) acc += w[off + c] * x[c];
    y[r] = acc;
  }
  return y;
}

/** The attention scale llama.cpp's graph applies for this model. */
export function attentionScale(cfg: ArchConfig): number {
  // Gemma 2 27B (46 layers) scales by the query_pre_attn_scalar n_embd / n_head, not head_dim.
  if (cfg.arch === 'gemma2' && cfg.nLayer === 46) return 1 / Math.sqrt(cfg.nEmbd / cfg.nHead);
  return 1 / Math.sqrt(cfg.headDim);
}

/** Whether layer `il` attends through a sliding window (gemma2: every even layer, llama.cpp's default pattern of 2). */
export function isSlidingWindowLayer(cfg: ArchConfig, il: number): boolean {
  return cfg.arch === 'gemma2' && il % 2 === 0;
}

function row(a: Float64Array, i: number, width: number): Float64Array {
  return a.subarray(i * width, (i + 1) * width);
}

/** The forward over `ids` (no BOS is added), every hook value in float64. */
export function archForward(model: ArchWeights, ids: readonly number[]): ArchForward {
  const cfg = model.config;
  const recipe = RECIPES[cfg.arch];
  const { nEmbd: d, nHead, nHeadKv, headDim: hd, nFf: ff, nVocab: V, normEps: eps } = cfg;
  const n = ids.length;
  const nq = nHead * hd,
    nkv = nHeadKv * hd;
  if (nHead % nHeadKv !== 0) throw new Error(`n_head ${nHead} is not a multiple of n_head_kv ${nHeadKv}`);
  if (cfg.nRot % 2 !== 0 || cfg.nRot > hd) throw new Error(`n_rot ${cfg.nRot} must be even and at most head_dim ${hd}`);
  const group = nHead / nHeadKv;
  const scale = attentionScale(cfg);
  const norm = (v: Float64Array, w: Float64Array, b: Float64Array | undefined) => (recipe.norm === 'rms' ? rmsNorm(v, w, eps) : layerNorm(v, w, b, eps));

  const embed = new Float64Array(n * d);
  const embedScale = recipe.embedScale ? Math.sqrt(d) : 1;
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} outside the vocabulary of ${V}`);
    for (let c = 0; c < d; c++) embed[i * d + c] = model.tokenEmbd[id * d + c] * embedScale;
  });

  let x = embed;
  const layers: ArchLayerHooks[] = model.layers.map((w, il) => {
    const residPre = x;
    const q = new Float64Array(n * nq),
      k = new Float64Array(n * nkv),
      v = new Float64Array(n * nkv);
    for (let i = 0; i < n; i++) {
      const h = recipe.preNorms ? norm(row(residPre, i, d), w.attnNorm!, w.attnNormB) : row(residPre, i, d);
      let qi = matVec(w.wq, h, nq, w.bq);
      let ki = matVec(w.wk, h, nkv, w.bk);
      const vi = matVec(w.wv, h, nkv, w.bv);
      if (recipe.qkNorm === 'whole') {
        qi = rmsNorm(qi, w.qNorm!, eps);
        ki = rmsNorm(ki, w.kNorm!, eps);
      }
      for (let hh = 0; hh < nHead; hh++) {
        let head: Float64Array = qi.slice(hh * hd, (hh + 1) * hd);
        if (recipe.qkNorm === 'per-head') head = rmsNorm(head, w.qNorm!, eps);
        ropeInPlace(head, i, cfg.nRot, cfg.ropeTheta, recipe.rope);
        q.set(head, i * nq + hh * hd);
      }
      for (let g = 0; g < nHeadKv; g++) {
        let head: Float64Array = ki.slice(g * hd, (g + 1) * hd);
        if (recipe.qkNorm === 'per-head') head = rmsNorm(head, w.kNorm!, eps);
        ropeInPlace(head, i, cfg.nRot, cfg.ropeTheta, recipe.rope);
        k.set(head, i * nkv + g * hd);
      }
      v.set(vi, i * nkv);
    }

    const window = isSlidingWindowLayer(cfg, il) ? cfg.slidingWindow : Infinity;
    const pattern = new Float64Array(nHead * n * n);
    const z = new Float64Array(n * nq);
    for (let hh = 0; hh < nHead; hh++) {
      const g = Math.floor(hh / group);
      for (let i = 0; i < n; i++) {
        const scores: number[] = [];
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          if (i - j >= window) {
            scores.push(-Infinity);
            continue;
          }
          let dot = 0;
          for (let c = 0; c < hd; c++) dot += q[i * nq + hh * hd + c] * k[j * nkv + g * hd + c];
          let s = dot * scale;
          if (recipe.softcaps) s = cfg.attnSoftcap * Math.tanh(s / cfg.attnSoftcap);
          scores.push(s);
          max = Math.max(max, s);
        }
        let sum = 0;
        const p = scores.map((s) => {
          const e = s === -Infinity ? 0 : Math.exp(s - max);
          sum += e;
          return e;
        });
        for (let j = 0; j <= i; j++) {
          const pj = p[j] / sum;
          pattern[(hh * n + i) * n + j] = pj;
          for (let c = 0; c < hd; c++) z[i * nq + hh * hd + c] += pj * v[j * nkv + g * hd + c];
        }
      }
    }

    const attnOut = new Float64Array(n * d);
    const attnHeadOut = new Float64Array(n * nHead * d);
    for (let i = 0; i < n; i++) {
      for (let hh = 0; hh < nHead; hh++) {
        for (let r = 0; r < d; r++) {
          let acc = 0;
          for (let c = 0; c < hd; c++) acc += w.wo[r * nq + hh * hd + c] * z[i * nq + hh * hd + c];
          attnHeadOut[(i * nHead + hh) * d + r] = acc;
        }
      }
      let a = matVec(w.wo, row(z, i, nq), d, w.bo);
      if (recipe.postNorms) a = rmsNorm(a, w.attnPostNorm!, eps);
      attnOut.set(a, i * d);
    }

    const residMid = cfg.parallelResidual ? undefined : residPre.map((val, idx) => val + attnOut[idx]);
    const ffnIn = residMid ?? residPre;
    const mlpPost = new Float64Array(n * ff);
    const mlpOut = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const h = recipe.preNorms ? norm(row(ffnIn, i, d), w.ffnNorm!, w.ffnNormB) : row(ffnIn, i, d);
      const up = matVec(w.ffnUp, h, ff, w.ffnUpB);
      let act: Float64Array;
      if (recipe.ffn === 'gelu') act = up.map(geluTanh);
      else {
        const gate = matVec(w.ffnGate!, h, ff);
        act = recipe.ffn === 'swiglu' ? gate.map((gv, c) => silu(gv) * up[c]) : gate.map((gv, c) => geluTanh(gv) * up[c]);
      }
      mlpPost.set(act, i * ff);
      let m = matVec(w.ffnDown, act, d, w.ffnDownB);
      if (recipe.postNorms) m = rmsNorm(m, w.ffnPostNorm!, eps);
      mlpOut.set(m, i * d);
    }
    const residPost = ffnIn.map((val, idx) => val + mlpOut[idx] + (residMid ? 0 : attnOut[idx]));
    x = residPost;
    return {
      resid_pre: residPre,
      attn_out: attnOut,
      attn_head_out: attnHeadOut,
      ...(residMid ? { resid_mid: residMid } : {}),
      mlp_post: mlpPost,
      mlp_out: mlpOut,
      resid_post: residPost,
      attn_pattern: pattern,
    };
  });

  const finalNorm = new Float64Array(n * d);
  const logits = new Float64Array(n * V);
  for (let i = 0; i < n; i++) {
    const y = norm(row(x, i, d), model.outputNorm, model.outputNormB);
    finalNorm.set(y, i * d);
    let l = matVec(model.output, y, V);
    if (recipe.softcaps) l = l.map((val) => cfg.finalSoftcap * Math.tanh(val / cfg.finalSoftcap));
    logits.set(l, i * V);
  }
  return { embed, layers, final_norm: finalNorm, logits };
}

/**
 * The forward's values under layerlens hook names: embed, blocks.L.{attn_out, resid_mid (when
 * there is one), mlp_post, mlp_out, resid_post, attn_pattern, attn_head_out}.
 */
export function archHookValues(fwd: ArchForward): Map<string, Float64Array> {
  const hooks = new Map<string, Float64Array>([['embed', fwd.embed]]);
  fwd.layers.forEach((l, il) => {
    const p = `blocks.${il}.`;
    hooks.set(`${p}attn_out`, l.attn_out);
    if (l.resid_mid) hooks.set(`${p}resid_mid`, l.resid_mid);
    hooks.set(`${p}mlp_post`, l.mlp_post);
    hooks.set(`${p}mlp_out`, l.mlp_out);
    hooks.set(`${p}resid_post`, l.resid_post);
    hooks.set(`${p}attn_pattern`, l.attn_pattern);
    hooks.set(`${p}attn_head_out`, l.attn_head_out);
  });
  return hooks;
}
