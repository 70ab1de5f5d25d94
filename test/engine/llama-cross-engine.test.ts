// Cross-engine check: a GPT-2 GGUF run by libllama (the llama.cpp engine) agrees with layerlens' own GPT-2
// engine at every hook both offer, in prediction, in the lens and in greedy generation. The two engines
// share the weights (the GGUF is converted from the same checkpoint) and ggml, but not the graph: llama.cpp
// builds its own GPT-2 graph (src/models/gpt2.cpp) and computes GELU with ggml's fp16 lookup table where
// the GPT-2 engine computes it exactly, which bounds the agreement (see the tolerances below).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, generate, loadModel, type Model } from '../../lib/index.js';
import { tinyGpt2Gguf, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { relativeL2Error } from '../reference/gpt2-f64.js';

let work: string;
let gpt2: Model;
let llama: Model;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'layerlens-cross-'));
  const file = await tinyGpt2Gguf(work);
  gpt2 = await loadModel(file, { engine: 'gpt2', device: 'cpu' });
  llama = await loadModel(file, { engine: 'llama.cpp' });
}, 120_000);

afterAll(() => {
  gpt2?.dispose();
  llama?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a GPT-2 GGUF on the llama.cpp engine', () => {
  it('reports the llama.cpp engine and the gpt2 architecture', () => {
    expect([llama.info.engine, llama.info.architecture, gpt2.info.engine]).toEqual(['llama.cpp', 'gpt2', 'gpt2']);
    expect(llama.info.n_layer).toBe(gpt2.info.n_layer);
    expect(llama.info.n_vocab).toBe(gpt2.info.n_vocab);
  });

  it('tokenizes as GPT-2 does', () => {
    expect(llama.tokenizer.encode(NOTEBOOK_PROMPT)).toEqual(NOTEBOOK_IDS);
    expect(NOTEBOOK_IDS.map((id) => llama.tokenizer.label(id))).toEqual(NOTEBOOK_IDS.map((id) => gpt2.tokenizer.label(id)));
  });

  it('agrees with the GPT-2 engine at every hook both offer, at every position', async () => {
    const kinds = llama.info.hookKinds!.filter((k) => k !== 'attn_head_out');
    const [a, b] = await Promise.all([gpt2, llama].map((m) => m.run(NOTEBOOK_IDS, { hooks: [...kinds], positions: 'all' })));
    expect(b.activations.map((x) => x.name)).toEqual(a.activations.map((x) => x.name));
    const worst: Record<string, number> = {};
    a.activations.forEach((x, i) => {
      const e = relativeL2Error(b.activations[i].data, x.data);
      worst[x.kind] = Math.max(worst[x.kind] ?? 0, e);
    });
    // The embedding is the same gather (exact); block 0's attention agrees to float rounding; GELU through
    // ggml-cpu's fp16 table (llama.cpp) against the exact GELU (GPT-2 engine) moves mlp_post by ~4e-4 and,
    // through it, everything after block 0 (measured worst: 4e-4 at mlp_out, 2.5e-4 at attn_pattern).
    expect(worst.embed).toBeLessThan(1e-6);
    const block0Pattern = relativeL2Error(
      b.activations.find((x) => x.name === 'blocks.0.attn_pattern')!.data,
      a.activations.find((x) => x.name === 'blocks.0.attn_pattern')!.data,
    );
    expect(block0Pattern).toBeLessThan(1e-5);
    for (const k of ['attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post', 'attn_pattern']) expect(worst[k], k).toBeLessThan(2e-3);
    expect(relativeL2Error(b.logits, a.logits)).toBeLessThan(2e-3);
  });

  it('predicts the same token, and its lens of the last resid_post is its own logits', async () => {
    const run = await llama.run(NOTEBOOK_IDS, { hooks: [`blocks.${llama.info.n_layer - 1}.resid_post`] });
    const lens = await llama.lensNative(run.activations[0].data, 1, 5);
    const top = Array.from(run.logits.keys())
      .sort((x, y) => run.logits[y] - run.logits[x] || x - y)
      .slice(0, 5);
    expect(Array.from(lens.ids)).toEqual(top);
    for (let i = 0; i < 5; i++) expect(lens.logits[i]).toBeCloseTo(run.logits[top[i]], 4);
    const [x, y] = await Promise.all([gpt2, llama].map((m) => decodeLayers(NOTEBOOK_PROMPT, { model: m })));
    expect(y.prediction.id).toBe(x.prediction.id);
  });

  it('generates the same greedy continuation', async () => {
    const [x, y] = await Promise.all([gpt2, llama].map((m) => generate(NOTEBOOK_PROMPT, { model: m, maxNewTokens: 8, stopAtEndOfText: false })));
    expect(y.tokens.map((t) => t.id)).toEqual(x.tokens.map((t) => t.id));
    expect(y.text).toBe(x.text);
  });
});
