#!/usr/bin/env node
// `npm run bench`: timings of the layerlens pipeline on a generated GPT-2-medium-shaped checkpoint
// (random weights: the speed is GPT-2 medium's, the tokens are meaningless) and the notebook's prompt.
// Prints one JSON object and a table; medians over warm runs, all measured in this one process.
//
//   node scripts/bench.mjs [--preset medium|small|tiny] [--dtype f32|f16] [--runs N] [--threads N]
//                          [--device auto|cpu|cuda|metal] [--out FILE.json]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, benchCheckpoint, loadDist, median, NOTEBOOK_PROMPT, positiveInt, root, warmTimes, writeJsonOut } from './bench-common.mjs';

const args = benchArgs(
  'usage: node scripts/bench.mjs [--preset medium|small|tiny] [--dtype f32|f16] [--runs N] [--threads N] [--device auto|cpu|cuda|metal] [--out FILE.json] [--no-ts-baseline]',
  {
    preset: { type: 'string', default: 'medium' },
    dtype: { type: 'string', default: 'f32' },
    runs: { type: 'string', default: '9' },
    threads: { type: 'string' },
    device: { type: 'string', default: 'auto' },
    out: { type: 'string' },
    'no-ts-baseline': { type: 'boolean' },
  },
);
const runs = positiveInt('--runs', args.runs);

const { decodeLayers, loadModel, encode, lensTopK, releaseModels } = await loadDist();
const { residualSums } = await loadDist('lens/sums.js');

const dir = benchCheckpoint(args.preset, args.dtype);

