#!/usr/bin/env node
// `npm run bench` (part): prompts/s of decodeBatch on many short prompts, one prompt per forward vs
// several packed into one forward, in the same process on the same generated GPT-2-medium-shaped
// checkpoint (random weights: the speed is GPT-2 medium's, the tokens are meaningless), default hooks.
// Also splits the time: the forwards alone (run vs runBatch) and the rest (lens + JS) by difference.
// Prints one JSON object and a table.
//
//   node scripts/bench-batch.mjs [--preset medium|small|tiny] [--dtype f32|f16] [--prompts N]
//                                [--batch-sizes 8,16,32] [--threads N] [--device auto|cpu|cuda|metal] [--out FILE.json]
import { benchArgs, benchCheckpoint, loadDist, positiveInt, timed, writeJsonOut } from './bench-common.mjs';

const args = benchArgs(
  'usage: node scripts/bench-batch.mjs [--preset medium|small|tiny] [--dtype f32|f16] [--prompts N] [--batch-sizes 8,16,32] [--threads N] [--device ...] [--out FILE.json]',
  {
    preset: { type: 'string', default: 'medium' },
    dtype: { type: 'string', default: 'f32' },
    prompts: { type: 'string', default: '256' },
    'batch-sizes': { type: 'string', default: '16' },
    threads: { type: 'string' },
    device: { type: 'string', default: 'auto' },
    out: { type: 'string' },
  },
);
const nPrompts = positiveInt('--prompts', args.prompts);
const batchSizes = args['batch-sizes'].split(',').map(Number);
if (!batchSizes.every((b) => Number.isInteger(b) && b >= 2 && b <= 256)) throw new Error('--batch-sizes: integers in 2..256');

const { decodeBatch, decodeLayers, loadModel, encode, releaseModels } = await loadDist();

const dir = benchCheckpoint(args.preset, args.dtype);

// Deterministic prompts of 8..30 GPT-2 tokens: words drawn by a fixed-seed PRNG (mulberry32) until the
// prompt has its drawn length in tokens.
const WORDS = (
  'the of and to in is was for on that with as by at from his her their it this which an be are were had has have ' +
  'city river king war year time people world house music film team game school water light night story after before ' +
  'first second new old great small long high early late north south east west capital country island village church'
).split(' ');
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(15);
const prompts = Array.from({ length: nPrompts }, () => {
  const want = 8 + Math.floor(rand() * 23);
  let text = WORDS[Math.floor(rand() * WORDS.length)];
  while (encode(text).length < want) text += ' ' + WORDS[Math.floor(rand() * WORDS.length)];
  return text.charAt(0).toUpperCase() + text.slice(1);
});
const lengths = prompts.map((p) => encode(p).length);
const totalTokens = lengths.reduce((a, b) => a + b, 0);

const model = await loadModel(dir, { device: args.device, threads: args.threads ? Number(args.threads) : undefined });

async function drain(ps, options) {
  let failed = 0;
  for await (const r of decodeBatch(ps, { model, ...options })) if (r.error) failed++;
  if (failed) throw new Error(`${failed} prompts failed`);
}

// Warm-up (first-call allocations, page cache) on a few prompts of each path.
for await (const _ of decodeBatch(prompts.slice(0, 4), { model, batchSize: 1 }));
for await (const _ of decodeBatch(prompts.slice(0, 4), { model, batchSize: 4 }));

const result = {
  device: `${model.runtime.device} (${model.runtime.deviceDescription})`,
  threads: model.runtime.threads,
  checkpoint: { preset: args.preset, dtype: args.dtype, n_layer: model.info.n_layer, n_embd: model.info.n_embd },
  prompts: nPrompts,
  tokens: { total: totalTokens, min: Math.min(...lengths), max: Math.max(...lengths) },
  hooks: 'default',
  ms: {},
  promptsPerSecond: {},
};

