// What the bench scripts share: the repository root, their command line, the built package they time
// (dist/: npm run build:ts), the generated checkpoints of .cache/bench, the timing and the --out file.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeCheckpoint } from './make-checkpoint.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The notebook's prompt (the README's example), 26 GPT-2 tokens: what the single-prompt benches run. */
export const NOTEBOOK_PROMPT = 'Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Poland?\nA:';

/**
 * The flags (node:util parseArgs options, strict: an unknown flag or a positional is an error), with
 * --help / -h added: it prints `usage` and exits.
 */
export function benchArgs(usage, options) {
  const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

/** The value of a flag that must be a positive integer; an error naming the flag otherwise. */
export function positiveInt(flag, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`);
  return n;
}

/** A module of the built package: dist/index.js, or `path` under dist/. Loaded after the flags are read, so --help needs no build. */
export function loadDist(path = 'index.js') {
  return import(join(root, 'dist', path));
}

/** The directory of the GPT-2 checkpoint of this preset and dtype in .cache/bench (random weights), generated on first use. */
export function benchCheckpoint(preset, dtype) {
  const dir = join(root, '.cache', 'bench', `${preset}-${dtype}`);
  const made = makeCheckpoint(dir, { preset, dtype, log: (s) => console.error(s) });
  if (!made.skipped) console.error(`generated ${dir} in ${made.seconds.toFixed(1)} s`);
  return dir;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The milliseconds one (awaited) call of `fn` takes. */
export async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** The milliseconds of `n` calls of `fn`, after one untimed call that warms up (first-call allocations, the first graph, the page cache). */
export async function warmTimes(fn, n) {
  await fn();
  const ms = [];
  for (let i = 0; i < n; i++) ms.push(await timed(fn));
  return ms;
}

/** Writes `value` as indented JSON to `file`, when there is one (--out FILE.json). */
export function writeJsonOut(file, value) {
  if (file) writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}
