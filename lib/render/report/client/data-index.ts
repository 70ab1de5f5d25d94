// A lookup structure over one run's data: its lens rows by kind, layer and position, what colourings
// the data allows, and its attention by query position.

import type { HookKind } from '../../../types.js';
import type { PageData, PageHook } from '../page-data.js';
import type { Requirement, ScaleContext } from './helpers.js';

/** The lens rows of one hook (one heatmap row): the row's cells by position. */
export interface HookRow {
  name: string;
  layer: number | null;
  /** 'embed' or 'block L'. */
  label: string;
  cells: Record<number, PageHook>;
}

export interface DataIndex {
  /** The block kinds present, in the page's order; ['embed'] when only embed was lensed. */
  kinds: HookKind[];
  /** Which colourings this data allows. */
  has: Record<Requirement, boolean>;
  /** The lens row of hook `name` at position `pos`, of any kind. */
  at(name: string, pos: number): PageHook | undefined;
  ctx: ScaleContext;
  /** embed first, then the kind's rows by layer. */
  rows(kind: HookKind): HookRow[];
  /** Per block, each head's weights from query position `pos` (null: not in the data). */
  attention(pos: number): { layer: number; heads: number[][] }[] | null;
}

/** Indexes `data`; `kindOrder` is the page's menu order of kinds (lib/render/kinds.ts). */
export function indexData(data: PageData, kindOrder: readonly HookKind[]): DataIndex {
  const byKind: Partial<Record<HookKind, Record<string, HookRow>>> = {};
  let maxKL = 0;
  const has: Record<Requirement, boolean> = { target: false, kl: false, entropy: false, compare: !!data.compare };
  for (const h of data.hooks) {
    if (!h.top) continue;
    const k = byKind[h.kind] ?? (byKind[h.kind] = {});
    const row = k[h.name] ?? (k[h.name] = { name: h.name, layer: h.layer, label: h.layer === null ? 'embed' : 'block ' + h.layer, cells: {} });
    row.cells[h.position] = h;
    if (h.target) has.target = true;
    if (typeof h.kl === 'number') {
      has.kl = true;
      if (h.kl > maxKL) maxKL = h.kl;
    }
    if (typeof h.entropy === 'number') has.entropy = true;
  }
  let kinds = kindOrder.filter((k) => k !== 'embed' && byKind[k]);
  if (!kinds.length && byKind.embed) kinds = ['embed'];
  const byName: Record<string, HookRow> = {};
  for (const rows of Object.values(byKind)) for (const row of Object.values(rows)) byName[row.name] = row;
  const attnAt: Record<number, number> = {};
  data.attention?.positions.forEach((p, i) => (attnAt[p] = i));
  const layerKey = (r: HookRow): number => (r.layer === null ? -1 : r.layer);
  return {
    kinds,
    has,
    at: (name, pos) => byName[name]?.cells[pos],
    ctx: { nVocab: data.model.n_vocab, maxKL },
    rows(kind) {
      const out: HookRow[] = [];
      const embed = byKind.embed?.['embed'];
      if (embed && kind !== 'embed') out.push(embed);
      out.push(...Object.values(byKind[kind] ?? {}).sort((a, b) => layerKey(a) - layerKey(b)));
      return out;
    },
    attention(pos) {
      const i = attnAt[pos];
      if (!data.attention || i === undefined) return null;
      return data.attention.layers.map((l) => ({ layer: l.layer, heads: l.weights[i] }));
    },
  };
}
