// Hook points: the registry of kinds (a mirror of the engine's table in native/graph/hook_kinds.hpp,
// checked equal to the addon's `hookKinds` by test/engine/hook-kinds.test.ts), the one formatter
// (hookName) and the one parser (parseHookName) of names, and hook selection.
//
// Canonical names follow TransformerLens without `hook_`: `embed`, `blocks.L.attn_out`, `blocks.L.resid_mid`,
// `blocks.L.mlp_post`, `blocks.L.mlp_out`, `blocks.L.resid_post`, `blocks.L.attn_pattern`,
// `blocks.L.attn_head_out`. TransformerLens's own names are accepted wherever a name is (see TL_BLOCK_ALIASES).
// This module does not load the addon, so the browser report can use it.

/** One kind of hook point, as the engine defines it. */
export interface HookKindInfo {
  kind: string;
  /** Width of one captured row = n_embd·rowWidth.n_embd + n_tokens·rowWidth.n_tokens (n_tokens: keys attended over). */
  rowWidth: { readonly n_embd: number; readonly n_tokens: number };
  /** One row per (position, head): a position holds n_head rows. */
  perHead: boolean;
  /** False only for `embed`, which has no block index. */
  inBlock: boolean;
  /** n_embd wide: pushed through ln_f and the unembedding by the lens. */
  lensable: boolean;
  /** Interventions may edit it inside the graph. */
  intervenable: boolean;
  /** Selected by the `'all'` preset (attn_head_out costs a matmul per block, so only on request). */
  inAll: boolean;
  /** Selected by the `'default'` preset (the notebook's view of the residual stream). */
  inDefault: boolean;
}

/** Every kind in result order: `embed`, then the block kinds. Same order and values as the engine's table. */
export const HOOK_KIND_TABLE = [
  { kind: 'embed', rowWidth: { n_embd: 1, n_tokens: 0 }, perHead: false, inBlock: false, lensable: true, intervenable: true, inAll: true, inDefault: true },
  { kind: 'attn_out', rowWidth: { n_embd: 1, n_tokens: 0 }, perHead: false, inBlock: true, lensable: true, intervenable: true, inAll: true, inDefault: false },
  { kind: 'resid_mid', rowWidth: { n_embd: 1, n_tokens: 0 }, perHead: false, inBlock: true, lensable: true, intervenable: true, inAll: true, inDefault: true },
  { kind: 'mlp_post', rowWidth: { n_embd: 4, n_tokens: 0 }, perHead: false, inBlock: true, lensable: false, intervenable: true, inAll: true, inDefault: false },
  { kind: 'mlp_out', rowWidth: { n_embd: 1, n_tokens: 0 }, perHead: false, inBlock: true, lensable: true, intervenable: true, inAll: true, inDefault: false },
  { kind: 'resid_post', rowWidth: { n_embd: 1, n_tokens: 0 }, perHead: false, inBlock: true, lensable: true, intervenable: true, inAll: true, inDefault: true },
  {
    kind: 'attn_pattern',
    rowWidth: { n_embd: 0, n_tokens: 1 },
    perHead: true,
    inBlock: true,
    lensable: false,
    intervenable: false,
    inAll: true,
    inDefault: false,
  },
  {
    kind: 'attn_head_out',
    rowWidth: { n_embd: 1, n_tokens: 0 },
    perHead: true,
    inBlock: true,
    lensable: false,
    intervenable: false,
    inAll: false,
    inDefault: false,
  },
] as const satisfies readonly HookKindInfo[];

/** What a hook point holds (TransformerLens names without the `hook_` prefix). */
export type HookKind = (typeof HOOK_KIND_TABLE)[number]['kind'];

/** Every kind, in canonical order (`embed` first, then the block kinds). */
export const HOOK_KINDS: readonly HookKind[] = HOOK_KIND_TABLE.map((k) => k.kind);

/** Kinds that live inside a block, in result order. attn_head_out (each head's share of attn_out,
 *  [n_head, n_embd] per position) is computed only when asked for by name or kind. */
export const BLOCK_HOOK_KINDS: readonly HookKind[] = HOOK_KIND_TABLE.filter((k) => k.inBlock).map((k) => k.kind);

/** Kinds whose vectors are d_model wide and can therefore be pushed through ln_f and the unembedding. */
export const LENSABLE_KINDS: readonly HookKind[] = HOOK_KIND_TABLE.filter((k) => k.lensable).map((k) => k.kind);

