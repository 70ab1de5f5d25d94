// Output of a LensResult: the result's JSON (CLI --json; the shape in docs/api.md) and a readable table (the notebook's printout).

import type { Activation, HookKind, HookLens, LensResult, ModelInfo, TargetStats, TopEntry } from '../types.js';

// ---------------------------------------------------------------------------------------------
// JSON

/** The JSON of a top-k entry and of a target's statistics are the API's own shapes. */
export type TopEntryJSON = TopEntry;
export type TargetJSON = TargetStats;

export interface HookJSON {
  name: string;
  layer: number | null;
  kind: HookKind;
  position: number;
  /** Absent for kinds that are not lensed (mlp_post, attn_pattern). */
  top?: TopEntryJSON[];
  /** With a target: where the target token stands under this lens row. */
  target?: TargetJSON;
  /** With metrics: entropy of the lens distribution (nats). */
  entropy?: number;
  /** With metrics: KL(final ‖ this row) in nats. */
  kl?: number;
  /** The captured row as plain numbers (shortest decimals that round-trip to the float32), only with `vectors: true`. */
  vector?: (number | null)[];
  /** With a tuned lens: which lens this row went through. */
  lens?: 'tuned' | 'logit';
}

export interface LensJSON {
  model: {
    name: string;
    n_layer: number;
    n_embd: number;
    n_head: number;
    n_vocab: number;
    n_ctx: number;
    dtype: ModelInfo['dtype'];
    /** Present for models on the llama.cpp engine. */
    engine?: 'llama.cpp';
    architecture?: string;
  };
  prompt: string;
  tokens: { id: number; token: string }[];
  position: number;
  positions: number[];
  prediction: { id: number; token: string; prob: number };
  hooks: HookJSON[];
  /** The tracked token, when a target was given. */
  target?: { id: number; token: string };
  /** 'tuned' when a tuned lens translated some rows (each row then says its own `lens`). */
  lens?: 'tuned';
}

export interface ToJSONOptions {
  /** Include each hook's captured row as `vector` (default false). */
  vectors?: boolean;
}

/**
 * The shortest decimal that reads back as the same float32 (`Math.fround(out) === x`); null for NaN and
 * ±Infinity, which JSON cannot hold.
 */
export function float32ToJSONNumber(x: number): number | null {
  if (!Number.isFinite(x)) return null;
  if (x === 0) return 0; // also maps -0 to 0
  // If p significant digits round-trip, so do p+1: binary search the smallest p in 1..9.
  let lo = 1;
  let hi = 9;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(x.toPrecision(mid))) === x) hi = mid;
    else lo = mid + 1;
  }
  return Number(x.toPrecision(lo));
}

/** The row of `hook` from the result's activations (used when the hook carries no `vector`). */
function activationRow(activations: readonly Activation[] | undefined, hook: HookLens): Float32Array | undefined {
  const act = activations?.find((a) => a.name === hook.name);
  if (!act || act.positions.length === 0) return undefined;
  const row = act.positions.indexOf(hook.position);
  if (row < 0) return undefined;
  const width = act.data.length / act.positions.length;
  return act.data.subarray(row * width, (row + 1) * width);
}

function modelJSON(m: ModelInfo): LensJSON['model'] {
  const base = { name: m.name, n_layer: m.n_layer, n_embd: m.n_embd, n_head: m.n_head, n_vocab: m.n_vocab, n_ctx: m.n_ctx, dtype: m.dtype };
  // GPT-2 results keep their shape; a model on the llama.cpp engine also says which engine and architecture.
  return m.engine === 'llama.cpp' ? { ...base, engine: m.engine, architecture: m.architecture ?? '' } : base;
}

/**
 * A plain object with exactly the documented JSON shape (docs/api.md; plus `positions` and each hook's `position`).
 * Activations are not included, except each hook's own row as `vector` when `vectors` is true (taken from
 * `hook.vector`, else from the matching activation). Serialize with JSON.stringify or `stringifyJSON`.
 */
