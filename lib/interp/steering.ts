// Steering vectors (activation addition / contrastive activation addition), on both engines, in the terms of
// llama.cpp's control vectors (control-vector.ts): a direction per block N ≥ 1, added to
// blocks.N.resid_post at every position, prompt and generated.
//
// Where a direction is read: steeringVector() builds direction.N from the difference of
// blocks.N.resid_post between positive and negative prompts, i.e. at the very point it is later added
// (CAA's convention). llama.cpp's cvector-generator builds direction.(il+1) from l_out-il, one block
// *before* the block it is applied to (repeng does the same); `readFrom: 'previous-block'` reproduces
// that. Either way direction.N means what it means to llama.cpp: added to the output of block N.
import { hookName } from '../hooks.js';
import { invalidParameterError, is, oneOf } from '../is.js';
import type { Model } from '../model/model.js';
import type { Intervention } from '../types.js';
import { checkControlVector, readControlVector, type ControlVector } from './control-vector.js';

export const STEERING_METHODS = ['mean', 'pca'] as const;
export const STEERING_POSITIONS = ['last', 'all'] as const;
export const STEERING_SOURCES = ['same-block', 'previous-block'] as const;

export interface SteeringVectorOptions {
  /** A loaded Model (see loadModel). */
  model: Model;
  /** Prompts showing the behaviour; paired one to one with `negative` (same count). */
  positive: readonly string[];
  /** Prompts showing its opposite. */
  negative: readonly string[];
  /** The blocks N to build direction.N for, each in 1..n_layer−1 (block 0 cannot be steered). Default: all of them. */
  layers?: readonly number[];
  /**
   * 'mean' (default): the mean of the paired differences positive − negative (CAA), unnormalised unless
   * `normalize`. 'pca': the first principal direction of the differences, as llama.cpp's cvector-generator
   * computes it (the top eigenvector of the uncentred DᵀD, unit length), its sign chosen so the mean
   * difference projects positively on it (llama.cpp leaves the sign to chance).
   */
  method?: (typeof STEERING_METHODS)[number];
  /**
   * 'last' (default): one difference per pair, at each prompt's last token. 'all': one per position, as
   * llama.cpp's cvector-generator: the shorter prompt of a pair is padded to the longer one's length with
   * the model's token for " " (the last token of " " tokenized without BOS: 220 for GPT-2), and positions
   * whose difference is zero (a shared prefix) are dropped.
   */
  position?: (typeof STEERING_POSITIONS)[number];
  /** 'same-block' (default): direction.N from blocks.N.resid_post. 'previous-block': from blocks.(N−1).resid_post, as cvector-generator. */
  readFrom?: (typeof STEERING_SOURCES)[number];
  /** Scale each 'mean' direction to unit length, as cvector-generator does. PCA directions are always unit length. */
  normalize?: boolean;
}

/**
 * The token cvector-generator pads the shorter prompt of a pair with: the last token of " " tokenized
 * without special tokens (its padding_seq): 220 for GPT-2. A tokenizer that makes no token of " " pads
 * with 0 (cvector-generator would fail there).
 */
function padToken(model: Model): number {
  return model.tokenizer.encodeText(' ').at(-1) ?? 0;
}

/** The blocks a steering vector may address in a model of nLayer blocks: 1..nLayer−1. */
function checkLayers(layers: unknown, nLayer: number, name: string): number[] {
  if (layers === undefined) return Array.from({ length: nLayer - 1 }, (_, i) => i + 1);
  if (!Array.isArray(layers) || layers.length === 0 || !layers.every((l) => is.integerIn(l, 1, nLayer - 1)))
    throw invalidParameterError(name, `a non-empty array of block indices in 1..${nLayer - 1} (block 0 cannot be steered)`, layers);
  return [...new Set(layers as number[])].sort((a, b) => a - b);
}

