// `layerlens steer --positive P... --negative N... [--layers 6-10] [--method mean|pca] --out v.gguf`:
// a steering vector from paired prompts, written as llama.cpp's control-vector GGUF (usable with
// --control-vector here and in llama.cpp). Parsing is pure; prompt files are read when it runs.
import { readFile, stat } from 'node:fs/promises';
import { InvalidParameterError, invalidParameterError } from '../is.js';
import { STEERING_METHODS, STEERING_POSITIONS, STEERING_SOURCES } from '../interp/steering.js';
import { choiceFlag, loadModelFromFlags, MODEL_LOAD_FLAGS, parseFlags, parseModelLoadFlags, type ModelLoadFlags } from './flags.js';
import type { CommandIO } from './io.js';

export const DEFAULT_STEER_OUT = 'control_vector.gguf'; // cvector-generator's default

export interface CliSteerOptions extends ModelLoadFlags {
  /** Each a prompt file (one prompt per non-empty line) when such a file exists, else the prompt itself. */
  positive: string[];
  negative: string[];
  /** Block numbers, ascending; absent = every steerable block (1..n_layer−1). */
  layers?: number[];
  method: (typeof STEERING_METHODS)[number];
  position: (typeof STEERING_POSITIONS)[number];
  readFrom: (typeof STEERING_SOURCES)[number];
  normalize: boolean;
  out: string;
}

/** "6-10", "1,3,5", "2-4,7": block numbers, ascending, unique. */
export function layersFlag(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || hi < lo || hi > 100000) throw invalidParameterError('--layers', 'block numbers or ranges such as 6-10 or 1,3,5', text);
    for (let l = lo; l <= hi; l++) out.add(l);
  }
  return [...out].sort((a, b) => a - b);
}

export function parseSteerArgs(argv: readonly string[]): { command: 'help' } | ({ command: 'steer' } & CliSteerOptions) {
  const parsed = parseFlags(
    argv,
    {
      ...MODEL_LOAD_FLAGS,
      positive: { type: 'string', multiple: true },
      negative: { type: 'string', multiple: true },
      layers: { type: 'string' },
      method: { type: 'string' },
      position: { type: 'string' },
      'read-from': { type: 'string' },
      normalize: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    { command: 'steer', positionals: false },
  );
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  if (!v.positive?.length || !v.negative?.length)
    throw new InvalidParameterError('steer: give --positive and --negative (each a prompt, or a file of prompts one per line; repeatable)');
  const out = v.out ?? DEFAULT_STEER_OUT;
  if (!out.endsWith('.gguf')) throw invalidParameterError('steer --out', 'a file name ending in .gguf', out);
  return {
    command: 'steer',
    ...parseModelLoadFlags(v),
    positive: v.positive,
    negative: v.negative,
    ...(v.layers === undefined ? {} : { layers: layersFlag(v.layers) }),
    method: choiceFlag('--method', v.method ?? 'mean', STEERING_METHODS),
    position: choiceFlag('--position', v.position ?? 'last', STEERING_POSITIONS),
    readFrom: choiceFlag('--read-from', v['read-from'] ?? 'same-block', STEERING_SOURCES),
    normalize: v.normalize === true,
    out,
  };
}

/**
 * A --positive/--negative value: the lines of the file it names (empty lines skipped, llama.cpp's escapes
 * \n \t \r \\ \" \' \xHH processed, as cvector-generator reads its prompt files), else the text itself.
 */
async function prompts(values: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const value of values) {
    const isFile = await stat(value).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!isFile) out.push(value);
    else
      for (const line of (await readFile(value, 'utf8')).split(/\r?\n/)) {
        if (line !== '') out.push(processEscapes(line));
      }
  }
  return out;
}

function processEscapes(s: string): string {
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
  return s.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (whole, c: string) =>
    c[0] === 'x' && c.length === 3 ? String.fromCharCode(parseInt(c.slice(1), 16)) : (simple[c] ?? whole),
  );
}

export async function steerCommand(cmd: CliSteerOptions, io: CommandIO): Promise<void> {
  const positive = await prompts(cmd.positive);
  const negative = await prompts(cmd.negative);
  if (positive.length !== negative.length)
    throw new InvalidParameterError(`steer: ${positive.length} positive prompts but ${negative.length} negative ones (they are paired)`);
  const { steeringVector } = await import('../interp/steering.js');
  const { writeControlVector } = await import('../interp/control-vector.js');
  const model = await loadModelFromFlags(cmd, io.env);
  try {
    const cv = await steeringVector({
      model,
      positive,
      negative,
      ...(cmd.layers ? { layers: cmd.layers } : {}),
      method: cmd.method,
      position: cmd.position,
      readFrom: cmd.readFrom,
      normalize: cmd.normalize,
    });
    await writeControlVector(cmd.out, cv);
    const norms = [...cv.directions].map(([n, d]) => `direction.${n} |${Math.hypot(...d).toPrecision(4)}|`);
    io.stderr.write(`steer: ${positive.length} pairs, ${cmd.method}; ${norms.join(', ')}\n`);
    io.stdout.write(cmd.out + '\n');
  } finally {
    model.dispose();
  }
}
