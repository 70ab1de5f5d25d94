// The logit and the tuned lens side by side: the HTML report (both grids' data, the lens switch), the
// viewer's POST /api/lens with "lens" (logit | tuned | both; "tuned" without a lens loaded is a 400),
// `layerlens --html --tuned-lens`, and a lens by name through the CLI from a stand-in of the hub. On the
// tiny synthetic checkpoint (random weights) with random translators written by the test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeLayers, toJSON, type Model } from '../../lib/index.js';
import { decodeBothLenses, renderReport, type ReportData } from '../../lib/render/report/index.js';
import { startServer, type LayerlensServer } from '../../lib/server/server.js';
import { NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { runCli } from '../helpers/cli.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { FakeHub } from '../helpers/hub-server.js';
import { scriptJSON } from '../helpers/report-json.js';
import { randomTunedLensSpec, writeTunedLensFolder } from '../helpers/tuned-lens-writer.js';
import { getInfo, postLens } from '../helpers/viewer-api.js';

const tiny = useTinyModel({ threads: 2 });
let model: Model;
let lensDir = '';
let srv: LayerlensServer;
let plain: LayerlensServer;
const work = mkdtempSync(join(tmpdir(), 'layerlens-tuned-view-'));

type Hook = ReportData['hooks'][number];
const key = (h: Hook) => `${h.name}@${h.position}`;
const tops = (d: { hooks: Hook[] }) => new Map(d.hooks.filter((h) => h.top).map((h) => [key(h), h.top!.map((t) => t.id)]));

/** The logit and tuned rows of one run: translated rows (embed, resid_post but the last) differ somewhere, all others agree exactly. */
function checkPair(logit: { hooks: Hook[] }, tuned: { hooks: Hook[] }, nLayer: number): void {
  const a = tops(logit);
  const b = tops(tuned);
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  let differ = 0;
  for (const h of tuned.hooks) {
    if (!h.top) continue;
    const translated = h.kind === 'embed' || (h.kind === 'resid_post' && h.layer! < nLayer - 1);
    expect(h.lens, key(h)).toBe(translated ? 'tuned' : 'logit');
    if (!translated) expect(b.get(key(h)), key(h)).toEqual(a.get(key(h)));
    else if (JSON.stringify(b.get(key(h))) !== JSON.stringify(a.get(key(h)))) differ++;
  }
  expect(differ, 'the translators change some translated row').toBeGreaterThan(0);
  const last = `blocks.${nLayer - 1}.resid_post`;
  expect(tuned.hooks.some((h) => h.name === last && h.top)).toBe(true);
}

beforeAll(async () => {
  model = tiny.model;
  const { n_layer, n_embd, name } = model.info;
  lensDir = writeTunedLensFolder(join(work, 'lens'), randomTunedLensSpec(name, n_embd, n_layer, 21));
  srv = await startServer({ model, port: 0, tunedLens: lensDir });
  plain = await startServer({ model, port: 0 });
});
afterAll(async () => {
  await srv?.close();
  await plain?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the report with the tuned lens', () => {
  it('holds the logit and the tuned lens of the same run and the lens switch (logit | tuned | both)', async () => {
    const { n_layer } = model.info;
    const runs = vi.spyOn(model, 'run');
    const pair = await decodeBothLenses(NOTEBOOK_PROMPT, { model, tunedLens: lensDir, positions: 'all', metrics: true, target: ' Paris' });
    // one forward for both lenses (the tuned lens translates the logit run's activations)
    expect(runs).toHaveBeenCalledTimes(1);
    runs.mockRestore();
    const alone = await decodeLayers(NOTEBOOK_PROMPT, {
      model,
      tunedLens: lensDir,
      positions: 'all',
      metrics: true,
      target: ' Paris',
      hooks: ['embed', 'resid_mid', 'resid_post'],
    });
    expect(JSON.parse(JSON.stringify(toJSON(pair.tuned)))).toEqual(JSON.parse(JSON.stringify(toJSON(alone))));
    expect(pair.logit.lens).toBeUndefined();
    expect(pair.tuned.lens).toBe('tuned');
    // the same activations: the last block's resid_post (the prediction) is the same in both
    expect(pair.tuned.prediction).toEqual(pair.logit.prediction);
    const html = renderReport(pair.logit, { tuned: pair.tuned });
    const data = scriptJSON(html, 'll-data') as ReportData;
    expect(data.lens).toBeUndefined();
    expect(data.attention).toBeDefined();
    expect(data.tuned!.lens).toBe('tuned');
    checkPair(data, data.tuned!, n_layer);
    // every position of every lensed hook, in both
    expect(data.tuned!.hooks.filter((h) => h.top).length).toBe(data.hooks.filter((h) => h.top).length);
    expect(scriptJSON(html, 'll-config')).toMatchObject({ mode: 'report', lens: 'both' });
    expect(html).toMatch(
      /<label id="ll-lens-wrap" hidden>Lens<select id="ll-lens">\s*<option value="logit">logit lens<\/option>\s*<option value="tuned">tuned lens<\/option>\s*<option value="both">both, side by side<\/option>/,
    );
    expect(html).toContain('<table id="ll-heatmap" class="ll-heatmap">');
    expect(html).toContain('<table id="ll-heatmap-tuned" class="ll-heatmap" data-lens="tuned">');
    // no network: the switch is the inline script's
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(scriptJSON(renderReport(pair.logit, { tuned: pair.tuned, lens: 'tuned' }), 'll-config')).toMatchObject({ lens: 'tuned' });
    // without a tuned lens: no lens in the config, no tuned data
    const bare = renderReport(pair.logit);
    expect((scriptJSON(bare, 'll-data') as ReportData).tuned).toBeUndefined();
    expect(scriptJSON(bare, 'll-config')).not.toHaveProperty('lens');
  });

  it('layerlens --html --tuned-lens writes both lenses; --lens picks what the table shows and the page shows first', async () => {
    const { n_layer } = model.info;
    const file = join(work, 'r.html');
    const r = await runCli(['--model', tiny.dir, '--threads', '2', '--tuned-lens', lensDir, '--html', file, '--json', NOTEBOOK_PROMPT]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { lens?: string };
    expect(json.lens).toBe('tuned');
    const html = readFileSync(file, 'utf8');
    const data = scriptJSON(html, 'll-data') as ReportData;
    checkPair(data, data.tuned!, n_layer);
    expect(scriptJSON(html, 'll-config')).toMatchObject({ lens: 'both' });

    const l = await runCli(['--model', tiny.dir, '--threads', '2', '--tuned-lens', lensDir, '--lens', 'logit', '--html', file, '--json', NOTEBOOK_PROMPT]);
    expect(l.code).toBe(0);
    expect((JSON.parse(l.out) as { lens?: string }).lens).toBeUndefined();
    expect(scriptJSON(readFileSync(file, 'utf8'), 'll-config')).toMatchObject({ lens: 'logit' });

    // with --ablate: both runs carry both lenses
    const a = await runCli(['--model', tiny.dir, '--threads', '2', '--tuned-lens', lensDir, '--ablate', 'blocks.1.mlp_out', '--html', file, NOTEBOOK_PROMPT]);
    expect(a.code).toBe(0);
    const ad = scriptJSON(readFileSync(file, 'utf8'), 'll-data') as ReportData;
    checkPair(ad, ad.tuned!, n_layer);
    checkPair(ad.compare!, ad.compare!.tuned!, n_layer);
  });

  it('--lens is checked: tuned needs --tuned-lens, and only logit and tuned exist', async () => {
    const t = await runCli(['--lens', 'tuned', 'x']);
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/--lens tuned needs --tuned-lens PATH\|NAME/);
    const bad = await runCli(['--lens', 'native', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--lens/);
    // --lens logit with a tuned lens: the logit lens, rows unmarked
    const l = await runCli(['--model', tiny.dir, '--threads', '2', '--tuned-lens', lensDir, '--lens', 'logit', '--json', NOTEBOOK_PROMPT]);
    const plainRun = await decodeLayers(NOTEBOOK_PROMPT, { model });
    const j = JSON.parse(l.out) as { lens?: string; hooks: Hook[] };
    expect(j.lens).toBeUndefined();
    expect(j.hooks.map((h) => h.top!.map((x) => x.id))).toEqual(plainRun.hooks.map((h) => h.top!.map((x) => x.id)));
  });
});

describe('the viewer with the tuned lens', () => {
  it('answers lens "logit", "tuned" and "both": they differ where translators act and agree everywhere else, the last block included', async () => {
    const { n_layer } = model.info;
    const body = { prompt: NOTEBOOK_PROMPT, hooks: ['embed', 'resid_post', 'resid_mid'] };
    const logit = (await (await postLens(srv, body)).json()) as ReportData;
    const tunedRes = await postLens(srv, { ...body, lens: 'tuned' });
    expect(tunedRes.status).toBe(200);
    const tuned = (await tunedRes.json()) as ReportData;
    expect(logit.lens).toBeUndefined();
    expect(tuned.lens).toBe('tuned');
    checkPair(logit, tuned, n_layer);
    // the tuned rows are decodeLayers' own with the same lens
    const api = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: lensDir, hooks: ['embed', 'resid_post', 'resid_mid'], positions: 'all', topK: 10 });
    expect(tops(tuned)).toEqual(tops(api as unknown as { hooks: Hook[] }));
    const both = (await (await postLens(srv, { ...body, lens: 'both' })).json()) as ReportData;
    expect(tops(both)).toEqual(tops(logit));
    expect(tops(both.tuned!)).toEqual(tops(tuned));
    // ablate with both: the clean run has its tuned lens too
    const ab = (await (await postLens(srv, { ...body, lens: 'both', ablate: ['blocks.1.mlp_out'] })).json()) as ReportData;
    checkPair(ab, ab.tuned!, n_layer);
    checkPair(ab.compare!, ab.compare!.tuned!, n_layer);
  });

  it('"tuned" without a tuned lens loaded is a 400 that says how to load one; a bad "lens" is a 400', async () => {
    const r = await postLens(plain, { prompt: 'a b', lens: 'tuned' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(
      /"lens" is "tuned" but this server has no tuned lens loaded; start it with --tuned-lens PATH\|NAME/,
    );
    const bad = await postLens(srv, { prompt: 'a b', lens: 'native' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/Expected "logit", "tuned" or "both" for "lens"/);
  });

  it('the page and /api/info say which tuned lens is loaded', async () => {
    const html = await (await fetch(srv.url)).text();
    expect(scriptJSON(html, 'll-config')).toMatchObject({ mode: 'server', lens: 'both', tunedLens: expect.stringContaining(lensDir) });
    const info = await getInfo<{ tunedLens: { source: string } | null }>(srv);
    expect(info.tunedLens!.source).toBe(lensDir);
    const none = await getInfo<{ tunedLens: unknown }>(plain);
    expect(none.tunedLens).toBeNull();
  });
});

describe('a published lens by name through the CLI', () => {
  it('--tuned-lens NAME downloads lens/NAME/ from the space into the HF cache and decodes with it', async () => {
    const { n_layer, n_embd, name } = model.info;
    const src = writeTunedLensFolder(join(work, 'published'), randomTunedLensSpec(name, n_embd, n_layer, 22));
    const hub = await FakeHub.start({
      'spaces/AlignmentResearch/tuned-lens': {
        commit: 'c0ffee0000000000000000000000000000000002',
        files: {
          'lens/tiny-test/config.json': readFileSync(join(src, 'config.json')),
          'lens/tiny-test/params.pt': readFileSync(join(src, 'params.pt')),
        },
      },
    });
    try {
      const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(work, 'hf-cache'), HF_HUB_DISABLE_PROGRESS_BARS: '1' };
      const r = await runCli(['--model', tiny.dir, '--threads', '2', '--tuned-lens', 'tiny-test', '--json', NOTEBOOK_PROMPT], { env });
      expect(r.code, r.err).toBe(0);
      const byName = JSON.parse(r.out) as { lens: string; hooks: Hook[] };
      const byFolder = await decodeLayers(NOTEBOOK_PROMPT, { model, tunedLens: src });
      expect(byName.lens).toBe('tuned');
      expect(byName.hooks.map((h) => h.top!.map((t) => t.id))).toEqual(byFolder.hooks.map((h) => h.top!.map((t) => t.id)));
      const missing = await runCli(['--model', tiny.dir, '--threads', '2', '--tuned-lens', 'no-such-model', NOTEBOOK_PROMPT], { env });
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/no published tuned lens "no-such-model"/);
      expect(missing.err).toMatch(/What to do/);
    } finally {
      await hub.close();
    }
  });
});
