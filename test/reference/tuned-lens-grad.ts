// Float64 reference of the tuned lens's training objective and its gradient, written from the
// definition and nothing else (no shared code with lib/ or native/):
//   loss = Σ_r KL(p_r ‖ q_r),  p_r = softmax(W_U LN(f_r)),  q_r = softmax(W_U LN(h_r + A h_r + b)),
//   LN(x) = γ ⊙ (x − mean x) / sqrt(var x + eps) + β  (biased variance, as GPT-2's ln_f).
// The gradient is derived by hand here too, and checked against central finite differences of `loss`
// in test/unit/tuned-lens-train.test.ts before anything else is compared with it.

export interface LensHead {
  /** W_U, row-major [vocab, d] (GPT-2's wte). */
  wte: Float64Array;
  gamma: Float64Array;
  beta: Float64Array;
  eps: number;
  vocab: number;
  d: number;
}

function layerNorm(x: Float64Array, head: LensHead): { y: Float64Array; xhat: Float64Array; sigma: number } {
  const d = head.d;
  let mean = 0;
  for (let j = 0; j < d; j++) mean += x[j];
  mean /= d;
  let v = 0;
  for (let j = 0; j < d; j++) v += (x[j] - mean) ** 2;
  const sigma = Math.sqrt(v / d + head.eps);
  const xhat = new Float64Array(d);
  const y = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    xhat[j] = (x[j] - mean) / sigma;
    y[j] = head.gamma[j] * xhat[j] + head.beta[j];
  }
  return { y, xhat, sigma };
}

function logSoftmax(z: Float64Array): Float64Array {
  let mx = -Infinity;
  for (const v of z) mx = Math.max(mx, v);
  let s = 0;
  for (const v of z) s += Math.exp(v - mx);
  const lse = mx + Math.log(s);
  return z.map((v) => v - lse);
}

function unembed(y: Float64Array, head: LensHead): Float64Array {
  const z = new Float64Array(head.vocab);
  for (let v = 0; v < head.vocab; v++) {
    let s = 0;
    for (let j = 0; j < head.d; j++) s += head.wte[v * head.d + j] * y[j];
    z[v] = s;
  }
  return z;
}

/** h + A h + b for one row; A row-major [out, in]. */
export function translate64(h: ArrayLike<number>, A: ArrayLike<number>, b: ArrayLike<number>, d: number): Float64Array {
  const u = new Float64Array(d);
  for (let o = 0; o < d; o++) {
    let s = h[o] + b[o];
    for (let j = 0; j < d; j++) s += A[o * d + j] * h[j];
    u[o] = s;
  }
  return u;
}

export interface LensLossInput {
  head: LensHead;
  /** [rows, d]: the hidden states the translator acts on. */
  inputs: ArrayLike<number>;
  /** [rows, d]: the final hidden states (whose lens is the model's output distribution). */
  final: ArrayLike<number>;
  rows: number;
  weight: ArrayLike<number>;
  bias: ArrayLike<number>;
}

/** Σ_r KL(p_r ‖ q_r) in nats. */
export function lensLoss64(x: LensLossInput): number {
  return lensLossAndGrad64(x, false).loss;
}

/** The loss and, when asked, ∂loss/∂A (row-major [out, in]) and ∂loss/∂b. */
export function lensLossAndGrad64(x: LensLossInput, withGrad = true): { loss: number; gradWeight: Float64Array; gradBias: Float64Array } {
  const { head, rows } = x;
  const d = head.d;
  const gradWeight = new Float64Array(withGrad ? d * d : 0);
  const gradBias = new Float64Array(withGrad ? d : 0);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const f = Float64Array.from({ length: d }, (_, j) => x.final[r * d + j]);
    const h = Float64Array.from({ length: d }, (_, j) => x.inputs[r * d + j]);
    const logP = logSoftmax(unembed(layerNorm(f, head).y, head));
    const u = translate64(h, x.weight, x.bias, d);
    const ln = layerNorm(u, head);
    const logQ = logSoftmax(unembed(ln.y, head));
    for (let v = 0; v < head.vocab; v++) loss += Math.exp(logP[v]) * (logP[v] - logQ[v]);
    if (!withGrad) continue;
    // ∂KL/∂z_v = q_v − p_v; back through W_U, γ and the normalisation.
    const gy = new Float64Array(d);
    for (let v = 0; v < head.vocab; v++) {
      const g = Math.exp(logQ[v]) - Math.exp(logP[v]);
      for (let j = 0; j < d; j++) gy[j] += head.wte[v * d + j] * g;
    }
    const gx = gy.map((g, j) => g * head.gamma[j]);
    let m1 = 0;
    let m2 = 0;
    for (let j = 0; j < d; j++) {
      m1 += gx[j] / d;
      m2 += (gx[j] * ln.xhat[j]) / d;
    }
    for (let o = 0; o < d; o++) {
      const gu = (gx[o] - m1 - ln.xhat[o] * m2) / ln.sigma;
      gradBias[o] += gu;
      for (let j = 0; j < d; j++) gradWeight[o * d + j] += gu * h[j];
    }
  }
  return { loss, gradWeight, gradBias };
}
