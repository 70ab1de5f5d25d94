// Runs the lens over a batch of d-wide vectors with either implementation and returns top-k rows.
// 'native' projects on the engine's backend (one batched matmul, top-k in C++, only k values per
// row cross into JS); 'reference' is the readable plain-TS path in ./reference.ts.
import type { Model } from '../model.js';
import { lensReference, type TopToken } from './reference.js';

export type LensImpl = 'native' | 'reference';

/** vectors: row-major [count, n_embd]. Returns count rows of k entries, best first. */
export async function lensTopK(model: Model, vectors: Float32Array, count: number, k: number, impl: LensImpl = 'native'): Promise<TopToken[][]> {
  if (count === 0) return [];
  if (impl === 'reference') {
    const w = await model.lensWeights();
    const params = { ...w, vocab: model.info.n_vocab, d: model.info.n_embd };
    return lensReference(vectors, count, params, k).map((row) => row.top);
  }
  if (impl !== 'native') throw new TypeError(`lens must be 'native' or 'reference', got ${JSON.stringify(impl)}`);
  const r = await model.lensNative(vectors, count, k);
  const rows: TopToken[][] = [];
  for (let i = 0; i < count; i++) {
    const row: TopToken[] = [];
    for (let j = 0; j < k; j++) row.push({ id: r.ids[i * k + j], logit: r.logits[i * k + j], prob: r.probs[i * k + j] });
    rows.push(row);
  }
  return rows;
}
