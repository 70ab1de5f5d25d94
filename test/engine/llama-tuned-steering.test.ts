// The tuned lens and steering vectors on the llama.cpp engine, with synthetic GGUFs (random weights,
// test/helpers/gguf-arch-writer.ts; real weights do not exist on the test machine):
// - the tuned lens against an independent float64 computation: the reference forward's hidden states
//   (test/reference/llama-f64.ts), the translator h + A·h + b, the model's final norm and output matrix;
// - control vectors applied by layerlens (interventions at blocks.N.resid_post) against llama.cpp's own
//   application (llama_set_adapter_cvec, the path of its --control-vector flag): the same residual
//   stream at every block and the same greedy continuation, with scales and a layer range; and on a GPT-2
//   GGUF, llama.cpp's control vector against the GPT-2 engine's interventions;
// - steeringVector() on a llama model (cvector-generator's padding with the model's own " " token).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLayers, generate, loadModel, steeringVector, writeControlVector, type ControlVector } from '../../lib/index.js';
import { native, type NativeLlamaModel } from '../../lib/model/native.js';
import { archGguf, type ArchGguf } from '../helpers/gguf-arch-writer.js';
import { tinyGpt2Gguf, NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { withModel } from '../helpers/fixtures.js';
import { signedRandom } from '../helpers/random.js';
import { randomTunedLensSpec, writeTunedLensFolder, type TunedLensSpec } from '../helpers/tuned-lens-writer.js';
import { warningsDuring } from '../helpers/warnings.js';
import { archForward, archHookValues, layerNorm, rmsNorm, type ArchName } from '../reference/llama-f64.js';
import { relativeL2Error } from '../reference/gpt2-f64.js';

const work = mkdtempSync(join(tmpdir(), 'layerlens-llama-tuned-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PROMPT = 'The cat sat on the mat and the dog';

async function withRawLlama<T>(file: string, f: (m: NativeLlamaModel) => Promise<T>): Promise<T> {
  const m = await native().loadLlamaModel({ path: file, threads: 2 });
  try {
    return await f(m);
  } finally {
    m.dispose();
  }
}

// ---- the tuned lens ----

function translate64(spec: TunedLensSpec, i: number, h: Float64Array): Float64Array {
  const { d } = spec;
  const { weight: A, bias: b } = spec.translators[i];
  const out = new Float64Array(d);
  for (let o = 0; o < d; o++) {
    let s = h[o] + b![o];
    for (let j = 0; j < d; j++) s += A[o * d + j] * h[j];
    out[o] = s;
  }
  return out;
}

/** The model's head in float64: final norm (RMS or LayerNorm, with its weights), output matrix, soft-cap, softmax. */
function headProbs(g: ArchGguf, x: Float64Array): Float64Array {
  const cfg = g.config;
  const y = cfg.arch === 'gptneox' ? layerNorm(x, g.outputNorm, g.outputNormB, cfg.normEps) : rmsNorm(x, g.outputNorm, cfg.normEps);
  const V = cfg.nVocab;
  const d = cfg.nEmbd;
  const logits = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += g.output[v * d + j] * y[j];
    logits[v] = cfg.finalSoftcap > 0 ? cfg.finalSoftcap * Math.tanh(s / cfg.finalSoftcap) : s;
  }
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  let sum = 0;
  for (const l of logits) sum += Math.exp(l - max);
  return logits.map((l) => Math.exp(l - max) / sum);
}

/**
 * The k entries are the reference's top k within `tol`: each one's probability is the reference's, they
 * come in the reference's order, and nothing left out beats the last of them (ties within tol may swap).
 */
function expectTopK(top: { id: number; prob: number }[], probs: Float64Array, tol: number, where: string): void {
  for (const e of top) expect(Math.abs(e.prob - probs[e.id]), `${where} prob of ${e.id}`).toBeLessThan(tol * probs[e.id] + 1e-7);
  for (let i = 1; i < top.length; i++) expect(probs[top[i].id], `${where} order`).toBeLessThan(probs[top[i - 1].id] * (1 + tol) + 1e-7);
  const kept = new Set(top.map((e) => e.id));
  const floor = probs[top[top.length - 1].id];
  probs.forEach((p, id) => {
    if (!kept.has(id)) expect(p, `${where} token ${id} left out`).toBeLessThan(floor * (1 + tol) + 1e-7);
  });
}

// Relative tolerance on the probabilities (measured worst: llama 7e-7, gptneox 4.6e-4, gemma2 1.5e-3): the
// GELU architectures' hidden states carry ggml's fp16 GELU table error (see llama-archs.test.ts).
// Three heads: RMSNorm with an untied output (llama), LayerNorm with bias (gptneox), tied and soft-capped (gemma2).
const TUNED_ARCHS: [ArchName, number][] = [
  ['llama', 1e-5],
  ['gptneox', 2e-3],
  ['gemma2', 5e-3],
];

describe.each(TUNED_ARCHS)('the tuned lens on the llama.cpp engine (%s)', (arch, tol) => {
  it('every lensed row at every position matches the float64 hidden state, translator and head', async () => {
    const g = archGguf(arch, 'f32');
    await withModel(g.file, async (m) => {
      const { n_layer, n_embd } = m.info;
      expect([n_layer, n_embd]).toEqual([g.config.nLayer, g.config.nEmbd]);
      const spec = randomTunedLensSpec(m.info.name, n_embd, n_layer, 31);
      const dir = writeTunedLensFolder(join(work, `lens-${arch}`), spec);
      const hooks = ['embed', 'resid_post', 'attn_out'];
      const r = await decodeLayers(PROMPT, { model: m, tunedLens: dir, hooks, positions: 'all', topK: 5 });
      expect(r.lens).toBe('tuned');
      const ids = r.tokens.map((t) => t.id);
      const ref = archHookValues(archForward(g, ids));
      const d = n_embd;
      let tuned = 0;
      let changed = 0;
      for (const h of r.hooks) {
        const raw = ref.get(h.name)!.subarray(h.position * d, (h.position + 1) * d);
        const t = h.kind === 'embed' ? 0 : h.kind === 'resid_post' && h.layer! < n_layer - 1 ? h.layer! + 1 : null;
        expect(h.lens, h.name).toBe(t === null ? 'logit' : 'tuned');
        const probs = headProbs(g, t === null ? raw : translate64(spec, t, raw));
        expectTopK(h.top!, probs, tol, `${h.name} @${h.position}`);
        if (t !== null) {
          tuned++;
          // the top 5 of the logit lens differ from the tuned lens's somewhere (gemma2's tied, scaled
          // embedding keeps the input token on top of both with random weights)
          const order = (p: Float64Array) =>
            [...p.keys()]
              .sort((a, b) => p[b] - p[a])
              .slice(0, 5)
              .join();
          if (order(headProbs(g, raw)) !== order(probs)) changed++;
        }
      }
      expect(tuned).toBe(n_layer * ids.length); // embed + resid_post of blocks 0..n_layer-2
      expect(changed, 'the translators change the top 5 somewhere').toBeGreaterThan(0);
    });
  });
});

describe('checkTunedLens with a llama.cpp model', () => {
  it('refuses a lens of another width or depth and warns when it was trained on another model', async () => {
    const g = archGguf('llama', 'f32');
    await withModel(g.file, async (m) => {
      const { n_layer, n_embd, name } = m.info;
      const wide = writeTunedLensFolder(join(work, 'wide'), randomTunedLensSpec(name, n_embd / 2, n_layer, 1));
      await expect(decodeLayers('Hi', { model: m, tunedLens: wide })).rejects.toThrow(`d_model is ${n_embd / 2} but the model ${name} has n_embd ${n_embd}`);
      const deep = writeTunedLensFolder(join(work, 'deep'), randomTunedLensSpec(name, n_embd, n_layer + 1, 2));
      await expect(decodeLayers('Hi', { model: m, tunedLens: deep })).rejects.toThrow(
        `num_hidden_layers is ${n_layer + 1} but the model ${name} has n_layer ${n_layer}`,
      );
      const other = writeTunedLensFolder(join(work, 'other'), randomTunedLensSpec('meta-llama/Llama-3.2-1B', n_embd, n_layer, 3));
      const warnings = await warningsDuring(() => decodeLayers('Hi', { model: m, tunedLens: other }));
      expect(warnings.map((w) => w.message)).toEqual([`the tuned lens at ${other} was trained on meta-llama/Llama-3.2-1B, applied to ${name}`]);
    });
  });
});

// ---- control vectors: layerlens' interventions against llama.cpp's own application ----

function randomDirections(d: number, blocks: number[], seed: number, size: number): Map<number, Float32Array> {
  const rnd = signedRandom(seed);
  return new Map(blocks.map((n) => [n, Float32Array.from({ length: d }, () => rnd() * size)]));
}

/** llama.cpp's control-vector buffer (common_control_vector_load): direction.N·scale summed at (N−1)·d, block 1 first. */
function llamaCppBuffer(vectors: { cv: ControlVector; scale: number }[], d: number, nLayer: number): Float32Array {
  const sum = new Float64Array((nLayer - 1) * d);
  for (const { cv, scale } of vectors) for (const [n, v] of cv.directions) if (n < nLayer) for (let j = 0; j < d; j++) sum[(n - 1) * d + j] += v[j] * scale;
  return Float32Array.from(sum);
}

describe('control vectors on the llama.cpp engine, against llama.cpp itself', () => {
  const g = archGguf('llama', 'f32', { spec: { nLayer: 4 } });

  it('decodeLayers and generate steer exactly as llama_set_adapter_cvec does: scales, summed files, a layer range', async () => {
    const d = g.config.nEmbd;
    const L = g.config.nLayer;
    const fileCv: ControlVector = { modelHint: 'llama', directions: randomDirections(d, [1, 2, 3], 5, 1.5) };
    const memoryCv: ControlVector = { modelHint: 'llama', directions: randomDirections(d, [2, 3, 7], 6, 1.0) };
    const path = join(work, 'steer.gguf');
    await writeControlVector(path, fileCv);
    const range: [number, number] = [2, 3];
    const steer = {
      controlVectors: [
        { path, scale: 0.7 },
        { vector: memoryCv, scale: -0.4 },
      ],
      controlVectorLayerRange: range,
    };
    const buffer = llamaCppBuffer(
      [
        { cv: fileCv, scale: 0.7 },
        { cv: memoryCv, scale: -0.4 },
      ],
      d,
      L,
    );
    const names = Array.from({ length: L }, (_, l) => `blocks.${l}.resid_post`);
    await withModel(g.file, async (m) => {
      const ours = await decodeLayers(PROMPT, { model: m, hooks: ['resid_post'], positions: 'all', ...steer });
      const plain = await decodeLayers(PROMPT, { model: m, hooks: ['resid_post'], positions: 'all' });
      const ids = Int32Array.from(ours.tokens.map((t) => t.id));
      const oursGen = await generate(PROMPT, { model: m, maxNewTokens: 8, stopAtEndOfText: false, ...steer });
      const plainGen = await generate(PROMPT, { model: m, maxNewTokens: 8, stopAtEndOfText: false });
      await withRawLlama(g.file, async (raw) => {
        await raw.setControlVector({ directions: buffer, nEmbd: d, ilStart: range[0], ilEnd: range[1] });
        const theirs = await raw.run({ tokens: ids, hooks: names, logits: true });
        const theirsGen = await raw.generate({ tokens: ids, maxNewTokens: 8, stopAtEog: false });
        names.forEach((name, l) => {
          const a = ours.activations.find((x) => x.name === name)!.data;
          const b = theirs.captured.find((x) => x.name === name)!.data;
          expect(relativeL2Error(a, b), name).toBeLessThan(1e-5);
          const p = plain.activations.find((x) => x.name === name)!.data;
          // block 1 is outside the range: untouched; blocks 2 and 3 move (so the agreement above can fail)
          if (l < range[0]) expect(relativeL2Error(a, p), `${name} unsteered`).toBeLessThan(1e-6);
          else expect(relativeL2Error(a, p), `${name} steered`).toBeGreaterThan(1e-2);
        });
        expect(ours.prediction.id).toBe(Array.from(theirs.logits.keys()).reduce((best, i) => (theirs.logits[i] > theirs.logits[best] ? i : best), 0));
        expect(oursGen.tokens.map((t) => t.id)).toEqual(Array.from(theirsGen));
        expect(
          oursGen.tokens.map((t) => t.id),
          'steering changes the continuation',
        ).not.toEqual(plainGen.tokens.map((t) => t.id));
        // the same vectors as files, read by ggml's GGUF reader the way --control-vector-scaled reads them
        const path2 = join(work, 'steer2.gguf');
        await writeControlVector(path2, memoryCv);
        await raw.setControlVector({
          files: [
            { path, scale: 0.7 },
            { path: path2, scale: -0.4 },
          ],
          nEmbd: d,
          ilStart: range[0],
          ilEnd: range[1],
        });
        const fromFiles = await raw.run({ tokens: ids, hooks: names, logits: false });
        names.forEach((name) => {
          const a = ours.activations.find((x) => x.name === name)!.data;
          expect(relativeL2Error(a, fromFiles.captured.find((x) => x.name === name)!.data), `${name} from files`).toBeLessThan(1e-5);
        });
        // cleared, llama.cpp's context is the plain model again
        await raw.setControlVector({ nEmbd: d });
        const cleared = await raw.run({ tokens: ids, hooks: [names[L - 1]], logits: false });
        expect(relativeL2Error(cleared.captured[0].data, plain.activations.find((x) => x.name === names[L - 1])!.data)).toBeLessThan(1e-6);
      });
    });
  });

  it("setControlVector checks its input: the model's width, whole directions, readable control-vector files", async () => {
    await withRawLlama(g.file, async (raw) => {
      const d = g.config.nEmbd;
      expect(() => raw.setControlVector({ directions: new Float32Array(d), nEmbd: d + 1 })).toThrow(`nEmbd is ${d + 1}, the model's ${d}`);
      await expect(raw.setControlVector({ directions: new Float32Array(d + 3), nEmbd: d })).rejects.toThrow(/not a whole number of directions/);
      // more directions than blocks: the extra ones are ignored, as llama.cpp's loader does
      await expect(raw.setControlVector({ directions: new Float32Array(10 * d), nEmbd: d })).resolves.toBeUndefined();
      expect(() => raw.setControlVector({ directions: new Float32Array(d), files: [], nEmbd: d })).toThrow(/not both/);
      await expect(raw.setControlVector({ files: [{ path: join(work, 'missing.gguf') }], nEmbd: d })).rejects.toThrow(/could not read it as a GGUF file/);
      // a model file is a GGUF, but not a control vector
      await expect(raw.setControlVector({ files: [{ path: g.file }], nEmbd: d })).rejects.toThrow(/is not direction\.N with N >= 1/);
      const narrow = join(work, 'narrow.gguf');
      await writeControlVector(narrow, { modelHint: 'llama', directions: new Map([[1, new Float32Array(d / 2).fill(1)]]) });
      await expect(raw.setControlVector({ files: [{ path: narrow }], nEmbd: d })).rejects.toThrow(
        `have ${d / 2} values per direction, the model's n_embd is ${d}`,
      );
    });
  });
});

describe("llama.cpp's control vector on a GPT-2 GGUF against the GPT-2 engine's interventions", () => {
  it('direction.N lands on blocks.N.resid_post in both', async () => {
    const file = await tinyGpt2Gguf(work);
    const gpt2 = await loadModel(file, { engine: 'gpt2', device: 'cpu', threads: 2 });
    try {
      const { n_layer: L, n_embd: d } = gpt2.info;
      const cv: ControlVector = { modelHint: 'gpt2', directions: randomDirections(d, [1, L - 1], 8, 0.5) };
      const names = Array.from({ length: L }, (_, l) => `blocks.${l}.resid_post`);
      const [steered, plain] = await Promise.all(
        [{ controlVectors: [{ vector: cv, scale: 1.5 }] }, {}].map((o) =>
          decodeLayers(NOTEBOOK_PROMPT, { model: gpt2, hooks: ['resid_post'], positions: 'all', ...o }),
        ),
      );
      await withRawLlama(file, async (raw) => {
        const tokens = Int32Array.from(NOTEBOOK_IDS);
        const clean = await raw.run({ tokens, hooks: names, logits: false });
        await raw.setControlVector({ directions: llamaCppBuffer([{ cv, scale: 1.5 }], d, L), nEmbd: d });
        const theirs = await raw.run({ tokens, hooks: names, logits: false });
        names.forEach((name, l) => {
          const ours = steered.activations.find((x) => x.name === name)!.data;
          const oursClean = plain.activations.find((x) => x.name === name)!.data;
          const b = theirs.captured[l].data;
          const bClean = clean.captured[l].data;
          // the engines differ by ggml's fp16 GELU table (llama-cross-engine.test.ts): 2e-3 on the residual
          expect(relativeL2Error(b, ours), name).toBeLessThan(2e-3);
          // what steering added, per engine: at block 1 exactly the scaled direction in both
          const added = ours.map((x, i) => x - oursClean[i]);
          const addedThere = b.map((x, i) => x - bClean[i]);
          if (l === 0) expect(Math.max(...added.map(Math.abs), ...addedThere.map(Math.abs)), name).toBe(0);
          else expect(relativeL2Error(addedThere, added), `${name} difference`).toBeLessThan(l === 1 ? 1e-5 : 2e-2);
          if (l === 1)
            expect(
              relativeL2Error(
                added,
                Float32Array.from({ length: added.length }, (_, i) => cv.directions.get(1)![i % d] * 1.5),
              ),
            ).toBeLessThan(1e-5);
        });
      });
    } finally {
      gpt2.dispose();
    }
  });
});

// ---- steeringVector on a llama model ----

describe('steeringVector on the llama.cpp engine', () => {
  it("position 'all' pads with the model's own ' ' token (cvector-generator's padding_seq), mean over kept rows", async () => {
    const g = archGguf('llama', 'f32', { spec: { nLayer: 4 } });
    // the byte-level BPE's token for the byte " " (GPT-2's byte-to-unicode maps space to Ġ)
    const space = g.vocab.tokens.indexOf('Ġ');
    expect(space).toBeGreaterThanOrEqual(0);
    await withModel(g.file, async (m) => {
      const positive = ['The cat sat on the mat', 'Yes'];
      const negative = ['The cat ran', 'No, never'];
      const cv = await steeringVector({ model: m, positive, negative, layers: [2], position: 'all', readFrom: 'previous-block', normalize: true });
      expect(cv.modelHint).toBe('llama');
      expect([...cv.directions.keys()]).toEqual([2]);
      const d = g.config.nEmbd;
      /** cvector-generator's mean direction with `pad` as the padding token, from the float64 forward. */
      const direction = (pad: number) => {
        const rows: Float64Array[] = [];
        let differing = 0;
        positive.forEach((p, i) => {
          const a = m.tokenizer.encode(p);
          const b = m.tokenizer.encode(negative[i]);
          const len = Math.max(a.length, b.length);
          while (a.length < len) a.push(pad);
          while (b.length < len) b.push(pad);
          // causal attention: the rows agree up to the first differing token and differ from there on
          differing += len - a.findIndex((id, t) => id !== b[t]);
          const [ra, rb] = [a, b].map((ids) => archForward(g, ids).layers[1].resid_post);
          for (let t = 0; t < len; t++) {
            const diff = Float64Array.from({ length: d }, (_, j) => ra[t * d + j] - rb[t * d + j]);
            if (diff.some((x) => Math.abs(x) > 1e-6)) rows.push(diff);
          }
        });
        // the shared prefixes (BOS, and "The cat" in the first pair) are dropped
        expect(rows.length).toBe(differing);
        const mean = new Float64Array(d);
        for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j] / rows.length;
        const len = Math.sqrt(mean.reduce((acc, x) => acc + x * x, 0));
        return mean.map((x) => x / len);
      };
      expect(m.tokenizer.encode(positive[0]).length).not.toBe(m.tokenizer.encode(negative[0]).length);
      expect(relativeL2Error(cv.directions.get(2)!, direction(space))).toBeLessThan(1e-4);
      // another padding token gives another direction: the check above sees the choice of pad
      expect(relativeL2Error(cv.directions.get(2)!, direction(space + 1))).toBeGreaterThan(1e-3);
    });
  });
});
