// The logit lens and the tuned lens of one prompt, for the report and the viewer, which show them side
// by side. Two decodes of the same prompt with the same options that differ only in the lens: the
// forward is deterministic, so both lens the same activations; only the first captures the attention
// (the pictures take it from there), the tuned one lenses just the d-wide hooks.
import { compareRuns, type Comparison } from '../../interp/compare.js';
import { resolveHooks } from '../../hooks.js';
import { modelFrom } from '../../lens/decode.js';
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

/** decodeForView of `prompt` with the logit lens (with attention) and with the tuned lens (without). */
export async function decodeBothLenses(prompt: string, options: TunedViewOptions): Promise<LensPair> {
  const model = await modelFrom(options.model);
  const logit = await decodeForView(prompt, { ...options, model, lens: 'logit' });
  const tuned = await decodeForView(prompt, { ...options, model, lens: 'tuned', attention: false, hooks: await tunedHooks(options) });
  return { logit, tuned };
}

/** compareRuns (before/after an intervention) with the logit lens and with the tuned lens. */
export async function compareBothLenses(
  prompt: string,
  options: TunedViewOptions,
  interventions: readonly Intervention[],
  label: string,
): Promise<{ logit: Comparison; tuned: Comparison }> {
  const model = await modelFrom(options.model);
  const logit = await compareRuns(prompt, { ...options, model, lens: 'logit' }, interventions, label);
  const tuned = await compareRuns(prompt, { ...options, model, lens: 'tuned', attention: false, hooks: await tunedHooks(options) }, interventions, label);
  return { logit, tuned };
}

/** A run's report data with the tuned-lens rows of the same run attached as `tuned` (a compare run's too). */
export function withTuned(data: ReportData, tuned: LensResult, tunedCompare?: LensResult): ReportData {
  const out: ReportData = { ...data, tuned: toJSON(tuned) };
  if (data.compare && tunedCompare) out.compare = { ...data.compare, tuned: toJSON(tunedCompare) };
  return out;
}
