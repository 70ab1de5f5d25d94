// Runs the lens over a batch of d-wide vectors with either implementation and returns top-k rows
// (and, on request, per-row measures). 'native' projects on the engine's backend (one batched matmul,
// top-k and measures in C++, only k values per row cross into JS); 'reference' is the readable
// plain-TS path in ./reference.ts.
import type { Model } from '../model/model.js';
import type { NativeLensOptions } from '../model/native.js';
import { lensMeasuresReference, type LensMeasureRows, type TopToken } from './reference.js';

export type LensImpl = 'native' | 'reference';

/** Top-k rows of a batch plus the per-row measures that were asked for (NaN, or rank 0, where a row has none). */
export interface LensBatch extends LensMeasureRows {
  top: TopToken[][];
}

function checkImpl(impl: LensImpl): void {
  if (impl !== 'native' && impl !== 'reference') throw new TypeError(`lens must be 'native' or 'reference', got ${JSON.stringify(impl)}`);
}

/** vectors: row-major [count, n_embd]. Returns count rows of k entries, best first. */
export async function lensTopK(model: Model, vectors: Float32Array, count: number, k: number, impl: LensImpl = 'native'): Promise<TopToken[][]> {
  return (await lensBatch(model, vectors, count, k, impl)).top;
}

/**
 * The lens of `count` rows with optional measures (entropy, a target id per row, a reference row per row
 * for KL(reference ‖ row)), in one batch with either implementation.
 */
export async function lensBatch(
  model: Model,
  vectors: Float32Array,
  count: number,
  k: number,
  impl: LensImpl = 'native',
  measures?: NativeLensOptions,
): Promise<LensBatch> {
  checkImpl(impl);
  if (count === 0) return { top: [] };
  if (impl === 'reference') {
    const w = await model.lensWeights();
    return lensMeasuresReference(vectors, count, { ...w, vocab: model.info.n_vocab, d: model.info.n_embd }, k, measures ?? {});
  }
  const r = await model.lensNative(vectors, count, k, measures);
  const top: TopToken[][] = [];
  for (let i = 0; i < count; i++) {
    const row: TopToken[] = [];
    for (let j = 0; j < k; j++) row.push({ id: r.ids[i * k + j], logit: r.logits[i * k + j], prob: r.probs[i * k + j] });
    top.push(row);
  }
  const out: LensBatch = { top };
  // The engine returns every measure array once any is asked for; keep the ones that were.
  if (measures?.entropy && r.entropy) out.entropy = r.entropy;
  if (measures?.targets && r.targetProb && r.targetLogit && r.targetRank) {
    out.targetLogit = Float64Array.from(r.targetLogit);
    out.targetProb = r.targetProb;
    out.targetRank = r.targetRank;
  }
  if (measures?.references && r.kl) out.kl = r.kl;
  return out;
}
