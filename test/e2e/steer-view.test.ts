// Steering in the pictures: `layerlens --html --control-vector` writes a before/after page (unsteered vs
// steered), and `layerlens serve` with control vectors answers POST /api/lens with "steer" true/false.
// On the tiny synthetic checkpoint (random weights, 2 blocks: only block 1 can be steered). The
// reference for the steered run is decodeLayers with a hand-made 'add' intervention at
// blocks.1.resid_post (what a control vector's direction.1 means), not the steering code.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, toJSON, type Intervention, type LensResult, type Model } from '../../lib/index.js';
import { writeControlVector, type ControlVector } from '../../lib/interp/control-vector.js';
import { parseLensRequest, startServer, type LayerlensServer } from '../../lib/server/server.js';
import { parseServeArgs } from '../../lib/cli/serve.js';
import { InvalidParameterError } from '../../lib/is.js';
import { decodeForView, type ReportData } from '../../lib/render/report/data.js';
import { checkpoint, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { runCli } from '../helpers/cli.js';
import { useTestModel, useTinyModel } from '../helpers/fixtures.js';
import { signedRandom } from '../helpers/random.js';
import { getInfo, postLens } from '../helpers/viewer-api.js';
import { scriptJSON } from '../helpers/report-json.js';
import { randomTunedLensSpec, writeTunedLensFolder } from '../helpers/tuned-lens-writer.js';

const dir = checkpoint('tiny-f32');
const tiny = useTinyModel({ device: 'cpu', threads: 2 });
const work = mkdtempSync(join(tmpdir(), 'layerlens-steer-view-'));
const SCALE = 2;
let model: Model;
let direction: Float32Array;
let cvFile = '';
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(async () => {
  model = tiny.model;
  const rnd = signedRandom(7);
  // large enough to move the top tokens of the tiny model's last block
  direction = Float32Array.from({ length: model.info.n_embd }, () => rnd() * 8);
  cvFile = join(work, 'v.gguf');
  await writeControlVector(cvFile, { modelHint: 'gpt2', directions: new Map([[1, direction]]) });
});

/** The steering as a plain intervention: direction.1 × scale added to blocks.1.resid_post everywhere. */
const steeredBy = (scale: number): Intervention => ({
  hook: 'blocks.1.resid_post',
  op: 'add',
  vector: Float32Array.from(direction, (x) => x * scale),
  positions: 'all',
});

/** The CLI on the tiny checkpoint (cpu, top 5) writing the HTML report of the notebook prompt to `out`. */
const runHtml = (out: string, ...flags: string[]) => runCli(['--model', dir, '--device', 'cpu', '--top-k', '5', '--html', out, ...flags, NOTEBOOK_PROMPT]);

/** The run a report page embeds. */
const embedded = (file: string) => scriptJSON(readFileSync(file, 'utf8'), 'll-data') as ReportData;

type Rows = { name: string; top?: { id: number; prob: number }[] }[];
const tops = (hooks: Rows) => hooks.filter((h) => h.top).map((h) => ({ name: h.name, top: h.top!.map((t) => [t.id, t.prob]) }));
const lensed = (hooks: Rows) => hooks.filter((h) => h.top).map((h) => h.name);

/** The lensed rows of `data` equal those of the reference run (ids exactly, probabilities to float precision). */
function expectRows(data: Rows, ref: LensResult): void {
  const want = tops(JSON.parse(JSON.stringify(toJSON(ref))).hooks as Rows);
  const got = tops(data);
  expect(got.map((h) => h.name)).toEqual(want.map((h) => h.name));
  for (const [i, h] of got.entries()) {
    expect(h.top.map((t) => t[0])).toEqual(want[i].top.map((t) => t[0]));
    for (const [k, t] of h.top.entries()) expect(t[1]).toBeCloseTo(want[i].top[k][1], 6);
  }
}

/** Rows before blocks.1.resid_post agree exactly between the runs; blocks.1.resid_post differs. */
function expectActsFromBlock1(after: Rows, before: Rows): void {
  const a = tops(after);
  const b = tops(before);
  const at = a.findIndex((h) => h.name === 'blocks.1.resid_post');
  expect(at).toBeGreaterThan(0);
  expect(a.slice(0, at)).toEqual(b.slice(0, at));
  expect(a[at]).not.toEqual(b[at]);
}

describe('--html with control vectors', () => {
  it('writes the unsteered and the steered run, labelled, identical before block 1 and different at it', async () => {
    const out = join(work, 'steer.html');
    const r = await runHtml(out, '--control-vector-scaled', cvFile, String(SCALE));
    expect(r.err).toMatch(/wrote .*steer\.html/);
    expect(r.code).toBe(0);
    const d = embedded(out);
    expect([d.label, d.compare!.label]).toEqual([`after (steered: v.gguf ×${SCALE}, block 1)`, 'before (clean run)']);
    const hooks = lensed(d.hooks);
    const opts = { model, hooks, positions: 'all' as const, topK: 5 };
    expectRows(d.hooks, await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [steeredBy(SCALE)] }));
    expectRows(d.compare!.hooks, await decodeLayers(NOTEBOOK_PROMPT, opts));
    expectActsFromBlock1(d.hooks, d.compare!.hooks);
  });

  it('with --ablate both runs are ablated: ablated-unsteered vs ablated-steered', async () => {
    const out = join(work, 'steer-ablate.html');
    const r = await runHtml(out, '--ablate', 'blocks.0.mlp_out', '--control-vector', cvFile);
    expect(r.code).toBe(0);
    const d = embedded(out);
    expect([d.label, d.compare!.label]).toEqual([
      'after (steered: v.gguf ×1, block 1; ablated: blocks.0.mlp_out)',
      'before (unsteered; ablated: blocks.0.mlp_out)',
    ]);
    const zero: Intervention = { hook: 'blocks.0.mlp_out', op: 'zero' };
    const opts = { model, hooks: lensed(d.hooks), positions: 'all' as const, topK: 5 };
    expectRows(d.hooks, await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [steeredBy(1), zero] }));
    expectRows(d.compare!.hooks, await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [zero] }));
    expectActsFromBlock1(d.hooks, d.compare!.hooks);
  });

  it('with --tuned-lens both lenses get the before/after pair', async () => {
    const { name, n_embd, n_layer } = model.info;
    const lensDir = writeTunedLensFolder(join(work, 'lens'), randomTunedLensSpec(name, n_embd, n_layer, 21));
    const out = join(work, 'steer-tuned.html');
    const r = await runHtml(out, '--tuned-lens', lensDir, '--control-vector', cvFile);
    expect(r.code).toBe(0);
    const d = embedded(out);
    expect(d.label).toBe('after (steered: v.gguf ×1, block 1)');
    expect(d.tuned && d.compare?.tuned).toBeTruthy();
    const opts = { model, hooks: lensed(d.tuned!.hooks), positions: 'all' as const, topK: 5, tunedLens: lensDir, lens: 'tuned' as const };
    expectRows(d.tuned!.hooks, await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [steeredBy(1)] }));
    expectRows(d.compare!.tuned!.hooks, await decodeLayers(NOTEBOOK_PROMPT, opts));
    expectActsFromBlock1(d.tuned!.hooks, d.compare!.tuned!.hooks);
  });

  it('a control vector of the wrong width is an error naming the file', async () => {
    const bad = join(work, 'wide.gguf');
    const cv: ControlVector = { modelHint: 'gpt2', directions: new Map([[1, new Float32Array(model.info.n_embd + 1)]]) };
    await writeControlVector(bad, cv);
    const r = await runCli(['--model', dir, '--device', 'cpu', '--html', join(work, 'x.html'), '--control-vector', bad, 'Hi']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/wide\.gguf: its directions have \d+ values, the model's residual \d+/);
  });
});

