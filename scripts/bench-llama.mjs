#!/usr/bin/env node
// `npm run bench` (second part): the llama.cpp engine on a Llama-3.2-1B-shaped synthetic GGUF (16 blocks,
// d 2048, 32 heads / 8 KV heads, FFN 8192, a tied 128,256-token vocabulary; random weights: the speed is
// the shape's, the tokens mean nothing), 26 tokens. Same run: the plain llama_decode (no hook asked),
// the capture of every resid_post, the lens of those 17 rows over the 128k vocabulary, and decodeLayers.
//
//   node scripts/bench-llama.mjs [--type q8_0|f16|both] [--runs N] [--threads N] [--layers N] [--out FILE.json]
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, loadDist, median, NOTEBOOK_PROMPT, root, warmTimes, writeJsonOut } from './bench-common.mjs';

const args = benchArgs('usage: node scripts/bench-llama.mjs [--type q8_0|f16|both] [--runs N] [--threads N] [--layers N] [--out FILE.json]', {
  type: { type: 'string', default: 'both' },
  runs: { type: 'string', default: '5' },
  threads: { type: 'string' },
  layers: { type: 'string', default: '16' },
  out: { type: 'string' },
});
const runs = Number(args.runs);
const SHAPE = { nLayer: Number(args.layers), d: 2048, nHead: 32, nHeadKv: 8, ff: 8192, vocab: 128256, ctx: 131072 };

// ---- a streaming GGUF v3 writer (random weights never sit in memory as a whole) ----
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const str = (s) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
const kv = {
  u32: (k, v) => Buffer.concat([str(k), u32(4), u32(v)]),
  f32: (k, v) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return Buffer.concat([str(k), u32(6), b]);
  },
  bool: (k, v) => Buffer.concat([str(k), u32(7), Buffer.from([v ? 1 : 0])]),
  str: (k, v) => Buffer.concat([str(k), u32(8), str(v)]),
  strs: (k, vs) => Buffer.concat([str(k), u32(9), u32(8), u64(vs.length), ...vs.map(str)]),
  i32s: (k, vs) => {
    const b = Buffer.alloc(4 * vs.length);
    vs.forEach((v, i) => b.writeInt32LE(v, 4 * i));
    return Buffer.concat([str(k), u32(9), u32(5), u64(vs.length), b]);
  },
};
const TYPE = { f32: 0, f16: 1, q8_0: 8 };
const bytesOf = (type, n) => (type === 'f32' ? 4 * n : type === 'f16' ? 2 * n : (n / 32) * 34);

// GPT-2's byte-to-unicode table: llama.cpp's byte-level BPE vocabularies spell bytes this way.
function byteTokens() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (bs.includes(b)) continue;
    bs.push(b);
    cs.push(256 + n++);
  }
  const map = new Array(256);
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
  return map;
}

function writeModel(file, type) {
  const { nLayer, d, nHead, nHeadKv, ff, vocab } = SHAPE;
  const hd = d / nHead;
  const kvd = nHeadKv * hd;
  const bytes = byteTokens();
  const tokens = [...bytes, 'Ġt', 'Ġa', 'he'];
  for (let i = tokens.length; tokens.length < vocab - 2; i++) tokens.push(`Ġw${i.toString(36)}`);
  tokens.push('<|begin_of_text|>', '<|end_of_text|>');
  const types = tokens.map((_, i) => (i >= vocab - 2 ? 3 : 1));
  const tensors = [
    ['token_embd.weight', [d, vocab], type],
    ['output_norm.weight', [d], 'f32'],
  ];
  for (let l = 0; l < nLayer; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      [p + 'attn_norm.weight', [d], 'f32'],
      [p + 'attn_q.weight', [d, d], type],
      [p + 'attn_k.weight', [d, kvd], type],
      [p + 'attn_v.weight', [d, kvd], type],
      [p + 'attn_output.weight', [d, d], type],
      [p + 'ffn_norm.weight', [d], 'f32'],
      [p + 'ffn_gate.weight', [d, ff], type],
      [p + 'ffn_up.weight', [d, ff], type],
      [p + 'ffn_down.weight', [ff, d], type],
    );
  }
  const meta = [
    kv.str('general.architecture', 'llama'),
    kv.str('general.name', 'layerlens-bench-llama-1b-shape (random weights)'),
    kv.u32('general.alignment', 32),
    kv.u32('general.file_type', type === 'f16' ? 1 : 7),
    kv.u32('llama.context_length', SHAPE.ctx),
    kv.u32('llama.embedding_length', d),
    kv.u32('llama.block_count', nLayer),
    kv.u32('llama.feed_forward_length', ff),
    kv.u32('llama.attention.head_count', nHead),
    kv.u32('llama.attention.head_count_kv', nHeadKv),
    kv.u32('llama.rope.dimension_count', hd),
    kv.f32('llama.rope.freq_base', 500000),
    kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    kv.str('tokenizer.ggml.model', 'gpt2'),
    kv.str('tokenizer.ggml.pre', 'llama-bpe'),
    kv.strs('tokenizer.ggml.tokens', tokens),
    kv.i32s('tokenizer.ggml.token_type', types),
    kv.strs('tokenizer.ggml.merges', ['Ġ t', 'Ġ a', 'h e']),
    kv.u32('tokenizer.ggml.bos_token_id', vocab - 2),
    kv.u32('tokenizer.ggml.eos_token_id', vocab - 1),
    kv.bool('tokenizer.ggml.add_bos_token', true),
  ];
  let offset = 0;
  const infos = tensors.map(([name, ne, t]) => {
    const b = Buffer.concat([str(name), u32(ne.length), ...ne.map(u64), u32(TYPE[t]), u64(offset)]);
    offset +=
      Math.ceil(
        bytesOf(
          t,
          ne.reduce((a, x) => a * x, 1),
        ) / 32,
      ) * 32;
    return b;
  });
  const head = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(meta.length), ...meta, ...infos]);
  const fd = openSync(file + '.partial', 'w');
  writeSync(fd, head);
  writeSync(fd, Buffer.alloc((32 - (head.length % 32)) % 32));
  const chunk = Buffer.alloc(1 << 22);
  for (const [, ne, t] of tensors) {
    const n = ne.reduce((a, x) => a * x, 1);
    let left = bytesOf(t, n);
    const pad = (32 - (left % 32)) % 32;
    if (t === 'f32') {
      const ones = Buffer.alloc(left);
      for (let i = 0; i < n; i++) ones.writeFloatLE(1, 4 * i);
      writeSync(fd, ones);
      left = 0;
    }
    while (left > 0) {
      const m = Math.min(left, chunk.length - (chunk.length % 68));
      const b = chunk.subarray(0, m);
      randomFillSync(b);
      if (t === 'f16') {
        // small random halves: ±(2^-7 … 2^-6)
        for (let i = 0; i < m; i += 2) b.writeUInt16LE((b.readUInt16LE(i) & 0x83ff) | 0x2000, i);
      } else {
        // q8_0 blocks: an f16 scale of 2^-13 (0x0800) then 32 random int8
        for (let i = 0; i < m; i += 34) b.writeUInt16LE(0x0800, i);
      }
      writeSync(fd, b);
      left -= m;
    }
    writeSync(fd, Buffer.alloc(pad));
  }
  closeSync(fd);
  renameSync(file + '.partial', file);
}

