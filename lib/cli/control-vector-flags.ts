// llama.cpp's control-vector flags on the lens command, with llama.cpp's own spelling:
//   --control-vector FILE                 (repeatable; scale 1)
//   --control-vector-scaled FILE SCALE    (repeatable; also FILE:SCALE in one argument)
//   --control-vector-layer-range A B      (inclusive; default 1..n_layer)
// node:util's parseArgs takes one value per flag, so the two-value forms are joined into one
// argument before parsing (joinControlVectorArgs).
import { InvalidParameterError, invalidParameterError } from '../is.js';
import type { ControlVectorSpec } from '../interp/steering.js';

export const CONTROL_VECTOR_FLAGS = {
  'control-vector': { type: 'string', multiple: true },
  'control-vector-scaled': { type: 'string', multiple: true },
  'control-vector-layer-range': { type: 'string' },
} as const;

export interface CliControlVectors {
  controlVectors?: ControlVectorSpec[];
  controlVectorLayerRange?: [number, number];
}

// FILE:SCALE with a numeric SCALE (so C:\dir\v.gguf is still a file name)
const SCALED = /^(.+):\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

/** Rewrites `--control-vector-scaled F S` and `--control-vector-layer-range A B` as one argument each (up to `--`). */
export function joinControlVectorArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--control-vector-layer-range' && i + 2 < argv.length) {
      out.push(`${a}=${argv[i + 1]} ${argv[i + 2]}`);
      i += 2;
    } else if (a === '--control-vector-scaled' && i + 2 < argv.length && !SCALED.test(argv[i + 1])) {
      out.push(`${a}=${argv[i + 1]}:${argv[i + 2]}`);
      i += 2;
    } else out.push(a);
  }
  return out;
}

/** The parsed flags as decodeLayers' controlVectors / controlVectorLayerRange. Pure: files are read when run. */
export function controlVectorFlags(v: {
  'control-vector'?: string[];
  'control-vector-scaled'?: string[];
  'control-vector-layer-range'?: string;
}): CliControlVectors {
  const specs: ControlVectorSpec[] = [];
  for (const path of v['control-vector'] ?? []) {
    if (path.trim() === '') throw invalidParameterError('--control-vector', 'a file name', path);
    specs.push({ path, scale: 1 });
  }
  for (const text of v['control-vector-scaled'] ?? []) {
    const m = SCALED.exec(text);
    if (!m) throw invalidParameterError('--control-vector-scaled', 'FILE SCALE (or FILE:SCALE) with a numeric SCALE', text);
    specs.push({ path: m[1], scale: Number(m[2]) });
  }
  const rangeText = v['control-vector-layer-range'];
  let range: [number, number] | undefined;
  if (rangeText !== undefined) {
    const m = /^\s*(\d+)[\s,]+(\d+)\s*$/.exec(rangeText);
    if (!m || Number(m[1]) > Number(m[2])) throw invalidParameterError('--control-vector-layer-range', 'two block numbers A B with A ≤ B', rangeText);
    range = [Number(m[1]), Number(m[2])];
  }
  if (range && specs.length === 0) throw new InvalidParameterError('--control-vector-layer-range needs --control-vector or --control-vector-scaled');
  return { ...(specs.length ? { controlVectors: specs } : {}), ...(range ? { controlVectorLayerRange: range } : {}) };
}
