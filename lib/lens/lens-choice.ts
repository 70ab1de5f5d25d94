// Which lens decodeLayers shows (`lens: 'logit' | 'tuned'`) and which implementation runs it
// (`lensImpl: 'native' | 'reference'`). `lens` used to name the implementation: 'native' and
// 'reference' are still read that way, with a one-time deprecation warning.
import type { LensImpl } from './apply.js';
import { InvalidParameterError, invalidParameterError } from '../is.js';

/** The logit lens (every row through ln_f + unembedding as it is) or the tuned lens (translated rows first). */
export type LensKind = 'logit' | 'tuned';

export interface LensChoice {
  lens: LensKind;
  impl: LensImpl;
}

const IMPLS: readonly LensImpl[] = ['native', 'reference'];
let warnedImplAlias = false;

/**
 * Reads `lens`, `lensImpl` and whether a `tunedLens` was given: `lens` unset means 'tuned' exactly
 * when a tuned lens is given; `lens: 'logit'` ignores a given tuned lens (so a caller can toggle);
 * `lens: 'tuned'` needs one.
 */
export function lensChoice(options: { lens?: unknown; lensImpl?: unknown; tunedLens?: unknown }): LensChoice {
  let impl: unknown = options.lensImpl;
  let lens: unknown = options.lens;
  if (impl !== undefined && !IMPLS.includes(impl as LensImpl)) throw invalidParameterError('lensImpl', "'native' or 'reference'", impl);
  if (IMPLS.includes(lens as LensImpl)) {
    if (impl !== undefined && impl !== lens)
      throw new InvalidParameterError(`lens: '${String(lens)}' (the old name of lensImpl) and lensImpl: '${String(impl)}' disagree; give lensImpl only`);
    if (!warnedImplAlias) {
      warnedImplAlias = true;
      process.emitWarning(
        `decodeLayers: lens: '${String(lens)}' names the implementation, which is now lensImpl: '${String(lens)}'; lens now says which lens ('logit' or 'tuned')`,
        {
          type: 'DeprecationWarning',
          code: 'LAYERLENS_LENS_IMPL',
        },
      );
    }
    impl = lens;
    lens = undefined;
  }
  const hasTuned = options.tunedLens !== undefined;
  if (lens === undefined) lens = hasTuned ? 'tuned' : 'logit';
  if (lens !== 'logit' && lens !== 'tuned')
    throw invalidParameterError('lens', "'logit' or 'tuned' (the implementation is lensImpl: 'native' | 'reference')", lens);
  if (lens === 'tuned' && !hasTuned)
    throw new InvalidParameterError(
      'lens: \'tuned\' needs tunedLens: a tuned lens folder (config.json + params.pt), a published lens name such as "gpt2", or a TunedLens from loadTunedLens',
    );
  return { lens, impl: (impl ?? 'native') as LensImpl };
}
