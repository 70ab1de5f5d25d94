// The data behind the pictures: a LensResult as JSON (toJSON) plus its attention patterns in a compact
// form, and a decodeLayers wrapper that captures the attention without capturing gigabytes of it.

import { attentionLayers, decodeLayers, decodePrepared, modelFrom, prepareDecode, type DecodeOptions } from '../../lens/decode.js';
import { toJSON, type LensJSON } from '../format.js';
import { resolveHooks } from '../../hooks.js';
import type { LensResult } from '../../types.js';

export interface AttentionJSON {
  n_head: number;
  n_tokens: number;
  /** Query positions whose attention is included, ascending. */
  positions: number[];
  /** One entry per block: `weights[i][h][k]` = weight of head h from query `positions[i]` to key k, for
   *  k = 0..positions[i] (the causal mask zeroes the rest), rounded to 4 decimals. */
  layers: { name: string; layer: number; weights: number[][][] }[];
  /** Why some captured or lensed positions are missing, when they are. */
  note?: string;
}

/** What the report embeds and POST /api/lens returns: toJSON(result) plus `attention`. */
export interface ReportData extends LensJSON {
  attention?: AttentionJSON;
  /** What this run is, e.g. "after (ablated: blocks.1.mlp_out)"; set when there is a `compare` run. */
  label?: string;
  /** The run before the intervention (same prompt and hooks), shown by the page's before/after switch. */
  compare?: ReportData;
  /** The tuned-lens rows of the same run (the logit lens is the data itself), shown by the page's lens switch. */
  tuned?: LensJSON;
}

/** Default cap on attention numbers in a report (query rows are cut to their causal part first). */
export const DEFAULT_MAX_ATTENTION_VALUES = 2_000_000;
/** Default cap on attention floats decodeForView captures in one forward (4 bytes each). */
export const DEFAULT_MAX_ATTENTION_FLOATS = 16_000_000;

export interface ReportDataOptions {
  /** Cap on the attention numbers included (default 2,000,000): beyond it, only the last positions. */
  maxAttentionValues?: number;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * toJSON(result) plus the attention of `result.attention`: the causal part of each query row, rounded to
 * 4 decimals, for as many of the last query positions as fit `maxAttentionValues`.
 */
export function reportData(result: LensResult, options: ReportDataOptions = {}): ReportData {
  const data: ReportData = toJSON(result);
  const layers = result.attention ?? [];
  if (layers.length === 0) return data;
  const budget = options.maxAttentionValues ?? DEFAULT_MAX_ATTENTION_VALUES;
  const { n_head, n_tokens, positions } = layers[0];
  // From the last position backwards, while the causal rows of every layer and head fit.
  const keep: number[] = [];
  let used = 0;
  for (let i = positions.length - 1; i >= 0; i--) {
    const cost = layers.length * n_head * (positions[i] + 1);
    if (used + cost > budget) break;
    used += cost;
    keep.unshift(i);
  }
  const attention: AttentionJSON = {
    n_head,
    n_tokens,
    positions: keep.map((i) => positions[i]),
    layers: layers.map((l) => ({
      name: l.name,
      layer: l.layer,
      weights: keep.map((i) => l.patterns[i].map((row) => Array.from(row.subarray(0, l.positions[i] + 1), round4))),
    })),
  };
  const missing = result.positions.filter((p) => !attention.positions.includes(p));
  if (missing.length) {
    attention.note = `attention is included for ${attention.positions.length} of the ${result.positions.length} lensed positions (the last ones), to keep the data small`;
  }
  data.attention = attention;
  return data;
}

/** Labels of the two runs of a before/after page. */
export interface CompareLabels {
  /** The main (intervened) run; default "after (intervened)". */
  label?: string;
  /** The clean run; default "before (clean run)". */
  compareLabel?: string;
}

/**
 * The data of a before/after page: reportData(after) with `label`, and reportData(before) with its label
 * as `compare`. The page's "difference" colouring is after − before.
 */
export function compareReportData(after: LensResult, before: LensResult, labels: CompareLabels = {}, options: ReportDataOptions = {}): ReportData {
  return {
    ...reportData(after, options),
    label: labels.label ?? 'after (intervened)',
    compare: { ...reportData(before, options), label: labels.compareLabel ?? 'before (clean run)' },
  };
}

export interface ViewDecodeOptions extends DecodeOptions {
  /** Also capture every block's attn_pattern (default true). */
  attention?: boolean;
  /** Cap on the attention floats captured (n_layer · n_head · n_tokens per query position; default 16,000,000). */
  maxAttentionFloats?: number;
}

/**
 * decodeLayers plus every block's attention, for the pictures. When attention at every lensed position
 * would exceed `maxAttentionFloats` (long prompts), the lens runs without it and a second forward captures
 * the attention of the last positions that fit; `result.attention` then covers only those. Both forwards
 * apply `interventions` and the control vectors, so the attention is always that of the run the lens describes.
 */
export async function decodeForView(prompt: string, options: ViewDecodeOptions = {}): Promise<LensResult> {
  const { attention = true, maxAttentionFloats = DEFAULT_MAX_ATTENTION_FLOATS, ...decodeOptions } = options;
  if (!attention) return decodeLayers(prompt, decodeOptions);
  const model = await modelFrom(options.model);
  const { n_layer, n_head, hookKinds } = model.info;
  const names = resolveHooks(options.hooks ?? 'default', n_layer, hookKinds)
    .filter((h) => h.kind !== 'attn_pattern')
    .map((h) => h.name);
  // Prepared once (prompt, chat template, positions, control vectors): both forwards below use it.
  const withAttention = await prepareDecode(prompt, { ...decodeOptions, model, hooks: [...names, 'attn_pattern'] }, model);
  const { ids, positions, interventions } = withAttention;
  const perPosition = n_layer * n_head * ids.length;
  if (perPosition * positions.length <= maxAttentionFloats) return decodePrepared(withAttention);
  // Too much attention to capture at every lensed position: the lens without it (only attn_pattern
  // selected: the default hooks, the pictures need lensed rows), then the last positions that fit.
  const isPattern = (name: string) => withAttention.hooks.some((h) => h.name === name && h.kind === 'attn_pattern');
  const lensOnly = names.length
    ? {
        ...withAttention,
        hooks: withAttention.hooks.filter((h) => h.kind !== 'attn_pattern'),
        captureNames: withAttention.captureNames.filter((n) => !isPattern(n)),
      }
    : await prepareDecode(prompt, { ...decodeOptions, model, hooks: 'default' }, model);
  const result = await decodePrepared(lensOnly);
  const fit = Math.max(1, Math.floor(maxAttentionFloats / perPosition));
  // the run the lens describes: the same interventions (control vectors first), at the last positions
  const { activations } = await model.run(ids, {
    hooks: ['attn_pattern'],
    positions: positions.slice(-fit),
    logits: false,
    ...(interventions.length ? { interventions } : {}),
  });
  for (const a of activations) options.onActivation?.(a);
  result.activations.push(...activations);
  result.attention = attentionLayers(activations);
  return result;
}