/** The per-layer steering directions from paired positive and negative prompts (see SteeringVectorOptions). */
export async function steeringVector(options: SteeringVectorOptions): Promise<ControlVector> {
  if (!is.object(options)) throw invalidParameterError('options', 'an object', options);
  const { model } = options;
  if (!is.object(model) || typeof (model as Model).run !== 'function') throw invalidParameterError('model', 'a Model (from loadModel)', model);
  const { n_layer, n_embd, n_ctx } = model.info;
  if (n_layer < 2) throw new RangeError('a model with one block has nothing to steer (block 0 cannot be steered)');
  const { positive, negative } = options;
  if (!is.stringArray(positive) || positive.length === 0 || positive.some((p) => p === ''))
    throw invalidParameterError('positive', 'a non-empty array of non-empty strings', positive);
  if (!is.stringArray(negative) || negative.length !== positive.length || negative.some((p) => p === ''))
    throw invalidParameterError('negative', `an array of ${positive.length} non-empty strings (one per positive prompt)`, negative);
  const layers = checkLayers(options.layers, n_layer, 'layers');
  const method = options.method ?? 'mean';
  if (!is.inArray(method, STEERING_METHODS)) throw invalidParameterError('method', oneOf(STEERING_METHODS), method);
  const position = options.position ?? 'last';
  if (!is.inArray(position, STEERING_POSITIONS)) throw invalidParameterError('position', oneOf(STEERING_POSITIONS), position);
  const readFrom = options.readFrom ?? 'same-block';
  if (!is.inArray(readFrom, STEERING_SOURCES)) throw invalidParameterError('readFrom', oneOf(STEERING_SOURCES), readFrom);
  if (options.normalize !== undefined && !is.bool(options.normalize)) throw invalidParameterError('normalize', 'a boolean', options.normalize);

  const source = (n: number) => (readFrom === 'same-block' ? n : n - 1);
  const hooks = [...new Set(layers.map((n) => hookName('resid_post', source(n))))];
  // Per layer, the difference rows (float64), one per sample.
  const diffs = new Map<number, number[][]>(layers.map((n) => [n, []]));
  for (let i = 0; i < positive.length; i++) {
    let pos = model.tokenizer.encode(positive[i]);
    let neg = model.tokenizer.encode(negative[i]);
    if (position === 'all') {
      const len = Math.max(pos.length, neg.length);
      const pad = padToken(model);
      pos = [...pos, ...new Array<number>(len - pos.length).fill(pad)];
      neg = [...neg, ...new Array<number>(len - neg.length).fill(pad)];
    }
    for (const [ids, what] of [
      [pos, `positive[${i}]`],
      [neg, `negative[${i}]`],
    ] as const) {
      if (ids.length > n_ctx) throw new RangeError(`${what} is ${ids.length} tokens long; the model's context holds ${n_ctx}`);
    }
    const [a, b] = await Promise.all([pos, neg].map((ids) => model.run(ids, { hooks, positions: position, logits: false })));
    for (const n of layers) {
      const name = hookName('resid_post', source(n));
      const pa = a.activations.find((x) => x.name === name)!.data;
      const nb = b.activations.find((x) => x.name === name)!.data;
      for (let r = 0; r < pa.length / n_embd; r++) {
        const row = Array.from({ length: n_embd }, (_, j) => pa[r * n_embd + j] - nb[r * n_embd + j]);
        // cvector-generator drops the rows of a pair that do not differ (the prompts' shared prefix)
        if (position === 'all' && row.every((x) => Math.abs(x) <= 1e-6)) continue;
        diffs.get(n)!.push(row);
      }
    }
  }

  const directions = new Map<number, Float32Array>();
  for (const n of layers) {
    const rows = diffs.get(n)!;
    if (rows.every((r) => r.every((x) => x === 0)))
      throw new RangeError(`block ${n}: every positive prompt matches its negative one; there is no difference to steer by`);
    const mean = meanRow(rows, n_embd);
    let dir: Float64Array;
    if (method === 'mean') dir = options.normalize ? unit(mean) : mean;
    else {
      dir = firstPrincipalDirection(rows, n_embd);
      if (dot(dir, mean) < 0) for (let j = 0; j < n_embd; j++) dir[j] = -dir[j];
    }
    directions.set(n, Float32Array.from(dir));
  }
  // controlvector.model_hint: the architecture, as cvector-generator writes it (general.architecture)
  return { modelHint: model.info.architecture ?? 'gpt2', directions };
}

function meanRow(rows: readonly number[][], d: number): Float64Array {
  const m = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) m[j] += r[j];
  for (let j = 0; j < d; j++) m[j] /= rows.length;
  return m;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function unit(v: Float64Array): Float64Array {
  const norm = Math.sqrt(dot(v, v));
  if (norm === 0) throw new RangeError('the mean difference is zero: it has no direction');
  return v.map((x) => x / norm);
}

const MAX_POWER_ITERATIONS = 10000;

/**
 * The unit top eigenvector of DᵀD for the rows of D (uncentred, as cvector-generator's power iteration),
 * in float64. Iterates on the smaller of the Gram matrix DDᵀ (samples²) and DᵀD (d²); starting from the
 * mean row, power iteration runs until the direction moves by less than 1e-12, or MAX_POWER_ITERATIONS
 * (cvector-generator stops after 1000): if the top two eigenvalues are that close, the first principal
 * direction is ill-defined anyway and the result is a mix of the two.
 */
