// generate()'s sampling options: their checks, their defaults, and the random seed picked when none is
// given. The sampler itself is native (native/sampling.hpp documents the algorithm and the PRNG), shared
// by every engine so that a seed means the same tokens whichever engine runs the model.
import { randomBytes } from 'node:crypto';
import { invalidParameterError, is } from '../is.js';

/** How the next token is picked. Every field is optional; the defaults give greedy decoding. */
export interface SamplingOptions {
  /**
   * Logits are divided by it before the softmax; 0 (default) is greedy decoding (the most likely token,
   * equal logits going to the lowest id). Stored as a float32.
   */
  temperature?: number;
  /** Sample among the topK most likely tokens only; 0 (default) = no cut. */
  topK?: number;
  /** Nucleus sampling: among the fewest most likely tokens whose probabilities add up to ≥ topP; in (0, 1], default 1 (no cut). */
  topP?: number;
  /**
   * Seed of the sampler's PRNG (an integer in 0..2^53-1): a seed gives the same tokens every time, for
   * the same model, prompt and options. Default: a random one, returned in the result so the run can be
   * replayed. Greedy decoding draws nothing.
   */
  seed?: number;
}

/** SamplingOptions with every field filled in. */
export type Sampling = Required<SamplingOptions>;

export const GREEDY: Readonly<Omit<Sampling, 'seed'>> = { temperature: 0, topK: 0, topP: 1 };

/** The largest seed: the engine keeps it as a 64-bit integer, JavaScript numbers are exact up to here. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;
const MAX_FLOAT32 = 3.4028234663852886e38;
const MAX_INT32 = 2 ** 31 - 1;

/** A uniformly random seed in 0..MAX_SEED. */
export function randomSeed(): number {
  const b = randomBytes(7);
  // 53 bits: 5 from the first byte, 48 from the other six
  return (b[0] & 0x1f) * 2 ** 48 + b.readUIntBE(1, 6);
}

/**
 * Checks the options (InvalidParameterError naming the field) and fills in the defaults; the seed, when
 * absent, is `seed()` (a random one unless told otherwise).
 */
export function resolveSampling(options: SamplingOptions, seed: () => number = randomSeed): Sampling {
  const { temperature = GREEDY.temperature, topK = GREEDY.topK, topP = GREEDY.topP } = options;
  // float32 is what the engine keeps: a value that overflows it, or a topP that rounds to 0, is refused
  if (!is.number(temperature) || temperature < 0 || temperature > MAX_FLOAT32)
    throw invalidParameterError('temperature', 'a finite number ≥ 0 (0 = greedy)', temperature);
  if (!is.integerIn(topK, 0, MAX_INT32)) throw invalidParameterError('topK', 'an integer ≥ 0 (0 = no top-k cut)', topK);
  if (!is.number(topP) || !(topP > 0 && topP <= 1) || Math.fround(topP) === 0) throw invalidParameterError('topP', 'a number in (0, 1]', topP);
  const chosen = options.seed ?? seed();
  if (!is.integerIn(chosen, 0, MAX_SEED)) throw invalidParameterError('seed', `an integer in 0..${MAX_SEED}`, chosen);
  return { temperature, topK, topP, seed: chosen };
}
