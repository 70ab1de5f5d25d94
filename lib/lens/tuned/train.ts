// Trains a tuned lens in Node, with the tuned-lens package's objective: for each translator i, the mean
// over positions of KL(p_final ‖ q_i), where p_final is the model's own output distribution at the same
// position and q_i the lens of hidden_states[i] after the translator (h + A h + b). Translators start at
// zero, i.e. at the logit lens. The V × d math per position runs natively (native/train, through
// Model.tunedLensGradients); this file turns a corpus into token windows, captures the hidden states,
// averages the gradients over a step, applies the optimizer (the package's SGD with Nesterov momentum, or
// its AMSGrad Adam) and keeps checkpoints that a later run resumes from.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Model } from '../../model/model.js';
import { encode } from '../../tokens/tokenizer.js';
import { readSafetensorsTensors, writeSafetensorsTensors } from './safetensors.js';
import { saveTunedLens } from './save.js';
import { translatedHook, type TunedLens } from './tuned-lens.js';

export type LensOptimizerKind = 'sgd' | 'adam';

export interface TrainTunedLensOptions {
  /** Optimizer steps (the package's default: 250). */
  steps?: number;
  /** Tokens per optimizer step, rounded to whole windows of seqLen (default 4096; the package uses 2^18, sized for GPUs). */
  tokensPerStep?: number;
  /** Tokens per window the model runs on (default min(1024, n_ctx); the package uses 2048 capped by the model). */
  seqLen?: number;
  /** 'sgd' (default, as the package): SGD with Nesterov momentum; 'adam': AMSGrad Adam. */
  optimizer?: LensOptimizerKind;
  /** Learning rate (default: the package's, 1.0 × (1 − momentum) for SGD, 1e-3 for Adam). */
  lr?: number;
  /** SGD momentum or Adam's β1 (default 0.9). */
  momentum?: number;
  /** L2 weight decay added to the gradient, as torch's SGD and Adam do (default 1e-3). */
  weightDecay?: number;
  /** Linear warmup steps before the linear decay to zero (default 0 for SGD, min(1000, steps / 5) for Adam). */
  warmupSteps?: number;
  /** Tokens at the end of the corpus kept out of training to measure held-out KL (default: about 10%, whole windows). */
  heldOut?: number;
  /** Folder for the trained lens (config.json, params.pt) and its checkpoint/; without it nothing is written. */
  out?: string;
  /** Write out/checkpoint/ every this many steps (default 10; 0: never). */
  checkpointEvery?: number;
  /** Continue from out/checkpoint/ when there is one (same corpus and hyperparameters). */
  resume?: boolean;
  /** Name written as base_model_name_or_path (default: the model's name). */
  baseModel?: string;
  /** Called after every step (and after its checkpoint is written); an exception stops training. */
  onProgress?: (progress: TrainProgress) => void;
}

export interface TrainProgress {
  step: number;
  steps: number;
  /** This step's loss: the mean over translators of the mean KL over its positions (nats). */
  loss: number;
  /** This step's mean KL per translator. */
  layerLoss: number[];
  /** Positions in this step, and their rate including the model's forward passes. */
  tokens: number;
  tokensPerSecond: number;
  lr: number;
  /** Whether out/checkpoint/ was written after this step. */
  checkpointed: boolean;
}

export interface HeldOutKL {
  /** Mean KL(p_final ‖ q) per translator with the trained lens, and with the logit lens (no translator). */
  tuned: number[];
  logitLens: number[];
  tokens: number;
}

export interface TrainTunedLensResult {
  lens: TunedLens;
  /** Loss of every step of the whole run, resumed steps included. */
  losses: number[];
  tokensSeen: number;
  /** Steps taken from a checkpoint rather than computed in this call. */
  resumedAt: number;
  /** Absent when heldOut is 0. */
  heldOut?: HeldOutKL;
}

interface Hyper {
  steps: number;
  tokensPerStep: number;
  seqLen: number;
  optimizer: LensOptimizerKind;
  lr: number;
  momentum: number;
  weightDecay: number;
  warmupSteps: number;
  heldOut: number;
}