describe('decodeForView with control vectors', () => {
  const wide = useTestModel(() => checkpoint('l4-d128-prefix', { layers: 4, embd: 128, heads: 8, ctx: 64, prefix: true, seed: 7 }), {
    load: { device: 'cpu', threads: 2 },
  });
  it('captures the steered attention in the second pass too (long prompts; 4 blocks, steered at block 1)', async () => {
    const m = wide.model;
    const v = Float32Array.from(
      { length: m.info.n_embd },
      (
        (r) => () =>
          r() * 8
      )(signedRandom(3)),
    );
    const add: Intervention = { hook: 'blocks.1.resid_post', op: 'add', vector: Float32Array.from(v, (x) => x * 2), positions: 'all' };
    const opts = { model: m, positions: 'all' as const, maxAttentionFloats: 2000 };
    const viaVectors = await decodeForView(NOTEBOOK_PROMPT, {
      ...opts,
      controlVectors: [{ vector: { modelHint: 'gpt2', directions: new Map([[1, v]]) }, scale: 2 }],
    });
    const viaAdd = await decodeForView(NOTEBOOK_PROMPT, { ...opts, interventions: [add] });
    const clean = await decodeForView(NOTEBOOK_PROMPT, opts);
    const weights = (r: LensResult) => r.attention!.map((l) => l.patterns.map((p) => p.map((h) => Array.from(h))));
    // the attention comes from the second pass here: fewer positions than lensed
    expect(viaVectors.attention![0].positions.length).toBeLessThan(viaVectors.positions.length);
    expect(weights(viaVectors)).toEqual(weights(viaAdd));
    // blocks 0 and 1 read the residual before the vector is added; blocks 2 and 3 after
    expect(weights(viaVectors).slice(0, 2)).toEqual(weights(clean).slice(0, 2));
    expect(weights(viaVectors)[2]).not.toEqual(weights(clean)[2]);
  });
});

