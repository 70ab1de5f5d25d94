#!/usr/bin/env node
// Training speed of the tuned lens (tokens/s) on a generated GPT-2-medium-shaped checkpoint (random
// weights: the speed is gpt2-medium's, the tokens are meaningless). Each step runs the model over its
// windows, then the native KL + gradient for all 24 translators, then the optimizer; the first step also
// makes the trainer's float32 copies of W_U, so it is reported apart.
//   node scripts/bench-train-lens.mjs [--preset medium|small|tiny] [--steps N] [--seq-len N]
//                                     [--tokens-per-step N] [--threads N] [--out FILE.json]
import { availableParallelism, loadavg } from 'node:os';
import { benchArgs, benchCheckpoint, loadDist, writeJsonOut } from './bench-common.mjs';

const args = benchArgs(
  'usage: node scripts/bench-train-lens.mjs [--preset medium|small|tiny] [--steps N] [--seq-len N] [--tokens-per-step N] [--threads N] [--out FILE.json]',
  {
    preset: { type: 'string', default: 'medium' },
    steps: { type: 'string', default: '3' },
    'seq-len': { type: 'string', default: '128' },
    'tokens-per-step': { type: 'string', default: '128' },
    threads: { type: 'string' },
    out: { type: 'string' },
  },
);
const { loadModel } = await loadDist();
const { trainTunedLens } = await loadDist('lens/tuned/train.js');

const dir = benchCheckpoint(args.preset, 'f32');

const model = await loadModel(dir, { device: 'cpu', ...(args.threads === undefined ? {} : { threads: Number(args.threads) }) });
const { n_layer, n_embd, n_vocab } = model.info;
const steps = Number(args.steps);
const seqLen = Number(args['seq-len']);
const tokensPerStep = Number(args['tokens-per-step']);
// A fixed pseudo-random corpus: one window per step is enough, no held-out part.
let seed = 1;
const corpus = Int32Array.from({ length: seqLen * Math.ceil(tokensPerStep / seqLen) * steps }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n_vocab);
const rows = [];
console.error(
  `${args.preset}: ${n_layer} layers × ${n_embd} wide, vocab ${n_vocab}; ${model.runtime.threads} threads; ${steps} steps of ${tokensPerStep} tokens (windows of ${seqLen}); load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs`,
);
await trainTunedLens(model, corpus, {
  steps,
  seqLen,
  tokensPerStep,
  heldOut: 0,
  onProgress: (p) => {
    rows.push({ step: p.step, tokens: p.tokens, tokensPerSecond: p.tokensPerSecond, loss: p.loss });
    console.error(`step ${p.step}/${p.steps}: ${p.tokens} tokens, ${p.tokensPerSecond.toFixed(2)} tokens/s, loss ${p.loss.toFixed(4)}`);
  },
});
const steady = rows.slice(1);
const tokensPerSecond = steady.length
  ? steady.reduce((a, r) => a + r.tokens, 0) / steady.reduce((a, r) => a + r.tokens / r.tokensPerSecond, 0)
  : rows[0].tokensPerSecond;
const result = {
  preset: args.preset,
  n_layer,
  n_embd,
  n_vocab,
  threads: model.runtime.threads,
  cpus: availableParallelism(),
  loadAverage: loadavg()[0],
  seqLen,
  tokensPerStep,
  steps: rows,
  tokensPerSecond,
};
console.log(JSON.stringify(result, null, 2));
writeJsonOut(args.out, result);
model.dispose();
