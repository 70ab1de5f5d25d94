// The runs a picture shows for one prompt: one run, or a before/after pair — unsteered vs steered when
// control vectors are given (both ablated alike with an ablation), else clean vs ablated — under the
// logit lens, or under both lenses (the tuned lens of the same forwards). The CLI's --html and the
// server's POST /api/lens both go through here, so a page is made the same way wherever it is asked for.
import { ablatedLabel, ablation, compareRunsWith, type Comparison } from '../../interp/compare.js';
import type { LensResult } from '../../types.js';
import { compareReportData, decodeForView, reportData, type ReportData, type ViewDecodeOptions } from './data.js';
import { decodeBothLenses, withTuned, type LensPair, type TunedViewOptions } from './lenses.js';
import { compareSteeringWith, type ResolvedSteering } from './steering.js';

/** One run (`after` alone), or a before/after comparison. */
export type ViewRuns<R> = ({ before?: undefined } & { after: R }) | Comparison<R>;

export interface ViewRunsOptions {
  /** Control vectors: the page is before/after the steering. */
  steering?: ResolvedSteering;
  /** Hook names zeroed (in both runs when steering, else in the `after` run). */
  ablated?: readonly string[];
}

async function runsWith<O extends ViewDecodeOptions, R>(
  decode: (prompt: string, options: O) => Promise<R>,
  prompt: string,
  options: O,
  { steering, ablated = [] }: ViewRunsOptions,
): Promise<ViewRuns<R>> {
  if (steering) return compareSteeringWith(decode, prompt, options, steering, ablation(ablated), ablated);
  if (ablated.length) return compareRunsWith(decode, prompt, options, ablation(ablated), ablatedLabel(ablated));
  return { after: await decode(prompt, options) };
}

/** The runs under one lens (decodeForView: with the attention). */
export function viewRuns(prompt: string, options: ViewDecodeOptions, what: ViewRunsOptions): Promise<ViewRuns<LensResult>> {
  return runsWith(decodeForView, prompt, options, what);
}

/** The runs under the logit and the tuned lens, one forward per run (decodeBothLenses). */
export function viewRunsBothLenses(prompt: string, options: TunedViewOptions, what: ViewRunsOptions): Promise<ViewRuns<LensPair>> {
  return runsWith(decodeBothLenses, prompt, options, what);
}

/** The report data of runs under one lens (with `compare` for a pair). */
export function runsReportData(runs: ViewRuns<LensResult>): ReportData {
  return runs.before ? compareReportData(runs.after, runs.before, { label: runs.label, compareLabel: runs.compareLabel }) : reportData(runs.after);
}

/** The report data of runs under both lenses: the logit lens's, with the tuned lens's attached as `tuned`. */
export function pairRunsReportData(runs: ViewRuns<LensPair>): ReportData {
  const logit = runs.before ? { ...runs, after: runs.after.logit, before: runs.before.logit } : { after: runs.after.logit };
  return withTuned(runsReportData(logit), runs.after.tuned, runs.before?.tuned);
}
