// The logit lens and the tuned lens of one prompt, for the report and the viewer, which show them side
// by side. One forward: the logit lens's run (with the attention the pictures take) captures every
// d-wide hook, and the tuned lens translates and lenses those same activations (lensDecoded); only
// when that run lacks one (a long prompt's attention-only second forward aside, it never does) does
// the tuned lens run a forward of its own.
import { compareRunsWith, type Comparison } from '../../interp/compare.js';
import { resolveHooks } from '../../hooks.js';
import { decodeLayers, lensDecoded, modelFrom, prepareDecode } from '../../lens/decode.js';
import type { TunedLens } from '../../lens/tuned/tuned-lens.js';
import type { Intervention, LensResult } from '../../types.js';
import { toJSON } from '../format.js';
import { decodeForView, type ReportData, type ViewDecodeOptions } from './data.js';

/** Which lens the page shows: one of them, or both side by side. */
export { LENS_VIEWS, type LensView } from './page-data.js';

export interface LensPair {
  logit: LensResult;
  tuned: LensResult;
}

export type TunedViewOptions = Omit<ViewDecodeOptions, 'lens' | 'tunedLens'> & { tunedLens: string | TunedLens };

/** The hooks of the tuned run: those of the logit run without attn_pattern (default ones when nothing else is left). */
export async function tunedHooks(options: TunedViewOptions): Promise<string[] | 'default'> {
  const model = await modelFrom(options.model);
  const names = resolveHooks(options.hooks ?? 'default', model.info.n_layer, model.info.hookKinds)
    .filter((h) => h.kind !== 'attn_pattern')
    .map((h) => h.name);
  return names.length ? names : 'default';
}

/** decodeForView of `prompt` with the logit lens (with attention) and the tuned lens of the same forward (without). */
export async function decodeBothLenses(prompt: string, options: TunedViewOptions): Promise<LensPair> {
  const model = await modelFrom(options.model);
  const logit = await decodeForView(prompt, { ...options, model, lens: 'logit' });
  const { attention: _a, maxAttentionFloats: _m, ...decode } = options;
  const tunedOptions = { ...decode, model, lens: 'tuned' as const, hooks: await tunedHooks(options) };
  const prepared = await prepareDecode(prompt, tunedOptions, model);
  const wanted = new Set(prepared.captureNames);
  const activations = logit.activations.filter((a) => wanted.has(a.name));
  const tuned = activations.length === wanted.size ? await lensDecoded(prepared, activations) : await decodeLayers(prompt, tunedOptions);
  return { logit, tuned };
}

/** A before/after comparison of lens pairs as one comparison per lens. */
export function perLens(c: Comparison<LensPair>): { logit: Comparison; tuned: Comparison } {
  const { after, before, ...labels } = c;
  return { logit: { ...labels, after: after.logit, before: before.logit }, tuned: { ...labels, after: after.tuned, before: before.tuned } };
}

/** compareRuns (before/after an intervention) with the logit lens and with the tuned lens, one forward per run. */
export async function compareBothLenses(
  prompt: string,
  options: TunedViewOptions,
  interventions: readonly Intervention[],
  label: string,
): Promise<{ logit: Comparison; tuned: Comparison }> {
  return perLens(await compareRunsWith(decodeBothLenses, prompt, options, interventions, label));
}

/** A run's report data with the tuned-lens rows of the same run attached as `tuned` (a compare run's too). */
export function withTuned(data: ReportData, tuned: LensResult, tunedCompare?: LensResult): ReportData {
  const out: ReportData = { ...data, tuned: toJSON(tuned) };
  if (data.compare && tunedCompare) out.compare = { ...data.compare, tuned: toJSON(tunedCompare) };
  return out;
}