describe('layerlens serve with control vectors', () => {
  let srv: LayerlensServer;
  let plain: LayerlensServer;
  beforeAll(async () => {
    srv = await startServer({ model, port: 0, controlVectors: [{ path: cvFile, scale: SCALE }] });
    plain = await startServer({ model, port: 0 });
  });
  afterAll(async () => {
    await srv?.close();
    await plain?.close();
  });
  it('says so in /api/info and shows the steering switch', async () => {
    expect((await getInfo<{ steering: unknown }>(srv)).steering).toEqual({ label: `v.gguf ×${SCALE}, block 1`, blocks: [1] });
    expect((await getInfo<{ steering: unknown }>(plain)).steering).toBeNull();
    const page = await (await fetch(srv.url)).text();
    expect(page).toContain('id="ll-steer"');
    expect(page).toContain(`"steering":"v.gguf ×${SCALE}, block 1"`);
    expect(await (await fetch(plain.url)).text()).not.toContain('id="ll-steer"');
  });

  it('"steer" true (the default) answers steered vs unsteered; false the unsteered run alone', async () => {
    const body = { prompt: NOTEBOOK_PROMPT, topK: 5, hooks: ['embed', 'resid_post'] };
    const hooks = ['embed', 'blocks.0.resid_post', 'blocks.1.resid_post'];
    const opts = { model, hooks, positions: 'all' as const, topK: 5 };
    const steered = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [steeredBy(SCALE)] });
    const clean = await decodeLayers(NOTEBOOK_PROMPT, opts);
    for (const b of [body, { ...body, steer: true }]) {
      const res = await postLens(srv, b);
      expect(res.status).toBe(200);
      const d = (await res.json()) as ReportData;
      expect(d.label).toBe(`after (steered: v.gguf ×${SCALE}, block 1)`);
      expectRows(d.hooks, steered);
      expectRows(d.compare!.hooks, clean);
      expectActsFromBlock1(d.hooks, d.compare!.hooks);
    }
    const off = (await (await postLens(srv, { ...body, steer: false })).json()) as ReportData;
    expect(off.compare).toBeUndefined();
    expectRows(off.hooks, clean);
    // an ablation applies to both runs
    const ab = (await (await postLens(srv, { ...body, ablate: ['blocks.0.mlp_out'] })).json()) as ReportData;
    const zero: Intervention = { hook: 'blocks.0.mlp_out', op: 'zero' };
    expect(ab.compare!.label).toBe('before (unsteered; ablated: blocks.0.mlp_out)');
    expectRows(ab.hooks, await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [steeredBy(SCALE), zero] }));
    expectRows(ab.compare!.hooks, await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [zero] }));
  });

  it('"steer" without control vectors, or not a boolean, is a 400', async () => {
    const res = await postLens(plain, { prompt: 'Hi', steer: true });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/"steer" is true but this server has no control vectors loaded/);
    expect((await postLens(plain, { prompt: 'Hi', steer: false })).status).toBe(200);
    const info = model.info;
    expect(() => parseLensRequest({ prompt: 'Hi', steer: 'yes' }, info, 100, undefined, false, true)).toThrow(InvalidParameterError);
    expect(parseLensRequest({ prompt: 'Hi' }, info, 100, undefined, false, true).steer).toBe(true);
    expect('steer' in parseLensRequest({ prompt: 'Hi' }, info, 100)).toBe(false);
  });

  it('checks the vectors against the model at start, and parses the flags', async () => {
    const bad = join(work, 'wide2.gguf');
    await writeControlVector(bad, { modelHint: 'gpt2', directions: new Map([[1, new Float32Array(model.info.n_embd + 3)]]) });
    await expect(startServer({ model, port: 0, controlVectors: [{ path: bad }] })).rejects.toThrow(/its directions have/);
    expect(parseServeArgs(['--control-vector-scaled', 'a.gguf', '0.5', '--control-vector', 'b.gguf', '--control-vector-layer-range', '1', '3'])).toMatchObject({
      steer: {
        controlVectors: [
          { path: 'b.gguf', scale: 1 },
          { path: 'a.gguf', scale: 0.5 },
        ],
        controlVectorLayerRange: [1, 3],
      },
    });
    expect(() => parseServeArgs(['--control-vector-layer-range', '1', '3'])).toThrow(/needs --control-vector/);
  });
});