async function timeTsReference(checkpointDir, tokenIds) {
  const ts = (await import('typescript')).default;
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const out = mkdtempSync(join(tmpdir(), 'layerlens-tsref-'));
  try {
    for (const name of ['gpt2-f64', 'read-safetensors']) {
      const source = readFileSync(join(root, 'test', 'reference', `${name}.ts`), 'utf8');
      const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      writeFileSync(join(out, `${name}.js`), js);
    }
    const ref = await import(join(out, 'gpt2-f64.js'));
    const model = ref.loadReference(checkpointDir);
    const t = performance.now();
    ref.forwardReference(model, tokenIds, { logits: 'last' });
    return performance.now() - t;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function time(fn, n = runs) {
  const ms = await warmTimes(fn, n);
  return { median: median(ms), min: Math.min(...ms), runs: n };
}

// Cold load needs the page cache dropped, which only root on Linux can do.
// --dtype f16 measures f16 compute (f16 matrices); without dtype: 'f16' the loader would widen the F16 file
// to f32, as Hugging Face does, and the row would repeat the f32 one.
const loadOptions = { device: args.device, threads: args.threads ? Number(args.threads) : undefined, ...(args.dtype === 'f16' ? { dtype: 'f16' } : {}) };
let coldLoad;
try {
  execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
  const t = performance.now();
  const m = await loadModel(dir, loadOptions);
  coldLoad = performance.now() - t;
  m.dispose();
} catch {
  coldLoad = null;
}
const load = await time(async () => (await loadModel(dir, loadOptions)).dispose(), 3);
const model = await loadModel(dir, loadOptions);
const ids = encode(NOTEBOOK_PROMPT);
const d = model.info.n_embd;

const tokenize = await time(async () => encode(NOTEBOOK_PROMPT), 50);
const forward = await time(() => model.run(ids));
const capture = await time(() => model.run(ids, { hooks: 'all' }));
const lensable = ['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'];
const { activations } = await model.run(ids, { hooks: lensable });
const rows = activations.length;
const batch = new Float32Array(rows * d);
activations.forEach((a, i) => batch.set(a.data, i * d));
const lens = await time(() => lensTopK(model, batch, rows, 5, 'native'));
// As decodeLayers runs it: the residual rows formed as sums of their parts' projections (lib/lens/sums.ts).
const sums = residualSums(activations, 1);
const lensSums = await time(() => model.lensNative(batch, rows, 5, { sums }));
const decode = await time(() => decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all' }));
const captureAll = await time(() => model.run(ids, { hooks: 'all', positions: 'all' }), Math.min(runs, 3));
const decodeAll = await time(() => decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all', positions: 'all' }), Math.min(runs, 3));

const rss = process.resourceUsage().maxRSS * 1024; // before the TS baseline, which holds ~3 GB of float64 weights
// Same-run baseline: the plain TypeScript float64 forward of test/reference (transpiled on the fly;
// typescript is a dev dependency). One run: it is slow by design and takes ~3 GB for this shape.
let tsForward = null;
if (!args['no-ts-baseline']) {
  try {
    tsForward = await timeTsReference(dir, ids);
  } catch (err) {
    console.error(`TS baseline skipped: ${err.message}`);
  }
}

const result = {
  device: `${model.runtime.device} (${model.runtime.deviceDescription})`,
  threads: model.runtime.threads,
  checkpoint: { preset: args.preset, dtype: args.dtype, n_layer: model.info.n_layer, n_embd: d, weightBytes: model.runtime.weightBytes },
  tokens: ids.length,
  lensRows: rows,
  ms: {
    loadCold: coldLoad,
    loadWarm: load.median,
    tokenize: tokenize.median,
    forward: forward.median,
    forwardCaptureAll: capture.median,
    lensAllPoints: lens.median,
    lensAllPointsWithSums: lensSums.median,
    decodeLayers: decode.median,
    forwardCaptureAllPositions: captureAll.median,
    decodeLayersAllPositions: decodeAll.median,
  },
  ratios: {
    captureOverPlain: capture.median / forward.median,
    lensOverForward: lens.median / forward.median,
    lensWithSumsOverForward: lensSums.median / forward.median,
    tsReferenceForwardOverForward: tsForward === null ? null : tsForward / forward.median,
  },
  tsReferenceForwardMs: tsForward,
  peakRssBytes: rss,
  // On a GPU the weights live in device memory, not in the process's resident set.
  rssOverWeightsBytes: model.runtime.device === 'CPU' ? rss - model.runtime.weightBytes : rss,
  runs,
};
model.dispose();
await releaseModels();

const f = (x) => (x === null ? 'n/a' : x.toFixed(1));
console.log(JSON.stringify(result, null, 2));
console.log(`
layerlens bench — ${result.device}, ${result.threads} threads, ${args.preset} ${args.dtype} (random weights), ${ids.length} tokens, median of ${runs}
  load (cold / warm)                 ${f(result.ms.loadCold)} / ${f(result.ms.loadWarm)} ms
  tokenize                           ${result.ms.tokenize.toFixed(3)} ms
  forward (no capture)               ${f(result.ms.forward)} ms
  forward + capture of all hooks     ${f(result.ms.forwardCaptureAll)} ms   (x${result.ratios.captureOverPlain.toFixed(3)} of plain)
  lens of ${rows} d-wide points           ${f(result.ms.lensAllPoints)} ms   (x${result.ratios.lensOverForward.toFixed(3)} of forward; every row projected)
  ... with residual sums             ${f(result.ms.lensAllPointsWithSums)} ms   (x${result.ratios.lensWithSumsOverForward.toFixed(3)} of forward; ${sums.length / 3} rows formed as sums, as in decodeLayers)
  decodeLayers, all hooks, last token ${f(result.ms.decodeLayers)} ms
  capture, all positions             ${f(result.ms.forwardCaptureAllPositions)} ms
  decodeLayers, all positions        ${f(result.ms.decodeLayersAllPositions)} ms
  TS float64 reference forward       ${f(tsForward)} ms   (x${tsForward === null ? 'n/a' : (tsForward / forward.median).toFixed(1)} of the ggml forward)
  peak RSS                           ${(rss / 2 ** 20).toFixed(0)} MiB (weights ${(model.runtime.weightBytes / 2 ** 20).toFixed(0)} MiB on ${model.runtime.device}, other ${(result.rssOverWeightsBytes / 2 ** 20).toFixed(0)} MiB)`);
writeJsonOut(args.out, result);