/** Kinds an intervention may edit (the d-wide kinds and mlp_post). */
export const INTERVENABLE_KINDS: readonly HookKind[] = HOOK_KIND_TABLE.filter((k) => k.intervenable).map((k) => k.kind);

/** The registry entry of a kind. */
export function hookKindInfo(kind: HookKind): HookKindInfo {
  const info = HOOK_KIND_TABLE.find((k) => k.kind === kind);
  if (!info) throw new Error(`unknown hook kind ${JSON.stringify(kind)}; expected one of ${HOOK_KINDS.join(', ')}`);
  return info;
}

/** A parsed hook point. */
export interface HookRef {
  name: string;
  kind: HookKind;
  /** Block index; null for `embed`. */
  layer: number | null;
}

/** What a hook selection may be: a preset, or a list of names, kinds, presets (`all`, `default`) or `blocks.L`. */
export type HookSpec = 'all' | 'default' | readonly string[];

export function isHookKind(s: unknown): s is HookKind {
  return typeof s === 'string' && (HOOK_KINDS as readonly string[]).includes(s);
}

/** True for kinds whose vectors are n_embd wide and go through ln_f + unembedding. */
export function isLensable(kind: HookKind): boolean {
  return LENSABLE_KINDS.includes(kind);
}

/** True for kinds an intervention may edit. */
export function isIntervenable(kind: HookKind): boolean {
  return INTERVENABLE_KINDS.includes(kind);
}

function checkLayerCount(nLayer: number): void {
  if (!Number.isInteger(nLayer) || nLayer < 1) throw new RangeError(`n_layer must be a positive integer, got ${nLayer}`);
}

/** Name of a hook point: `hookName('embed', null)` = `embed`, `hookName('resid_post', 3)` = `blocks.3.resid_post`. */
export function hookName(kind: HookKind, layer: number | null): string {
  if (!isHookKind(kind)) throw new Error(`unknown hook kind ${JSON.stringify(kind)}; expected one of ${HOOK_KINDS.join(', ')}`);
  if (!hookKindInfo(kind).inBlock) {
    if (layer !== null && layer !== undefined) throw new Error(`hook kind "${kind}" has no layer (got ${layer})`);
    return kind;
  }
  if (typeof layer !== 'number' || !Number.isInteger(layer) || layer < 0) {
    throw new Error(`hook kind "${kind}" needs a block index (a non-negative integer), got ${layer}`);
  }
  return `blocks.${layer}.${kind}`;
}

function hookRef(kind: HookKind, layer: number | null): HookRef {
  return { name: hookName(kind, layer), kind, layer };
}

const BLOCK_NAME = /^blocks\.(\d+)\.([a-z_]+)$/;

function layerRangeText(nLayer: number): string {
  return `blocks 0..${nLayer - 1}`;
}

function parseLayer(digits: string, name: string, nLayer: number | undefined): number {
  if (digits.length > 1 && digits.startsWith('0')) throw new Error(`malformed hook name ${JSON.stringify(name)}: block index has a leading zero`);
  const layer = Number(digits);
  if (nLayer !== undefined && layer >= nLayer) {
    throw new RangeError(`hook ${JSON.stringify(name)}: block ${digits} is out of range, the model has ${layerRangeText(nLayer)}`);
  }
  return layer;
}

/**
 * Parses a full hook name, canonical (`embed`, `blocks.L.KIND`) or a TransformerLens alias
 * (`blocks.L.hook_resid_post`, `blocks.L.attn.hook_pattern`, `blocks.L.hook_resid_pre`, ...; see
 * TL_BLOCK_ALIASES). The result's `name` is always canonical. `nLayer` bounds the block index.
 */
export function parseHookName(name: string, nLayer: number): HookRef {
  checkLayerCount(nLayer);
  return parseName(name, nLayer);
}

/**
 * TransformerLens hook names (what follows `blocks.L.`) and the layerlens kind each one is. Same values
 * and shapes without TL's batch axis, except attn.hook_pattern: TL's is [batch, head, query, key],
 * ours [query position, head, key]. `blocks.L.hook_resid_pre` is handled apart (it is the previous
 * block's resid_post, or embed for L = 0).
 */
export const TL_BLOCK_ALIASES: Readonly<Record<string, HookKind>> = {
  hook_attn_out: 'attn_out',
  hook_resid_mid: 'resid_mid',
  'mlp.hook_post': 'mlp_post',
  hook_mlp_out: 'mlp_out',
  hook_resid_post: 'resid_post',
  'attn.hook_pattern': 'attn_pattern',
  'attn.hook_result': 'attn_head_out',
};

