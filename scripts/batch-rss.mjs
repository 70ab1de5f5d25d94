#!/usr/bin/env node
// Memory of a data-set run: `layerlens batch` over N prompts (default 10,000) on the tiny synthetic
// checkpoint, in this process, with the resident set size sampled while it runs. A bounded run shows
// the same RSS after 10% and after 100% of the prompts (input and output are streamed; only the ids
// seen are kept). Needs the built package (npm run build:ts) and addon.
//
//   node --expose-gc scripts/batch-rss.mjs [--prompts N] [--hooks LIST] [--threads N] [--keep]
// With --expose-gc a full collection runs before each sample, so the JS heap numbers are live data only.
import { mkdtempSync, rmSync, statSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, loadDist, root } from './bench-common.mjs';
import { makeCheckpoint } from './make-checkpoint.mjs';

const args = benchArgs('usage: node --expose-gc scripts/batch-rss.mjs [--prompts N] [--hooks LIST] [--threads N] [--keep]', {
  prompts: { type: 'string', default: '10000' },
  hooks: { type: 'string', default: 'default' },
  threads: { type: 'string', default: '1' },
  keep: { type: 'boolean' },
});
const n = Number(args.prompts);

const model = join(root, '.cache', 'test-checkpoints', 'tiny-f32');
makeCheckpoint(model, { preset: 'tiny' });
const work = mkdtempSync(join(tmpdir(), 'layerlens-batch-rss-'));
const input = join(work, 'input.jsonl');
const out = join(work, 'out.jsonl');

// Varied prompts of 5..40 words, every third with a target.
const words = 'the of and to in is was for on that with as by at from his her an which be this are were it'.split(' ');
const w = createWriteStream(input);
for (let i = 0; i < n; i++) {
  const len = 5 + ((i * 7919) % 36);
  const prompt = Array.from({ length: len }, (_, j) => words[(i * 31 + j * 17) % words.length]).join(' ');
  w.write(JSON.stringify({ id: `p${i}`, prompt, ...(i % 3 === 0 ? { target: ' the' } : {}) }) + '\n');
}
await new Promise((resolve) => w.end(resolve));

const mib = (b) => (b / 2 ** 20).toFixed(1);
const { main } = await loadDist('cli/main.js');
globalThis.gc?.();
const { rss: start, heapUsed: startHeap } = process.memoryUsage();
const samples = [];
const started = Date.now();
const timer = setInterval(() => {
  let bytes = 0;
  try {
    bytes = statSync(out).size;
  } catch {
    // not created yet
  }
  globalThis.gc?.();
  const m = process.memoryUsage();
  samples.push({ s: (Date.now() - started) / 1000, rss: m.rss, heap: m.heapUsed, outBytes: bytes });
}, 1000);
let err = '';
const code = await main(
  [
    'batch',
    input,
    '--out',
    out,
    '--model',
    model,
    '--device',
    'cpu',
    '--threads',
    args.threads,
    '--hooks',
    args.hooks,
    '--summary',
    join(work, 'summary.json'),
  ],
  {
    stdout: { write: () => true },
    stderr: { write: (s) => ((err += s), true) },
    env: process.env,
  },
);
clearInterval(timer);
globalThis.gc?.();
const { rss: end, heapUsed: endHeap } = process.memoryUsage();
const outSize = statSync(out).size;
const peak = Math.max(...samples.map((x) => x.rss), end);
const at = (frac) => samples.find((x) => x.outBytes >= frac * outSize) ?? samples[samples.length - 1];

console.log(err.trim());
console.log(
  `exit code ${code}; ${n} prompts, hooks ${args.hooks}, ${args.threads} thread(s); input ${mib(statSync(input).size)} MiB, output ${mib(outSize)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
console.log(`RSS at start (before the model is loaded): ${mib(start)} MiB (JS heap ${mib(startHeap)} MiB)`);
for (const f of [0.1, 0.5, 0.9]) {
  const s = at(f);
  if (s) console.log(`RSS with ${Math.round(f * 100)}% of the output written: ${mib(s.rss)} MiB (JS heap ${mib(s.heap)} MiB, t = ${s.s.toFixed(0)} s)`);
}
console.log(`RSS at end: ${mib(end)} MiB (JS heap ${mib(endHeap)} MiB); peak sampled: ${mib(peak)} MiB`);
if (args.keep) console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exitCode = code;
