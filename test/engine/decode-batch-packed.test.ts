// The packed multi-prompt forward (Model.runBatch) and decodeBatch on top of it, on the tiny synthetic
// GPT-2 (random weights, test/helpers/checkpoints.ts; no real model weights on this machine). Several
// prompts of different lengths share one forward: a wrong position or a mask letting a token see another
// prompt would change their rows. References: run() of each prompt alone (itself checked against the
// float64 forward elsewhere), decodeLayers of each prompt alone (same JSON), and the float64 forward
// of test/reference for the batched rows directly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeBatch, decodeLayers, loadModel, toJSON, type BatchPrompt, type BatchResult, type Model } from '../../lib/index.js';
import { checkpoint, NOTEBOOK_PROMPT, tinyGpt2Gguf } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { forwardReference, relativeL2Error } from '../reference/gpt2-f64.js';

const tiny = useTinyModel({ threads: 2 });

// 3..26 tokens each: every prompt's rows sit at a different offset of the packed batch.
const TEXTS = [NOTEBOOK_PROMPT, 'Hello world', 'The quick brown fox jumps over the lazy', 'a b c d e f g h i j k l m n o p', 'Once upon a time'];
const ROW_HOOKS = ['embed', 'attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post'];

async function collect<P extends BatchPrompt>(it: AsyncIterable<BatchResult<P>>): Promise<BatchResult<P>[]> {
  const out: BatchResult<P>[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const plain = (x: unknown) => JSON.parse(JSON.stringify(x));

// CI runs the engine tests again with LAYERLENS_DEBUG_GPU_GRAPH=1 (the composed attention a GPU gets):
// there the packed rows equal runs alone to float rounding only (see the composed test below).
const composedGraph = () => process.env.LAYERLENS_DEBUG_GPU_GRAPH !== undefined;
/** Every number of a within tol (relative, absolute below 1) of b's; everything else equal. */
function closeJSON(a: unknown, b: unknown, tol: number, path = ''): void {
  if (typeof a === 'number' && typeof b === 'number') {
    expect(Math.abs(a - b), path).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));
  } else if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, path).toBe(b.length);
    a.forEach((x, i) => closeJSON(x, b[i], tol, `${path}[${i}]`));
  } else if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(a).sort(), path).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(b)) closeJSON((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol, `${path}.${k}`);
  } else expect(a, path).toEqual(b);
}
function expectSameJSON(got: unknown, want: unknown, label: string): void {
  if (composedGraph()) closeJSON(plain(got), plain(want), 1e-5, label);
  else expect(plain(got), label).toEqual(plain(want));
}
function expectSameRows(got: Float32Array, want: Float32Array, label: string): void {
  if (composedGraph()) expect(relativeL2Error(got, want), label).toBeLessThan(1e-6);
  else expect(got, label).toEqual(want);
}

