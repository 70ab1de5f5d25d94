// The tuned lens's translation h + A·h + b for the rows decodeLayers lenses, either as one native ggml
// graph on the CPU (native/lens/translate.cpp: every translator's rows in one call, threaded) or in
// plain TypeScript (translateRows, the readable float64 reference). Neither needs the model's weights,
// so both engines use it.
import { native, type NativeTranslators } from '../../model/native.js';
import { translateRows, type TunedLens } from './tuned-lens.js';

/** Rows ([count, d] row-major) that go through translator `translator`. */
export interface TranslationGroup {
  translator: number;
  rows: Float32Array;
}

export interface TranslateOptions {
  /** 'native' (default): one ggml graph; 'reference': translateRows in TypeScript. */
  impl?: 'native' | 'reference';
  /** CPU threads for the native graph; default the hardware's. */
  threads?: number;
}

// The native copy of a lens's translators, made on its first native use. A TunedLens is treated as
// immutable: its weights are copied then, and edits to them afterwards are not seen.
const nativeCopies = new WeakMap<TunedLens, NativeTranslators>();

function nativeTranslators(lens: TunedLens): NativeTranslators {
  let t = nativeCopies.get(lens);
  if (!t) {
    const d = lens.config.dModel;
    // a translator without a bias beside ones with (a hand-made TunedLens) adds zeros, as translateRows does
    const bias = lens.translators.some((x) => x.bias);
    t = new (native().Translators)({
      d,
      weights: lens.translators.map((x) => x.weight),
      ...(bias ? { biases: lens.translators.map((x) => x.bias ?? new Float32Array(d)) } : {}),
    });
    nativeCopies.set(lens, t);
  }
  return t;
}

/** Each group's rows translated by its translator (h + A·h + b), in the order given. */
export async function translateGroups(lens: TunedLens, groups: readonly TranslationGroup[], options: TranslateOptions = {}): Promise<Float32Array[]> {
  const d = lens.config.dModel;
  for (const [i, g] of groups.entries()) {
    if (!Number.isInteger(g.translator) || g.translator < 0 || g.translator >= lens.translators.length)
      throw new RangeError(`translation group ${i}: translator ${g.translator} is outside 0..${lens.translators.length - 1}`);
    if (!(g.rows instanceof Float32Array) || g.rows.length % d !== 0)
      throw new RangeError(`translation group ${i}: rows must be a Float32Array of whole rows of ${d} values`);
  }
  if ((options.impl ?? 'native') === 'reference') return groups.map((g) => translateRows(lens.translators[g.translator], g.rows, g.rows.length / d, d));
  const total = groups.reduce((n, g) => n + g.rows.length, 0);
  const rows = new Float32Array(total);
  const pairs = new Int32Array(2 * groups.length);
  let at = 0;
  groups.forEach((g, i) => {
    rows.set(g.rows, at);
    at += g.rows.length;
    pairs[2 * i] = g.translator;
    pairs[2 * i + 1] = g.rows.length / d;
  });
  const out = await nativeTranslators(lens).translate({ rows, groups: pairs, ...(options.threads ? { threads: options.threads } : {}) });
  at = 0;
  return groups.map((g) => out.subarray(at, (at += g.rows.length)));
}
