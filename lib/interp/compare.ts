// Before/after: the same prompt lensed with and without interventions (an ablation, a patch), both with
// what the pictures need (decodeForView), labelled for the report's before/after switch. The CLI's
// --html --ablate and --patch-from --html and the server's POST /api/lens with "ablate" all go through
// here, so the two runs are always made the same way.
import { checkParameter } from '../is.js';
import { isIntervenable, resolveHooks, type HookSpec } from '../hooks.js';
import { decodeForView, type ViewDecodeOptions } from '../render/report/data.js';
import type { Intervention, LensResult } from '../types.js';

/** The label of the clean run on a before/after page. */
export const CLEAN_LABEL = 'before (clean run)';

export interface Comparison<R = LensResult> {
  /** The run with the interventions. */
  after: R;
  /** The clean run: same prompt and options, no interventions. */
  before: R;
  /** What `after` is, e.g. "after (ablated: blocks.1.mlp_out)". */
  label: string;
  /** What `before` is: CLEAN_LABEL. */
  compareLabel: string;
}

/**
 * Lenses `prompt` with `interventions` (after) and without (before), with the same view options.
 * Interventions in `options` are ignored: `interventions` are the only ones applied.
 */
export function compareRuns(prompt: string, options: ViewDecodeOptions, interventions: readonly Intervention[], label: string): Promise<Comparison> {
  return compareRunsWith(decodeForView, prompt, options, interventions, label);
}

/** compareRuns with another decode of each run (e.g. both lenses of it: render/report/lenses.ts). */
export async function compareRunsWith<O extends ViewDecodeOptions, R>(
  decode: (prompt: string, options: O) => Promise<R>,
  prompt: string,
  options: O,
  interventions: readonly Intervention[],
  label: string,
): Promise<Comparison<R>> {
  const { interventions: _ignored, ...clean } = options;
  const after = await decode(prompt, { ...clean, interventions } as O);
  const before = await decode(prompt, clean as O);
  return { after, before, label, compareLabel: CLEAN_LABEL };
}

/**
 * The hook names an ablation spec (names, kinds, blocks.L) zeroes in a model of `nLayer` blocks, in
 * hook order without repeats. Only d-wide hooks and mlp_post take interventions; `name` is the option
 * or flag the spec came from, for the error.
 */
export function resolveAblation(spec: readonly string[], nLayer: number, name: string): string[] {
  return checkParameter(name, () => {
    const names: string[] = [];
    for (const h of resolveHooks(spec.map((s) => s.trim()) as HookSpec, nLayer)) {
      if (!isIntervenable(h.kind)) throw new Error(`${h.name} cannot be ablated: only d-wide hooks and mlp_post can`);
      if (!names.includes(h.name)) names.push(h.name);
    }
    return names;
  });
}

/** Zeroing interventions for hook names (every position). */
export function ablation(hooks: readonly string[]): Intervention[] {
  return hooks.map((hook) => ({ hook, op: 'zero' as const }));
}

/** The label of an ablated run. */
export function ablatedLabel(hooks: readonly string[]): string {
  return `after (ablated: ${hooks.join(', ')})`;
}

/** The label of a patched run. */
export function patchedLabel(hook: string, mode: 'set' | 'add', source: string): string {
  return `after (patched: ${hook} ${mode} from ${JSON.stringify(source)})`;
}
