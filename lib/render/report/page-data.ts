// What the page builder (lib/render/report/page.ts) hands the browser client: the config and the data,
// as JSON in the page or, for the viewer, from POST /api/lens. Types only, shared by both sides: the
// client reads exactly these fields, and page.ts accepts its data as PageData, so the compiler checks
// that what lib/render/report/data.ts produces (ReportData) carries everything the client reads.

import type { HookKind } from '../../types.js';

/** Which lens a report or the viewer shows: the logit lens, the tuned lens, or both side by side. */
export type LensView = 'logit' | 'tuned' | 'both';
export const LENS_VIEWS: readonly LensView[] = ['logit', 'tuned', 'both'];

/** What the heatmap's cells are coloured by ('diff': after − before, on a before/after page). */
export type ColorBy = 'prob' | 'rank' | 'kl' | 'entropy' | 'diff';

export interface PageConfig {
  /** 'report': data embedded, no network. 'server': prompt form, data from POST api/lens. */
  mode: 'report' | 'server';
  /** The lensed kinds the page may offer, in menu order; the first is the default. */
  kinds: readonly HookKind[];
  /** Hook kind shown first. */
  kind?: HookKind;
  /** Initial colouring of the cells. */
  colorBy?: ColorBy;
  /** Which lens is shown first when the data has the tuned lens too (default 'both': side by side). */
  lens?: LensView;
  /** Viewer: the tuned lens the server has loaded (it then answers both lenses); absent without one. */
  tunedLens?: string;
  /** Viewer: the label of the control vectors the server has loaded (the form then has a steering switch); absent without them. */
  steering?: string;
}

export interface PageTopEntry {
  id: number;
  token: string;
  prob: number;
}

export interface PageTarget extends PageTopEntry {
  logit: number;
  rank: number;
}

/** One lens row: a hook at a position. */
export interface PageHook {
  name: string;
  layer: number | null;
  kind: HookKind;
  position: number;
  top?: PageTopEntry[];
  target?: PageTarget;
  entropy?: number;
  kl?: number;
  /** In tuned-lens data: 'tuned' where a translator acted, 'logit' elsewhere. */
  lens?: 'tuned' | 'logit';
}

export interface PageAttention {
  n_head: number;
  /** Query positions whose attention is included. */
  positions: number[];
  /** Per block: `weights[i][h][k]`, head h, query positions[i], key k ≤ positions[i]. */
  layers: { layer: number; weights: number[][][] }[];
  /** Why some positions are missing, when they are. */
  note?: string;
}

export interface PageData {
  model: { name: string; n_layer: number; n_embd: number; n_head: number; n_vocab: number; dtype: string };
  prompt: string;
  tokens: { id: number; token: string }[];
  positions: number[];
  prediction: { token: string; prob: number };
  hooks: PageHook[];
  target?: { id: number; token: string };
  attention?: PageAttention;
  /** This run's name on a before/after page. */
  label?: string;
  /** The run before the intervention, on a before/after page. */
  compare?: PageData;
  /** The tuned-lens rows of the same run (this data is the logit lens), on a page with the lens switch. */
  tuned?: PageData;
  /** 'tuned' on tuned-lens data. */
  lens?: 'tuned';
}
