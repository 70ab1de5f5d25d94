// Deterministic pseudo-random numbers for tests that generate their inputs: the same seed gives the same
// sequence on every run and machine.

/** mulberry32: uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform numbers in [-1, 1), from mulberry32. */
export function signedRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() * 2 - 1;
}
