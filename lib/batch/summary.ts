// The summary of a data-set run, per hook point (so per layer for each kind), over the prompts'
// lens rows at each prompt's `position` (the last lensed position: the last token by default):
//   - the share of prompts whose lens top-1 is the model's final prediction, and (with a target) is
//     the target token, with Wilson score intervals;
//   - the mean target rank and probability, entropy and KL(final ‖ lens), with Student-t intervals.
// It is computed in one pass with O(hooks) memory (Welford's running mean and variance), from the
// per-prompt JSON lines, so it can be rebuilt from an output file at any time.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { HookKind } from '../hooks.js';
import type { LensJSON } from '../render/format.js';

/** Two-sided 95% intervals. */
export const CONFIDENCE = 0.95;
const Z = 1.959963984540054; // the standard normal's 0.975 quantile

export interface ShareStat {
  /** Prompts where it held. */
  count: number;
  /** Prompts counted. */
  n: number;
  share: number;
  /** Wilson score interval. */
  ci: [number, number];
}

export interface MeanStat {
  n: number;
  mean: number;
  /** Sample standard deviation (null for fewer than 2 values). */
  sd: number | null;
  /** mean ± t(0.975, n-1)·sd/√n (null for fewer than 2 values). */
  ci: [number, number] | null;
}

export interface HookSummary {
  name: string;
  layer: number | null;
  kind: HookKind;
  /** Prompts with a lens row at this hook. */
  n: number;
  top1IsPrediction: ShareStat;
  /** Only over prompts with a target; null when none had one. */
  top1IsTarget: ShareStat | null;
  targetRank: MeanStat | null;
  targetProb: MeanStat | null;
  /** Nats; null when the rows carry no metrics. */
  entropy: MeanStat | null;
  /** KL(final ‖ lens) in nats; null when the rows carry no metrics. */
  kl: MeanStat | null;
}

export interface BatchSummary {
  /** Prompts summarized. */
  prompts: number;
  /** Prompts that had a target. */
  withTarget: number;
  /** The model of the first result. */
  model: LensJSON['model'] | null;
  confidence: number;
  /** In hook order (embed, then per block). */
  hooks: HookSummary[];
}

/** Welford's running mean and variance. */
class Running {
  n = 0;
  mean = 0;
  m2 = 0;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
  stat(): MeanStat | null {
    if (this.n === 0) return null;
    if (this.n < 2) return { n: 1, mean: this.mean, sd: null, ci: null };
    const sd = Math.sqrt(this.m2 / (this.n - 1));
    const half = studentT975(this.n - 1) * (sd / Math.sqrt(this.n));
    return { n: this.n, mean: this.mean, sd, ci: [this.mean - half, this.mean + half] };
  }
}

/** Wilson score interval for count successes out of n at 95%. */
export function wilsonInterval(count: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const p = count / n;
  const z2 = Z * Z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (Z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0 and n successes the bounds are exactly 0 and 1; rounding would leave 1e-17 there.
  return [count === 0 ? 0 : Math.max(0, center - half), count === n ? 1 : Math.min(1, center + half)];
}

/** ln Γ(x) (Lanczos, g = 7). */
function logGamma(x: number): number {
  const c = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406, 12.507343278686905, -0.13857109526572012,
    9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized incomplete beta I_x(a, b), by its continued fraction (modified Lentz). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    const num =
      i === 0 ? 1 : i % 2 === 0 ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)) : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-14) break;
  }
  return front * (f - 1);
}

/** P(T ≤ t) for Student's t with df degrees of freedom. */
function studentCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The 0.975 quantile of Student's t with df degrees of freedom (bisection on the CDF). */
export function studentT975(df: number): number {
  if (!(df >= 1)) throw new RangeError(`degrees of freedom must be >= 1, got ${df}`);
  let lo = Z;
  let hi = 20;
  while (studentCdf(hi, df) < 0.975) hi *= 2;
  for (let i = 0; i < 100 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (studentCdf(mid, df) < 0.975) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

interface HookAcc {
  name: string;
  layer: number | null;
  kind: HookKind;
  n: number;
  agreePrediction: number;
  nTarget: number;
  agreeTarget: number;
  rank: Running;
  prob: Running;
  entropy: Running;
  kl: Running;
}

/** Adds per-prompt results one at a time; `summary()` at any point. */
export class SummaryAccumulator {
  #hooks = new Map<string, HookAcc>();
  #prompts = 0;
  #withTarget = 0;
  #model: LensJSON['model'] | null = null;

  add(r: Pick<LensJSON, 'model' | 'position' | 'prediction' | 'hooks' | 'target'>): void {
    this.#prompts++;
    this.#model ??= r.model;
    if (r.target) this.#withTarget++;
    for (const h of r.hooks) {
      if (h.position !== r.position || !h.top || h.top.length === 0) continue;
      let a = this.#hooks.get(h.name);
      if (!a) {
        a = {
          name: h.name,
          layer: h.layer,
          kind: h.kind,
          n: 0,
          agreePrediction: 0,
          nTarget: 0,
          agreeTarget: 0,
          rank: new Running(),
          prob: new Running(),
          entropy: new Running(),
          kl: new Running(),
        };
        this.#hooks.set(h.name, a);
      }
      a.n++;
      if (h.top[0].id === r.prediction.id) a.agreePrediction++;
      if (h.target) {
        a.nTarget++;
        if (h.top[0].id === h.target.id) a.agreeTarget++;
        a.rank.add(h.target.rank);
        a.prob.add(h.target.prob);
      }
      if (h.entropy !== undefined) a.entropy.add(h.entropy);
      if (h.kl !== undefined) a.kl.add(h.kl);
    }
  }

  summary(): BatchSummary {
    const share = (count: number, n: number): ShareStat => ({ count, n, share: n ? count / n : 0, ci: wilsonInterval(count, n) });
    const hooks = [...this.#hooks.values()].map((a): HookSummary => ({
      name: a.name,
      layer: a.layer,
      kind: a.kind,
      n: a.n,
      top1IsPrediction: share(a.agreePrediction, a.n),
      top1IsTarget: a.nTarget ? share(a.agreeTarget, a.nTarget) : null,
      targetRank: a.rank.stat(),
      targetProb: a.prob.stat(),
      entropy: a.entropy.stat(),
      kl: a.kl.stat(),
    }));
    return { prompts: this.#prompts, withTarget: this.#withTarget, model: this.#model, confidence: CONFIDENCE, hooks };
  }
}

/** The summary of a batch output file (one result JSON per line), read as a stream. */
export async function summarizeOutputFile(path: string): Promise<BatchSummary> {
  const acc = new SummaryAccumulator();
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) if (line.trim() !== '') acc.add(JSON.parse(line) as LensJSON);
  return acc.summary();
}
