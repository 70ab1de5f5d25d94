// Interventions → the engine's element-wise edit of a hook: value' = value ⊙ mul + add, with mul and
// add laid out [n_tokens, width] (row = token position). Every op is one of these two arrays or both,
// so the graph gains at most two nodes per intervention and a run without any gains none.
import { hookPositionWidth, isIntervenable, parseHookName } from '../hooks.js';
import { resolvePositions } from '../model/positions.js';
import type { Intervention } from '../types.js';

export interface NativeIntervention {
  hook: string;
  mul?: Float32Array;
  add?: Float32Array;
}

const OPS = ['add', 'set', 'scale', 'zero'];

/** Validates interventions against a model and a prompt length and builds the engine's arrays. */
export function toNativeInterventions(
  interventions: readonly Intervention[],
  dims: { n_layer: number; n_embd: number; n_head: number },
  nTokens: number,
): NativeIntervention[] {
  if (!Array.isArray(interventions)) throw new TypeError('interventions must be an array');
  return interventions.map((iv, i) => {
    const where = `interventions[${i}]`;
    if (typeof iv !== 'object' || iv === null) throw new TypeError(`${where} must be an object`);
    const ref = parseHookName(iv.hook, dims.n_layer);
    if (!isIntervenable(ref.kind)) {
      throw new Error(`${where}: interventions apply to d-wide hooks and mlp_post, not to ${ref.name}`);
    }
    if (!OPS.includes(iv.op)) throw new TypeError(`${where}.op must be one of ${OPS.join(', ')}, got ${JSON.stringify(iv.op)}`);
    const width = hookPositionWidth(ref.kind, dims, nTokens);
    if (iv.neurons !== undefined && ref.kind !== 'mlp_post') throw new Error(`${where}.neurons applies to mlp_post only`);
    const cols: number[] | null = iv.neurons === undefined ? null : [...new Set<number>(iv.neurons)];
    for (const c of cols ?? []) {
      if (!Number.isInteger(c) || c < 0 || c >= width) throw new RangeError(`${where}.neurons: ${c} is outside 0..${width - 1}`);
    }
    const needsVector = iv.op === 'add' || iv.op === 'set';
    if (needsVector && !(iv.vector instanceof Float32Array)) throw new TypeError(`${where}: op '${iv.op}' needs a Float32Array vector`);
    if (needsVector && iv.vector!.length !== width) {
      throw new RangeError(`${where}: the vector for ${ref.name} must have ${width} values, got ${iv.vector!.length}`);
    }
    if (iv.op === 'scale' && (typeof iv.scale !== 'number' || !Number.isFinite(iv.scale))) throw new TypeError(`${where}: op 'scale' needs a finite scale`);
    const rows = resolvePositions(iv.positions ?? 'all', nTokens);

    const mul = iv.op === 'add' ? undefined : new Float32Array(nTokens * width).fill(1);
    const add = needsVector ? new Float32Array(nTokens * width) : undefined;
    for (const p of rows) {
      for (const j of cols ?? Array.from({ length: width }, (_, k) => k)) {
        const at = p * width + j;
        if (mul) mul[at] = iv.op === 'scale' ? iv.scale! : 0;
        if (add) add[at] = iv.vector![j];
      }
    }
    return { hook: ref.name, ...(mul ? { mul } : {}), ...(add ? { add } : {}) };
  });
}
