// The lensed hook kinds the pictures offer (terminal grid, HTML report, web viewer), in the order they
// prefer them, derived from the hook list in lib/hooks.ts so that a new lensable kind shows up everywhere.

import { HOOK_KINDS, isLensable } from '../hooks.js';
import type { HookKind } from '../types.js';

const blockKinds = HOOK_KINDS.filter((k) => k !== 'embed' && isLensable(k));
const isResidual = (k: HookKind): boolean => k.startsWith('resid_');

/**
 * Lensed kinds in display order: the residual stream first (what the logit lens is about), then the
 * sublayer outputs; within each, later in the block first (resid_post is the stream after the whole
 * block). `embed` comes last: it is the first row of every kind's picture, shown as a kind of its own
 * only when the data has nothing else.
 */
export const DISPLAY_KINDS: readonly HookKind[] = [...blockKinds.filter(isResidual).reverse(), ...blockKinds.filter((k) => !isResidual(k)).reverse(), 'embed'];