export function toJSON(result: LensResult, options: ToJSONOptions = {}): LensJSON {
  const hooks = result.hooks.map((h): HookJSON => {
    const out: HookJSON = { name: h.name, layer: h.layer, kind: h.kind, position: h.position };
    if (h.top !== undefined) out.top = h.top.map((t) => ({ id: t.id, token: t.token, prob: t.prob, logit: t.logit }));
    if (h.target !== undefined) {
      const t = h.target;
      out.target = { id: t.id, token: t.token, prob: t.prob, logit: t.logit, rank: t.rank, reciprocalRank: t.reciprocalRank };
    }
    if (h.entropy !== undefined) out.entropy = h.entropy;
    if (h.kl !== undefined) out.kl = h.kl;
    if (h.lens !== undefined) out.lens = h.lens;
    if (options.vectors) {
      const v = h.vector ?? activationRow(result.activations, h);
      if (v !== undefined) out.vector = Array.from(v, float32ToJSONNumber);
    }
    return out;
  });
  const out: LensJSON = {
    model: modelJSON(result.model),
    prompt: result.prompt,
    tokens: result.tokens.map((t) => ({ id: t.id, token: t.token })),
    position: result.position,
    positions: [...result.positions],
    prediction: { id: result.prediction.id, token: result.prediction.token, prob: result.prediction.prob },
    hooks,
  };
  if (result.target) out.target = { id: result.target.id, token: result.target.token };
  if (result.lens !== undefined) out.lens = result.lens;
  return out;
}

/**
 * JSON text, indented by two spaces, with small objects and every array of numbers kept on one line
 * (a 1024-wide `vector` is one line, each `top` entry is one line). Ends without a newline.
 */
export function stringifyJSON(value: unknown, width = 100): string {
  const isNumberArray = (v: unknown[]): boolean => v.every((e) => e === null || typeof e === 'number');
  const entriesOf = (v: object): [string, unknown][] =>
    Object.entries(v).filter(([, e]) => e !== undefined && typeof e !== 'function' && typeof e !== 'symbol');
  // One-line form: `{"id": 1, "token": "x"}`, `[1, 2]`; arrays of numbers without spaces.
  const inline = (v: unknown): string => {
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
    if (Array.isArray(v)) return isNumberArray(v) ? JSON.stringify(v) : '[' + v.map(inline).join(', ') + ']';
    return (
      '{' +
      entriesOf(v)
        .map(([k, e]) => JSON.stringify(k) + ': ' + inline(e))
        .join(', ') +
      '}'
    );
  };
  const fmt = (v: unknown, indent: string): string => {
    if (v === null || typeof v !== 'object') return inline(v);
    if (Array.isArray(v) && isNumberArray(v)) return inline(v);
    const flat = inline(v);
    if (indent.length + flat.length <= width) return flat;
    const inner = indent + '  ';
    if (Array.isArray(v)) return '[\n' + v.map((e) => inner + fmt(e, inner)).join(',\n') + '\n' + indent + ']';
    return (
      '{\n' +
      entriesOf(v)
        .map(([k, e]) => inner + JSON.stringify(k) + ': ' + fmt(e, inner))
        .join(',\n') +
      '\n' +
      indent +
      '}'
    );
  };
  return fmt(value, '');
}

// ---------------------------------------------------------------------------------------------
// Table

export interface FormatTableOptions {
  /** ANSI colors (the CLI decides from TTY / NO_COLOR / FORCE_COLOR). */
  color?: boolean;
}

/**
 * A token's text between double quotes, so that spaces and newlines are visible: `"`, control characters
 * and other invisible separators are escaped JSON-style (`\"`, `\n`, `\t`, `\u00a0`...). Backslashes are
 * left alone: token texts already carry `\\` and `\xNN` escapes (see tokenizer.ts), which stay readable.
 */
/** Newline, tab and return as `\\n`/`\\t`/`\\r`; other control and invisible characters as `\\uXXXX`. */
export function escapeInvisible(ch: string): string {
  const c = ch.codePointAt(0)!;
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c === 0xad || c === 0x2028 || c === 0x2029 || (c >= 0x200b && c <= 0x200f) || c === 0xfeff) {
    return '\\u' + c.toString(16).padStart(4, '0');
  }
  return ch;
}