function positiveInt(name: string, v: unknown, min = 1): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new RangeError(`trainTunedLens: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return v as number;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`trainTunedLens: ${name} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

function hyperparameters(o: TrainTunedLensOptions, nCtx: number, corpusTokens: number): Hyper {
  const optimizer = o.optimizer ?? 'sgd';
  if (optimizer !== 'sgd' && optimizer !== 'adam') throw new RangeError(`trainTunedLens: optimizer must be 'sgd' or 'adam', got ${String(optimizer)}`);
  const steps = positiveInt('steps', o.steps ?? 250);
  const seqLen = positiveInt('seqLen', o.seqLen ?? Math.min(1024, nCtx));
  if (seqLen > nCtx) throw new RangeError(`trainTunedLens: seqLen ${seqLen} exceeds the model's context of ${nCtx} tokens`);
  const momentum = nonNegative('momentum', o.momentum ?? 0.9);
  if (momentum >= 1) throw new RangeError(`trainTunedLens: momentum must be < 1, got ${momentum}`);
  const windows = Math.floor(corpusTokens / seqLen);
  const heldOutDefault = windows >= 2 ? Math.max(1, Math.round(windows / 10)) * seqLen : 0;
  return {
    steps,
    tokensPerStep: positiveInt('tokensPerStep', o.tokensPerStep ?? 4096),
    seqLen,
    optimizer,
    lr: nonNegative('lr', o.lr ?? (optimizer === 'sgd' ? 1 - momentum : 1e-3)),
    momentum,
    weightDecay: nonNegative('weightDecay', o.weightDecay ?? 1e-3),
    warmupSteps: positiveInt('warmupSteps', o.warmupSteps ?? (optimizer === 'sgd' ? 0 : Math.min(1000, Math.floor(steps / 5))), 0),
    heldOut: positiveInt('heldOut', o.heldOut ?? heldOutDefault, 0),
  };
}

/** torch's get_linear_schedule_with_warmup, as the package calls it: warmup, then linear decay to 0 at `steps`. */
export function scheduledLr(h: Pick<Hyper, 'lr' | 'steps' | 'warmupSteps'>, step: number): number {
  if (step < h.warmupSteps) return (h.lr * step) / Math.max(1, h.warmupSteps);
  const decay = h.steps - h.warmupSteps;
  return (h.lr * Math.max(0, decay - (step - h.warmupSteps))) / Math.max(1, decay);
}

/** The translators' parameters and optimizer buffers, flat: weights [L, d, d], biases [L, d]. */
interface TrainState {
  weights: Float32Array;
  biases: Float32Array;
  /** SGD: momentum. Adam: m, v, vmax (AMSGrad). Each [weights, biases]. */
  buffers: Record<string, [Float32Array, Float32Array]>;
  step: number;
  cursor: number;
  tokensSeen: number;
  losses: number[];
}

function newState(h: Hyper, L: number, d: number): TrainState {
  const pair = (): [Float32Array, Float32Array] => [new Float32Array(L * d * d), new Float32Array(L * d)];
  const names = h.optimizer === 'sgd' ? ['momentum'] : ['m', 'v', 'vmax'];
  return {
    weights: new Float32Array(L * d * d),
    biases: new Float32Array(L * d),
    buffers: Object.fromEntries(names.map((n) => [n, pair()])),
    step: 0,
    cursor: 0,
    tokensSeen: 0,
    losses: [],
  };
}

/** One optimizer step in place, with torch's SGD(nesterov) / Adam(amsgrad) update rules. `grad` is the mean gradient. */
function applyUpdate(h: Hyper, state: TrainState, which: 0 | 1, params: Float32Array, grad: Float32Array, lr: number): void {
  const wd = h.weightDecay;
  if (h.optimizer === 'sgd') {
    const buf = state.buffers.momentum[which];
    const mu = h.momentum;
    for (let k = 0; k < params.length; k++) {
      const g = grad[k] + wd * params[k];
      const b = (buf[k] = mu * buf[k] + g);
      params[k] -= lr * (g + mu * b);
    }
    return;
  }
  const [m, v, vmax] = [state.buffers.m[which], state.buffers.v[which], state.buffers.vmax[which]];
  const b1 = h.momentum;
  const b2 = 0.999;
  const t = state.step + 1;
  const c1 = 1 - b1 ** t;
  const c2 = Math.sqrt(1 - b2 ** t);
  for (let k = 0; k < params.length; k++) {
    const g = grad[k] + wd * params[k];
    m[k] = b1 * m[k] + (1 - b1) * g;
    v[k] = b2 * v[k] + (1 - b2) * g * g;
    vmax[k] = Math.max(vmax[k], v[k]);
    params[k] -= (lr * (m[k] / c1)) / (Math.sqrt(vmax[k]) / c2 + 1e-8);
  }
}

/**
 * One optimizer update of a single parameter vector, as trainTunedLens applies it (exported for tests
 * against torch.optim): `buffers` holds the optimizer state between calls, `step` counts from 0.
 */
export function optimizerUpdate(
  options: { optimizer: LensOptimizerKind; momentum: number; weightDecay: number },
  params: Float32Array,
  grad: Float32Array,
  lr: number,
  step: number,
  buffers: Record<string, Float32Array>,
): void {
  const names = options.optimizer === 'sgd' ? ['momentum'] : ['m', 'v', 'vmax'];
  for (const n of names) buffers[n] ??= new Float32Array(params.length);
  const state = { buffers: Object.fromEntries(names.map((n) => [n, [buffers[n], buffers[n]]])), step } as unknown as TrainState;
  applyUpdate({ ...options } as Hyper, state, 0, params, grad, lr);
}

/** Token ids of a corpus: text through GPT-2's tokenizer, or ids as given (checked against the vocabulary). */
export function corpusTokens(corpus: string | ArrayLike<number>, nVocab: number): Int32Array {
  const ids = typeof corpus === 'string' ? Int32Array.from(encode(corpus)) : Int32Array.from(corpus);
  for (let i = 0; i < ids.length; i++)
    if (ids[i] < 0 || ids[i] >= nVocab) throw new RangeError(`trainTunedLens: corpus token ${i} is ${ids[i]}, outside the model's vocabulary of ${nVocab}`);
  return ids;
}

/** The hidden states of one window: translator inputs [L, rows, d] and the final resid_post [rows, d]. */
async function captureWindow(model: Model, ids: Int32Array): Promise<{ inputs: Float32Array; final: Float32Array; rows: number }> {
  const { n_layer: L, n_embd: d } = model.info;
  const finalHook = `blocks.${L - 1}.resid_post`;
  const hooks = [...Array.from({ length: L }, (_, i) => translatedHook(i)), finalHook];
  const run = await model.run(ids, { hooks, positions: 'all', logits: false });
  const byName = new Map(run.activations.map((a) => [a.name, a.data]));
  const rows = ids.length;
  const inputs = new Float32Array(L * rows * d);
  for (let i = 0; i < L; i++) inputs.set(byName.get(translatedHook(i))!, i * rows * d);
  return { inputs, final: byName.get(finalHook)!, rows };
}

/** Mean KL per translator over the held-out windows, for the given weights and for zero (the logit lens), in one pass. */
async function heldOutKL(model: Model, windows: Int32Array[], weights: Float32Array, biases: Float32Array): Promise<HeldOutKL> {
  const { n_layer: L, n_embd: d } = model.info;
  const sums = new Float64Array(2 * L);
  const twiceWeights = new Float32Array(2 * L * d * d);
  twiceWeights.set(weights);
  const twiceBiases = new Float32Array(2 * L * d);
  twiceBiases.set(biases);
  let tokens = 0;
  for (const ids of windows) {
    const { inputs, final, rows } = await captureWindow(model, ids);
    const twice = new Float32Array(2 * inputs.length);
    twice.set(inputs);
    twice.set(inputs, inputs.length);
    const out = await model.tunedLensGradients({ inputs: twice, final, weights: twiceWeights, biases: twiceBiases, rows, count: 2 * L, gradients: false });
    out.loss.forEach((l, i) => (sums[i] += l));
    tokens += rows;
  }
  const mean = (from: number) => Array.from(sums.subarray(from, from + L), (s) => s / tokens);
  return { tuned: mean(0), logitLens: mean(L), tokens };
}

// ---- checkpoints: out/checkpoint/{state.json, state.safetensors}, replaced atomically ----

interface CheckpointMeta {
  format: 'layerlens-tuned-lens-checkpoint';
  version: 1;
  model: { name: string; n_layer: number; n_embd: number; n_vocab: number };
  corpus: { tokens: number; sha256: string };
  hyper: Hyper;
  step: number;
  cursor: number;
  tokensSeen: number;
  losses: number[];
}

function corpusDigest(ids: Int32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength))
    .digest('hex');
}