const { decodeLayers, loadModel, releaseModels } = await loadDist();
const time = async (fn) => median(await warmTimes(fn, runs));

const results = [];
for (const type of args.type === 'both' ? ['q8_0', 'f16'] : [args.type]) {
  const dir = join(root, '.cache', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `llama-1b-shape-${SHAPE.nLayer}l-${type}.gguf`);
  if (!existsSync(file)) {
    const t = performance.now();
    writeModel(file, type);
    console.error(`generated ${file} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const model = await loadModel(file, { threads: args.threads ? Number(args.threads) : undefined, logLevel: 'quiet' });
  // The synthetic vocabulary is mostly bytes: the notebook's prompt is ~80 tokens here. Take its first 26
  // (BOS included) and the text they spell, so decodeLayers lenses the same 26 tokens as the other rows.
  const ids = model.tokenizer.encode(NOTEBOOK_PROMPT).slice(0, 26);
  const text = model.tokenizer.decode(ids.slice(1));
  if (model.tokenizer.encode(text).length !== ids.length) throw new Error('the 26-token prompt does not re-tokenize to 26 tokens');
  const L = model.info.n_layer;
  const residPost = Array.from({ length: L }, (_, l) => `blocks.${l}.resid_post`);
  const plain = await time(() => model.run(ids));
  const capture = await time(() => model.run(ids, { hooks: ['embed', ...residPost] }));
  const { activations } = await model.run(ids, { hooks: ['embed', ...residPost] });
  const d = model.info.n_embd;
  const rows = new Float32Array(activations.length * d);
  activations.forEach((a, i) => rows.set(a.data, i * d));
  const lens = await time(() => model.lensNative(rows, activations.length, 5));
  const decode = await time(() => decodeLayers(text, { model, hooks: ['embed', 'resid_post'] }));
  const r = {
    type,
    shape: SHAPE,
    threads: model.runtime.threads,
    tokens: ids.length,
    fileBytes: model.runtime.weightBytes,
    ms: { plainDecode: plain, captureResidPost: capture, lensOf17Rows: lens, decodeLayers: decode },
    ratios: { captureOverPlain: capture / plain, lensOverDecode: lens / plain, decodeLayersOverPlain: decode / plain },
  };
  results.push(r);
  model.dispose();
  console.log(`
llama.cpp engine — Llama-3.2-1B shape ${type} (random weights), ${r.threads} threads, ${r.tokens} tokens, median of ${runs}
  plain llama_decode                 ${plain.toFixed(1)} ms
  + capture of embed + ${L} resid_post ${capture.toFixed(1)} ms   (x${r.ratios.captureOverPlain.toFixed(3)} of plain; goal ≤ 1.2)
  lens of those ${activations.length} rows (128k vocab) ${lens.toFixed(1)} ms   (x${r.ratios.lensOverDecode.toFixed(3)} of the decode; goal ≤ 0.5)
  decodeLayers (embed + resid_post)  ${decode.toFixed(1)} ms   (x${r.ratios.decodeLayersOverPlain.toFixed(3)} of plain)`);
}
await releaseModels();
console.log(JSON.stringify(results, null, 2));
writeJsonOut(args.out, results);