const TL_BLOCK_NAME = /^blocks\.(\d+)\.((?:[a-z_0-9]+\.)?hook_[a-z_]+)$/;

const TL_ACCEPTED = ['blocks.L.hook_resid_pre', ...Object.keys(TL_BLOCK_ALIASES).map((k) => `blocks.L.${k}`)].join(', ');

/** A TransformerLens name as a layerlens hook, or undefined when `name` does not look like one. */
function parseTransformerLensName(name: string, nLayer: number | undefined): HookRef | undefined {
  if (name === 'hook_embed' || name === 'hook_pos_embed') {
    throw new Error(
      `"${name}" is TransformerLens's ${name === 'hook_embed' ? 'token' : 'position'} embedding alone; layerlens has no separate ` +
        'token or position embedding hook: its "embed" is hook_embed + hook_pos_embed (= TransformerLens\'s blocks.0.hook_resid_pre)',
    );
  }
  const m = TL_BLOCK_NAME.exec(name);
  if (!m) {
    if (/(^|\.)hook_/.test(name)) {
      throw new Error(`TransformerLens hook ${JSON.stringify(name)} has no layerlens equivalent; the TransformerLens names layerlens accepts: ${TL_ACCEPTED}`);
    }
    return undefined;
  }
  const layer = parseLayer(m[1], name, nLayer);
  if (m[2] === 'hook_resid_pre') {
    return layer === 0 ? hookRef('embed', null) : hookRef('resid_post', layer - 1);
  }
  const kind = TL_BLOCK_ALIASES[m[2]];
  if (kind === undefined) {
    throw new Error(`TransformerLens hook ${JSON.stringify(name)} has no layerlens equivalent; the TransformerLens names layerlens accepts: ${TL_ACCEPTED}`);
  }
  return hookRef(kind, layer);
}

/** The one parser of hook names: canonical names and TransformerLens aliases, to a canonical HookRef. */
function parseName(name: string, nLayer: number | undefined): HookRef {
  if (typeof name !== 'string') throw new TypeError(`hook name must be a string, got ${typeof name}`);
  if (name === 'embed') return { name, kind: 'embed', layer: null };
  const tl = parseTransformerLensName(name, nLayer);
  if (tl) return tl;
  const m = BLOCK_NAME.exec(name);
  if (!m) {
    if (isHookKind(name)) {
      throw new Error(`"${name}" is a hook kind, not a hook name; use blocks.L.${name} for one block`);
    }
    throw new Error(`malformed hook name ${JSON.stringify(name)}: expected "embed" or "blocks.L.KIND" with KIND one of ${BLOCK_HOOK_KINDS.join(', ')}`);
  }
  const kind = m[2];
  if (!isHookKind(kind) || !hookKindInfo(kind).inBlock) {
    throw new Error(`unknown hook kind ${JSON.stringify(kind)} in ${JSON.stringify(name)}; block kinds are ${BLOCK_HOOK_KINDS.join(', ')}`);
  }
  const layer = parseLayer(m[1], name, nLayer);
  return { name, kind, layer };
}

/** Every hook of a model, canonical order. */
export function allHooks(nLayer: number): HookRef[] {
  checkLayerCount(nLayer);
  const out: HookRef[] = [{ name: 'embed', kind: 'embed', layer: null }];
  for (let l = 0; l < nLayer; l++) for (const kind of BLOCK_HOOK_KINDS) out.push(hookRef(kind, l));
  return out;
}

/** Canonical rank of a hook: embed = 0, then block by block in BLOCK_HOOK_KINDS order. */
export function hookOrder(ref: { kind: HookKind; layer: number | null }): number {
  if (ref.kind === 'embed') return 0;
  return 1 + (ref.layer as number) * BLOCK_HOOK_KINDS.length + BLOCK_HOOK_KINDS.indexOf(ref.kind);
}

/** One item of a selection list, without the layer bound when nLayer is undefined. Returns a predicate over hooks. */
function parseSelector(item: string, nLayer: number | undefined): (h: HookRef) => boolean {
  if (typeof item !== 'string') throw new TypeError(`hook selector must be a string, got ${typeof item}`);
  const s = item.trim();
  if (s === '') throw new Error('empty hook name in the hook list');
  if (s === 'all') return (h) => hookKindInfo(h.kind).inAll;
  if (s === 'default') return (h) => hookKindInfo(h.kind).inDefault;
  if (isHookKind(s)) return (h) => h.kind === s;
  const block = /^blocks\.(\d+)$/.exec(s);
  if (block) {
    const layer = parseLayer(block[1], s, nLayer);
    return (h) => h.layer === layer;
  }
  const ref = parseName(s, nLayer);
  return (h) => h.name === ref.name;
}

