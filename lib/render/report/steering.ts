// Before/after for steering: the same prompt lensed without and with control vectors, for the report
// (--html --control-vector) and the viewer (POST /api/lens with "steer"). The control vectors are
// resolved once (resolveControlVectors checks them against the model) and applied as the 'add'
// interventions decodeLayers would make of them, so both runs differ in the steering only; an ablation
// (`base`) is applied to both runs, so the page shows what the vector changes in the ablated model.
import { CLEAN_LABEL, type Comparison } from '../../interp/compare.js';
import { resolveControlVectors, steeringInterventions, type SteeringOptions } from '../../interp/steering.js';
import type { Model } from '../../model/model.js';
import type { Intervention } from '../../types.js';
import type { ViewDecodeOptions } from './data.js';

/** Control vectors resolved against a model: the interventions that add them and a label for the page. */
export interface ResolvedSteering {
  /** 'add' interventions at blocks.N.resid_post, every position (empty when no direction falls in the range). */
  interventions: Intervention[];
  /** The blocks steered, ascending. */
  blocks: number[];
  /** e.g. "v.gguf ×2, blocks 3–5". */
  label: string;
}

/** The file name of a path (either separator), for labels. */
const baseName = (path: string): string => path.split(/[\\/]/).pop() || path;

/** Resolves `steering`'s control vectors against `model` (throws on a width mismatch or a bad spec). */
export async function resolveSteering(steering: SteeringOptions, model: Model): Promise<ResolvedSteering> {
  const directions = await resolveControlVectors(steering, model.info);
  const blocks = [...directions.keys()];
  const files = (steering.controlVectors ?? []).map((s, i) => `${s.path !== undefined ? baseName(s.path) : `vector ${i}`} ×${s.scale ?? 1}`).join(' + ');
  const where = blocks.length === 0 ? 'no block in range' : blocks.length === 1 ? `block ${blocks[0]}` : `blocks ${blocks[0]}\u2013${blocks.at(-1)}`;
  return { interventions: steeringInterventions(directions), blocks, label: `${files}, ${where}` };
}

/** The label of the steered run. */
export const steeredLabel = (steering: ResolvedSteering, ablated?: readonly string[]): string =>
  `after (steered: ${steering.label}${ablated?.length ? `; ablated: ${ablated.join(', ')}` : ''})`;

/** The label of the unsteered run. */
export const unsteeredLabel = (ablated?: readonly string[]): string => (ablated?.length ? `before (unsteered; ablated: ${ablated.join(', ')})` : CLEAN_LABEL);

/**
 * Lenses `prompt` (through `decode`: one lens or both) with `base` interventions (before) and with the
 * steering added to them (after). Control vectors and interventions in `options` are ignored: only
 * `base` and `steering` apply. render/report/view-runs.ts chooses the decode.
 */
export async function compareSteeringWith<O extends ViewDecodeOptions, R>(
  decode: (prompt: string, options: O) => Promise<R>,
  prompt: string,
  options: O,
  steering: ResolvedSteering,
  base: readonly Intervention[],
  ablated?: readonly string[],
): Promise<Comparison<R>> {
  const { interventions: _i, controlVectors: _c, controlVectorLayerRange: _r, ...clean } = options;
  // the steering goes first: decodeLayers adds control vectors before any other intervention on a hook
  // (`clean` is `options` less three optional fields, so still an O)
  const after = await decode(prompt, { ...clean, interventions: [...steering.interventions, ...base] } as unknown as O);
  const before = await decode(prompt, { ...clean, ...(base.length ? { interventions: base } : {}) } as unknown as O);
  return { after, before, label: steeredLabel(steering, ablated), compareLabel: unsteeredLabel(ablated) };
}
