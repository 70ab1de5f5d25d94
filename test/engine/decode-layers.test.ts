// decodeLayers, the lens implementations, capture positions and generation, checked against the
// float64 reference and against each other.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, generate, loadModel, lensTopK, tokenText, type Activation, type Model } from '../../lib/index.js';
import { argmax, forwardReference, greedyReference, lensReference, relativeL2Error, type RefModel } from '../reference/gpt2-f64.js';
import { testDevice } from '../helpers/device.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';

const tiny = useTinyModel({ threads: 2 });
let model: Model;
let ref: RefModel;
beforeAll(() => {
  ({ model, ref } = tiny);
});

describe('decodeLayers', () => {
  it('returns the notebook view by default: embed + resid_mid/resid_post of every block, last token', async () => {
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model });
    expect(r.tokens.map((t) => t.id)).toEqual(NOTEBOOK_IDS);
    expect(r.position).toBe(25);
    expect(r.hooks.map((h) => h.name)).toEqual(['embed', 'blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.resid_post']);
    expect(r.hooks.every((h) => h.top?.length === 5)).toBe(true);
    expect(r.model).toMatchObject({ n_layer: 2, n_embd: 64, n_head: 4, n_vocab: 50257, n_ctx: 64, dtype: 'f32' });
  });

  it('each lens row is the float64 reference lens of the reference activation (top-5 ids and probabilities)', async () => {
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all', topK: 5 });
    const acts = forwardReference(ref, NOTEBOOK_IDS);
    let checked = 0;
    for (const h of r.hooks) {
      if (!h.top) {
        expect(['mlp_post', 'attn_pattern']).toContain(h.kind);
        continue;
      }
      const probs = lensReference(ref, acts.row(h.name, 25));
      const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a] || a - b).slice(0, 5);
      expect(
        h.top.map((t) => t.id),
        h.name,
      ).toEqual(order);
      for (const t of h.top) {
        expect(Math.abs(t.prob - probs[t.id]) / probs[t.id], h.name).toBeLessThan(1e-3);
        expect(t.token).toBe(tokenText(t.id));
      }
      checked++;
    }
    expect(checked).toBe(1 + 4 * 2);
  });

  it("the lens of the last block's resid_post is the model's own next-token distribution", async () => {
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['blocks.1.resid_post'], topK: 50 });
    const { logits } = await model.run(NOTEBOOK_IDS);
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
    const top = r.hooks[0].top!;
    expect(top[0].id).toBe(argmax(logits));
    expect(r.prediction.id).toBe(top[0].id);
    for (const t of top) {
      expect(t.logit).toBeCloseTo(logits[t.id], 4);
      expect(t.prob).toBeCloseTo(Math.exp(logits[t.id] - lse), 6);
    }
  });

  it('native and plain-TS reference lens agree on every row', async () => {
    const { activations } = await model.run(NOTEBOOK_IDS, { hooks: ['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'], positions: 'all' });
    const d = model.info.n_embd;
    const rows = activations.reduce((n, a) => n + a.data.length / d, 0);
    const batch = new Float32Array(rows * d);
    let o = 0;
    for (const a of activations) batch.set(a.data, (o += a.data.length) - a.data.length);
    const fast = await lensTopK(model, batch, rows, 10, 'native');
    const slow = await lensTopK(model, batch, rows, 10, 'reference');
    expect(fast.length).toBe(rows);
    for (let i = 0; i < rows; i++) {
      // Near-ties can swap order between f32 and f64 accumulation; compare by id.
      const slowById = new Map(slow[i].map((t) => [t.id, t]));
      for (const t of fast[i].slice(0, 5)) {
        const s = slowById.get(t.id);
        expect(s, `row ${i} id ${t.id}`).toBeDefined();
        expect(Math.abs(t.prob - s!.prob)).toBeLessThan(1e-5 + 1e-4 * s!.prob);
        expect(t.logit).toBeCloseTo(s!.logit, 3);
      }
    }
  });

  it('run with logits: false skips the unembedding and captures the same activations', async () => {
    const viaOutputs = await loadModel(checkpoint('tiny-f32'), { device: testDevice(), capture: 'outputs' });
    try {
      for (const m of [model, viaOutputs]) {
        const withLogits = await m.run(NOTEBOOK_IDS, { hooks: 'all' });
        const without = await m.run(NOTEBOOK_IDS, { hooks: 'all', logits: false });
        expect(without.logits.length).toBe(0);
        expect(withLogits.logits.length).toBe(m.info.n_vocab);
        expect(without.activations.map((a) => a.name)).toEqual(withLogits.activations.map((a) => a.name));
        without.activations.forEach((a, i) => expect(Array.from(a.data), a.name).toEqual(Array.from(withLogits.activations[i].data)));
      }
    } finally {
      viaOutputs.dispose();
    }
    await expect(model.run(NOTEBOOK_IDS, { logits: 'no' as unknown as boolean })).rejects.toThrow(/logits must be a boolean/);
  });

  it("capturing 'all' positions equals separate runs per position", async () => {
    const all = await model.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' });
    for (const pos of [0, 7, 25]) {
      const one = await model.run(NOTEBOOK_IDS, { hooks: 'all', positions: [pos] });
      for (const [i, a] of one.activations.entries()) {
        const whole: Activation = all.activations[i];
        const width = a.data.length;
        expect(whole.name).toBe(a.name);
        expect(Array.from(whole.data.subarray(pos * width, (pos + 1) * width))).toEqual(Array.from(a.data));
      }
    }
  });

  it('capture through graph outputs equals capture through the eval callback', async () => {
    const viaOutputs = await loadModel(checkpoint('tiny-f32'), { device: testDevice(), capture: 'outputs' });
    const viaCallback = await loadModel(checkpoint('tiny-f32'), { device: testDevice(), capture: 'callback' });
    // Weights on a second CPU backend, inputs on the first: the scheduler splits and copies as it
    // does with a GPU (native/backends.cpp, LAYERLENS_DEBUG_TWO_CPU).
    process.env.LAYERLENS_DEBUG_TWO_CPU = '1';
    const split = await loadModel(checkpoint('tiny-f32'), { device: 'cpu', capture: 'outputs' }).finally(() => delete process.env.LAYERLENS_DEBUG_TWO_CPU);
    try {
      expect([viaOutputs.runtime.capture, viaCallback.runtime.capture]).toEqual(['outputs', 'callback']);
      for (const positions of ['all', [3, 25], 'last'] as const) {
        const a = await viaOutputs.run(NOTEBOOK_IDS, { hooks: 'all', positions });
        const b = await viaCallback.run(NOTEBOOK_IDS, { hooks: 'all', positions });
        const c = await split.run(NOTEBOOK_IDS, { hooks: 'default', positions });
        for (const x of c.activations) {
          const same = b.activations.find((y) => y.name === x.name)!.data;
          // Bit-identical on the CPU; against a GPU run, within the parity tolerance.
          if (testDevice() === 'cpu') expect(Array.from(x.data), `split ${x.name}`).toEqual(Array.from(same));
          else expect(relativeL2Error(x.data, same), `split ${x.name}`).toBeLessThan(1e-4);
        }
        expect(a.activations.map((x) => [x.name, x.shape])).toEqual(b.activations.map((x) => [x.name, x.shape]));
        a.activations.forEach((x, i) => expect(Array.from(x.data), x.name).toEqual(Array.from(b.activations[i].data)));
        expect(Array.from(a.logits)).toEqual(Array.from(b.logits));
      }
    } finally {
      viaOutputs.dispose();
      viaCallback.dispose();
      split.dispose();
    }
  });

  it('positions: lists, negative indices and one lens row per position and hook', async () => {
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, positions: [-1, 3, 3], hooks: ['resid_post'] });
    expect(r.positions).toEqual([3, 25]);
    expect(r.hooks.map((h) => `${h.position}:${h.name}`)).toEqual([
      '3:blocks.0.resid_post',
      '3:blocks.1.resid_post',
      '25:blocks.0.resid_post',
      '25:blocks.1.resid_post',
    ]);
  });

  it('onActivation fires once per captured tensor, with vectors attached on request', async () => {
    const seen: string[] = [];
    const r = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['embed', 'blocks.0.mlp_post'], vectors: true, onActivation: (a) => seen.push(a.name) });
    expect(seen).toEqual(['embed', 'blocks.0.mlp_post']);
    expect(r.activations.map((a) => a.name)).toEqual(seen);
    const ref0 = forwardReference(ref, NOTEBOOK_IDS);
    expect(relativeL2Error(r.hooks[0].vector!, ref0.row('embed', 25))).toBeLessThan(1e-6);
    expect(r.hooks[1].vector!.length).toBe(4 * 64);
  });

  it('keeps the event loop free while the engine computes', async () => {
    let immediateRan = false;
    setImmediate(() => (immediateRan = true));
    const p = model.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' }).then(() => immediateRan);
    expect(await p).toBe(true);
  });
});

describe('generate', () => {
  it('greedy decoding with the KV cache equals argmax of repeated full float64 forwards', async () => {
    const out = await generate(NOTEBOOK_PROMPT, { model, maxNewTokens: 8, stopAtEndOfText: false });
    expect(out.tokens.map((t) => t.id)).toEqual(greedyReference(ref, NOTEBOOK_IDS, 8));
  });

  it('stops at the context limit', async () => {
    const ids = await model.generateIds(NOTEBOOK_IDS, 100);
    expect(ids.length).toBe(64 - 26 + 1);
  });
});