describe('Model.runBatch', () => {
  const ids = () => TEXTS.map((t) => tiny.model.tokenizer.encode(t));

  it('gives each prompt exactly the rows and logits of a run of it alone (every position, every row hook)', async () => {
    const model = tiny.model;
    const batch = await model.runBatch(ids(), { hooks: ROW_HOOKS, positions: 'all' });
    expect(batch).toHaveLength(TEXTS.length);
    for (const [i, seq] of ids().entries()) {
      const alone = await model.run(seq, { hooks: ROW_HOOKS, positions: 'all' });
      expect(batch[i].activations.map((a) => a.name)).toEqual(alone.activations.map((a) => a.name));
      for (const [j, a] of alone.activations.entries()) {
        expect(batch[i].activations[j].shape, a.name).toEqual(a.shape);
        expectSameRows(batch[i].activations[j].data, a.data, `${TEXTS[i]}: ${a.name}`);
      }
      // The logits are not bit for bit: the packed run unembeds all prompts' last rows in one matmul,
      // a run alone multiplies one column (ggml takes another kernel for it).
      expect(relativeL2Error(batch[i].logits, alone.logits)).toBeLessThan(1e-6);
      expect(batch[i].logits.length).toBe(model.info.n_vocab);
    }
  });

  it('takes positions per prompt, and captures through graph outputs as through the callback', async () => {
    const viaOutputs = await loadModel(checkpoint('tiny-f32'), { device: testDevice(), capture: 'outputs', threads: 2 });
    try {
      const positions = [[0, -1], 'last', [1], 'all', [-2]] as const;
      for (const model of [tiny.model, viaOutputs]) {
        const batch = await model.runBatch(ids(), { hooks: 'default', positions, logits: false });
        for (const [i, seq] of ids().entries()) {
          const alone = await model.run(seq, { hooks: 'default', positions: positions[i], logits: false });
          expect(batch[i].activations[0].positions).toEqual(alone.activations[0].positions);
          expect(batch[i].activations.length).toBe(alone.activations.length);
          for (const [j, a] of alone.activations.entries())
            expectSameRows(batch[i].activations[j].data, a.data, `${model.runtime.capture}: ${TEXTS[i]}: ${a.name}`);
          expect(batch[i].logits.length).toBe(0);
        }
      }
    } finally {
      viaOutputs.dispose();
    }
  });

  it('matches the float64 reference forward of each prompt at every position', async () => {
    const batch = await tiny.model.runBatch(ids(), { hooks: ['blocks.0.attn_out', 'blocks.1.resid_post'], positions: 'all', logits: false });
    for (const [i, seq] of ids().entries()) {
      const ref = forwardReference(tiny.ref, seq);
      for (const a of batch[i].activations) {
        const width = a.shape[1];
        for (let p = 0; p < seq.length; p++) {
          expect(relativeL2Error(a.data.subarray(p * width, (p + 1) * width), ref.row(a.name, p)), `${TEXTS[i]} ${a.name} @${p}`).toBeLessThan(1e-4);
        }
      }
    }
  });

  it('with the composed attention a GPU gets (a block-diagonal mask), matches runs alone and the reference', async () => {
    const before = process.env.LAYERLENS_DEBUG_GPU_GRAPH;
    process.env.LAYERLENS_DEBUG_GPU_GRAPH = '1';
    try {
      const batch = await tiny.model.runBatch(ids(), { hooks: ['resid_post'], positions: 'all' });
      for (const [i, seq] of ids().entries()) {
        const alone = await tiny.model.run(seq, { hooks: ['resid_post'], positions: 'all' });
        const ref = forwardReference(tiny.ref, seq);
        // Not bit for bit: the masked keys of the other prompts join the mixing matmul's sums as zeros.
        for (const [j, a] of alone.activations.entries()) expect(relativeL2Error(batch[i].activations[j].data, a.data), a.name).toBeLessThan(1e-6);
        expect(relativeL2Error(batch[i].logits, alone.logits)).toBeLessThan(1e-6);
        const last = batch[i].activations.at(-1)!;
        const w = last.shape[1];
        expect(relativeL2Error(last.data.subarray((seq.length - 1) * w), ref.row(last.name, seq.length - 1))).toBeLessThan(1e-4);
      }
    } finally {
      if (before === undefined) delete process.env.LAYERLENS_DEBUG_GPU_GRAPH;
      else process.env.LAYERLENS_DEBUG_GPU_GRAPH = before;
    }
  });

  it('checks its input before the engine sees it', async () => {
    const model = tiny.model;
    await expect(model.runBatch([])).rejects.toThrow(/non-empty array/);
    await expect(model.runBatch([[1, 2], []])).rejects.toThrow(/empty/);
    await expect(
      model.runBatch([
        [1, 2],
        [1, 99999],
      ]),
    ).rejects.toThrow(/outside the vocabulary/);
    await expect(model.runBatch([[1, 2]], { hooks: ['blocks.0.attn_pattern'] })).rejects.toThrow(/attn_pattern .*one at a time/);
    await expect(model.runBatch([[1, 2]], { hooks: ['blocks.1.attn_head_out'] })).rejects.toThrow(/attn_head_out/);
    await expect(
      model.runBatch(
        [
          [1, 2],
          [3, 4],
        ],
        { positions: [[0], [1], [0]] },
      ),
    ).rejects.toThrow(/3 specs for 2 prompts/);
    await expect(
      model.runBatch(
        [
          [1, 2],
          [3, 4],
        ],
        { positions: [[0], [2]] },
      ),
    ).rejects.toThrow(/outside the prompt/);
    // 33 prompts of 63 tokens: 2079 tokens, over the 2048 one packed forward takes.
    await expect(model.runBatch(Array.from({ length: 33 }, () => Array(63).fill(7)))).rejects.toThrow(/2079 tokens in all, more than one batch takes \(2048\)/);
  });
});