function firstPrincipalDirection(rows: readonly number[][], d: number): Float64Array {
  const n = rows.length;
  const gram = n <= d;
  const m = gram ? n : d;
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      let s = 0;
      if (gram) s = dot(rows[i], rows[j]);
      else for (let r = 0; r < n; r++) s += rows[r][i] * rows[r][j];
      a[i * m + j] = a[j * m + i] = s;
    }
  }
  // start: the mean row (in the Gram basis, equal weights), which is close to the answer when the pairs agree
  let v: Float64Array = gram ? new Float64Array(m).fill(1) : meanRow(rows, d);
  if (dot(v, v) === 0) v = new Float64Array(m).fill(1);
  v = unit(v);
  for (let iter = 0; iter < MAX_POWER_ITERATIONS; iter++) {
    const w = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += a[i * m + j] * v[j];
      w[i] = s;
    }
    if (dot(w, w) === 0) break;
    const next = unit(w);
    let delta = 0;
    for (let i = 0; i < m; i++) delta = Math.max(delta, Math.abs(next[i] - v[i]));
    v = next;
    if (delta < 1e-12) break;
  }
  if (!gram) return v;
  // right singular vector from the left one: Dᵀu, normalised
  const out = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) out[j] += rows[r][j] * v[r];
  return unit(out);
}

/** One control vector to apply: a file (llama.cpp's GGUF) or one in memory, times `scale` (default 1). */
export interface ControlVectorSpec {
  path?: string;
  vector?: ControlVector;
  scale?: number;
}

/** The steering options decodeLayers() and generate() take, named after llama.cpp's flags. */
export interface SteeringOptions {
  /**
   * Control vectors (llama.cpp's --control-vector / --control-vector-scaled): each file's direction.N
   * times its scale, summed over files, is added to blocks.N.resid_post at every position (prompt and
   * generated) before any other intervention on that hook. direction.N with N ≥ n_layer is ignored, as
   * in llama.cpp.
   */
  controlVectors?: readonly ControlVectorSpec[];
  /** Blocks [A, B] (inclusive) the control vectors apply to; default [1, n_layer] (llama.cpp's default). */
  controlVectorLayerRange?: readonly [number, number];
}

/** The summed, scaled directions of the control vectors within the layer range, by block (ascending). */
export async function resolveControlVectors(options: SteeringOptions, dims: { n_layer: number; n_embd: number }): Promise<Map<number, Float32Array>> {
  const specs = options.controlVectors;
  const sum = new Map<number, Float32Array>();
  if (specs === undefined) {
    if (options.controlVectorLayerRange !== undefined)
      throw invalidParameterError('controlVectorLayerRange', 'no value without controlVectors', options.controlVectorLayerRange);
    return sum;
  }
  if (!Array.isArray(specs)) throw invalidParameterError('controlVectors', 'an array of { path | vector, scale? }', specs);
  const range = options.controlVectorLayerRange ?? [1, dims.n_layer];
  if (!Array.isArray(range) || range.length !== 2 || !range.every((x) => is.integer(x)) || range[0] > range[1])
    throw invalidParameterError('controlVectorLayerRange', 'two integers [A, B] with A ≤ B (inclusive)', range);
  for (const [i, spec] of specs.entries()) {
    const where = `controlVectors[${i}]`;
    if (typeof spec !== 'object' || spec === null || (spec.path === undefined) === (spec.vector === undefined))
      throw invalidParameterError(where, 'an object with either path or vector', spec);
    const scale = spec.scale ?? 1;
    if (!is.number(scale)) throw invalidParameterError(`${where}.scale`, 'a finite number', spec.scale);
    if (spec.path !== undefined && !is.nonEmptyString(spec.path)) throw invalidParameterError(`${where}.path`, 'a file path', spec.path);
    const cv = spec.path !== undefined ? await readControlVector(spec.path) : spec.vector!;
    const width = checkControlVector(cv, spec.path ?? where);
    if (width !== dims.n_embd) throw new RangeError(`${spec.path ?? where}: its directions have ${width} values, the model's residual ${dims.n_embd}`);
    for (const [n, v] of cv.directions) {
      if (n >= dims.n_layer || n < range[0] || n > range[1]) continue;
      let acc = sum.get(n);
      if (!acc) sum.set(n, (acc = new Float32Array(width)));
      for (let j = 0; j < width; j++) acc[j] += v[j] * scale;
    }
  }
  return new Map([...sum].sort((a, b) => a[0] - b[0]));
}

/** The control vectors as 'add' interventions at blocks.N.resid_post, every position. */
export function steeringInterventions(directions: ReadonlyMap<number, Float32Array>): Intervention[] {
  return [...directions].map(([n, v]) => ({ hook: hookName('resid_post', n), op: 'add' as const, vector: v, positions: 'all' as const }));
}
