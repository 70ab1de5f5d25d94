// What the page builder (lib/render/report/page.ts) hands the browser client: the config and the data,
// as JSON in the page or, for the viewer, from POST /api/lens. Types only, shared by both sides: the
// client reads exactly these fields, and page.ts accepts its data as PageData, so the compiler checks
// that what lib/render/report/data.ts produces (ReportData) carries everything the client reads.

import type { HookKind } from '../../types.js';

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
}
