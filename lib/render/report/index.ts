// The HTML report: one self-contained file (inline CSS and JS, data as JSON in the page, no network at
// view time) drawn by the same client code as the web viewer (lib/server/server.ts).

import type { HookKind, LensResult } from '../../types.js';
import { compareReportData, reportData, type ReportDataOptions } from './data.js';
import { withTuned, type LensView } from './lenses.js';
import { renderPage, type ColorBy } from './page.js';

export { CLIENT_CSS } from './style.js';
export { clientScript } from './client-script.js';
export { escapeHtml, jsonForScript, renderPage, type ColorBy, type PageOptions } from './page.js';
export {
  compareReportData,
  decodeForView,
  reportData,
  DEFAULT_MAX_ATTENTION_FLOATS,
  DEFAULT_MAX_ATTENTION_VALUES,
  type AttentionJSON,
  type CompareLabels,
  type ReportData,
  type ReportDataOptions,
  type ViewDecodeOptions,
} from './data.js';
export { compareBothLenses, decodeBothLenses, withTuned, type LensPair, type LensView, type TunedViewOptions } from './lenses.js';

export interface ReportOptions extends ReportDataOptions {
  /** Page title (default: "layerlens: <model name>"). */
  title?: string;
  /** A warning shown in a red box at the top, e.g. that the weights are synthetic. */
  banner?: string;
  /** Hook kind shown first (default resid_post when present). */
  kind?: HookKind;
  /** What the cells are coloured by at first (default 'prob'; 'rank' needs a target, 'kl'/'entropy' metrics). */
  colorBy?: ColorBy;
  /** The run's label on a before/after page (default "after (intervened)"); used with `compare`. */
  label?: string;
  /**
   * The clean run of the same prompt, when `result` had an intervention (ablation, patching): the page
   * then gets a before/after switch, a "difference" colouring (after − before) and both runs in the plots.
   */
  compare?: { result: LensResult; label: string; tuned?: LensResult };
  /**
   * The tuned-lens result of the same prompt and options (`result` being the logit lens; see
   * decodeBothLenses): the page then holds both and a lens switch (logit | tuned | both side by side).
   * With `compare`, give `compare.tuned` too.
   */
  tuned?: LensResult;
  /** With `tuned`: the lens shown first (default 'both'). */
  lens?: LensView;
}

/**
 * One self-contained HTML page for a result: a heatmap of layers × prompt positions for one hook kind
 * (switchable), cells showing the top-1 token coloured by its probability, the target's rank, KL or
 * entropy; top-k and metrics on hover and click; the target's probability and rank across layers; the
 * attention of each head for the clicked position. Works best with `positions: 'all'`, `metrics: true`,
 * a `target` and the attn_pattern hooks (see decodeForView). With `compare`, the page shows before/after.
 */
export function renderReport(result: LensResult, options: ReportOptions = {}): string {
  const data = options.compare
    ? compareReportData(
        result,
        options.compare.result,
        { ...(options.label === undefined ? {} : { label: options.label }), compareLabel: options.compare.label },
        options,
      )
    : reportData(result, options);
  if (options.tuned && options.compare && !options.compare.tuned)
    throw new Error('renderReport: with compare and tuned, give compare.tuned (the tuned lens of the clean run) too');
  return renderPage({
    mode: 'report',
    data: options.tuned ? withTuned(data, options.tuned, options.compare?.tuned) : data,
    ...(options.tuned ? { lens: options.lens ?? 'both' } : {}),
    title: options.title ?? `layerlens: ${result.model.name}`,
    ...(options.banner === undefined ? {} : { banner: options.banner }),
    ...(options.kind === undefined ? {} : { kind: options.kind }),
    ...(options.colorBy === undefined ? {} : { colorBy: options.colorBy }),
  });
}
