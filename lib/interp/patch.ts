// Activation patching: run a "source" prompt, take one hook's activation at some positions, and put it
// into a "target" prompt's forward pass at the same hook (replacing the value, or adding to it) through
// interventions; then compare the target's clean and patched logit lens for one tracked token.
//
//   source prompt ──run──▶ hook rows at sourcePositions ─┐
//   target prompt ──decodeLayers (clean)──────────────────┼─▶ byLayer: prob/rank of `track`, clean vs patched
//   target prompt ──decodeLayers (interventions) ◀────────┘
//
// Both lens runs describe the target's LAST position (where its next token is predicted). Positions pair
// up in order: positions[i] of the target receives the source's row at sourcePositions[i].
import { decodeLayers, modelFrom, tokenizePrompt } from '../lens/decode.js';
import { hookPositionWidth, isIntervenable, parseHookName, type HookSpec } from '../hooks.js';
import type { Model } from '../model/model.js';
import { resolveTarget } from '../lens/target.js';
import type { Intervention, LensResult, TokenInfo } from '../types.js';
import { InvalidParameterError, invalidParameterError, is, oneOf } from '../is.js';

const PATCH_MODES = ['set', 'add'] as const;

export interface PatchOptions {
  /** A loaded Model, or a path / hub id (loaded once and cached, as in decodeLayers). */
  model?: Model | string;
  /** The prompt the activation is taken from. */
  source: string;
  /** The prompt it is put into. */
  target: string;
  /** The hook patched: a d-wide hook (embed, blocks.L.attn_out|resid_mid|mlp_out|resid_post) or blocks.L.mlp_post. */
  hook: string;
  /** Target positions that receive the patch; default [-1] (the last token). Negative = from the end. */
  positions?: 'last' | readonly number[];
  /**
   * Source positions the patch is read from, paired in order with `positions`. Default: the same indices
   * as `positions`. When the two prompts have different lengths, non-negative `positions` are ambiguous,
   * so `sourcePositions` must then be given (negative indices, such as the default -1 ↔ -1, need not be).
   */
  sourcePositions?: 'last' | readonly number[];
  /** 'set' (default) replaces the target's value with the source's; 'add' adds the source's value to it. */
  mode?: 'set' | 'add';
  /** The token followed through the layers: its text (exactly one token, e.g. `" Warsaw"`) or its id. */
  track: string | number;
  /** Lens rows of the target runs (see decodeLayers); default 'default'. */
  hooks?: HookSpec;
  /** Top-k per lens row; default 5. */
  topK?: number;
  /** mlp_post only: patch just these neurons. */
  neurons?: readonly number[];
}

export interface PatchLayer {
  /** Block index; null for embed. */
  layer: number | null;
  /** The lens row's hook name. */
  name: string;
  cleanProb: number;
  patchedProb: number;
  /** 1 = the top token of that lens row. */
  cleanRank: number;
  patchedRank: number;
  /** patchedProb − cleanProb */
  deltaProb: number;
}

export interface PatchResult {
  /** The target prompt's lens without the patch (tracked token as `target`). */
  clean: LensResult;
  /** The target prompt's lens with the patch. */
  patched: LensResult;
  /** The tracked token under every lensed row, clean vs patched, in hook order. */
  byLayer: PatchLayer[];
  /** The tracked token. */
  track: TokenInfo;
  /** The interventions the patched run applied (one per patched position, vectors from the source run). */
  interventions: Intervention[];
  /** Resolved [target position, source position] pairs. */
  pairs: [number, number][];
}

function resolveList(spec: 'last' | readonly number[] | undefined, n: number, what: string): number[] {
  const list = spec === undefined || spec === 'last' ? [-1] : spec;
  if (!Array.isArray(list) || list.length === 0) throw invalidParameterError(what, "'last' or a non-empty array of token positions", spec);
  return list.map((p: number) => {
    if (!is.integer(p)) throw invalidParameterError(`${what} entries`, 'integers', p);
    if (p < -n || p >= n) throw new InvalidParameterError(`${what}: position ${p} is outside the prompt's ${n} tokens (0..${n - 1}, or -1..-${n})`);
    return p < 0 ? n + p : p;
  });
}

