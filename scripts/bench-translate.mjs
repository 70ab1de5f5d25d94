#!/usr/bin/env node
// The tuned lens's translation h + A·h + b, native (one ggml graph on the CPU, lib/lens/tuned/translate.ts)
// against the plain-TS reference (translateRows, float64 accumulation), on decodeLayers' shape for
// gpt2-medium: d 1024, 24 translators (embed + resid_post of blocks 0..22), 26 positions each. Random
// weights; no model is loaded. The first native call also copies the lens into native memory (timed
// apart); later calls reuse that copy.
//
//   node scripts/bench-translate.mjs [--runs N] [--threads N] [--d N] [--translators N] [--positions N]
// Needs `npm run build:ts` (reads dist/).
import { cpus } from 'node:os';
import { benchArgs, loadDist, median, positiveInt } from './bench-common.mjs';

const args = benchArgs('usage: node scripts/bench-translate.mjs [--runs N] [--threads N] [--d N] [--translators N] [--positions N]', {
  runs: { type: 'string', default: '5' },
  threads: { type: 'string' },
  d: { type: 'string', default: '1024' },
  translators: { type: 'string', default: '24' },
  positions: { type: 'string', default: '26' },
});
const [runs, d, T, P] = [
  ['--runs', args.runs],
  ['--d', args.d],
  ['--translators', args.translators],
  ['--positions', args.positions],
].map(([f, v]) => positiveInt(f, v));
const threads = args.threads ? positiveInt('--threads', args.threads) : undefined;
const { translateGroups, translateRows } = await loadDist();

let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const lens = {
  config: { baseModel: 'bench', dModel: d, numLayers: T, bias: true },
  translators: Array.from({ length: T }, () => ({
    weight: Float32Array.from({ length: d * d }, () => rnd() / Math.sqrt(d)),
    bias: Float32Array.from({ length: d }, rnd),
  })),
  source: 'bench',
};
const groups = Array.from({ length: T }, (_, t) => ({ translator: t, rows: Float32Array.from({ length: P * d }, rnd) }));

// [ms, result] of one awaited call (bench-common's timed drops the result, which the error check needs).
const time = async (f) => {
  const t0 = performance.now();
  const out = await f();
  return [performance.now() - t0, out];
};

const [first, nativeOut] = await time(() => translateGroups(lens, groups, { threads }));
const nativeMs = [];
for (let i = 0; i < runs; i++) nativeMs.push((await time(() => translateGroups(lens, groups, { threads })))[0]);
const tsMs = [];
let tsOut;
for (let i = 0; i < Math.min(runs, 3); i++) {
  const [ms, out] = await time(() => groups.map((g) => translateRows(lens.translators[g.translator], g.rows, P, d)));
  tsMs.push(ms);
  tsOut = out;
}
let worst = 0;
tsOut.forEach((ref, g) => {
  for (let r = 0; r < P; r++) {
    let num = 0;
    let den = 0;
    for (let j = r * d; j < (r + 1) * d; j++) {
      num += (nativeOut[g][j] - ref[j]) ** 2;
      den += ref[j] ** 2;
    }
    worst = Math.max(worst, Math.sqrt(num / den));
  }
});
console.log(`machine: ${cpus().length} × ${cpus()[0].model}; threads ${threads ?? 'all'}`);
console.log(`shape: d ${d}, ${T} translators × ${P} positions (${((T * d * d * 4) / 2 ** 20).toFixed(0)} MiB of weights)`);
console.log(`native: first call ${first.toFixed(1)} ms (copies the weights), then median ${median(nativeMs).toFixed(1)} ms of ${runs}`);
console.log(`TS translateRows: median ${median(tsMs).toFixed(1)} ms of ${tsMs.length}`);
console.log(`worst relative L2 error of a row, native vs TS: ${worst.toExponential(2)}`);
