// Terminal pictures of a LensResult and the command-line flags that ask for them (--target, --metrics,
// --grid, --html). Everything here is pure: no I/O, no model, no native addon; lib/cli/main.ts wires it in.
//
// - formatGrid: a layer × position grid of the lens's top-1 tokens for one hook kind;
// - formatView: the table (lib/render/format.ts), the grid, or both, as the flags ask;
// - parseViewFlags / VIEW_OPTIONS / VIEW_HELP: the flags, validated before any model is loaded;
// - viewDecodeOptions: what the flags change in the decodeLayers options.

import { ANSI, displayWidth, formatTable, probStyle } from './format.js';
import { DISPLAY_KINDS } from './kinds.js';
import { compactToken } from './shared.js';
import { HOOK_KINDS, isLensable } from '../hooks.js';
import { resolveTarget } from '../lens/target.js';
import { vocabSize } from '../tokens/tokenizer.js';
import type { HookKind, HookLens, LensResult } from '../types.js';

// ---------------------------------------------------------------------------------------------
// Compact token text (the rule itself lives in lib/render/shared.ts, shared with the HTML page)

export { compactToken };

/** Cuts `s` to at most `width` terminal columns, ending in `…` when it was cut. */
export function truncate(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  if (width <= 0) return '';
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = displayWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + '…';
}

