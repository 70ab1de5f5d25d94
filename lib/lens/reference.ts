// The logit lens in plain TypeScript, written to be read :
//   lens(h) = softmax(W_U · LayerNorm_f(h)),  W_U = wte (tied, no bias),
// with the LayerNorm statistics recomputed for every vector. Everything is accumulated in float64.
// This is the reference the fast path is checked against; speed is secondary.

/** Anything indexable as numbers (Float32Array, Float64Array, number[]). */
export type NumArray = ArrayLike<number>;

export interface TopToken {
  id: number;
  logit: number;
  /** Probability under the full softmax over the vocabulary. */
  prob: number;
}

export interface LensParams {
  /** ln_f.weight, length d */
  lnfWeight: NumArray;
  /** ln_f.bias, length d */
  lnfBias: NumArray;
  /** layer_norm_epsilon (GPT-2: 1e-5) */
  eps: number;
  /** Token embedding = unembedding, row-major [vocab, d]. */
  wte: NumArray;
  vocab: number;
  d: number;
}

export interface LensRow {
  top: TopToken[];
  /** Full log-probabilities over the vocabulary, only with `{ logProbs: true }`. */
  logProbs?: Float64Array;
}

/**
 * LayerNorm of one vector: (x - mean) / sqrt(var + eps) * gamma + beta, biased variance (divide by n),
 * mean and variance computed in float64 (two passes).
 */
export function layerNorm(x: NumArray, gamma: NumArray, beta: NumArray, eps: number): Float64Array {
  const n = x.length;
  if (n === 0) throw new RangeError('layerNorm: empty vector');
  if (gamma.length !== n || beta.length !== n) {
    throw new RangeError(`layerNorm: vector has ${n} values but gamma has ${gamma.length} and beta ${beta.length}`);
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    const c = x[i] - mean;
    variance += c * c;
  }
  variance /= n;
  const inv = 1 / Math.sqrt(variance + eps);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
  return out;
}

/** logits[v] = Σ_j wte[v·d + j] · normed[j], in float64. */
export function unembed(normed: NumArray, wte: NumArray, vocab: number, d: number): Float64Array {
  checkDims(vocab, d);
  if (normed.length !== d) throw new RangeError(`unembed: vector has ${normed.length} values, expected d = ${d}`);
  if (wte.length !== vocab * d) throw new RangeError(`unembed: wte has ${wte.length} values, expected vocab·d = ${vocab * d}`);
  const logits = new Float64Array(vocab);
  for (let v = 0; v < vocab; v++) {
    const row = v * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += wte[row + j] * normed[j];
    logits[v] = s;
  }
  return logits;
}

function checkDims(vocab: number, d: number): void {
  if (!Number.isInteger(vocab) || vocab < 1) throw new RangeError(`vocab must be a positive integer, got ${vocab}`);
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
}

/** The maximum of x and Σ exp(x − max): everything a stable softmax needs. */
export interface SoftmaxStats {
  max: number;
  /** Σ exp(x[i] − max), in [1, n] for finite inputs */
  sum: number;
}

export function softmaxStats(x: NumArray): SoftmaxStats {
  if (x.length === 0) throw new RangeError('softmax of an empty array');
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return { max, sum };
}

/** log Σ exp(x), shifted by the maximum so that large values do not overflow. */
export function logSumExp(x: NumArray): number {
  const { max, sum } = softmaxStats(x);
  return max + Math.log(sum);
}

/** Numerically stable log-softmax: (x − max) − log Σ exp(x − max). */
export function logSoftmax(x: NumArray): Float64Array {
  const { max, sum } = softmaxStats(x);
  const logSum = Math.log(sum);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] - max - logSum;
  return out;
}

/** Numerically stable softmax: exp(x − max) / Σ exp(x − max). */
export function softmax(x: NumArray): Float64Array {
  const { max, sum } = softmaxStats(x);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i] - max) / sum;
  return out;
}

/** a ranks before b: higher logit first, ties to the lower id; NaN ranks last. */
function before(la: number, ia: number, lb: number, ib: number): boolean {
  if (la === lb) return ia < ib;
  if (Number.isNaN(lb)) return !Number.isNaN(la) || ia < ib;
  if (Number.isNaN(la)) return false;
  return la > lb;
}

