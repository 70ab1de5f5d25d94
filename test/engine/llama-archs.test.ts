// The llama.cpp engine on tiny synthetic GGUFs of every supported architecture (written by
// test/helpers/gguf-arch-writer.ts, random weights: the numbers mean nothing, their agreement does).
// Every hook at every position is held to the float64 reference forward (test/reference/llama-f64.ts,
// written from the math, not from llama.cpp), the lens of the last resid_post to the model's own logits,
// and the residual stream to its own sums; generation to the reference's greedy chain.
import { describe, expect, it } from 'vitest';
import { decodeLayers, generate } from '../../lib/index.js';
import { withModel } from '../helpers/fixtures.js';
import { archGguf } from '../helpers/gguf-arch-writer.js';
import { ARCH_NAMES, archForward, archHookValues, type ArchName } from '../reference/llama-f64.js';
import { relativeL2Error } from '../reference/gpt2-f64.js';

const IDS = [5, 77, 130, 42, 9, 250, 61, 18, 200, 33, 101, 7];

// ggml-cpu computes GELU (and GEGLU) through an fp16 table: the GELU architectures' FFN activations are
// within ~1e-3 of the exact tanh form, and what follows them within a few 1e-4.
const GELU_ARCHS = new Set<ArchName>(['gptneox', 'gemma2']);
function tolerance(arch: ArchName, kind: string): number {
  if (!GELU_ARCHS.has(arch)) return 1e-4;
  return kind === 'mlp_post' ? 3e-3 : 2e-3;
}

/** Reference attn_pattern [head][query][key] as the engine lays it out: [query][head][key]. */
function patternByPosition(ref: Float64Array, nHead: number, n: number): Float64Array {
  const out = new Float64Array(ref.length);
  for (let h = 0; h < nHead; h++) for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) out[(q * nHead + h) * n + k] = ref[(h * n + q) * n + k];
  return out;
}

/** The element-wise sum of equally long vectors (in float64, rounded once to float32). */
const sum = (a: Float32Array, ...rest: Float32Array[]) => a.map((x, i) => rest.reduce((s, b) => s + b[i], x));

