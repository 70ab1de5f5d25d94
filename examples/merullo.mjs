#!/usr/bin/env node
// Merullo, Eickhoff & Pavlick, "Language Models Implement Simple Word2Vec-style Vector Arithmetic"
// (NAACL 2024), on gpt2-medium with layerlens interventions. Two experiments, both at the LAST token:
//
// (a) Removal. On the notebook's prompt ("Q: What is the capital of France?\nA: Paris\nQ: What is the
//     capital of Poland?\nA:"), the lens of blocks.19.resid_post has " Warsaw" on top, and blocks 15..18
//     have " Poland": the paper reads block 19's MLP output (its "o-vector") as the additive update that
//     applies get_capital(Poland). We subtract it again: an 'add' intervention of −mlp_out on
//     blocks.19.resid_post (so that row becomes blocks.19.resid_mid), and blocks 20..23 run on the edited
//     residual. The script prints the lens top-k and the ranks of " Poland" and " Warsaw" per layer from
//     19 on, clean vs edited; on gpt2-medium the edited rows are expected to fall back toward " Poland".
//
// (b) Transplant. The same o-vector (block 19's mlp_out at the notebook prompt's last token) is ADDED to
//     the residual stream of another context, one injection block at a time (blocks.j.resid_post at its
//     last token, j = 19..23), and the script prints the reciprocal rank of " Warsaw" under the lens
//     right after the injection and at the model's output, next to the un-injected baseline. The default
//     context is the paper-like zero-shot setting: the same question without the France demonstration,
//     "Q: What is the capital of Poland?\nA:" (the paper adds o-vectors taken from in-context examples to
//     zero-shot prompts to steer them toward the answer). Other contexts: --context (e.g. "Q: What is the
//     capital of Germany?\nA:" with --track " Warsaw" asks whether the vector carries Warsaw itself, with
//     --track " Berlin" whether it acts as a country-independent get_capital).
//
// Numbers are only meaningful on real gpt2-medium weights. On any other model (the tiny synthetic test
// checkpoint: --model PATH --layer 1) the script still runs the same steps, and says loudly that its
// numbers are not GPT-2's.
//
// Usage: node examples/merullo.mjs [--model NAME|PATH] [--layer L] [--top-k K] [--context TEXT]
//                                  [--track TOKEN] [--argument TOKEN] [--device D] [--threads N] [--quiet]
// Needs the built package (dist/): `npm install`, or `npx tsc -p tsconfig.build.json` in a clone.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const NOTEBOOK_PROMPT = 'Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Poland?\nA:';
const ZERO_SHOT = 'Q: What is the capital of Poland?\nA:';
const HELP = `Usage: node examples/merullo.mjs [options]

Merullo et al.'s FFN o-vector experiments at the last token of the notebook prompt:
 (a) subtract blocks.L.mlp_out from blocks.L.resid_post and show the lens from block L on (clean vs edited);
 (b) add that mlp_out vector to blocks.j.resid_post (j = L..last) of another context and show the
     reciprocal rank of the tracked token.

Options:
  --model NAME|PATH   checkpoint directory, .safetensors/.gguf file or hub name (default gpt2-medium)
  --layer L           the block whose MLP output is the o-vector (default 19, gpt2-medium's)
  --top-k K           tokens shown per lens row (default 5)
  --context TEXT      the context of (b) (default ${JSON.stringify(ZERO_SHOT)})
  --track TOKEN       the token whose reciprocal rank (b) prints (default " Warsaw")
  --argument TOKEN    the argument token (a) also tracks (default " Poland")
  --device D          auto, cpu, cuda or metal (default auto)
  --threads N         CPU threads (default: all cores)
  --quiet             no download progress bar
  -h, --help          this help
`;

const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const loud = (s) => (color ? `\x1b[1;41;97m${s}\x1b[0m` : s);
const bold = (s) => (color ? `\x1b[1m${s}\x1b[0m` : s);