/**
 * Patches `hook` of the target prompt with the source prompt's activation at the paired positions and
 * reports, for the tracked token, its lens probability and rank in every lensed row of the target's last
 * position, clean vs patched. Three forward passes: the source (capture), the clean target and the patched
 * target (both with the lens).
 */
export async function patchActivations(options: PatchOptions): Promise<PatchResult> {
  if (!is.object(options)) throw invalidParameterError('options', 'an object', options);
  const mode = options.mode ?? 'set';
  if (!is.inArray(mode, PATCH_MODES)) throw invalidParameterError('mode', oneOf(PATCH_MODES), mode);
  if (!is.string(options.hook)) throw invalidParameterError('hook', 'a hook name string', options.hook);
  const model = await modelFrom(options.model);
  const { n_layer, n_vocab } = model.info;
  const ref = parseHookName(options.hook, n_layer);
  if (!isIntervenable(ref.kind)) throw new Error(`${options.hook} cannot be patched: only d-wide hooks and mlp_post take interventions`);
  if (options.neurons !== undefined && ref.kind !== 'mlp_post') throw new Error(`neurons apply to mlp_post hooks only, not ${options.hook}`);
  const track = resolveTarget(options.track, n_vocab);

  const srcIds = tokenizePrompt(options.source, model);
  const tgtIds = tokenizePrompt(options.target, model);
  const tgtPos = resolveList(options.positions, tgtIds.length, 'positions');
  let srcSpec = options.sourcePositions;
  if (srcSpec === undefined) {
    const given = options.positions === undefined || options.positions === 'last' ? [-1] : options.positions;
    if (srcIds.length !== tgtIds.length && given.some((p) => p >= 0)) {
      throw new Error(
        `the source prompt has ${srcIds.length} tokens and the target ${tgtIds.length}: give sourcePositions to say which source position feeds each target position`,
      );
    }
    srcSpec = given;
  }
  const srcPos = resolveList(srcSpec, srcIds.length, 'sourcePositions');
  if (srcPos.length !== tgtPos.length) throw new RangeError(`positions (${tgtPos.length}) and sourcePositions (${srcPos.length}) must pair up one to one`);
  if (new Set(tgtPos).size !== tgtPos.length) throw new Error('positions: a target position is patched twice');

  // The source's rows at its positions (captured once each; the engine wants them sorted and unique).
  const uniqueSrc = [...new Set(srcPos)].sort((a, b) => a - b);
  const { activations } = await model.run(srcIds, { hooks: [ref.name], positions: uniqueSrc });
  const act = activations.find((a) => a.name === ref.name);
  if (!act) throw new Error(`patchActivations: the engine returned no ${ref.name}`);
  const width = hookPositionWidth(ref.kind, model.info, srcIds.length);
  const interventions: Intervention[] = tgtPos.map((tp, i) => {
    const r = uniqueSrc.indexOf(srcPos[i]);
    const iv: Intervention = { hook: ref.name, positions: [tp], op: mode, vector: act.data.slice(r * width, (r + 1) * width) };
    if (options.neurons !== undefined) iv.neurons = [...options.neurons];
    return iv;
  });

  const common = { model, hooks: options.hooks ?? 'default', topK: options.topK ?? 5, target: track.id } as const;
  const clean = await decodeLayers(options.target, common);
  const patched = await decodeLayers(options.target, { ...common, interventions });

  const byLayer: PatchLayer[] = [];
  for (const row of clean.hooks) {
    if (!row.target) continue;
    const other = patched.hooks.find((h) => h.name === row.name && h.position === row.position);
    if (!other?.target) continue;
    byLayer.push({
      layer: row.layer,
      name: row.name,
      cleanProb: row.target.prob,
      patchedProb: other.target.prob,
      cleanRank: row.target.rank,
      patchedRank: other.target.rank,
      deltaProb: other.target.prob - row.target.prob,
    });
  }
  return { clean, patched, byLayer, track, interventions, pairs: tgtPos.map((tp, i) => [tp, srcPos[i]]) };
}