describe('decodeBatch with packed forwards (GPT-2 engine)', () => {
  const PROMPTS: BatchPrompt[] = [
    { prompt: NOTEBOOK_PROMPT, id: 'notebook', target: ' Warsaw' },
    { prompt: 'Hello world', id: 'hello' },
    { prompt: 'x', id: 'one-token' },
    { prompt: 'The quick brown fox jumps over the lazy', id: 'fox', target: ' dog' },
    { prompt: 'word '.repeat(200), id: 'too-long' },
    { prompt: 'a b c d e f g h i j k l m n o p', id: 'letters', target: 318 },
    { prompt: 'Once upon a time', id: 'once' },
  ];

  for (const [label, positions] of [
    ['last', 'last'],
    ['several positions', [0, -2, -1]],
  ] as const) {
    it(`equals one-at-a-time decodeLayers, same JSON, in order (${label})`, async () => {
      const model = tiny.model;
      const spy = vi.spyOn(model, 'runBatch');
      try {
        const options = { model, hooks: ROW_HOOKS, topK: 4, metrics: true, target: ' the', vectors: true };
        const single = (p: BatchPrompt) => decodeLayers(p.prompt, { ...options, positions, target: p.target ?? options.target });
        // Small groups (3 prompts, at most 40 tokens) so that several packed forwards run.
        const results = await collect(decodeBatch(PROMPTS, { ...options, positions, batchSize: 3, maxBatchTokens: 40 }));
        expect(results.map((r) => r.index)).toEqual(PROMPTS.map((_, i) => i));
        expect(results.map((r) => r.input.id)).toEqual(PROMPTS.map((p) => p.id));
        for (const [i, r] of results.entries()) {
          const alone = await single(PROMPTS[i]).catch((err: Error) => err);
          if (alone instanceof Error) {
            expect(r.error?.message, PROMPTS[i].id).toBe(alone.message);
            continue;
          }
          expect(r.error, PROMPTS[i].id).toBeUndefined();
          expectSameJSON(toJSON(r.result!, { vectors: true }), toJSON(alone, { vectors: true }), PROMPTS[i].id!);
        }
        expect(results.find((r) => r.input.id === 'too-long')?.error?.message).toMatch(/context holds at most 64/);
        // Packed forwards ran, each within the limits asked for, and took every prompt of 2+ tokens.
        expect(spy.mock.calls.length).toBeGreaterThanOrEqual(2);
        const packed = spy.mock.calls.flatMap((c) => c[0].map((ids) => ids.length));
        for (const c of spy.mock.calls) {
          expect(c[0].length).toBeLessThanOrEqual(3);
          expect(c[0].reduce((n, ids) => n + ids.length, 0)).toBeLessThanOrEqual(40);
        }
        expect(packed.length).toBe(5);
        expect(packed.every((n) => n >= 2)).toBe(true);
      } finally {
        spy.mockRestore();
      }
    });
  }

  it('runs prompts alone where the packed forward does not apply (per-head hooks, interventions), with the same results', async () => {
    const model = tiny.model;
    const spy = vi.spyOn(model, 'runBatch');
    try {
      const texts = TEXTS.slice(0, 3);
      for (const options of [
        { model, hooks: ['blocks.0.attn_pattern', 'resid_post'] },
        { model, interventions: [{ hook: 'blocks.0.resid_post', op: 'scale' as const, scale: 0.5 }] },
      ]) {
        const results = await collect(decodeBatch(texts, { ...options, batchSize: 8 }));
        for (const [i, r] of results.entries()) expect(plain(toJSON(r.result!))).toEqual(plain(toJSON(await decodeLayers(texts[i], options))));
      }
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('batchSize 1 runs every prompt alone; bad batch options are rejected before anything runs', async () => {
    const spy = vi.spyOn(tiny.model, 'runBatch');
    try {
      const results = await collect(decodeBatch(TEXTS, { model: tiny.model, batchSize: 1 }));
      expect(results.every((r) => r.result)).toBe(true);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    await expect(decodeBatch(['a'], { model: tiny.model, batchSize: 0 }).next()).rejects.toThrow(/batchSize/);
    await expect(decodeBatch(['a'], { model: tiny.model, batchSize: 257 }).next()).rejects.toThrow(/batchSize/);
    await expect(decodeBatch(['a'], { model: tiny.model, maxBatchTokens: 4096 }).next()).rejects.toThrow(/maxBatchTokens/);
  });
});

describe('the llama.cpp engine: packed llama_decode (several seq_ids) and decodeBatch', () => {
  let work: string;
  let llama: Model;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'layerlens-batch-llama-'));
    const file = await tinyGpt2Gguf(work);
    llama = await loadModel(file, { engine: 'llama.cpp', threads: 2 });
  }, 120_000);

  afterAll(() => {
    llama?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  // llama.cpp's attention sums over KV cells, where a packed prompt's keys sit at other offsets than in a
  // run alone, and its GELU rounds its input to f16 for a table lookup: measured up to 7.8e-6 relative.
  const TOLERANCE = 1e-4;

  it('runBatch gives each prompt the rows and logits of a run of it alone, to float rounding', async () => {
    const ids = TEXTS.map((t) => llama.tokenizer.encode(t));
    for (const positions of ['all', 'last'] as const) {
      const batch = await llama.runBatch(ids, { hooks: 'default', positions });
      for (const [i, seq] of ids.entries()) {
        const alone = await llama.run(seq, { hooks: 'default', positions });
        expect(batch[i].activations.map((a) => [a.name, a.shape])).toEqual(alone.activations.map((a) => [a.name, a.shape]));
        for (const [j, a] of alone.activations.entries())
          expect(relativeL2Error(batch[i].activations[j].data, a.data), `${positions} ${TEXTS[i]} ${a.name}`).toBeLessThan(TOLERANCE);
        expect(relativeL2Error(batch[i].logits, alone.logits)).toBeLessThan(TOLERANCE);
      }
    }
    // and the GPT-2 engine's rows of the same weights (another graph: llama.cpp's GELU table bounds it)
    const gpt2 = await tiny.model.runBatch(ids, { hooks: ['blocks.0.resid_mid'], positions: 'all', logits: false });
    const viaLlama = await llama.runBatch(ids, { hooks: ['blocks.0.resid_mid'], positions: 'all', logits: false });
    for (const i of ids.keys()) expect(relativeL2Error(viaLlama[i].activations[0].data, gpt2[i].activations[0].data)).toBeLessThan(1e-2);
  });

  it('runBatch checks its input before llama.cpp sees it', async () => {
    await expect(llama.runBatch([[1, 2]], { hooks: ['blocks.0.attn_pattern'] })).rejects.toThrow(/attn_pattern .*one at a time/);
    await expect(llama.runBatch([[1, 2], []])).rejects.toThrow(/empty/);
    // 5 prompts of 63 tokens: 315, over the model's 64-token batch
    await expect(llama.runBatch(Array.from({ length: 5 }, () => Array(63).fill(7)))).rejects.toThrow(/315 tokens in all, more than one batch takes \(64/);
  });

  it('decodeBatch runs prompts alone by default there: the same JSON as decodeLayers', async () => {
    const spy = vi.spyOn(llama, 'runBatch');
    try {
      const options = { model: llama, hooks: 'default' as const, topK: 4, metrics: true, target: ' the', positions: [0, -1] };
      const results = await collect(decodeBatch(TEXTS, options));
      expect(results.map((r) => r.input.prompt)).toEqual(TEXTS);
      for (const [i, r] of results.entries()) {
        expect(r.error).toBeUndefined();
        expect(plain(toJSON(r.result!, { vectors: true }))).toEqual(plain(toJSON(await decodeLayers(TEXTS[i], options), { vectors: true })));
      }
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('decodeBatch with batchSize > 1 packs there, and agrees with decodeLayers to float rounding', async () => {
    const spy = vi.spyOn(llama, 'runBatch');
    try {
      const options = { model: llama, hooks: 'default' as const, topK: 4, target: ' the', positions: [0, -1], vectors: true };
      const results = await collect(decodeBatch(TEXTS, { ...options, batchSize: 4 }));
      expect(spy.mock.calls.map((c) => c[0].length)).toEqual([4, 1]);
      for (const [i, r] of results.entries()) {
        const alone = await decodeLayers(TEXTS[i], options);
        expect(r.result!.hooks.map((h) => [h.name, h.position])).toEqual(alone.hooks.map((h) => [h.name, h.position]));
        for (const [j, h] of alone.hooks.entries()) {
          const packed = r.result!.hooks[j];
          expect(relativeL2Error(packed.vector!, h.vector!), `${TEXTS[i]} ${h.name}@${h.position}`).toBeLessThan(TOLERANCE);
          // the top-k probabilities (ids may swap places where two are within rounding of each other)
          expect(
            relativeL2Error(
              packed.top!.map((t) => t.prob),
              h.top!.map((t) => t.prob),
            ),
          ).toBeLessThan(1e-3);
          expect(Math.abs(packed.target!.prob - h.target!.prob) / h.target!.prob).toBeLessThan(1e-3);
        }
      }
    } finally {
      spy.mockRestore();
    }
  });
});