function usage(message) {
  process.stderr.write(`merullo: ${message}\n(see --help)\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      model: { type: 'string', default: 'gpt2-medium' },
      layer: { type: 'string', default: '19' },
      'top-k': { type: 'string', default: '5' },
      context: { type: 'string', default: ZERO_SHOT },
      track: { type: 'string', default: ' Warsaw' },
      argument: { type: 'string', default: ' Poland' },
      device: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  usage(err.message);
}
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const intArg = (name) => {
  const v = Number(args[name]);
  if (!/^-?\d+$/.test(args[name]) || !Number.isSafeInteger(v)) usage(`--${name} must be an integer, got ${JSON.stringify(args[name])}`);
  return v;
};
const layer = intArg('layer');
const topK = intArg('top-k');

let api;
try {
  api = await import('../dist/index.js');
} catch (err) {
  process.stderr.write(
    `merullo: cannot load ../dist/index.js (${err.message}).\nBuild first: \`npm install\`, or \`npx tsc -p tsconfig.build.json\` in a clone.\n`,
  );
  process.exit(1);
}
const { loadModel, decodeLayers, resolveTarget } = api;

/** Is this checkpoint one of layerlens's synthetic ones (random weights)? config.json says so. */
function isSynthetic(model) {
  const config = join(dirname(model.weightsPath), 'config.json');
  if (!existsSync(config)) return false;
  try {
    return JSON.parse(readFileSync(config, 'utf8')).layerlens_synthetic === true;
  } catch {
    return false;
  }
}

const pct = (p) => (p >= 0.0995 ? `${(100 * p).toFixed(1)}%` : p >= 1e-4 ? `${(100 * p).toFixed(2)}%` : `${(100 * p).toExponential(1)}%`);
const cell = (t) => `${JSON.stringify(t.token)} ${pct(t.prob)}`;
const rankText = (t) => `#${t.rank} (${pct(t.prob)})`;
const rr = (t) => (t.reciprocalRank >= 1e-3 ? t.reciprocalRank.toFixed(4) : t.reciprocalRank.toExponential(2));

/** Rows of cells as a left-aligned table with two spaces between columns. */
function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => '  ' + r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(widths[c]))).join('  ')).join('\n');
}

let model;
try {
  model = await loadModel(args.model, { device: args.device, quiet: args.quiet, ...(args.threads ? { threads: intArg('threads') } : {}) });
} catch (err) {
  process.stderr.write(`merullo: ${err.message}\n`);
  process.exit(1);
}

