// Which rows of a lens batch are sums of two others. The residual stream only ever grows by addition:
// resid_mid = resid_pre + attn_out and resid_post = resid_mid + mlp_out, where resid_pre is the
// previous block's resid_post (the embeddings for block 0). The lens is affine in the centred vector,
// so the native lens can form such a row's projection by adding its parts' projections instead of
// running it through the unembedding matmul (native/lens/lens_plan.hpp). The engine checks every claim.
import { hookName } from '../hooks.js';
import type { HookKind } from '../types.js';

/** A block of P consecutive batch rows: one hook's rows at each of P positions. */
export interface BatchBlock {
  kind: HookKind;
  layer: number | null;
}

/**
 * Flattened [row, a, b] triples (vector[row] = vector[a] + vector[b]) for a batch made of `blocks`, each
 * holding P rows (row of block i at position index p = i·P + p). Only sums whose three blocks are all
 * in the batch are listed.
 */
export function residualSums(blocks: readonly BatchBlock[], P: number): Int32Array {
  const index = new Map<string, number>();
  blocks.forEach((b, i) => index.set(hookName(b.kind, b.layer), i));
  const triples: number[] = [];
  const claim = (row: string, a: string, b: string) => {
    const [r, x, y] = [index.get(row), index.get(a), index.get(b)];
    if (r === undefined || x === undefined || y === undefined) return;
    for (let p = 0; p < P; p++) triples.push(r * P + p, x * P + p, y * P + p);
  };
  const layers = blocks.reduce((n, b) => Math.max(n, b.layer === null ? 0 : b.layer + 1), 0);
  for (let l = 0; l < layers; l++) {
    const pre = l === 0 ? hookName('embed', null) : hookName('resid_post', l - 1);
    claim(hookName('resid_mid', l), pre, hookName('attn_out', l));
    claim(hookName('resid_post', l), hookName('resid_mid', l), hookName('mlp_out', l));
  }
  return Int32Array.from(triples);
}
