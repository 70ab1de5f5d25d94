#!/usr/bin/env node
// The cost of computing through ggml's RPC backend: the same calls on the same model, run locally and
// through one `layerlens rpc-server` on 127.0.0.1 (a child process of the built CLI, dist/cli/main.js),
// median ms per call and the ratio. On one machine both sides share its cores, so the ratio is the
// protocol's overhead (graph serialisation, one TCP round trip per transfer, the copies), not a network's.
//
//   node scripts/bench-rpc.mjs [--model DIR|FILE ...] [--runs N] [--threads N] [--tokens N]
//
// Default models: the GPT-2-medium-shaped checkpoint and the Llama-3.2-1B-shaped q8_0 GGUF of
// .cache/bench (written by scripts/bench.mjs and scripts/bench-llama.mjs), those that exist.
// Calls: the forward without hooks (logits only), with every resid_post at the last position, and with
// every resid_post at every position (the llama.cpp engine reads each tapped row with its own round trip).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { benchArgs, loadDist, median, root, warmTimes } from './bench-common.mjs';

const args = benchArgs('usage: node scripts/bench-rpc.mjs [--model DIR|FILE ...] [--runs N] [--threads N] [--tokens N]', {
  model: { type: 'string', multiple: true },
  runs: { type: 'string', default: '5' },
  threads: { type: 'string', default: '2' },
  tokens: { type: 'string', default: '26' },
});
const runs = Number(args.runs);
const threads = Number(args.threads);
const nTokens = Number(args.tokens);
const cli = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(cli)) throw new Error('dist/cli/main.js is missing: npm run build:ts');
const models = args.model ?? [join(root, '.cache/bench/medium-f32'), join(root, '.cache/bench/llama-1b-shape-16l-q8_0.gguf')].filter(existsSync);
if (models.length === 0) throw new Error('no model: pass --model, or write .cache/bench with scripts/bench.mjs / bench-llama.mjs');

const { loadModel } = await loadDist();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer() {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'rpc-server', '--port', String(port), '--threads', String(threads)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('rpc-server listening on')) resolve();
    });
    child.once('exit', () => reject(new Error(`rpc-server exited: ${out}`)));
  });
  return { device: `rpc://127.0.0.1:${port}`, child };
}

const residPosts = (m) => Array.from({ length: m.info.n_layer }, (_, l) => `blocks.${l}.resid_post`);
const time = async (f) => median(await warmTimes(f, runs));

const server = await startServer();
const rows = [];
try {
  for (const path of models) {
    let ids = [];
    const calls = {
      'forward (logits only)': (m) => m.run(ids, {}),
      'every resid_post, last position': (m) => m.run(ids, { hooks: residPosts(m) }),
      'every resid_post, every position': (m) => m.run(ids, { hooks: residPosts(m), positions: 'all' }),
    };
    const result = {};
    for (const where of ['local', 'rpc']) {
      const t0 = performance.now();
      const m = await loadModel(path, { device: where === 'local' ? 'cpu' : server.device, threads });
      const load = performance.now() - t0;
      ids = Array.from({ length: nTokens }, (_, i) => (i * 7919 + 13) % Math.min(1000, m.info.n_vocab));
      result[where] = { load, engine: m.info.engine };
      for (const [name, call] of Object.entries(calls)) result[where][name] = await time(() => call(m));
      m.dispose();
    }
    const name = path.split('/').pop();
    console.log(`\n${name} (${result.local.engine} engine), ${nTokens} tokens, ${threads} threads, median of ${runs}`);
    console.log(`  ${'call'.padEnd(36)} ${'local ms'.padStart(10)} ${'rpc ms'.padStart(10)} ${'ratio'.padStart(7)} ${'extra ms'.padStart(9)}`);
    for (const key of ['load', ...Object.keys(calls)]) {
      const l = result.local[key];
      const r = result.rpc[key];
      console.log(
        `  ${key.padEnd(36)} ${l.toFixed(1).padStart(10)} ${r.toFixed(1).padStart(10)} ${(r / l).toFixed(2).padStart(7)} ${(r - l).toFixed(1).padStart(9)}`,
      );
      rows.push({ model: name, call: key, localMs: l, rpcMs: r });
    }
  }
} finally {
  server.child.kill('SIGKILL');
}