describe.each(ARCH_NAMES)('%s on the llama.cpp engine', (arch) => {
  it('matches the float64 reference at every hook and position, and its logits', async () => {
    const g = archGguf(arch, 'f32');
    const ref = archForward(g, IDS);
    const refHooks = archHookValues(ref);
    await withModel(g.file, async (m) => {
      expect([m.info.engine, m.info.architecture]).toEqual(['llama.cpp', arch]);
      const kinds = m.info.hookKinds!;
      expect(kinds).toContain('resid_post');
      const out = await m.run(IDS, { hooks: [...kinds], positions: 'all' });
      expect(out.activations.length).toBeGreaterThan(0);
      for (const a of out.activations) {
        const want = refHooks.get(a.name);
        expect(want, a.name).toBeDefined();
        const expected = a.kind === 'attn_pattern' ? patternByPosition(want!, m.info.n_head, IDS.length) : want!;
        expect(relativeL2Error(a.data, expected), a.name).toBeLessThan(tolerance(arch, a.kind));
      }
      const V = m.info.n_vocab;
      const lastLogits = ref.logits.subarray((IDS.length - 1) * V, IDS.length * V);
      expect(relativeL2Error(out.logits, lastLogits)).toBeLessThan(tolerance(arch, 'logits'));
      // A few positions, some adjacent (rows read in runs, patterns row by row), against the reference too.
      const few = [1, 2, IDS.length - 1];
      const part = await m.run(IDS, { hooks: [...kinds], positions: few });
      for (const a of part.activations) {
        const full = refHooks.get(a.name)!;
        const perPos = a.kind === 'attn_pattern' ? patternByPosition(full, m.info.n_head, IDS.length) : full;
        const stride = perPos.length / IDS.length;
        const expected = new Float32Array(few.length * stride);
        few.forEach((p, i) => expected.set(perPos.subarray(p * stride, (p + 1) * stride), i * stride));
        expect(relativeL2Error(a.data, expected), `${a.name} at ${few.join(',')}`).toBeLessThan(tolerance(arch, a.kind));
      }
    });
  });

  it('lenses its last resid_post into its own logits; the residual stream is the sum of what blocks write', async () => {
    const g = archGguf(arch, 'f32');
    await withModel(g.file, async (m) => {
      const L = m.info.n_layer;
      const out = await m.run(IDS, { hooks: 'all', positions: 'all' });
      const act = (name: string) => out.activations.find((a) => a.name === name)?.data;
      const last = act(`blocks.${L - 1}.resid_post`)!;
      const d = m.info.n_embd;
      const lens = await m.lensNative(last.slice((IDS.length - 1) * d), 1, 3);
      const order = Array.from(out.logits.keys()).sort((a, b) => out.logits[b] - out.logits[a] || a - b);
      expect(Array.from(lens.ids)).toEqual(order.slice(0, 3));
      expect(
        relativeL2Error(
          lens.logits,
          Float32Array.from(order.slice(0, 3), (i) => out.logits[i]),
        ),
      ).toBeLessThan(1e-5);
      for (let l = 0; l < L; l++) {
        const pre = l === 0 ? act('embed')! : act(`blocks.${l - 1}.resid_post`)!;
        const mid = act(`blocks.${l}.resid_mid`);
        const attn = act(`blocks.${l}.attn_out`)!;
        const mlp = act(`blocks.${l}.mlp_out`)!;
        const post = act(`blocks.${l}.resid_post`)!;
        if (mid) {
          expect(relativeL2Error(mid, sum(pre, attn)), `resid_mid ${l}`).toBeLessThan(1e-5);
          expect(relativeL2Error(post, sum(mid, mlp)), `resid_post ${l}`).toBeLessThan(1e-5);
        } else {
          expect(relativeL2Error(post, sum(pre, attn, mlp)), `parallel resid_post ${l}`).toBeLessThan(1e-5);
        }
      }
    });
  });

  it('q8_0 agrees with f32 (same seed) in prediction and within quantization error', async () => {
    const [f32, q8] = [archGguf(arch, 'f32'), archGguf(arch, 'q8_0')];
    const runs = await Promise.all(
      [f32.file, q8.file].map((f) => withModel(f, (m) => m.run(IDS, { hooks: [`blocks.${m.info.n_layer - 1}.resid_post`], positions: 'all' }))),
    );
    expect(relativeL2Error(runs[1].activations[0].data, runs[0].activations[0].data)).toBeLessThan(5e-2);
    expect(relativeL2Error(runs[1].logits, runs[0].logits)).toBeLessThan(5e-2);
  });

  it('generates the reference greedy chain with its KV cache', async () => {
    const g = archGguf(arch, 'f32');
    const prompt = IDS.slice(0, 6);
    const chain = [...prompt];
    const V = g.config.nVocab;
    for (let i = 0; i < 4; i++) {
      const logits = archForward(g, chain).logits.subarray((chain.length - 1) * V, chain.length * V);
      let best = 0;
      for (let j = 1; j < V; j++) if (logits[j] > logits[best]) best = j;
      chain.push(best);
    }
    await withModel(g.file, async (m) => {
      const out = await m.generateIds(prompt, 4, -1);
      expect(out).toEqual(chain.slice(prompt.length));
    });
  });
});