async function writeCheckpoint(out: string, meta: CheckpointMeta, state: TrainState): Promise<void> {
  const dir = join(out, 'checkpoint');
  const tmp = join(out, 'checkpoint.tmp');
  const old = join(out, 'checkpoint.old');
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  tensors.set('weights', { shape: [state.weights.length], data: state.weights });
  tensors.set('biases', { shape: [state.biases.length], data: state.biases });
  for (const [name, [w, b]] of Object.entries(state.buffers)) {
    tensors.set(`${name}.weights`, { shape: [w.length], data: w });
    tensors.set(`${name}.biases`, { shape: [b.length], data: b });
  }
  await writeFile(join(tmp, 'state.safetensors'), writeSafetensorsTensors(tensors));
  await writeFile(join(tmp, 'state.json'), JSON.stringify(meta) + '\n');
  // checkpoint → checkpoint.old, tmp → checkpoint, then drop old: at every instant one complete copy exists.
  // Without a checkpoint/, a checkpoint.old/ is the copy a crash left between the renames: kept until tmp is in place.
  if (existsSync(dir)) {
    await rm(old, { recursive: true, force: true });
    await rename(dir, old);
  }
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

async function readCheckpoint(
  out: string,
  expect: Omit<CheckpointMeta, 'step' | 'cursor' | 'tokensSeen' | 'losses'>,
  fresh: TrainState,
): Promise<TrainState | null> {
  const dir = [join(out, 'checkpoint'), join(out, 'checkpoint.old')].find((p) => existsSync(join(p, 'state.json')));
  if (!dir) return null;
  const meta = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as CheckpointMeta;
  const what = `the checkpoint at ${dir}`;
  if (meta.format !== expect.format || meta.version !== expect.version) throw new Error(`${what} is not a layerlens tuned-lens checkpoint of version 1`);
  const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  if (differs(meta.model, expect.model)) throw new Error(`${what} was made for ${JSON.stringify(meta.model)}, not ${JSON.stringify(expect.model)}`);
  if (differs(meta.corpus, expect.corpus))
    throw new Error(`${what} was made on another corpus (${meta.corpus.tokens} tokens, sha256 ${meta.corpus.sha256.slice(0, 12)}…)`);
  for (const key of Object.keys(expect.hyper) as (keyof Hyper)[])
    if (meta.hyper[key] !== expect.hyper[key])
      throw new Error(`${what} used ${key} = ${String(meta.hyper[key])}, this run ${String(expect.hyper[key])}; resume with the same settings`);
  const tensors = readSafetensorsTensors(await readFile(join(dir, 'state.safetensors')), what);
  const take = (name: string, into: Float32Array) => {
    const t = tensors.get(name);
    if (!t || t.data.length !== into.length) throw new Error(`${what}: ${name} is missing or has the wrong size`);
    into.set(t.data);
  };
  take('weights', fresh.weights);
  take('biases', fresh.biases);
  for (const [name, [w, b]] of Object.entries(fresh.buffers)) {
    take(`${name}.weights`, w);
    take(`${name}.biases`, b);
  }
  return { ...fresh, step: meta.step, cursor: meta.cursor, tokensSeen: meta.tokensSeen, losses: meta.losses };
}

/** The translators of a flat state as a TunedLens. */
function toLens(state: TrainState, L: number, d: number, baseModel: string, source: string): TunedLens {
  return {
    config: { baseModel, dModel: d, numLayers: L, bias: true },
    translators: Array.from({ length: L }, (_, i) => ({
      weight: state.weights.slice(i * d * d, (i + 1) * d * d),
      bias: state.biases.slice(i * d, (i + 1) * d),
    })),
    source,
  };
}

/**
 * Trains a tuned lens for `model` on `corpus` (text, tokenized with GPT-2's tokenizer, or token ids).
 * With `out`, writes out/config.json and out/params.pt (loadable by loadTunedLens and by Python's
 * tuned-lens) and keeps out/checkpoint/ for `resume`.
 */
export async function trainTunedLens(model: Model, corpus: string | ArrayLike<number>, options: TrainTunedLensOptions = {}): Promise<TrainTunedLensResult> {
  const { n_layer: L, n_embd: d, n_vocab: V, n_ctx } = model.info;
  const ids = corpusTokens(corpus, V);
  const h = hyperparameters(options, n_ctx, ids.length);
  const checkpointEvery = positiveInt('checkpointEvery', options.checkpointEvery ?? 10, 0);
  if (options.resume && !options.out) throw new Error('trainTunedLens: resume needs out (the folder holding checkpoint/)');

  const windowCount = Math.floor(ids.length / h.seqLen);
  const heldOutWindows = Math.ceil(h.heldOut / h.seqLen);
  const trainWindows = windowCount - heldOutWindows;
  if (trainWindows < 1)
    throw new RangeError(
      `trainTunedLens: the corpus has ${ids.length} tokens, ${windowCount} windows of ${h.seqLen}; ${heldOutWindows} are held out and none would be left to train on`,
    );
  const window = (w: number) => ids.subarray(w * h.seqLen, (w + 1) * h.seqLen);
  const windowsPerStep = Math.max(1, Math.round(h.tokensPerStep / h.seqLen));
  const baseModel = options.baseModel ?? model.info.name;

  const meta = {
    format: 'layerlens-tuned-lens-checkpoint' as const,
    version: 1 as const,
    model: { name: model.info.name, n_layer: L, n_embd: d, n_vocab: V },
    corpus: { tokens: ids.length, sha256: corpusDigest(ids) },
    hyper: h,
  };
  let state = newState(h, L, d);
  if (options.resume) state = (await readCheckpoint(options.out!, meta, state)) ?? state;
  const resumedAt = state.step;

  const gradW = new Float32Array(L * d * d);
  const gradB = new Float32Array(L * d);
  while (state.step < h.steps) {
    const started = performance.now();
    gradW.fill(0);
    gradB.fill(0);
    const layerSums = new Float64Array(L);
    let rows = 0;
    for (let k = 0; k < windowsPerStep; k++) {
      const cap = await captureWindow(model, window(state.cursor));
      state.cursor = (state.cursor + 1) % trainWindows;
      const r = await model.tunedLensGradients({ ...cap, weights: state.weights, biases: state.biases, count: L });
      r.loss.forEach((l, i) => (layerSums[i] += l));
      const gw = r.gradWeights!;
      const gb = r.gradBiases!;
      for (let j = 0; j < gw.length; j++) gradW[j] += gw[j];
      for (let j = 0; j < gb.length; j++) gradB[j] += gb[j];
      rows += cap.rows;
    }
    for (let j = 0; j < gradW.length; j++) gradW[j] /= rows;
    for (let j = 0; j < gradB.length; j++) gradB[j] /= rows;
    const lr = scheduledLr(h, state.step);
    applyUpdate(h, state, 0, state.weights, gradW, lr);
    applyUpdate(h, state, 1, state.biases, gradB, lr);
    const layerLoss = Array.from(layerSums, (s) => s / rows);
    const loss = layerLoss.reduce((a, b) => a + b, 0) / L;
    state.step++;
    state.tokensSeen += rows;
    state.losses.push(loss);
    const checkpointed = !!options.out && checkpointEvery > 0 && (state.step % checkpointEvery === 0 || state.step === h.steps);
    if (checkpointed)
      await writeCheckpoint(options.out!, { ...meta, step: state.step, cursor: state.cursor, tokensSeen: state.tokensSeen, losses: state.losses }, state);
    const seconds = (performance.now() - started) / 1000;
    options.onProgress?.({ step: state.step, steps: h.steps, loss, layerLoss, tokens: rows, tokensPerSecond: rows / seconds, lr, checkpointed });
  }

  const lens = toLens(state, L, d, baseModel, options.out ?? '(trained in memory)');
  if (options.out) await saveTunedLens(lens, options.out);
  const heldOutList = Array.from({ length: heldOutWindows }, (_, k) => window(trainWindows + k));
  const result: TrainTunedLensResult = { lens, losses: state.losses, tokensSeen: state.tokensSeen, resumedAt };
  if (heldOutList.length) result.heldOut = await heldOutKL(model, heldOutList, state.weights, state.biases);
  return result;
}
