#!/usr/bin/env node
// `npm run demo`: an offline tour of layerlens on a tiny synthetic checkpoint.
//
// 1. writes a deterministic, RANDOMLY initialised GPT-2-shaped checkpoint (2 layers, 64 wide, GPT-2's
//    vocabulary) into .cache/demo-tiny/ (gitignored; a rerun reuses it);
// 2. runs decodeLayers() on the notebook's prompt and prints the logit-lens table;
// 3. greedily generates 5 tokens with generate();
// 4. releases the cached model so the process exits.
//
// The weights are random: the tokens printed are meaningless. The demo only shows that the whole
// pipeline (tokenizer -> ggml forward with hook capture -> lens -> table) runs on this machine.
// The demo itself downloads nothing; for real GPT-2 see README.md, "Real use on gpt2-medium".

import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCheckpoint } from './make-checkpoint.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, '.cache', 'demo-tiny');
const PROMPT = 'Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Poland?\nA:';

const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const loud = (s) => (color ? `\x1b[1;41;97m${s}\x1b[0m` : s);
const bold = (s) => (color ? `\x1b[1m${s}\x1b[0m` : s);

let api;
try {
  api = await import('../dist/index.js');
} catch (err) {
  console.error(`layerlens demo: cannot load dist/index.js (${err.message}).
Build first: \`npm install\` (compiles the addon and the TypeScript), or \`npx tsc -p tsconfig.build.json\`.`);
  process.exit(1);
}
const { decodeLayers, generate, formatTable, releaseModels } = api;

try {
  const ck = makeCheckpoint(dir, { preset: 'tiny', seed: 0 });
  const o = ck.options;
  console.log(
    `synthetic checkpoint: ${relative(process.cwd(), ck.dir) || '.'} ` +
      `(${o.layers} layers, n_embd ${o.embd}, ${o.heads} heads, vocab ${o.vocab}, ${o.dtype}, seed ${o.seed}; ` +
      `${ck.skipped ? 'reused' : `written in ${ck.seconds.toFixed(1)} s`})\n`,
  );

  console.log(loud('*** RANDOM SYNTHETIC WEIGHTS, NOT GPT-2: the tokens below are meaningless; this only shows that the pipeline works ***') + '\n');

  console.log(bold('decodeLayers(prompt, { hooks: "default" })') + `  prompt = ${JSON.stringify(PROMPT)}\n`);
  const t0 = performance.now();
  const result = await decodeLayers(PROMPT, { model: dir, hooks: 'default' });
  const ms = performance.now() - t0;
  process.stdout.write(formatTable(result, { color }));
  console.log(`\n(${result.hooks.length} hook rows, ${ms.toFixed(0)} ms including the model load)\n`);

  console.log(bold('generate(prompt, { maxNewTokens: 5 })'));
  const gen = await generate(PROMPT, { model: dir, maxNewTokens: 5 });
  console.log(`  new tokens: ${gen.tokens.map((t) => `${t.id} ${JSON.stringify(t.token)}`).join(', ')}`);
  console.log(`  text:       ${JSON.stringify(gen.text)}   (random weights: meaningless)\n`);

  console.log(`${bold('On real gpt2-medium')} (the notebook's model, where " Warsaw" becomes top-1 around block 19):
  1. npx layerlens pull gpt2-medium   (downloads into the Hugging Face cache, shared with Python;
     or huggingface-cli download gpt2-medium config.json model.safetensors, or copy a checkpoint directory)
  2. printf 'Q: What is the capital of France?\\nA: Paris\\nQ: What is the capital of Poland?\\nA:' \\
       | npx layerlens --model gpt2-medium -        (a hub id found in the HF cache, or a directory path)
     or from code: await decodeLayers(prompt, { model: 'gpt2-medium' })  // or '/path/to/gpt2-medium'
     (with no model given, decodeLayers uses gpt2-medium from the Hugging Face cache, downloading it if missing)
  See README.md, "Real use on gpt2-medium".`);
} catch (err) {
  console.error(`layerlens demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await releaseModels();
}