/**
 * The k highest logits, best first, ties broken by the lower id. `prob` is taken from the softmax over
 * all logits (not renormalized over the k). k must be an integer in 1..logits.length.
 */
export function topK(logits: NumArray, k: number, stats: SoftmaxStats = softmaxStats(logits)): TopToken[] {
  const n = logits.length;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`k must be an integer in 1..${n}, got ${k}`);
  // Sorted buffer of the best k so far (insertion; k is small in practice).
  const ids = new Int32Array(k);
  const vals = new Float64Array(k);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const l = logits[i];
    if (size === k && !before(l, i, vals[k - 1], ids[k - 1])) continue;
    let p = size < k ? size++ : k - 1;
    while (p > 0 && before(l, i, vals[p - 1], ids[p - 1])) {
      vals[p] = vals[p - 1];
      ids[p] = ids[p - 1];
      p--;
    }
    vals[p] = l;
    ids[p] = i;
  }
  const out: TopToken[] = [];
  for (let j = 0; j < k; j++) out.push({ id: ids[j], logit: vals[j], prob: Math.exp(vals[j] - stats.max) / stats.sum });
  return out;
}

function checkLensArgs(vectors: NumArray, m: number, { vocab, d }: LensParams, k: number): void {
  checkDims(vocab, d);
  if (!Number.isInteger(m) || m < 0) throw new RangeError(`m must be a non-negative integer, got ${m}`);
  if (vectors.length !== m * d) throw new RangeError(`vectors has ${vectors.length} values, expected m·d = ${m * d}`);
  if (!Number.isInteger(k) || k < 1 || k > vocab) throw new RangeError(`k must be an integer in 1..${vocab}, got ${k}`);
}

/**
 * Lens of m vectors (row-major [m, d]): per vector, LayerNorm_f with fresh statistics, logits against
 * the tied embedding, the top-k under the full softmax, and optionally the full log-probabilities.
 */
export function lensReference(vectors: NumArray, m: number, params: LensParams, k: number, options: { logProbs?: boolean } = {}): LensRow[] {
  const { lnfWeight, lnfBias, eps, wte, vocab, d } = params;
  checkLensArgs(vectors, m, params, k);
  const rows: LensRow[] = [];
  const x = new Float64Array(d);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < d; j++) x[j] = vectors[r * d + j];
    const logits = unembed(layerNorm(x, lnfWeight, lnfBias, eps), wte, vocab, d);
    const stats = softmaxStats(logits);
    const row: LensRow = { top: topK(logits, k, stats) };
    if (options.logProbs) {
      const logSum = Math.log(stats.sum);
      for (let v = 0; v < vocab; v++) logits[v] = logits[v] - stats.max - logSum;
      row.logProbs = logits;
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Rank of entry t (1 = top) in the order the lenses use: higher first, ties broken by the lower index.
 * Equals 1 + #{ i : x[i] > x[t] or (x[i] = x[t] and i < t) }, the native lens's definition.
 */
export function rankOf(values: NumArray, t: number): number {
  if (!Number.isInteger(t) || t < 0 || t >= values.length) throw new RangeError(`rankOf: index ${t} is outside 0..${values.length - 1}`);
  const xt = values[t];
  let above = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > xt || (values[i] === xt && i < t)) above++;
  return above + 1;
}

/** Entropy H(q) = −Σ q log q in nats, from log-probabilities (terms with q = 0 contribute 0). */
export function entropyFromLogProbs(logq: NumArray): number {
  let h = 0;
  for (let i = 0; i < logq.length; i++) {
    const q = Math.exp(logq[i]);
    if (q > 0) h -= q * logq[i];
  }
  return h;
}

/** KL(p ‖ q) = Σ p (log p − log q) in nats, from log-probabilities of equal length. */
export function klFromLogProbs(logp: NumArray, logq: NumArray): number {
  if (logp.length !== logq.length) throw new RangeError(`klFromLogProbs: lengths differ (${logp.length} and ${logq.length})`);
  let kl = 0;
  for (let i = 0; i < logp.length; i++) {
    const p = Math.exp(logp[i]);
    if (p > 0) kl += p * (logp[i] - logq[i]);
  }
  return kl;
}

