// Token positions: which rows of a prompt a capture, a lens or an intervention applies to.

/** Which token positions to capture: the last one (default), all of them, or a list. */
export type PositionSpec = 'last' | 'all' | readonly number[];

/** Positions (sorted, unique) that a PositionSpec selects in a prompt of nTokens. */
export function resolvePositions(spec: PositionSpec, nTokens: number): number[] {
  if (spec === 'last') return [nTokens - 1];
  if (spec === 'all') return Array.from({ length: nTokens }, (_, i) => i);
  if (!Array.isArray(spec) || spec.length === 0) throw new TypeError(`positions must be 'last', 'all' or a non-empty array of token indices`);
  const out = new Set<number>();
  for (const p of spec) {
    if (!Number.isInteger(p)) throw new TypeError(`position ${JSON.stringify(p)} is not an integer`);
    const q = p < 0 ? nTokens + p : p; // -1 = last token, as in Python
    if (q < 0 || q >= nTokens) throw new RangeError(`position ${p} is outside the prompt's ${nTokens} tokens (0..${nTokens - 1}, or -1..-${nTokens})`);
    out.add(q);
  }
  return [...out].sort((a, b) => a - b);
}
