// The client's pure helpers: number formats, colour scales and what a heatmap cell shows. No DOM, so
// that tests can run them in node:vm through window.layerlens (see main.ts).

import { compactToken, formatProb } from '../../shared.js';
import type { ColorBy, PageHook } from '../page-data.js';

export { compactToken, formatProb };

export function formatNats(x: unknown): string {
  return typeof x === 'number' && isFinite(x) ? x.toFixed(3) : 'n/a';
}

type RGB = readonly [number, number, number];

const NO_VALUE = 'rgb(238, 238, 238)';

/** Linear interpolation along a ramp of colours, x in 0..1. */
function rampColor(ramp: readonly RGB[], x: number): string {
  const scaled = x * (ramp.length - 1);
  const i = Math.min(ramp.length - 2, Math.floor(scaled));
  const f = scaled - i;
  const a = ramp[i];
  const b = ramp[i + 1];
  const c = [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f));
  return 'rgb(' + c[0] + ', ' + c[1] + ', ' + c[2] + ')';
}

// ColorBrewer "Blues": light = low, dark = high.
const BLUES: readonly RGB[] = [
  [247, 251, 255],
  [222, 235, 247],
  [198, 219, 239],
  [158, 202, 225],
  [107, 174, 214],
  [66, 146, 198],
  [33, 113, 181],
  [8, 81, 156],
  [8, 48, 107],
];

/** Sequential colour of v in 0..1 (clamped); grey when there is no value. */
export function color(v: unknown): string {
  if (typeof v !== 'number' || !isFinite(v)) return NO_VALUE;
  return rampColor(BLUES, Math.min(1, Math.max(0, v)));
}

/** Text colour readable on color(v). */
export function textColor(v: unknown): string {
  return typeof v === 'number' && v > 0.55 ? '#ffffff' : '#111111';
}

// ColorBrewer "RdBu" for differences, v in -1..1: red = lower after the intervention, blue = higher.
const RDBU: readonly RGB[] = [
  [103, 0, 31],
  [178, 24, 43],
  [214, 96, 77],
  [244, 165, 130],
  [253, 219, 199],
  [247, 247, 247],
  [209, 229, 240],
  [146, 197, 222],
  [67, 147, 195],
  [33, 102, 172],
  [5, 48, 97],
];

/** Diverging colour of v in -1..1 (clamped); grey when there is no value. */
export function divColor(v: unknown): string {
  if (typeof v !== 'number' || !isFinite(v)) return NO_VALUE;
  return rampColor(RDBU, (Math.min(1, Math.max(-1, v)) + 1) / 2);
}

/** Text colour readable on divColor(v). */
export function divTextColor(v: unknown): string {
  return typeof v === 'number' && Math.abs(v) > 0.6 ? '#ffffff' : '#111111';
}

/** A signed probability difference: "+0.200", "−0.013" (a real minus sign). */
export function formatSigned(d: unknown): string {
  if (typeof d !== 'number' || !isFinite(d)) return 'n/a';
  return (d < 0 ? '\u2212' : '+') + formatProb(Math.abs(d));
}

export interface DiffValue {
  /** after − before (NaN: unknown). */
  d: number;
  /** false: d is a lower bound. */
  exact: boolean;
  text: string;
}

/**
 * The change of one lens row from the run before an intervention (b) to the run after it (a): with a
 * tracked target, p_after(target) − p_before(target), exactly; otherwise the change in the probability of
 * the after-run's top-1 token t, p_after(t) − p_before(t). When t is not in the before-run's top-k,
 * p_before(t) is only known to be below the k-th probability, so d is a lower bound (exact: false).
 * {d: NaN} when either row is missing.
 */
export function diffValue(a: PageHook | undefined, b: PageHook | undefined): DiffValue {
  if (!a || !b || !a.top || !b.top || !a.top.length || !b.top.length) return { d: NaN, exact: false, text: 'n/a' };
  if (a.target && b.target) {
    const dt = a.target.prob - b.target.prob;
    return { d: dt, exact: true, text: 'p(target) ' + formatSigned(dt) };
  }
  const t = a.top[0];
  const same = b.top.find((e) => e.id === t.id);
  if (same) {
    const d = t.prob - same.prob;
    return { d, exact: true, text: 'p(' + compactToken(t.token) + ') ' + formatSigned(d) };
  }
  const lo = t.prob - b.top[b.top.length - 1].prob;
  return { d: lo, exact: false, text: 'p(' + compactToken(t.token) + ') \u2265 ' + formatSigned(lo) + ' (not in the other top-' + b.top.length + ')' };
}

/** What a colouring needs in the data to be offered: a target, the metrics, a before/after pair. */
export type Requirement = 'target' | 'kl' | 'entropy' | 'compare';

/** What a heatmap cell can be coloured by. */
export const METRICS: Record<ColorBy, { label: string; needs: Requirement | null }> = {
  prob: { label: 'top-1 probability', needs: null },
  rank: { label: 'target rank (log scale)', needs: 'target' },
  kl: { label: 'KL(final \u2016 layer), nats', needs: 'kl' },
  entropy: { label: 'entropy, nats', needs: 'entropy' },
  diff: { label: 'difference after \u2212 before', needs: 'compare' },
};

export function isColorBy(s: unknown): s is ColorBy {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(METRICS, s);
}

/** What the colour scales of a run are relative to. */
export interface ScaleContext {
  nVocab: number;
  /** The largest KL of the run (the KL colouring's top). */
  maxKL: number;
}

/** {v: 0..1 for the colour (NaN: none), text: the value in words} of a lens row under a metric. */
export function cellValue(hook: PageHook | undefined, metric: ColorBy, ctx: ScaleContext): { v: number; text: string } {
  if (!hook || !hook.top || !hook.top.length) return { v: NaN, text: 'n/a' };
  if (metric === 'rank') {
    if (!hook.target) return { v: NaN, text: 'no target' };
    return { v: 1 - Math.log(hook.target.rank) / Math.log(ctx.nVocab), text: 'rank ' + hook.target.rank };
  }
  if (metric === 'kl') {
    if (typeof hook.kl !== 'number') return { v: NaN, text: 'n/a' };
    return { v: ctx.maxKL > 0 ? hook.kl / ctx.maxKL : 0, text: 'KL ' + formatNats(hook.kl) };
  }
  if (metric === 'entropy') {
    if (typeof hook.entropy !== 'number') return { v: NaN, text: 'n/a' };
    return { v: hook.entropy / Math.log(ctx.nVocab), text: 'entropy ' + formatNats(hook.entropy) };
  }
  return { v: hook.top[0].prob, text: 'p ' + formatProb(hook.top[0].prob) };
}