/** Per-row measures, as the native lens reports them (NaN, or rank 0, where a row has none). */
export interface LensMeasureRows {
  entropy?: Float64Array;
  targetLogit?: Float64Array;
  targetProb?: Float64Array;
  targetRank?: Int32Array;
  kl?: Float64Array;
}

/** What to measure per row: entropy, a target id per row (−1: none), the index of a reference row per row (−1: none). */
export interface LensMeasureRequest {
  entropy?: boolean;
  targets?: ArrayLike<number>;
  references?: ArrayLike<number>;
}

/**
 * The plain-TS lens with per-row measures (the counterpart of the native `lens` with measures): top-k,
 * and when asked, the entropy H(q), a target's logit / probability / rank, and KL(p_ref ‖ q) against
 * another row of the same batch. Everything in float64.
 */
export function lensMeasuresReference(
  vectors: NumArray,
  m: number,
  params: LensParams,
  k: number,
  measures: LensMeasureRequest = {},
): { top: TopToken[][] } & LensMeasureRows {
  const { lnfWeight, lnfBias, eps, wte, vocab, d } = params;
  checkLensArgs(vectors, m, params, k);
  const perRow = (a: ArrayLike<number> | undefined, what: string, limit: number) => {
    if (a === undefined) return;
    if (a.length !== m) throw new RangeError(`${what} must have one entry per vector (${m})`);
    for (let i = 0; i < m; i++)
      if (!Number.isInteger(a[i]) || a[i] < -1 || a[i] >= limit) throw new RangeError(`${what}: entry ${a[i]} is outside -1..${limit - 1}`);
  };
  perRow(measures.targets, 'targets', vocab);
  perRow(measures.references, 'references', m);

  const x = new Float64Array(d);
  const logitsOf = (r: number): Float64Array => {
    for (let j = 0; j < d; j++) x[j] = vectors[r * d + j];
    return unembed(layerNorm(x, lnfWeight, lnfBias, eps), wte, vocab, d);
  };
  const toLogProbs = (logits: Float64Array, stats: SoftmaxStats): Float64Array => {
    const out = new Float64Array(logits.length);
    const logSum = Math.log(stats.sum);
    for (let v = 0; v < logits.length; v++) out[v] = logits[v] - stats.max - logSum;
    return out;
  };
  // Log-probabilities of every distinct reference row, computed once.
  const refLogProbs = new Map<number, Float64Array>();
  if (measures.references) {
    for (let i = 0; i < m; i++) {
      const r = measures.references[i];
      if (r >= 0 && !refLogProbs.has(r)) {
        const logits = logitsOf(r);
        refLogProbs.set(r, toLogProbs(logits, softmaxStats(logits)));
      }
    }
  }

  const out: { top: TopToken[][] } & LensMeasureRows = { top: [] };
  if (measures.entropy) out.entropy = new Float64Array(m).fill(NaN);
  if (measures.targets) {
    out.targetLogit = new Float64Array(m).fill(NaN);
    out.targetProb = new Float64Array(m).fill(NaN);
    out.targetRank = new Int32Array(m);
  }
  if (measures.references) out.kl = new Float64Array(m).fill(NaN);
  for (let r = 0; r < m; r++) {
    const logits = logitsOf(r);
    const stats = softmaxStats(logits);
    out.top.push(topK(logits, k, stats));
    const t = measures.targets ? measures.targets[r] : -1;
    if (t >= 0) {
      out.targetLogit![r] = logits[t];
      out.targetProb![r] = Math.exp(logits[t] - stats.max) / stats.sum;
      out.targetRank![r] = rankOf(logits, t);
    }
    const ref = measures.references ? measures.references[r] : -1;
    if (measures.entropy || ref >= 0) {
      const logq = toLogProbs(logits, stats);
      if (measures.entropy) out.entropy![r] = entropyFromLogProbs(logq);
      if (ref >= 0) out.kl![r] = klFromLogProbs(refLogProbs.get(ref)!, logq);
    }
  }
  return out;
}