// The modes run interleaved, round by round on the same prompts (the order rotating), so that a
// machine shared with other work slows them alike. One prompt per forward: decodeLayers in a loop, and
// decodeBatch pipelined (batchSize 1, 2 in flight). Where the time goes: the forwards alone with the
// capture decodeLayers asks for (default hooks, last position), one at a time and packed.
const ids = prompts.map((p) => encode(p));
const round = Math.max(...batchSizes);
const b0 = batchSizes[0];
const modes = {
  sequentialDecodeLayers: async (ps) => {
    for (const p of ps) await decodeLayers(p, { model });
  },
  oneAtATime: (ps) => drain(ps, { batchSize: 1 }),
  ...Object.fromEntries(batchSizes.map((b) => [`batched${b}`, (ps) => drain(ps, { batchSize: b, maxBatchTokens: 2048 })])),
  forwardsOneAtATime: async (_, is) => {
    for (const t of is) await model.run(t, { hooks: 'default', logits: false });
  },
  [`forwardsPacked${b0}`]: async (_, is) => {
    for (let i = 0; i < is.length; i += b0) await model.runBatch(is.slice(i, i + b0), { hooks: 'default', logits: false });
  },
};
const names = Object.keys(modes);
for (const n of names) result.ms[n] = 0;
for (let r = 0, start = 0; start < nPrompts; r++, start += round) {
  const ps = prompts.slice(start, start + round),
    is = ids.slice(start, start + round);
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + r) % names.length];
    result.ms[name] += await timed(() => modes[name](ps, is));
  }
  console.error(`round ${r + 1}/${Math.ceil(nPrompts / round)}: ${JSON.stringify(Object.fromEntries(names.map((n) => [n, Math.round(result.ms[n])])))}`);
}

for (const [k, ms] of Object.entries(result.ms)) if (!k.startsWith('forwards') && !k.startsWith('rest')) result.promptsPerSecond[k] = (1000 * nPrompts) / ms;
const best = Math.max(...batchSizes.map((b) => result.promptsPerSecond[`batched${b}`]));
result.ratio = {
  bestBatchedOverOneAtATime: best / result.promptsPerSecond.oneAtATime,
  forwardsOneAtATimeOverPacked: result.ms.forwardsOneAtATime / result.ms[`forwardsPacked${b0}`],
};
// What is not the forward (the lens, building results, tokenizing), by difference.
result.ms.restOneAtATime = result.ms.oneAtATime - result.ms.forwardsOneAtATime;
result.ms[`restBatched${b0}`] = result.ms[`batched${b0}`] - result.ms[`forwardsPacked${b0}`];
// The blocks' matmuls (attention's QKV and output projections, the MLP's two): the arithmetic a
// forward cannot avoid, packed or not, so GFLOP/s against the CPU's FMA peak says how much room
// packing can have (docs/benchmarks.md works it through).
const { n_layer: L, n_embd: d, n_ff: ff } = model.info;
const forwardGflop = (2 * totalTokens * L * (4 * d * d + 2 * d * ff)) / 1e9;
result.arithmetic = {
  forwardMatmulGflop: forwardGflop,
  forwardGflopPerSecondOneAtATime: forwardGflop / (result.ms.forwardsOneAtATime / 1000),
  [`forwardGflopPerSecondPacked${b0}`]: forwardGflop / (result.ms[`forwardsPacked${b0}`] / 1000),
};
model.dispose();
await releaseModels();

const f = (x) => x.toFixed(1);
console.log(JSON.stringify(result, null, 2));
console.log(`
layerlens batch bench — ${result.device}, ${result.threads} threads, ${args.preset} ${args.dtype} (random weights)
${nPrompts} prompts of ${result.tokens.min}..${result.tokens.max} tokens (${totalTokens} in all), default hooks, last position
  decodeLayers one after another      ${f(result.ms.sequentialDecodeLayers)} ms  ${f(result.promptsPerSecond.sequentialDecodeLayers)} prompts/s
  decodeBatch, one prompt per forward ${f(result.ms.oneAtATime)} ms  ${f(result.promptsPerSecond.oneAtATime)} prompts/s
${batchSizes.map((b) => `  decodeBatch, ${String(b).padStart(3)} per forward     ${f(result.ms[`batched${b}`])} ms  ${f(result.promptsPerSecond[`batched${b}`])} prompts/s`).join('\n')}
  ratio (best batched / one at a time) x${result.ratio.bestBatchedOverOneAtATime.toFixed(2)}
  forwards alone: one at a time ${f(result.ms.forwardsOneAtATime)} ms, packed by ${b0} ${f(result.ms[`forwardsPacked${b0}`])} ms (x${result.ratio.forwardsOneAtATimeOverPacked.toFixed(2)})
  the rest (lens, results) by difference: one at a time ${f(result.ms.restOneAtATime)} ms, packed by ${b0} ${f(result.ms[`restBatched${b0}`])} ms
  the blocks' matmuls: ${f(forwardGflop)} GFLOP in all, at ${f(result.arithmetic.forwardGflopPerSecondOneAtATime)} GFLOP/s one at a time, ${f(result.arithmetic[`forwardGflopPerSecondPacked${b0}`])} GFLOP/s packed`);
writeJsonOut(args.out, result);
