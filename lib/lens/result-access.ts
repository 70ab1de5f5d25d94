// Lookups on a LensResult by hook, in the spirit of TransformerLens's `cache["resid_post", 19]`:
// `result.get('resid_post', 19)`, `result.vector('blocks.19.hook_resid_post', undefined, -1)`.
// They are attached as non-enumerable properties, so JSON.stringify, toJSON and Object.entries see the
// same plain object as before.
import { hookKindInfo, hookName, isHookKind, parseHookName, type HookKind, type HookRef } from '../hooks.js';
import type { Activation, HookLens, LensResult, LensResultAccessors } from '../types.js';

/** TransformerLens's short activation names (utils.get_act_name) that are not layerlens kinds, as TL hook suffixes. */
const TL_SHORT_NAMES: Readonly<Record<string, string>> = {
  resid_pre: 'hook_resid_pre',
  pattern: 'attn.hook_pattern',
  result: 'attn.hook_result',
  post: 'mlp.hook_post',
};

/** A hook named by kind (+ layer, negative = from the last block) or by full name, as a canonical ref. */
function resolveRef(hook: string, layer: number | undefined, nLayer: number): HookRef {
  if (typeof hook !== 'string') throw new TypeError(`hook must be a kind or a hook name (a string), got ${typeof hook}`);
  const tlShort = TL_SHORT_NAMES[hook];
  if (!isHookKind(hook) && tlShort === undefined) {
    if (layer !== undefined) throw new Error(`${JSON.stringify(hook)} is not a hook kind; give a kind and a layer, or a full hook name alone`);
    return parseHookName(hook, nLayer);
  }
  const inBlock = tlShort !== undefined || hookKindInfo(hook as HookKind).inBlock;
  if (!inBlock) {
    if (layer !== undefined && layer !== null) throw new Error(`hook kind "${hook}" has no layer (got ${layer})`);
    return parseHookName(hook, nLayer);
  }
  if (typeof layer !== 'number' || !Number.isInteger(layer))
    throw new TypeError(`hook kind "${hook}" needs a layer (an integer; negative counts from the last block), got ${layer}`);
  if (layer < -nLayer || layer >= nLayer) throw new RangeError(`layer ${layer} is out of range: the model has blocks 0..${nLayer - 1} (or -${nLayer}..-1)`);
  const l = layer < 0 ? nLayer + layer : layer;
  return tlShort !== undefined ? parseHookName(`blocks.${l}.${tlShort}`, nLayer) : { name: hookName(hook as HookKind, l), kind: hook as HookKind, layer: l };
}

/** A prompt position (negative = from the end of the prompt) that must be among the lensed ones. */
function resolvePosition(result: LensResult, position: number | undefined): number {
  if (position === undefined) return result.position;
  const n = result.tokens.length;
  if (!Number.isInteger(position) || position < -n || position >= n) {
    throw new RangeError(`position ${position} is outside the prompt's ${n} tokens (0..${n - 1}, or -${n}..-1)`);
  }
  const p = position < 0 ? n + position : position;
  if (!result.positions.includes(p)) {
    throw new Error(`position ${p} was not lensed; lensed positions: ${result.positions.join(', ')} (ask for it with the positions option)`);
  }
  return p;
}

function notCaptured(result: LensResult, ref: HookRef): Error {
  const captured = result.activations.map((a) => a.name);
  return new Error(
    `hook ${ref.name} was not captured; captured: ${captured.length ? captured.join(', ') : 'none'} (ask for it with the hooks option, e.g. hooks: ['${ref.name}'])`,
  );
}

/** The accessor methods of one result. */
function accessors(result: LensResult): LensResultAccessors {
  const nLayer = result.model.n_layer;
  const activation = (hook: string, layer?: number): Activation => {
    const ref = resolveRef(hook, layer, nLayer);
    const found = result.activations.find((a) => a.name === ref.name);
    if (!found) throw notCaptured(result, ref);
    return found;
  };
  const rows = (hook: string, layer?: number): HookLens[] => {
    const ref = resolveRef(hook, layer, nLayer);
    const found = result.hooks.filter((h) => h.name === ref.name);
    if (found.length === 0) throw notCaptured(result, ref);
    return found;
  };
  return {
    get(hook, layer, position) {
      const p = resolvePosition(result, position);
      const row = rows(hook, layer).find((h) => h.position === p);
      if (!row) throw new Error(`hook ${hook} has no lens row at position ${p}`);
      return row;
    },
    rows,
    activation,
    vector(hook, layer, position) {
      const a = activation(hook, layer);
      const p = resolvePosition(result, position);
      const i = a.positions.indexOf(p);
      if (i < 0) throw new Error(`hook ${a.name} was not captured at position ${p}; captured positions: ${a.positions.join(', ')}`);
      const width = a.data.length / a.positions.length;
      return a.data.subarray(i * width, (i + 1) * width);
    },
  };
}

/** Adds the accessor methods to a result as non-enumerable properties (its JSON is unchanged). */
export function withAccessors<T extends LensResult>(result: T): T & LensResultAccessors {
  const methods = accessors(result);
  for (const [key, value] of Object.entries(methods)) {
    Object.defineProperty(result, key, { value, enumerable: false, writable: false, configurable: true });
  }
  return result as T & LensResultAccessors;
}
