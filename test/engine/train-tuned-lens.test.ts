// Training a tuned lens on the tiny synthetic model: the native KL and gradients against the float64
// reference (test/reference/tuned-lens-grad.ts, itself checked against finite differences in
// test/unit/tuned-lens-train.test.ts), the first step's loss against the reference definition on the same
// positions, held-out KL below the logit lens's after training, resume = uninterrupted, and the
// written folder through loadTunedLens and decodeLayers.
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, loadTunedLens, type Model } from '../../lib/index.js';
import { trainTunedLens, type TrainProgress } from '../../lib/lens/tuned/train.js';
import { translatedHook } from '../../lib/lens/tuned/tuned-lens.js';
import { forwardReference, relativeL2Error, type RefModel } from '../reference/gpt2-f64.js';
import { lensLossAndGrad64, type LensHead } from '../reference/tuned-lens-grad.js';
import { runCli } from '../helpers/cli.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { signedRandom } from '../helpers/random.js';

const tiny = useTinyModel({ threads: 2 });
let model: Model;
let ref: RefModel;
const work = mkdtempSync(join(tmpdir(), 'layerlens-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Seeded token ids (a random model learns nothing from grammar; any stream trains the lens). */
function randomCorpus(count: number, seed: number): Int32Array {
  const rnd = signedRandom(seed);
  return Int32Array.from({ length: count }, () => Math.floor(((rnd() + 1) / 2) * 5000));
}

function head(r: RefModel): LensHead {
  return { wte: r.wte, gamma: r.lnf_w, beta: r.lnf_b, eps: r.config.eps, vocab: r.config.n_vocab, d: r.config.n_embd };
}

describe('trainTunedLens on the tiny model', () => {
  beforeAll(() => ({ model, ref } = tiny));

  it('native KL sums and gradients = the float64 reference on the reference forward pass (~1e-5 relative)', async () => {
    const { n_layer: L, n_embd: d } = model.info;
    const ids = Array.from(randomCorpus(12, 3));
    const acts = forwardReference(ref, ids);
    const rows = ids.length;
    const rowsOf = (name: string) => Float64Array.from({ length: rows * d }, (_, k) => acts.row(name, Math.floor(k / d))[k % d]);
    const final = rowsOf(`blocks.${L - 1}.resid_post`);
    const rnd = signedRandom(17);
    const weights = Float32Array.from({ length: L * d * d }, () => (rnd() * 0.5) / Math.sqrt(d));
    const biases = Float32Array.from({ length: L * d }, () => rnd() * 0.2);
    const inputs64 = Array.from({ length: L }, (_, i) => rowsOf(translatedHook(i)));
    const inputs = new Float32Array(L * rows * d);
    inputs64.forEach((x, i) => inputs.set(x, i * rows * d));
    const out = await model.tunedLensGradients({ inputs, final: Float32Array.from(final), weights, biases, rows, count: L });
    for (let i = 0; i < L; i++) {
      const expected = lensLossAndGrad64({
        head: head(ref),
        inputs: Float32Array.from(inputs64[i]),
        final: Float32Array.from(final),
        rows,
        weight: weights.subarray(i * d * d, (i + 1) * d * d),
        bias: biases.subarray(i * d, (i + 1) * d),
      });
      expect(expected.loss, 'a loss that is not ~0').toBeGreaterThan(0.01);
      expect(Math.abs(out.loss[i] - expected.loss) / expected.loss, `translator ${i} loss`).toBeLessThan(1e-5);
      expect(relativeL2Error(out.gradWeights!.subarray(i * d * d, (i + 1) * d * d), expected.gradWeight), `translator ${i} ∂A`).toBeLessThan(1e-5);
      expect(relativeL2Error(out.gradBiases!.subarray(i * d, (i + 1) * d), expected.gradBias), `translator ${i} ∂b`).toBeLessThan(1e-5);
    }
    const lossOnly = await model.tunedLensGradients({ inputs, final: Float32Array.from(final), weights, biases, rows, count: L, gradients: false });
    expect(lossOnly.loss).toEqual(out.loss);
    expect(lossOnly.gradWeights).toBeUndefined();
  });

  it('refuses inconsistent sizes with a clear error, before any native math', async () => {
    const { n_embd: d } = model.info;
    const f = (n: number) => new Float32Array(n);
    await expect(model.tunedLensGradients({ inputs: f(3 * d), final: f(2 * d), weights: f(d * d), biases: f(d), rows: 2, count: 1 })).rejects.toThrow(
      `trainLens: 'inputs' must hold count × rows × n_embd = ${2 * d} floats, got ${3 * d}`,
    );
    await expect(model.tunedLensGradients({ inputs: f(0), final: f(0), weights: f(0), biases: f(0), rows: 0, count: 1 })).rejects.toThrow(
      /'rows' must be between 1/,
    );
    await expect(
      model.tunedLensGradients({ inputs: f(d), final: f(d), weights: f(d * d), biases: f(d), rows: 1, count: 1, extra: 1 } as never),
    ).rejects.toThrow(/unknown option 'extra'/);
  });

  it("the first step's loss is the reference mean KL of the logit lens over that step's positions", async () => {
    const { n_layer: L, n_embd: d } = model.info;
    const corpus = randomCorpus(16 * 3, 5);
    let first: TrainProgress | undefined;
    await trainTunedLens(model, corpus, { steps: 1, seqLen: 16, tokensPerStep: 32, heldOut: 0, onProgress: (p) => (first ??= p) });
    // Step 1 saw windows 0 and 1 (16 tokens each), each run on its own from position 0.
    const sums = new Float64Array(L);
    for (const w of [0, 1]) {
      const ids = Array.from(corpus.subarray(w * 16, (w + 1) * 16));
      const acts = forwardReference(ref, ids);
      const rowsOf = (name: string) => Float64Array.from({ length: 16 * d }, (_, k) => acts.row(name, Math.floor(k / d))[k % d]);
      for (let i = 0; i < L; i++)
        sums[i] += lensLossAndGrad64(
          {
            head: head(ref),
            inputs: rowsOf(translatedHook(i)),
            final: rowsOf(`blocks.${L - 1}.resid_post`),
            rows: 16,
            weight: new Float64Array(d * d),
            bias: new Float64Array(d),
          },
          false,
        ).loss;
    }
    const expected = Array.from(sums, (s) => s / 32);
    expect(first!.tokens).toBe(32);
    first!.layerLoss.forEach((l, i) => expect(Math.abs(l - expected[i]) / expected[i], `translator ${i}`).toBeLessThan(1e-4));
    expect(first!.loss).toBeCloseTo(expected.reduce((a, b) => a + b) / L, 6);
  });

  it('training lowers the held-out KL below the logit lens, for every translator', async () => {
    const losses: number[] = [];
    // The package's defaults (SGD, Nesterov momentum 0.9, lr 0.1, linear decay) on a CPU-sized budget:
    // 12 steps of 64 tokens; measured: held-out KL 5.78 / 1.96 nats against the logit lens's 12.58 / 2.50.
    const r = await trainTunedLens(model, randomCorpus(32 * 14, 7), {
      steps: 12,
      seqLen: 32,
      tokensPerStep: 64,
      heldOut: 64,
      onProgress: (p) => losses.push(p.loss),
    });
    expect(r.heldOut!.tokens).toBe(64);
    r.heldOut!.tuned.forEach((kl, i) => expect(kl, `translator ${i}`).toBeLessThan(0.9 * r.heldOut!.logitLens[i]));
    expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]);
    expect(r.losses).toEqual(losses);
  });

  it('a run interrupted after a checkpoint and resumed ends with the same lens, bit for bit, as an uninterrupted run', async () => {
    const corpus = randomCorpus(32 * 4, 9);
    const options = { steps: 4, seqLen: 32, tokensPerStep: 32, heldOut: 32, checkpointEvery: 2 };
    const whole = await trainTunedLens(model, corpus, { ...options, out: join(work, 'whole') });
    const out = join(work, 'resumed');
    await expect(
      trainTunedLens(model, corpus, {
        ...options,
        out,
        onProgress: (p) => {
          if (p.step === 2) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    // As a crash between the checkpoint swap's two renames leaves it: only checkpoint.old/.
    renameSync(join(out, 'checkpoint'), join(out, 'checkpoint.old'));
    const resumed = await trainTunedLens(model, corpus, { ...options, out, resume: true });
    expect(resumed.resumedAt).toBe(2);
    expect([existsSync(join(out, 'checkpoint', 'state.json')), existsSync(join(out, 'checkpoint.old'))]).toEqual([true, false]);
    expect(resumed.losses).toEqual(whole.losses);
    expect(resumed.lens.translators).toEqual(whole.lens.translators);
    expect(resumed.heldOut).toEqual(whole.heldOut);
    await expect(trainTunedLens(model, corpus, { ...options, lr: 0.5, out, resume: true })).rejects.toThrow(
      /used lr = 0\.0999\d*, this run 0\.5; resume with the same settings/,
    );
    await expect(trainTunedLens(model, randomCorpus(32 * 4, 10), { ...options, out, resume: true })).rejects.toThrow(/another corpus/);
  });

  it('the written folder loads through loadTunedLens, and decodeLayers applies it', async () => {
    const out = join(work, 'artifact');
    const r = await trainTunedLens(model, randomCorpus(32 * 2, 11), { steps: 2, seqLen: 32, tokensPerStep: 32, heldOut: 0, out });
    const lens = await loadTunedLens(out);
    expect(lens.config).toEqual({ baseModel: model.info.name, dModel: model.info.n_embd, numLayers: model.info.n_layer, bias: true });
    expect(lens.translators).toEqual(r.lens.translators);
    const prompt = 'The quick brown fox';
    const tuned = await decodeLayers(prompt, { model, tunedLens: out, hooks: ['embed', 'resid_post'], topK: 3, metrics: true });
    const logit = await decodeLayers(prompt, { model, hooks: ['embed', 'resid_post'], topK: 3, metrics: true });
    expect(tuned.lens).toBe('tuned');
    const last = `blocks.${model.info.n_layer - 1}.resid_post`;
    for (let k = 0; k < tuned.hooks.length; k++) {
      const [t, l] = [tuned.hooks[k], logit.hooks[k]];
      if (t.name === last) expect(t.top).toEqual(l.top);
      else expect(t.top, `${t.name} differs from the logit lens once translated`).not.toEqual(l.top);
    }
  });

  it('CLI train-lens: trains from a text file, reports held-out KL, writes a lens that --tuned-lens reads, and resumes', async () => {
    const data = join(work, 'corpus.txt');
    writeFileSync(data, 'The quick brown fox jumps over the lazy dog. '.repeat(20));
    const out = join(work, 'cli-lens');
    const args = [
      'train-lens',
      '--model',
      tiny.dir,
      '--threads',
      '2',
      '--data',
      data,
      '--out',
      out,
      '--seq-len',
      '16',
      '--tokens-per-step',
      '16',
      '--held-out',
      '16',
    ];
    const r = await runCli([...args, '--steps', '2', '--checkpoint-every', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(out + '\n');
    expect(r.err).toMatch(/train-lens: \[#+\] step 2\/2 {2}loss \d+\.\d{4} {2}[\d.]+ tok\/s/);
    expect(r.err).toMatch(/held-out KL over 16 tokens, mean over translators: tuned \d+\.\d{4} nats, logit lens \d+\.\d{4} nats/);
    const lensRun = await runCli(['--model', tiny.dir, '--threads', '2', '--tuned-lens', out, '--json', 'Hello']);
    expect(lensRun.code, lensRun.err).toBe(0);
    expect(JSON.parse(lensRun.out).lens).toBe('tuned');
    const more = await runCli([...args, '--steps', '2', '--checkpoint-every', '1', '--resume', '--quiet']);
    expect(more.code, more.err).toBe(0);
    expect(more.err).toMatch(/resumed from step 2/);
    expect(more.err).not.toMatch(/step \d+\/2/);
    const missing = await runCli(['train-lens', '--model', tiny.dir, '--data', join(work, 'nope.txt'), '--out', out]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read --data/);
  });
});
