// What the page shows now: the data, the run (on a before/after page), the lens (on a page with the
// tuned lens: logit, tuned or both side by side), the hook kind, the colouring and the selected cell.
// One mutable object; the renderers read it, app.ts changes it.

import type { HookKind } from '../../../types.js';
import type { ColorBy, LensView, PageConfig, PageData, PageHook } from '../page-data.js';
import type { DataIndex } from './data-index.js';
import { byId } from './dom.js';

export type Which = 'after' | 'before';
export type { LensView };

/** One heatmap's data: a run under one lens, with the indexes of both runs under that lens. */
export interface RunView {
  /** The run shown: the after-run, or the before-run when `which` is 'before'. */
  data: PageData;
  idx: DataIndex;
  /** The after-run's index. */
  idxA: DataIndex;
  /** The before-run's index; null without compare. */
  idxB: DataIndex | null;
  /** Which lens this view shows; null on a page without the tuned lens. */
  lens: 'logit' | 'tuned' | null;
}

/** The data on the page and its indexes: the main view (first heatmap) and, side by side, the tuned lens. */
export interface Shown extends RunView {
  /** The data as given (the after-run when it has a `compare`; the logit lens when it has `tuned`). */
  main: PageData;
  /** The second heatmap's view (the tuned lens) when the lens switch says 'both'; else null. */
  second: RunView | null;
}

export interface State {
  config: PageConfig;
  shown: Shown | null;
  which: Which;
  /** On a page with tuned-lens data: which lens the heatmap shows (or both side by side). */
  lens: LensView;
  kind: HookKind | null;
  metric: ColorBy;
  sel: { name: string; pos: number } | null;
  /** The largest |after − before| of the heatmap, when coloured by difference. */
  diffScale: number;
}

/** The state once data is on the page. */
export type ShownState = State & { shown: Shown; kind: HookKind };

export function hasData(s: State): s is ShownState {
  return s.shown !== null && s.kind !== null;
}

export function setStatus(text: string, isError = false): void {
  const s = byId('ll-status');
  s.textContent = text;
  s.className = isError ? 'll-error' : '';
}

/** A run's label on a before/after page, else 'after'/'before'. */
export function runLabel(d: PageData | undefined, which: Which): string {
  return d && d.label ? d.label : which;
}

/** The lens row of hook `name` at `pos` among the rows shown (in `view`, default the main one). */
export function hookAt(s: ShownState, name: string, pos: number, view: RunView = s.shown): PageHook | undefined {
  const row = view.idx.rows(s.kind).find((r) => r.name === name);
  return row ? row.cells[pos] : undefined;
}

/** A lens's name as the page writes it. */
export function lensLabel(lens: 'logit' | 'tuned'): string {
  return lens === 'tuned' ? 'tuned lens' : 'logit lens';
}