function pad(s: string, width: number): string {
  const w = displayWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

// ---------------------------------------------------------------------------------------------
// Grid

export interface FormatGridOptions {
  /** Hook kind of the rows (besides `embed`, which is always the first row when present). Default:
   *  `resid_post` when the result has it, else the first lensed block kind it has. */
  kind?: HookKind;
  /** ANSI colors: each cell colored by its top-1 probability, cells whose top-1 is the target inverted. */
  color?: boolean;
  /** Terminal width in columns; columns that do not fit are elided (`…`), keeping the last positions.
   *  Undefined: no limit. */
  width?: number;
  /** Widest cell, in columns (default 8); longer tokens are cut with `…`. */
  maxCell?: number;
}

/** The kind a grid shows by default: the first of DISPLAY_KINDS (resid_post first) that the result lensed. */
export function defaultGridKind(result: LensResult): HookKind | undefined {
  const kinds = new Set(result.hooks.filter((h) => h.top !== undefined).map((h) => h.kind));
  return DISPLAY_KINDS.find((k) => kinds.has(k));
}

/**
 * Which of n columns (widths w[i], each followed by one space) fit in `budget` columns. All when they
 * fit; else the last ones (about two thirds of the room) and the first ones, with an elision column
 * `…` (2 columns) between them. Returns the kept indices, ascending, and where the gap is (-1: none).
 */
export function fitColumns(widths: readonly number[], budget: number): { keep: number[]; gapAfter: number } {
  const n = widths.length;
  const total = widths.reduce((s, w) => s + w + 1, 0);
  if (total <= budget || n === 0) return { keep: widths.map((_, i) => i), gapAfter: -1 };
  let room = budget - 2; // the elision column
  const tail: number[] = [];
  const head: number[] = [];
  let r = n - 1;
  // the last column always, then from the right until two thirds of the room is used
  const tailRoom = Math.max(widths[n - 1] + 1, Math.floor((room * 2) / 3));
  let used = 0;
  while (r >= 0 && used + widths[r] + 1 <= tailRoom) {
    used += widths[r] + 1;
    tail.unshift(r--);
  }
  if (tail.length === 0) tail.unshift(r--); // even if it does not fit: show something
  room -= used;
  let l = 0;
  while (l <= r && widths[l] + 1 <= room) {
    room -= widths[l] + 1;
    head.push(l++);
  }
  // leftover room: more from the right
  while (r >= l && widths[r] + 1 <= room) {
    room -= widths[r] + 1;
    tail.unshift(r--);
  }
  if (l > r) return { keep: [...head, ...tail], gapAfter: -1 };
  return { keep: [...head, ...tail], gapAfter: head.length ? head[head.length - 1] : -2 };
}

/**
 * A compact layer × position grid of the lens's top-1 token: one row for `embed` and one per block for
 * the chosen hook kind (default `resid_post`), one column per lensed position headed by the prompt's
 * token. Fits `width` by eliding middle positions. Ends with a newline; '' when there is nothing to show.
 *
 *   top-1 token under the lens of resid_post, per block (rows) and prompt position (columns); · = space
 *            Q      :   ·What  ·is  …  ·Poland  ?   \n  A  :
 *   embed    ...
 *   block 0  ...
 */
export function formatGrid(result: LensResult, options: FormatGridOptions = {}): string {
  const color = options.color === true;
  const maxCell = Math.max(1, options.maxCell ?? 8);
  const kind = options.kind ?? defaultGridKind(result);
  if (kind === undefined) return '';
  if (!isLensable(kind)) throw new Error(`the grid shows lensed hook kinds (${HOOK_KINDS.filter(isLensable).join(', ')}), not ${kind}`);
  const paint = (s: string, ...codes: string[]) => (color && codes.length ? codes.join('') + s + ANSI.reset : s);

  const rowsByName = new Map<string, { label: string; layer: number; cells: Map<number, HookLens> }>();
  for (const h of result.hooks) {
    if (h.top === undefined || (h.kind !== kind && h.kind !== 'embed')) continue;
    let row = rowsByName.get(h.name);
    if (!row) rowsByName.set(h.name, (row = { label: h.layer === null ? 'embed' : `block ${h.layer}`, layer: h.layer ?? -1, cells: new Map() }));
    row.cells.set(h.position, h);
  }
  const rows = [...rowsByName.values()].sort((a, b) => a.layer - b.layer);
  if (rows.length === 0) return '';
  const positions = [...new Set(rows.flatMap((r) => [...r.cells.keys()]))].sort((a, b) => a - b);

  const headers = positions.map((p) => truncate(compactToken(result.tokens[p]?.token ?? '?'), maxCell));
  const cellText = rows.map((r) =>
    positions.map((p) => {
      const h = r.cells.get(p);
      return h?.top?.length ? truncate(compactToken(h.top[0].token), maxCell) : '';
    }),
  );
  const widths = positions.map((_, j) => Math.max(1, displayWidth(headers[j]), ...cellText.map((row) => displayWidth(row[j]))));
  const labelWidth = Math.max(...rows.map((r) => r.label.length)) + 2;
  const { keep, gapAfter } = fitColumns(widths, options.width === undefined ? Infinity : options.width - labelWidth);

  // The last kept column is not padded, so that lines end without trailing spaces (colored or not).
  const lastKept = keep[keep.length - 1];
  const line = (label: string, cell: (j: number, padded: boolean) => string, gap: string): string => {
    let out = label;
    if (gapAfter === -2) out += gap + ' ';
    for (const j of keep) {
      out += cell(j, j !== lastKept) + (j === lastKept ? '' : ' ');
      if (j === gapAfter) out += gap + ' ';
    }
    return out;
  };

  const target = result.target;
  const lines: string[] = [];
  const elided = positions.length - keep.length;
  lines.push(
    `top-1 token under the lens of ${kind}, per block (rows) and prompt position (columns); · = space` +
      (elided > 0 ? `; ${elided} of ${positions.length} positions elided (…)` : ''),
  );
  if (color) {
    const legend = [0.5, 0.2, 0.05, 0.01].map((p) => paint(`≥${p}`, ...probStyle(p))).join(' ');
    lines.push(`colour = its probability: ${legend} ${paint('<0.01', ...probStyle(0))}` + (target ? `; ${paint('inverted', '\x1b[7m')} = the target` : ''));
  }
  lines.push(line(' '.repeat(labelWidth), (j, padded) => paint(padded ? pad(headers[j], widths[j]) : headers[j], ANSI.bold), paint('…', ANSI.dim)));
  rows.forEach((r, i) => {
    lines.push(
      line(
        paint(pad(r.label, labelWidth), ANSI.cyan),
        (j, padded) => {
          const h = r.cells.get(positions[j]);
          const text = padded ? pad(cellText[i][j], widths[j]) : cellText[i][j];
          const best = h?.top?.[0];
          if (!best) return text;
          const codes = probStyle(best.prob);
          if (target && best.id === target.id) codes.push('\x1b[7m');
          return paint(text, ...codes);
        },
        paint('…', ANSI.dim),
      ),
    );
  });
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Table and/or grid

export interface FormatViewOptions {
  color?: boolean;
  /** Terminal width for the grid (undefined: no limit). */
  width?: number;
  /** true: header and grid only (--grid). false: the table, followed by the grid when every prompt
   *  position was lensed (--positions all). */
  grid?: boolean;
}

/** What the CLI prints for a table output, per the --grid flag and the positions lensed. */
export function formatView(result: LensResult, options: FormatViewOptions = {}): string {
  const grid = (): string => formatGrid(result, { color: options.color, width: options.width });
  if (options.grid) {
    const header = formatTable({ ...result, hooks: [] }, { color: options.color });
    const g = grid();
    return header + '\n' + (g || 'nothing to show in a grid: no lensed hooks were selected\n');
  }
  const table = formatTable(result, { color: options.color });
  const everyPosition = result.positions.length > 1 && result.positions.length === result.tokens.length;
  if (!everyPosition) return table;
  const g = grid();
  return g ? table + '\n' + g : table;
}

// ---------------------------------------------------------------------------------------------
// Flags

/** node:util parseArgs option specs of the view flags, to merge into the CLI's options. */
export const VIEW_OPTIONS = {
  target: { type: 'string' },
  metrics: { type: 'boolean' },
  grid: { type: 'boolean' },
  html: { type: 'string' },
} as const;

/** Help lines of the view flags, in the style of lib/cli/main.ts's HELP (two-space indent, column 24). */
export const VIEW_HELP = `  --target TOKEN        track one token through the layers: its rank and probability under each
                        lens (a column in the table, a plot in --html). TOKEN is the text of exactly
                        one token, with its leading space (" Warsaw"), or id:N for token id N
  --metrics             add per-hook entropy and KL(final ‖ hook), in nats: how far each layer's
                        lens is from the model's own output distribution at that position
  --grid                print a compact grid of the top-1 token per block (rows) and position
                        (columns) instead of the table; positions default to "all". The grid also
                        follows the table with --positions all
  --html FILE           write a self-contained HTML report to FILE and print the grid instead of
                        the table ("-": print the report): heatmap of layers × positions, top-k on
                        hover, target plot, attention per head. Positions default to "all";
                        implies --metrics
`;

/** The view flags as parsed by node:util parseArgs (plus the ones they are checked against). */
export interface ViewFlagValues {
  target?: string;
  metrics?: boolean;
  grid?: boolean;
  html?: string;
  json?: boolean;
  positions?: string;
}

export interface ViewFlags {
  /** The token to track: its text (checked to be one token) or its id (from `id:N`). */
  target?: string | number;
  /** --metrics, or implied by --html. */
  metrics: boolean;
  /** The grid instead of the table: --grid, or --html FILE with a table output (the report has the details). */
  grid: boolean;
  /** --html FILE; '-' = standard output. */
  html?: string;
  /** True when --grid or --html want every position and --positions was not given. */
  allPositions: boolean;
}

/** A mistake in a view flag; lib/cli/main.ts reports it as a usage error (exit code 2). */
export class ViewFlagError extends Error {
  override name = 'UsageError';
}

/**
 * Validates the view flags (and their combinations with --json and --positions). Throws ViewFlagError
 * with a message that names the flag. Checks that a --target text is exactly one GPT-2 token (no model needed).
 */
export function parseViewFlags(values: ViewFlagValues): ViewFlags {
  let target: string | number | undefined;
  if (values.target !== undefined) {
    const t = values.target;
    const id = /^id:(.*)$/s.exec(t);
    if (id) {
      const digits = id[1].trim();
      if (!/^[0-9]+$/.test(digits) || Number(digits) >= vocabSize) {
        throw new ViewFlagError(`--target id:N needs a token id in 0..${vocabSize - 1}, got ${JSON.stringify(t)}`);
      }
      target = Number(digits);
    } else {
      try {
        resolveTarget(t);
      } catch (err) {
        throw new ViewFlagError(`--target: ${(err as Error).message}`);
      }
      target = t;
    }
  }
  if (values.html !== undefined && values.html.trim() === '') throw new ViewFlagError('--html needs a file name (or "-" for standard output)');
  if (values.grid && values.json) throw new ViewFlagError('--grid draws the table output; it cannot be combined with --json');
  if (values.html === '-' && values.json) throw new ViewFlagError('--html - and --json both write to standard output; give --html a file name');
  if (values.html === '-' && values.grid) throw new ViewFlagError('--html - writes the report to standard output; drop --grid or give --html a file name');
  const wantsAll = values.grid === true || values.html !== undefined;
  return {
    ...(target === undefined ? {} : { target }),
    metrics: values.metrics === true || values.html !== undefined,
    grid: values.grid === true || (values.html !== undefined && values.html !== '-' && !values.json),
    ...(values.html === undefined ? {} : { html: values.html }),
    allPositions: wantsAll && values.positions === undefined,
  };
}

/** The decodeLayers options the view flags set (merge over the CLI's own). */
export function viewDecodeOptions(flags: ViewFlags): { target?: string | number; metrics: boolean; positions?: 'all' } {
  return {
    ...(flags.target === undefined ? {} : { target: flags.target }),
    metrics: flags.metrics,
    ...(flags.allPositions ? { positions: 'all' as const } : {}),
  };
}
