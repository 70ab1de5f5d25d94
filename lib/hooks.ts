// Hook point names and hook selection (design §1). Names follow TransformerLens without `hook_`:
// `embed`, `blocks.L.attn_out`, `blocks.L.resid_mid`, `blocks.L.mlp_post`, `blocks.L.mlp_out`,
// `blocks.L.resid_post`, `blocks.L.attn_pattern`.

import { BLOCK_HOOK_KINDS, LENSABLE_KINDS, type HookKind } from './types.js';

/** Every kind, in canonical order (`embed` first, then the block kinds in computation order). */
export const HOOK_KINDS: readonly HookKind[] = ['embed', ...BLOCK_HOOK_KINDS];

/** A parsed hook point. */
export interface HookRef {
  name: string;
  kind: HookKind;
  /** Block index; null for `embed`. */
  layer: number | null;
}

/** What a hook selection may be: a preset, or a list of names, kinds, presets (`all`, `default`) or `blocks.L`. */
export type HookSpec = 'all' | 'default' | readonly string[];

/** The block kinds of the default selection (the notebook's view: residual stream after attention and after MLP). */
const DEFAULT_BLOCK_KINDS: readonly HookKind[] = ['resid_mid', 'resid_post'];

export function isHookKind(s: unknown): s is HookKind {
  return typeof s === 'string' && (HOOK_KINDS as readonly string[]).includes(s);
}

/** True for kinds whose vectors are n_embd wide and go through ln_f + unembedding. */
export function isLensable(kind: HookKind): boolean {
  return LENSABLE_KINDS.includes(kind);
}

function checkLayerCount(nLayer: number): void {
  if (!Number.isInteger(nLayer) || nLayer < 1) throw new RangeError(`n_layer must be a positive integer, got ${nLayer}`);
}

/** Name of a hook point: `hookName('embed', null)` = `embed`, `hookName('resid_post', 3)` = `blocks.3.resid_post`. */
export function hookName(kind: HookKind, layer: number | null): string {
  if (!isHookKind(kind)) throw new Error(`unknown hook kind ${JSON.stringify(kind)}; expected one of ${HOOK_KINDS.join(', ')}`);
  if (kind === 'embed') {
    if (layer !== null && layer !== undefined) throw new Error(`hook kind "embed" has no layer (got ${layer})`);
    return 'embed';
  }
  if (typeof layer !== 'number' || !Number.isInteger(layer) || layer < 0) {
    throw new Error(`hook kind "${kind}" needs a block index (a non-negative integer), got ${layer}`);
  }
  return `blocks.${layer}.${kind}`;
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

/** Parses a full hook name. `nLayer` bounds the block index. */
export function parseHookName(name: string, nLayer: number): HookRef {
  checkLayerCount(nLayer);
  return parseName(name, nLayer);
}

function parseName(name: string, nLayer: number | undefined): HookRef {
  if (typeof name !== 'string') throw new TypeError(`hook name must be a string, got ${typeof name}`);
  if (name === 'embed') return { name, kind: 'embed', layer: null };
  const m = BLOCK_NAME.exec(name);
  if (!m) {
    if (isHookKind(name)) {
      throw new Error(`"${name}" is a hook kind, not a hook name; use blocks.L.${name} for one block`);
    }
    throw new Error(
      `malformed hook name ${JSON.stringify(name)}: expected "embed" or "blocks.L.KIND" with KIND one of ${BLOCK_HOOK_KINDS.join(', ')}`,
    );
  }
  const kind = m[2];
  if (!isHookKind(kind) || kind === 'embed') {
    throw new Error(`unknown hook kind ${JSON.stringify(kind)} in ${JSON.stringify(name)}; block kinds are ${BLOCK_HOOK_KINDS.join(', ')}`);
  }
  const layer = parseLayer(m[1], name, nLayer);
  return { name, kind, layer };
}

/** Every hook of a model, canonical order. */
export function allHooks(nLayer: number): HookRef[] {
  checkLayerCount(nLayer);
  const out: HookRef[] = [{ name: 'embed', kind: 'embed', layer: null }];
  for (let l = 0; l < nLayer; l++) for (const kind of BLOCK_HOOK_KINDS) out.push({ name: `blocks.${l}.${kind}`, kind, layer: l });
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
  if (s === 'all') return (h) => h.kind !== 'attn_head_out';
  if (s === 'default') return (h) => h.kind === 'embed' || DEFAULT_BLOCK_KINDS.includes(h.kind);
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
export function resolveHooks(spec: HookSpec, nLayer: number): HookRef[] {
  checkLayerCount(nLayer);
  let selectors: ((h: HookRef) => boolean)[];
  if (spec === 'all' || spec === 'default') selectors = [parseSelector(spec, nLayer)];
  else if (Array.isArray(spec)) {
    if (spec.length === 0) throw new Error('empty hook list: name at least one hook, or use "all" or "default"');
    selectors = spec.map((item) => parseSelector(item, nLayer));
  } else {
    throw new TypeError(`hooks must be 'all', 'default' or an array of hook names, got ${JSON.stringify(spec)}`);
  }
  return allHooks(nLayer).filter((h) => selectors.some((sel) => sel(h)));
}

/**
 * Width of one captured row of a hook (values per token position):
 * n_embd for the d-wide kinds, 4·n_embd for mlp_post, n_head·nTokens for attn_pattern.
 */
export function hookWidth(kind: HookKind, dims: { n_embd: number; n_head: number }, nTokens: number): number {
  switch (kind) {
    case 'embed':
    case 'attn_out':
    case 'resid_mid':
    case 'mlp_out':
    case 'resid_post':
      return dims.n_embd;
    case 'mlp_post':
      return 4 * dims.n_embd;
    case 'attn_pattern':
      return dims.n_head * nTokens;
    case 'attn_head_out':
      return dims.n_head * dims.n_embd;
    default:
      throw new Error(`unknown hook kind ${JSON.stringify(kind)}`);
  }
}
