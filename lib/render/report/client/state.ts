// What the page shows now: the data, the run (on a before/after page), the hook kind, the colouring and
// the selected cell. One mutable object; the renderers read it, app.ts changes it.

import type { HookKind } from '../../../types.js';
import type { ColorBy, PageConfig, PageData, PageHook } from '../page-data.js';
import type { DataIndex } from './data-index.js';
import { byId } from './dom.js';

export type Which = 'after' | 'before';

/** The data on the page and its indexes. */
export interface Shown {
  /** The data as given (the after-run when it has a `compare`). */
  main: PageData;
  /** The run shown: main, or main.compare when `which` is 'before'. */
  data: PageData;
  idx: DataIndex;
  /** The after-run's index (main's). */
  idxA: DataIndex;
  /** The before-run's index; null without compare. */
  idxB: DataIndex | null;
}

export interface State {
  config: PageConfig;
  shown: Shown | null;
  which: Which;
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

/** The lens row of hook `name` at `pos` among the rows shown. */
export function hookAt(s: ShownState, name: string, pos: number): PageHook | undefined {
  const row = s.shown.idx.rows(s.kind).find((r) => r.name === name);
  return row ? row.cells[pos] : undefined;
}