export function quoteToken(token: string): string {
  let out = '"';
  for (const ch of token) out += ch === '"' ? '\\"' : escapeInvisible(ch);
  return out + '"';
}

// One code point at a time is tested, so a class that lists joiners and variation selectors (which
// eslint reads as combining sequences) is what is meant here.
// eslint-disable-next-line no-misleading-character-class
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200d\ufe0e\ufe0f]$/u;
const EMOJI = /^\p{Extended_Pictographic}$/u;

function isWide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0x303e) ||
    (c >= 0x3041 && c <= 0x33ff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xa000 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1faff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  );
}

/** Terminal columns of a string (approximation: wide East Asian characters and emoji 2, combining marks 0). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    if (ZERO_WIDTH.test(ch)) continue;
    const c = ch.codePointAt(0)!;
    w += isWide(c) || (c > 0xff && EMOJI.test(ch)) ? 2 : 1;
  }
  return w;
}

function padEnd(s: string, width: number): string {
  const w = displayWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

/** Probability in 5 columns: `0.412`, `1.000`, `3e-04` below 0.0005. */
export function formatProb(p: number): string {
  if (!Number.isFinite(p)) return String(p).padStart(5);
  if (p >= 0.0005 || p === 0) return p.toFixed(3);
  const [mant, exp] = p.toExponential(0).split('e');
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

export const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', green: '\x1b[32m', cyan: '\x1b[36m', yellow: '\x1b[33m' };

/** ANSI codes for a probability: bold green ≥ 0.5, green ≥ 0.2, yellow ≥ 0.05, plain ≥ 0.01, dim below. */
export function probStyle(p: number): string[] {
  if (!(p >= 0.01)) return [ANSI.dim];
  if (p >= 0.5) return [ANSI.bold, ANSI.green];
  if (p >= 0.2) return [ANSI.green];
  if (p >= 0.05) return [ANSI.yellow];
  return [];
}

/** ANSI codes for a target's rank: bold green for 1, green ≤ 10, yellow ≤ 100, dim beyond. */
export function rankStyle(rank: number): string[] {
  if (rank === 1) return [ANSI.bold, ANSI.green];
  if (rank >= 1 && rank <= 10) return [ANSI.green];
  if (rank >= 1 && rank <= 100) return [ANSI.yellow];
  return [ANSI.dim];
}

/** A metric in nats in 6 columns: `12.345` → `12.35`, right-aligned; NaN as `   n/a`. */
function formatNats(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '   n/a';
  return (x < 100 ? x.toFixed(2) : x.toFixed(0)).padStart(6);
}

/**
 * A readable table, one line per hook: the hook name, then the lens's top-k tokens with probabilities,
 * columns aligned, e.g.
 *
 *   blocks.19.resid_post  " Warsaw" 0.412  " Poland" 0.133  ...
 *
 * When the rows carry a target (decodeLayers' `target`), a `rank prob` column for it comes before the
 * top-k; when they carry metrics, `entropy` and `KL` columns (nats) too. With color, probabilities are
 * colored by size (see probStyle) and target ranks by closeness to the top.
 *
 * Header: model, the prompt's token count, the position described and the model's own prediction.
 * With several positions, one section per position. Ends with a newline.
 */
export function formatTable(result: LensResult, options: FormatTableOptions = {}): string {
  const color = options.color === true;
  const paint = (s: string, ...codes: string[]): string => (color && codes.length ? codes.join('') + s + ANSI.reset : s);
  const m = result.model;
  const tok = (p: number): string => {
    const t = result.tokens[p];
    return t === undefined ? '?' : quoteToken(t.token);
  };

  const lines: string[] = [];
  const engine = m.engine === 'llama.cpp' ? `, ${m.architecture ?? '?'} on llama.cpp` : '';
  lines.push(
    `${paint('model', ANSI.bold)}       ${m.name} (${m.n_layer} layers, n_embd ${m.n_embd}, ${m.n_head} heads, vocab ${m.n_vocab}, ${m.dtype}${engine})`,
  );
  const n = result.tokens.length;
  lines.push(`${paint('prompt', ANSI.bold)}      ${n} token${n === 1 ? '' : 's'}`);
  const pred = result.prediction;
  lines.push(
    `${paint('prediction', ANSI.bold)}  ${paint(quoteToken(pred.token), ANSI.bold, ANSI.green)} ${formatProb(pred.prob)}` +
      `  (the model's next token after position ${result.position} ${tok(result.position)})`,
  );

  if (result.target) {
    lines.push(`${paint('target', ANSI.bold)}      ${quoteToken(result.target.token)} (id ${result.target.id}): its rank and probability under each lens`);
  }

  const positions = [...new Set([...result.positions, ...result.hooks.map((h) => h.position)])].sort((a, b) => a - b);
  const nameWidth = Math.max(4, ...result.hooks.map((h) => displayWidth(h.name)));
  const hasTarget = result.hooks.some((h) => h.target !== undefined);
  const hasMetrics = result.hooks.some((h) => h.entropy !== undefined || h.kl !== undefined);
  // target column: "rank prob", the rank right-aligned
  const rankWidth = Math.max(4, ...result.hooks.map((h) => (h.target ? String(h.target.rank).length : 0)));
  const targetWidth = rankWidth + 1 + 5;
  const extraHeader =
    (hasTarget ? '  ' + padEnd('rank'.padStart(rankWidth) + ' prob', targetWidth) : '') + (hasMetrics ? '  ' + 'entropy'.padStart(7) + '      KL' : '');
  const extraCells = (h: HookLens): string => {
    let out = '';
    if (hasTarget) {
      const t = h.target;
      out +=
        '  ' +
        (t ? paint(String(t.rank).padStart(rankWidth), ...rankStyle(t.rank)) + ' ' + paint(formatProb(t.prob), ...probStyle(t.prob)) : ' '.repeat(targetWidth));
    }
    if (hasMetrics) out += '  ' + ' ' + formatNats(h.entropy) + '  ' + formatNats(h.kl);
    return out;
  };
  const k = Math.max(0, ...result.hooks.map((h) => h.top?.length ?? 0));
  // Width of the quoted token in each top-k column, over the whole table so sections line up too.
  const colWidth: number[] = new Array(k).fill(0);
  for (const h of result.hooks) h.top?.forEach((t, j) => (colWidth[j] = Math.max(colWidth[j], displayWidth(quoteToken(t.token)))));

  for (const pos of positions) {
    const rows = result.hooks.filter((h) => h.position === pos);
    if (rows.length === 0) continue;
    lines.push('');
    const title = padEnd(`position ${pos} ${tok(pos)}`, nameWidth);
    lines.push(paint(title, ANSI.bold) + extraHeader + (k ? `  top-${k} under the lens (probability)` : ''));
    for (const h of rows) {
      let line = paint(padEnd(h.name, nameWidth), ANSI.cyan);
      if (h.top === undefined) {
        const act = result.activations?.find((a) => a.name === h.name);
        const shape = act ? act.shape.slice(1).join('×') : undefined;
        line += '  ' + paint(`(captured${shape ? `, ${shape} per position` : ''}; not lensed)`, ANSI.dim);
      } else {
        const cells = h.top.map((t, j) => {
          const q = padEnd(quoteToken(t.token), colWidth[j]);
          const isPred = t.id === pred.id && pos === result.position;
          const styled = isPred ? paint(q, ANSI.green, ...(j === 0 ? [ANSI.bold] : [])) : j === 0 ? paint(q, ANSI.bold) : q;
          return `${styled} ${paint(formatProb(t.prob), ...probStyle(t.prob))}`;
        });
        line += extraCells(h) + '  ' + cells.join('  ');
      }
      lines.push(line.replace(/\s+$/, ''));
    }
  }
  return lines.join('\n') + '\n';
}