describe('llama.cpp engine: tokens, chat, lens, interventions', () => {
  it('tokenizes with the GGUF vocabulary (BOS from the file), labels pieces, and applies the chat template', async () => {
    const g = archGguf('llama', 'f32');
    await withModel(g.file, async (m) => {
      const ids = m.tokenizer.encode('Hello world');
      expect(ids[0]).toBe(m.runtime.llama!.bos);
      expect(m.tokenizer.decode(ids.slice(1))).toBe('Hello world');
      expect(
        ids
          .slice(1)
          .map((id) => m.tokenizer.label(id))
          .join(''),
      ).toBe('Hello world');
      const chat = m.applyChatTemplate('Hi');
      expect(chat).toContain('<|start_header_id|>user<|end_header_id|>');
      expect(chat).toMatch(/Hi<\|eot_id\|><\|start_header_id\|>assistant<\|end_header_id\|>\n\n$/);
      const r = await decodeLayers('Hi', { model: m, chat: true, hooks: 'all' });
      // the tokenizer adds BOS in front of the templated text, as llama.cpp's own chat tools do
      expect(r.tokens.map((t) => t.token).join('')).toBe(m.tokenizer.label(m.runtime.llama!.bos) + chat);
      expect(r.hooks.length).toBeGreaterThan(0);
    });
  });

  it('interventions edit the forward inside the graph: later hooks and the logits see them', async () => {
    const g = archGguf('qwen2', 'f32');
    await withModel(g.file, async (m) => {
      const d = m.info.n_embd;
      const v = Float32Array.from({ length: d }, (_, i) => (i % 7) - 3);
      const clean = await m.run(IDS, { hooks: ['blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.attn_out'], positions: 'all' });
      const edited = await m.run(IDS, {
        hooks: ['blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.attn_out'],
        positions: 'all',
        interventions: [{ hook: 'blocks.0.resid_post', op: 'add', vector: v }],
      });
      const get = (r: { activations: { name: string; data: Float32Array }[] }, name: string) => r.activations.find((a) => a.name === name)!.data;
      const c0 = get(clean, 'blocks.0.resid_post');
      const e0 = get(edited, 'blocks.0.resid_post');
      expect(
        relativeL2Error(
          e0,
          c0.map((x, i) => x + v[i % d]),
        ),
      ).toBeLessThan(1e-6);
      expect(relativeL2Error(get(edited, 'blocks.1.resid_mid'), get(clean, 'blocks.1.resid_mid'))).toBeGreaterThan(1e-3);
      expect(relativeL2Error(edited.logits, clean.logits)).toBeGreaterThan(1e-4);
      // attn_out (derived as resid_mid − resid_pre on qwen2) zeroed: resid_mid becomes resid_pre
      const zeroed = await m.run(IDS, {
        hooks: ['blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.attn_out'],
        positions: 'all',
        interventions: [{ hook: 'blocks.1.attn_out', op: 'zero' }],
      });
      expect(relativeL2Error(get(zeroed, 'blocks.1.resid_mid'), get(zeroed, 'blocks.0.resid_post'))).toBeLessThan(1e-6);
      expect(Math.max(...get(zeroed, 'blocks.1.attn_out').map(Math.abs))).toBeLessThan(1e-6);
      // the embedding (resid_pre of block 0) is edited before block 0 reads it
      const hooks = ['embed', 'blocks.0.resid_mid'];
      const [plain, shifted] = await Promise.all([
        m.run(IDS, { hooks, positions: 'all' }),
        m.run(IDS, { hooks, positions: 'all', interventions: [{ hook: 'embed', op: 'add', vector: v }] }),
      ]);
      expect(
        relativeL2Error(
          get(shifted, 'embed'),
          get(plain, 'embed').map((x, i) => x + v[i % d]),
        ),
      ).toBeLessThan(1e-6);
      expect(relativeL2Error(get(shifted, 'blocks.0.resid_mid'), get(plain, 'blocks.0.resid_mid'))).toBeGreaterThan(1e-3);
    });
  });

  it('refuses unavailable hooks and interventions clearly', async () => {
    const g = archGguf('gptneox', 'f32');
    await withModel(g.file, async (m) => {
      expect(m.info.hookKinds).not.toContain('resid_mid');
      await expect(m.run(IDS, { hooks: ['blocks.0.resid_mid'] })).rejects.toThrow(/not available/);
      await expect(m.run(IDS, { hooks: ['blocks.0.attn_head_out'] })).rejects.toThrow(/not available/);
      await expect(m.run([1, 2, 100000], {})).rejects.toThrow(/outside the vocabulary/);
    });
  });

  it('a 128k-token vocabulary works in the lens and decodeLayers without holding every row', async () => {
    const g = archGguf('llama', 'q8_0', { vocab: 128256 });
    await withModel(g.file, async (m) => {
      expect(m.info.n_vocab).toBe(128256);
      const r = await decodeLayers('Hello world', { model: m, hooks: 'all', positions: 'all', topK: 5 });
      expect(r.hooks.length).toBeGreaterThan(10);
      const out = await generate('Hello', { model: m, maxNewTokens: 3, stopAtEndOfText: false, temperature: 0.8, seed: 7 });
      const again = await generate('Hello', { model: m, maxNewTokens: 3, stopAtEndOfText: false, temperature: 0.8, seed: 7 });
      expect(out.tokens.map((t) => t.id)).toEqual(again.tokens.map((t) => t.id));
    });
  });
});