let status = 0;
try {
  const { n_layer, n_embd, n_head, name } = model.info;
  if (layer < 0 || layer >= n_layer)
    usage(`--layer ${layer} is not a block of this model (it has blocks 0..${n_layer - 1}; the paper's layer 19 is gpt2-medium's)`);
  if (!Number.isInteger(topK) || topK < 1 || topK > 100) usage(`--top-k must be in 1..100, got ${topK}`);
  const track = resolveTarget(args.track, model.info.n_vocab);
  const argument = resolveTarget(args.argument, model.info.n_vocab);

  const synthetic = isSynthetic(model);
  const medium = n_layer === 24 && n_embd === 1024 && n_head === 16 && /gpt2-medium/i.test(name);
  const banner = synthetic
    ? '*** SYNTHETIC CHECKPOINT WITH RANDOM WEIGHTS, NOT GPT-2: every number below is meaningless; this only shows the steps run ***'
    : medium
      ? ''
      : `*** ${name} (${n_layer} blocks, ${n_embd} wide) IS NOT gpt2-medium: the paper's layer and the Poland/Warsaw pattern are gpt2-medium's; these numbers are this model's own ***`;
  if (banner) console.log(loud(banner) + '\n');
  console.log(
    `model ${name}: ${n_layer} blocks, n_embd ${n_embd}, ${n_head} heads, ${model.info.dtype}, ${model.runtime.device}; o-vector = blocks.${layer}.mlp_out at the last token\n`,
  );

  // The o-vector: block L's MLP output at the last token of the notebook prompt.
  const { activations } = await model.run(api.encode(NOTEBOOK_PROMPT), { hooks: [`blocks.${layer}.mlp_out`], positions: 'last' });
  const oVector = activations[0].data;

  // ---------------------------------------------------------------------------------------------
  // (a) Removal: resid_post_L − mlp_out_L at the last token, lens from block L on.
  console.log(bold(`(a) Removing blocks.${layer}.mlp_out at the last token of the notebook prompt`));
  console.log(`    intervention: { hook: 'blocks.${layer}.resid_post', positions: [-1], op: 'add', vector: −mlp_out }\n`);
  const hooks = Array.from({ length: n_layer - layer }, (_, i) => `blocks.${layer + i}.resid_post`);
  const removal = [{ hook: `blocks.${layer}.resid_post`, positions: [-1], op: 'add', vector: oVector.map((x) => -x) }];
  const lens = (prompt, target, interventions) => decodeLayers(prompt, { model, hooks, topK, target: target.id, ...(interventions ? { interventions } : {}) });
  const [cleanA, editedA, cleanW, editedW] = await Promise.all([
    lens(NOTEBOOK_PROMPT, argument),
    lens(NOTEBOOK_PROMPT, argument, removal),
    lens(NOTEBOOK_PROMPT, track),
    lens(NOTEBOOK_PROMPT, track, removal),
  ]);
  const rowsA = [['hook', '', `${JSON.stringify(argument.token)} rank`, `${JSON.stringify(track.token)} rank`, `lens top-${topK}`]];
  for (const [i, row] of cleanA.hooks.entries()) {
    for (const [label, a, w] of [
      ['clean', row, cleanW.hooks[i]],
      ['edited', editedA.hooks[i], editedW.hooks[i]],
    ]) {
      rowsA.push([label === 'clean' ? row.name : '', label, rankText(a.target), rankText(w.target), a.top.map(cell).join('  ')]);
    }
  }
  console.log(table(rowsA));
  console.log(
    `\n  prediction: clean ${JSON.stringify(cleanA.prediction.token)} ${pct(cleanA.prediction.prob)}, ` +
      `edited ${JSON.stringify(editedA.prediction.token)} ${pct(editedA.prediction.prob)}\n`,
  );

  // ---------------------------------------------------------------------------------------------
  // (b) Transplant: add the o-vector to blocks.j.resid_post of another context, j = L..last.
  console.log(bold(`(b) Adding that o-vector to another context, one injection block at a time`));
  console.log(`    context: ${JSON.stringify(args.context)}; tracked token: ${JSON.stringify(track.token)} (reciprocal rank 1 = top-1)`);
  console.log(`    intervention: { hook: 'blocks.j.resid_post', positions: [-1], op: 'add', vector: o }\n`);
  const all = Array.from({ length: n_layer }, (_, l) => `blocks.${l}.resid_post`);
  const runB = (interventions) => decodeLayers(args.context, { model, hooks: all, topK: 1, target: track.id, ...(interventions ? { interventions } : {}) });
  const base = await runB();
  const outRow = (r) => r.hooks[n_layer - 1];
  const rowsB = [['injected at', 'reciprocal rank (lens of that block)', 'reciprocal rank (output)', 'output top-1']];
  const bo = outRow(base);
  rowsB.push(['(nothing)', '', `${rr(bo.target)}  #${bo.target.rank}`, cell(bo.top[0])]);
  for (let j = layer; j < n_layer; j++) {
    const r = await runB([{ hook: `blocks.${j}.resid_post`, positions: [-1], op: 'add', vector: oVector }]);
    const at = r.hooks[j];
    const out = outRow(r);
    rowsB.push([`blocks.${j}.resid_post`, `${rr(at.target)}  #${at.target.rank}`, `${rr(out.target)}  #${out.target.rank}`, cell(out.top[0])]);
  }
  console.log(table(rowsB));
  if (banner) console.log('\n' + loud(banner));
} catch (err) {
  process.stderr.write(`merullo: ${err.message}\n`);
  status = 1;
} finally {
  model.dispose();
}
process.exit(status);