/**
 * Checks the syntax of a selection without knowing the model (block indices are not bounded).
 * Throws the same errors `resolveHooks` would, except for out-of-range blocks.
 */
export function checkHookSpec(spec: HookSpec): void {
  if (spec === 'all' || spec === 'default') return;
  if (!Array.isArray(spec)) throw new TypeError(`hooks must be 'all', 'default' or an array of hook names, got ${JSON.stringify(spec)}`);
  if (spec.length === 0) throw new Error('empty hook list: name at least one hook, or use "all" or "default"');
  for (const item of spec) parseSelector(item, undefined);
}

/**
 * Resolves a selection to hook points, de-duplicated, in canonical order:
 * `embed`, then per block attn_out, resid_mid, mlp_post, mlp_out, resid_post, attn_pattern.
 *
 * - `'default'`: `embed` + every block's `resid_mid` and `resid_post` (the notebook's view).
 * - `'all'`: every hook, including `mlp_post` and `attn_pattern` (but not `attn_head_out`, which costs
 *   a matmul per block and is computed only when named or selected by kind).
 * - a list whose items are hook names (`embed`, `blocks.3.mlp_out`), kinds (`resid_post` = that kind in
 *   every block), `blocks.L` (every hook of block L), `all` or `default`. Items are trimmed.
 */
export function resolveHooks(spec: HookSpec, nLayer: number, available?: readonly HookKind[]): HookRef[] {
  checkLayerCount(nLayer);
  let selectors: ((h: HookRef) => boolean)[];
  if (spec === 'all' || spec === 'default') selectors = [parseSelector(spec, nLayer)];
  else if (Array.isArray(spec)) {
    if (spec.length === 0) throw new Error('empty hook list: name at least one hook, or use "all" or "default"');
    selectors = spec.map((item) => parseSelector(item, nLayer));
  } else {
    throw new TypeError(`hooks must be 'all', 'default' or an array of hook names, got ${JSON.stringify(spec)}`);
  }
  const chosen = allHooks(nLayer).filter((h) => selectors.some((sel) => sel(h)));
  if (available === undefined) return chosen;
  // A model on the llama.cpp engine offers the kinds its architecture has: presets and kind selectors keep
  // those; a hook named one by one that the model lacks is an error.
  const named = Array.isArray(spec)
    ? spec.map((s) => s.trim()).filter((s) => s !== 'all' && s !== 'default' && !isHookKind(s) && !/^blocks\.\d+$/.test(s))
    : [];
  for (const n of named) {
    const ref = parseName(n, nLayer);
    if (!available.includes(ref.kind)) throw new Error(`hook ${ref.name} is not available for this model (it offers ${available.join(', ')})`);
  }
  const kept = chosen.filter((h) => available.includes(h.kind));
  if (kept.length === 0) throw new Error(`none of the selected hooks is available for this model (it offers ${available.join(', ')})`);
  return kept;
}

/**
 * Values in one captured row of a hook: n_embd for the d-wide kinds, 4·n_embd for mlp_post, nTokens for
 * attn_pattern (one head's softmax row), n_embd for attn_head_out (one head's output). Per-head kinds
 * have n_head such rows per position (see hookPositionWidth).
 */
export function hookRowWidth(kind: HookKind, dims: { n_embd: number; n_ff?: number }, nTokens: number): number {
  // mlp_post is the FFN's width: 4·n_embd in GPT-2, the model's own n_ff elsewhere.
  if (kind === 'mlp_post' && dims.n_ff !== undefined) return dims.n_ff;
  const { rowWidth } = hookKindInfo(kind);
  return rowWidth.n_embd * dims.n_embd + rowWidth.n_tokens * nTokens;
}

/**
 * Values captured per token position: hookRowWidth, times n_head for the per-head kinds
 * (n_head·nTokens for attn_pattern, n_head·n_embd for attn_head_out). An intervention's vector has this length.
 */
export function hookPositionWidth(kind: HookKind, dims: { n_embd: number; n_head: number; n_ff?: number }, nTokens: number): number {
  return hookRowWidth(kind, dims, nTokens) * (hookKindInfo(kind).perHead ? dims.n_head : 1);
}
