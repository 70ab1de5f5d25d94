// The sampling contract written a second time, plainly, in TypeScript: the oracle the engine's sampler
// (native/sampling.cpp) is checked against. Nothing here is shared with the code under test.
//
//  - PRNG: splitmix64 on a BigInt state, seeded with the seed; a uniform double is next() >> 11 times 2^-53.
//  - temperature 0: argmax, equal logits to the lowest id; no draw.
//  - else one draw per token: z = logit / float32(temperature); softmax weights exp(z - max z), zeros
//    dropped; order z descending, equal z by lower id; keep topK (> 0); p = w / sum(w) (summed in that
//    order); keep the shortest prefix whose running sum of p reaches float32(topP) (all if it never
//    does); q = p / (sum of kept p); the first token whose running sum of q exceeds u, else the last.

const MASK64 = (1n << 64n) - 1n;

export class SplitMix64 {
  #state: bigint;
  constructor(seed: number | bigint) {
    this.#state = BigInt(seed) & MASK64;
  }
  next(): bigint {
    this.#state = (this.#state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = this.#state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  }
  /** A uniform double in [0, 1). */
  uniform(): number {
    return Number(this.next() >> 11n) / 2 ** 53;
  }
}

export interface ReferenceSampling {
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

/** The distribution the sampler draws from for one row: kept ids (in CDF order) and their probabilities. */
export function referenceDistribution(logits: ArrayLike<number>, s: Omit<ReferenceSampling, 'seed'>): { ids: number[]; probs: number[] } {
  const t = Math.fround(s.temperature);
  if (t === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return { ids: [best], probs: [1] };
  }
  const z = Array.from(logits, (l) => l / t);
  let maxZ = -Infinity;
  for (const x of z) if (x > maxZ) maxZ = x;
  let cand = z.map((zi, id) => ({ id, z: zi, w: Math.exp(zi - maxZ) })).filter((c) => c.w > 0);
  cand.sort((a, b) => (a.z !== b.z ? b.z - a.z : a.id - b.id));
  if (s.topK > 0) cand = cand.slice(0, s.topK);
  let total = 0;
  for (const c of cand) total += c.w;
  let probs = cand.map((c) => c.w / total);
  const topP = Math.fround(s.topP);
  if (topP < 1) {
    let cum = 0;
    let kept = probs.length;
    for (let i = 0; i < probs.length; i++) {
      cum += probs[i];
      if (cum >= topP) {
        kept = i + 1;
        break;
      }
    }
    probs = probs.slice(0, kept);
  }
  let mass = 0;
  for (const p of probs) mass += p;
  return { ids: cand.slice(0, probs.length).map((c) => c.id), probs: probs.map((p) => p / mass) };
}

/** One row's pick; `u` is the uniform draw (ignored by greedy decoding). */
export function referencePick(logits: ArrayLike<number>, s: Omit<ReferenceSampling, 'seed'>, u: number): number {
  const { ids, probs } = referenceDistribution(logits, s);
  let cdf = 0;
  for (let i = 0; i < ids.length; i++) {
    cdf += probs[i];
    if (u < cdf) return ids[i];
  }
  return ids[ids.length - 1];
}

/** A sampler over successive rows, as one generate call uses it (one draw per sampled token). */
export class ReferenceSampler {
  readonly #rng: SplitMix64;
  constructor(readonly params: ReferenceSampling) {
    this.#rng = new SplitMix64(params.seed);
  }
  /** The pick, and the distance of the draw from the nearest CDF boundary (how safe the pick is against rounding). */
  sampleWithMargin(logits: ArrayLike<number>): { id: number; margin: number } {
    if (Math.fround(this.params.temperature) === 0) return { id: referencePick(logits, this.params, 0), margin: Infinity };
    const u = this.#rng.uniform();
    const { ids, probs } = referenceDistribution(logits, this.params);
    let cdf = 0;
    let margin = u; // distance to the CDF's start
    for (let i = 0; i < ids.length; i++) {
      const next = cdf + probs[i];
      if (u < next || i === ids.length - 1) return { id: ids[i], margin: Math.min(margin, next - u) };
      cdf = next;
      margin = u - cdf;
    }
    throw new Error('unreachable');
  }
  sample(logits: ArrayLike<number>): number {
    return this.sampleWithMargin(logits).id;
  }
}
