// The tuned lens through decodeLayers and the CLI, against an independent float64 computation: the
// reference forward's activations, the translator applied in float64 from the weights the test wrote
// (h + A·h + b), then the reference lens. Every position, every lensed hook, top-k ids and probabilities.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, loadTunedLens, type Model } from '../../lib/index.js';
import { forwardReference, lensReference, type RefModel } from '../reference/gpt2-f64.js';
import { halfToNumber } from '../reference/read-safetensors.js';
import { NOTEBOOK_IDS, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { runCli } from '../helpers/cli.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { floatToHalf, randomTunedLensSpec, writeTunedLensFolder, type TunedLensSpec } from '../helpers/tuned-lens-writer.js';
import { warningsDuring } from '../helpers/warnings.js';

const tiny = useTinyModel({ threads: 2 });
let model: Model;
let ref: RefModel;
const work = mkdtempSync(join(tmpdir(), 'layerlens-tuned-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The weights as the file holds them (f16 rounding via the reference's own half decoder). */
function stored(spec: TunedLensSpec, x: Float32Array): Float64Array {
  return spec.dtype === 'F16' ? Float64Array.from(x, (v) => halfToNumber(floatToHalf(v))) : Float64Array.from(x);
}

/** h + A·h + b in float64. */
function translate64(spec: TunedLensSpec, i: number, h: Float64Array): Float64Array {
  const d = spec.d;
  const A = stored(spec, spec.translators[i].weight);
  const b = stored(spec, spec.translators[i].bias!);
  const out = new Float64Array(d);
  for (let o = 0; o < d; o++) {
    let s = h[o] + b[o];
    for (let j = 0; j < d; j++) s += A[o * d + j] * h[j];
    out[o] = s;
  }
  return out;
}

function topOrder(probs: Float64Array, k: number): number[] {
  return [...probs.keys()].sort((a, b) => probs[b] - probs[a] || a - b).slice(0, k);
}

describe('the tuned lens', () => {
  beforeAll(() => ({ model, ref } = tiny));

  for (const dtype of ['F32', 'F16'] as const) {
    it(`${dtype} params.pt: every lensed row at every position matches the float64 reference (translated where a translator exists)`, async () => {
      const { n_layer, n_embd, name } = model.info;
      const spec = randomTunedLensSpec(name, n_embd, n_layer, dtype === 'F32' ? 7 : 8, dtype);
      const dir = writeTunedLensFolder(join(work, `lens-${dtype}`), spec);
      // f32: every hook kind (translated and not, side by side in one batch); f16: the translated kinds
      const hooks = dtype === 'F32' ? 'all' : ['embed', 'resid_post'];
      const r = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: dir, hooks, positions: 'all', topK: 5, metrics: true });
      expect(r.lens).toBe('tuned');
      const acts = forwardReference(ref, NOTEBOOK_IDS);
      const final = (pos: number) => lensReference(ref, acts.row(`blocks.${n_layer - 1}.resid_post`, pos));
      const counts = { tuned: 0, logit: 0 };
      let changed = 0;
      for (const h of r.hooks) {
        if (!h.top) continue;
        const raw = acts.row(h.name, h.position);
        const t = h.kind === 'embed' ? 0 : h.kind === 'resid_post' && h.layer! < n_layer - 1 ? h.layer! + 1 : null;
        const probs = lensReference(ref, t === null ? raw : translate64(spec, t, raw));
        expect(h.lens, h.name).toBe(t === null ? 'logit' : 'tuned');
        counts[h.lens!]++;
        expect(
          h.top.map((e) => e.id),
          `${h.name} @${h.position}`,
        ).toEqual(topOrder(probs, 5));
        for (const e of h.top) expect(Math.abs(e.prob - probs[e.id]) / probs[e.id], `${h.name} @${h.position}`).toBeLessThan(1e-3);
        // KL(final ‖ row) from the float64 distributions
        const p = final(h.position);
        let kl = 0;
        for (let v = 0; v < p.length; v++) if (p[v] > 0) kl += p[v] * Math.log(p[v] / probs[v]);
        expect(Math.abs(h.kl! - kl), `${h.name} @${h.position} kl`).toBeLessThan(1e-3 * Math.max(1, kl));
        if (t !== null && topOrder(probs, 1)[0] !== topOrder(lensReference(ref, raw), 1)[0]) changed++;
      }
      // embed + resid_post of block 0 are translated; attn_out, resid_mid, mlp_out of both blocks and the last resid_post are not
      expect(counts).toEqual({ tuned: 2 * NOTEBOOK_IDS.length, logit: (dtype === 'F32' ? 7 : 1) * NOTEBOOK_IDS.length });
      expect(changed, 'the translators change the top token somewhere (else the test could not tell the lenses apart)').toBeGreaterThan(0);
    });
  }

  it('a loaded TunedLens object gives the same rows as its folder', async () => {
    const { n_layer, n_embd, name } = model.info;
    const dir = writeTunedLensFolder(join(work, 'lens-obj'), randomTunedLensSpec(name, n_embd, n_layer, 9));
    const byPath = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: dir, hooks: 'all' });
    const byObject = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: await loadTunedLens(dir), hooks: 'all' });
    expect(byObject.hooks.map((h) => h.top)).toEqual(byPath.hooks.map((h) => h.top));
  });

  it('a folder given again is the same lens until its files change on disk, then the new weights are read', async () => {
    const { n_layer, n_embd, name } = model.info;
    const dir = join(work, 'lens-rewritten');
    writeTunedLensFolder(dir, randomTunedLensSpec(name, n_embd, n_layer, 16));
    const first = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: dir, hooks: ['resid_post'] });
    const again = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: dir, hooks: ['resid_post'] });
    expect(again.hooks).toEqual(first.hooks);
    await new Promise((r) => setTimeout(r, 20)); // a later mtime for the rewritten files
    writeTunedLensFolder(dir, randomTunedLensSpec(name, n_embd, n_layer, 17));
    const rewritten = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: dir, hooks: ['resid_post'] });
    const fresh = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: await loadTunedLens(dir), hooks: ['resid_post'] });
    expect(rewritten.hooks).toEqual(fresh.hooks);
    expect(rewritten.hooks.map((h) => h.top)).not.toEqual(first.hooks.map((h) => h.top));
  });

  it("the final resid_post, the prediction and the untranslated hooks are the logit lens's", async () => {
    const { n_layer, n_embd, name } = model.info;
    const dir = writeTunedLensFolder(join(work, 'lens-final'), randomTunedLensSpec(name, n_embd, n_layer, 10));
    const hooks = ['blocks.0.attn_out', 'blocks.1.resid_mid', `blocks.${n_layer - 1}.resid_post`];
    const tuned = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: dir, hooks });
    const logit = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks });
    expect(tuned.prediction).toEqual(logit.prediction);
    expect(tuned.hooks.map((h) => h.top)).toEqual(logit.hooks.map((h) => h.top));
    expect(logit.lens).toBeUndefined();
    expect(logit.hooks.every((h) => h.lens === undefined)).toBe(true);
  });

  it("lens: 'logit' with a tunedLens is the logit lens (a caller toggles with one options object); lens: 'tuned' needs a tunedLens", async () => {
    const { n_layer, n_embd, name } = model.info;
    const dir = writeTunedLensFolder(join(work, 'lens-toggle'), randomTunedLensSpec(name, n_embd, n_layer, 15));
    const opts = { model, tunedLens: dir, hooks: 'all' as const, positions: 'all' as const };
    const logit = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, lens: 'logit' });
    const plain = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all', positions: 'all' });
    expect(logit.lens).toBeUndefined();
    expect(logit.hooks.map((h) => [h.lens, h.top])).toEqual(plain.hooks.map((h) => [h.lens, h.top]));
    const tuned = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, lens: 'tuned' });
    const implicit = await decodeLayers(NOTEBOOK_PROMPT, opts);
    expect(tuned.lens).toBe('tuned');
    expect(tuned.hooks.map((h) => h.top)).toEqual(implicit.hooks.map((h) => h.top));
    await expect(decodeLayers('Hi', { model, lens: 'tuned' })).rejects.toThrow(/lens: 'tuned' needs tunedLens/);
    await expect(decodeLayers('Hi', { model, lens: 'raw' as never })).rejects.toThrow(/for lens/);
    // the plain-TS implementation with the tuned lens: the same top tokens
    const ref = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, hooks: ['embed', 'resid_post'], lens: 'tuned', lensImpl: 'reference' });
    const nat = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, hooks: ['embed', 'resid_post'], lens: 'tuned', lensImpl: 'native' });
    expect(ref.hooks.map((h) => h.top!.map((t) => t.id))).toEqual(nat.hooks.map((h) => h.top!.map((t) => t.id)));
  });

  it('refuses a lens of another width or depth, and warns when it was trained on another model', async () => {
    const { n_layer, n_embd, name } = model.info;
    const wide = writeTunedLensFolder(join(work, 'wide'), randomTunedLensSpec(name, n_embd / 2, n_layer, 11));
    await expect(decodeLayers('Hi', { model, tunedLens: wide })).rejects.toThrow(`d_model is ${n_embd / 2} but the model ${name} has n_embd ${n_embd}`);
    const deep = writeTunedLensFolder(join(work, 'deep'), randomTunedLensSpec(name, n_embd, n_layer + 1, 12));
    await expect(decodeLayers('Hi', { model, tunedLens: deep })).rejects.toThrow(
      `num_hidden_layers is ${n_layer + 1} but the model ${name} has n_layer ${n_layer}`,
    );
    const other = writeTunedLensFolder(join(work, 'other'), randomTunedLensSpec('openai-community/gpt2-xl', n_embd, n_layer, 13));
    const warnings = await warningsDuring(() => decodeLayers('Hi', { model, tunedLens: other }));
    expect(warnings.map((w) => w.message)).toEqual([`the tuned lens at ${other} was trained on openai-community/gpt2-xl, applied to ${name}`]);
    await expect(decodeLayers('Hi', { model, tunedLens: 42 as never })).rejects.toThrow(/Expected a tuned lens folder or a TunedLens .* for tunedLens/);
    await expect(decodeLayers('Hi', { model, tunedLens: join(work, 'missing') })).rejects.toThrow(/no config\.json/);
  });

  it('CLI --tuned-lens: the JSON says which lens each row shows, and the rows are the API result', async () => {
    const { n_layer, n_embd, name } = model.info;
    const dir = writeTunedLensFolder(join(work, 'lens-cli'), randomTunedLensSpec(name, n_embd, n_layer, 14));
    const r = await runCli(['--model', tiny.dir, '--tuned-lens', dir, '--json', '--threads', '2', NOTEBOOK_PROMPT]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { lens: string; hooks: { name: string; lens: string; top: { id: number }[] }[] };
    expect(json.lens).toBe('tuned');
    expect(json.hooks.map((h) => [h.name, h.lens])).toEqual([
      ['embed', 'tuned'],
      ['blocks.0.resid_mid', 'logit'],
      ['blocks.0.resid_post', 'tuned'],
      ['blocks.1.resid_mid', 'logit'],
      ['blocks.1.resid_post', 'logit'],
    ]);
    const api = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: dir });
    expect(json.hooks.map((h) => h.top.map((t) => t.id))).toEqual(api.hooks.map((h) => h.top!.map((t) => t.id)));
    const table = await runCli(['--model', tiny.dir, '--tuned-lens', dir, '--threads', '2', NOTEBOOK_PROMPT]);
    expect(table.code).toBe(0);
    expect(table.out).toContain(`\ntuned lens ${dir}: embed and blocks.0.resid_post are translated; every other row is the logit lens\n`);
    const bad = await runCli(['--tuned-lens', dir, '--patch-from', 'x', '--patch-hook', 'embed', '--target', ' Paris', 'y']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--tuned-lens does not combine with --patch-from/);
  });
});
