// The web viewer and the HTML report in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), on the tiny synthetic checkpoint: random weights, meaningless tokens, real pipeline.
// Writes test-output/viewer.png (the README's docs/viewer.png is a copy) and test-output/report.html.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../lib/index.js';
import { compactToken } from '../../lib/render/view.js';
import { formatProb } from '../../lib/render/format.js';
import { compareReportData, decodeForView, renderReport, reportData, type ReportData } from '../../lib/render/report/index.js';
import { startServer, type LayerlensServer } from '../../lib/server/server.js';
import { haveChromium, launchChromium, openReport, openViewer, runLens, type Chromium } from '../helpers/browser.js';
import { NOTEBOOK_IDS, NOTEBOOK_PROMPT, repoRoot } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { signedRandom } from '../helpers/random.js';

const BANNER = 'Synthetic test checkpoint with RANDOM weights (2 layers, 64 wide): the tokens are meaningless. This is not GPT-2.';
const OUT = join(repoRoot, 'test-output');

describe.skipIf(!haveChromium('browser tests'))('in headless Chromium', () => {
  const tiny = useTinyModel({ threads: 2 });
  let model: Model;
  let srv: LayerlensServer;
  let browser: Chromium;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    model = tiny.model;
    srv = await startServer({ model, port: 0, host: '127.0.0.1', banner: BANNER });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  /** A fresh page that records its requests, page errors and CSP violations (the bad target's 400 is meant). */
  const openPage = () => browser.openPage({ http4xxExpected: true });

  /** Checks the heatmap of the page against the data: rows, columns, headers, cell texts, a tooltip. */
  async function checkHeatmap(page: Page, data: ReportData, rowNames: string[], hover: { hook: string; pos: number }): Promise<void> {
    const n = data.tokens.length;
    expect(await page.locator('#ll-heatmap tbody tr').count()).toBe(data.model.n_layer + 1);
    expect(await page.locator('#ll-heatmap tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-hook')))).toEqual(rowNames);
    expect(await page.locator('#ll-heatmap tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td').length))).toEqual(rowNames.map(() => n));
    const headers = page.locator('#ll-heatmap thead th.ll-col');
    expect(await headers.count()).toBe(n);
    expect(await headers.evaluateAll((ths) => ths.map((th) => th.getAttribute('data-token')))).toEqual(data.tokens.map((t) => t.token));
    expect(await headers.allTextContents()).toEqual(data.tokens.map((t) => compactToken(t.token)));
    // every cell shows the top-1 token of its row
    for (const name of rowNames) {
      const texts = await page.locator(`#ll-heatmap tbody tr[data-hook="${name}"] td`).allTextContents();
      const expected = data.positions.map((p) => compactToken(data.hooks.find((h) => h.name === name && h.position === p)!.top![0].token));
      expect(texts, name).toEqual(expected);
    }
    // hover: the tooltip lists that cell's top-k, as the data has it
    await page.hover(`#ll-heatmap td[data-hook="${hover.hook}"][data-pos="${hover.pos}"]`);
    const tip = page.locator('#ll-tip');
    await expect.poll(() => tip.isVisible()).toBe(true);
    const want = data.hooks.find((h) => h.name === hover.hook && h.position === hover.pos)!;
    expect(await tip.locator('.ll-card').getAttribute('data-hook')).toBe(hover.hook);
    expect(await tip.locator('.ll-topk .ll-tok').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-id'))))).toEqual(want.top!.map((t) => t.id));
    expect(await tip.locator('.ll-topk .ll-tok').allTextContents()).toEqual(want.top!.map((t) => compactToken(t.token)));
    expect(await tip.locator('.ll-topk .ll-prob').allTextContents()).toEqual(want.top!.map((t) => formatProb(t.prob)));
    if (want.target) expect(await tip.locator('.ll-metrics').textContent()).toContain(`rank ${want.target.rank}`);
  }

  it('the viewer: type the notebook prompt, run, read the heatmap and a tooltip, click for attention', async () => {
    const { page, requests, errors } = await openPage();
    await openViewer(page, srv.url);
    await page.locator('#ll-prompt').pressSequentially(NOTEBOOK_PROMPT);
    expect(await page.inputValue('#ll-prompt')).toBe(NOTEBOOK_PROMPT);
    await page.fill('#ll-target', ' Paris');
    const response = await runLens(page);
    expect(response.status()).toBe(200);
    const api = (await response.json()) as ReportData;
    await page.waitForSelector('body[data-ready="true"]');
    expect(api.tokens.map((t) => t.id)).toEqual(NOTEBOOK_IDS);
    expect(api.tokens).toHaveLength(26);

    await checkHeatmap(page, api, ['embed', 'blocks.0.resid_post', 'blocks.1.resid_post'], { hook: 'blocks.0.resid_post', pos: 12 });

    // click: details, plots of the target across layers, attention of that position per head
    await page.click('#ll-heatmap td[data-hook="blocks.1.resid_post"][data-pos="25"]');
    expect(await page.locator('#ll-details .ll-card').getAttribute('data-pos')).toBe('25');
    expect(await page.locator('#ll-plots svg').count()).toBe(3); // target probability, target rank, KL
    expect(await page.locator('#ll-attention .ll-heads[data-pos="25"] canvas').count()).toBe(api.model.n_head);

    // colouring by the target's rank changes the cells' colours
    const before = await page
      .locator('#ll-heatmap tbody td')
      .evaluateAll((tds) => tds.map((td) => (td as unknown as { style: { background: string } }).style.background));
    await page.selectOption('#ll-metric', 'rank');
    const after = await page
      .locator('#ll-heatmap tbody td')
      .evaluateAll((tds) => tds.map((td) => (td as unknown as { style: { background: string } }).style.background));
    expect(after).not.toEqual(before);
    await page.selectOption('#ll-metric', 'prob');

    // a bad target is reported on the page
    await page.fill('#ll-target', 'Warsaw');
    await page.click('#ll-run');
    await page.waitForSelector('body[data-ready="error"]');
    expect(await page.textContent('#ll-status')).toMatch(/Error 400: "target": target "Warsaw" is 2 tokens/);
    await page.fill('#ll-target', ' Paris');
    await page.click('#ll-run');
    await page.waitForSelector('body[data-ready="true"]');

    // the picture for the README (docs/viewer.png): a selected cell with its top-k, plots and attention
    await page.click('#ll-heatmap td[data-hook="blocks.0.resid_post"][data-pos="12"]');
    await page.mouse.move(5, 5);
    await expect.poll(() => page.locator('#ll-tip').isVisible()).toBe(false);
    await page.evaluate("document.querySelector('.ll-heatmap-wrap').scrollLeft = 0; window.scrollTo(0, 0)");
    await page.screenshot({ path: join(OUT, 'viewer.png'), fullPage: true });

    expect(errors).toEqual([]);
    expect(requests.every((u) => u.startsWith(srv.url))).toBe(true);
    await page.close();
  });

  it('the HTML report from a file:// URL: the same heatmap and tooltips, and no network at all', async () => {
    const result = await decodeForView(NOTEBOOK_PROMPT, { model, positions: 'all', metrics: true, target: ' Paris', topK: 6 });
    const file = join(OUT, 'report.html');
    writeFileSync(file, renderReport(result, { banner: BANNER }));
    const data = JSON.parse(JSON.stringify(reportData(result))) as ReportData;

    const { page, requests, errors } = await openPage();
    const url = await openReport(page, file);
    await checkHeatmap(page, data, ['embed', 'blocks.0.resid_post', 'blocks.1.resid_post'], { hook: 'blocks.1.resid_post', pos: 7 });

    // the hook-kind control switches the rows to another kind present in the data
    expect(await page.locator('#ll-kind option').evaluateAll((os) => os.map((o) => o.getAttribute('value')))).toEqual(['resid_post', 'resid_mid']);
    await page.selectOption('#ll-kind', 'resid_mid');
    await checkHeatmap(page, data, ['embed', 'blocks.0.resid_mid', 'blocks.1.resid_mid'], { hook: 'blocks.0.resid_mid', pos: 3 });

    await page.click('#ll-heatmap td[data-hook="blocks.1.resid_mid"][data-pos="9"]');
    expect(await page.locator('#ll-attention .ll-heads[data-pos="9"] canvas').count()).toBe(data.model.n_head);
    await page.selectOption('#ll-metric', 'kl');
    await page.selectOption('#ll-metric', 'entropy');

    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
    await page.close();
  });

  /** A cell whose top-1 token differs between the two runs of a before/after data (ablation changes some). */
  function changedCell(d: ReportData): { hook: string; pos: number; after: string; before: string } {
    for (const h of d.hooks) {
      const o = d.compare!.hooks.find((x) => x.name === h.name && x.position === h.position);
      if (h.top && o?.top && h.top[0].id !== o.top[0].id && h.kind === 'resid_post')
        return { hook: h.name, pos: h.position, after: h.top[0].token, before: o.top[0].token };
    }
    throw new Error('the ablation changed no top-1 token');
  }
  const cellText = (page: Page, c: { hook: string; pos: number }) => page.textContent(`#ll-heatmap td[data-hook="${c.hook}"][data-pos="${c.pos}"]`);

  it('before/after: the report and the viewer switch the heatmap between the ablated and the clean run', async () => {
    const opts = { model, positions: 'all' as const, metrics: true, target: ' Paris', topK: 6 };
    const after = await decodeForView(NOTEBOOK_PROMPT, { ...opts, interventions: [{ hook: 'blocks.1.mlp_out', op: 'zero' }] });
    const before = await decodeForView(NOTEBOOK_PROMPT, opts);
    const file = join(OUT, 'report-compare.html');
    writeFileSync(file, renderReport(after, { banner: BANNER, label: 'after (ablated)', compare: { result: before, label: 'before (clean)' } }));
    const data = JSON.parse(JSON.stringify(compareReportData(after, before, { label: 'after (ablated)', compareLabel: 'before (clean)' }))) as ReportData;
    const cell = changedCell(data);
    const rows = ['embed', 'blocks.0.resid_post', 'blocks.1.resid_post'];

    const { page, errors } = await openPage();
    await openReport(page, file);
    expect(await page.isVisible('#ll-which')).toBe(true);
    expect(await page.locator('#ll-which option').allTextContents()).toEqual(['after (ablated)', 'before (clean)']);
    await checkHeatmap(page, data, rows, { hook: cell.hook, pos: cell.pos });
    expect(await cellText(page, cell)).toBe(compactToken(cell.after));
    await page.selectOption('#ll-which', 'before');
    await page.waitForSelector('#ll-heatmap[data-run="before"]');
    expect(await cellText(page, cell)).toBe(compactToken(cell.before));
    await checkHeatmap(page, data.compare!, rows, { hook: cell.hook, pos: cell.pos });
    // the difference colouring: after − before of the target's probability, whichever run is shown
    await page.selectOption('#ll-metric', 'diff');
    const diff = Number(await page.getAttribute(`#ll-heatmap td[data-hook="${cell.hook}"][data-pos="${cell.pos}"]`, 'data-diff'));
    const prob = (d: ReportData) => d.hooks.find((h) => h.name === cell.hook && h.position === cell.pos)!.target!.prob;
    expect(diff).toBeCloseTo(prob(data) - prob(data.compare!), 12);
    expect(await page.textContent('#ll-legend')).toMatch(/after − before, the target’s probability/);
    // the plots draw both runs
    await page.click(`#ll-heatmap td[data-hook="${cell.hook}"][data-pos="${cell.pos}"]`);
    expect(await page.locator('#ll-plots svg polyline[data-run="before"]').count()).toBe(3);
    expect(await page.locator('#ll-plots svg polyline[data-run="after"]').count()).toBe(3);
    expect(errors).toEqual([]);
    await page.close();

    // the viewer: an ablate box; the answer carries "compare" and the page offers the switch
    const v = await openPage();
    await openViewer(v.page, srv.url);
    expect(await v.page.isVisible('#ll-which')).toBe(false);
    await v.page.fill('#ll-prompt', NOTEBOOK_PROMPT);
    await v.page.fill('#ll-ablate', ' blocks.1.mlp_out ,');
    const response = await runLens(v.page);
    expect(JSON.parse(response.request().postData()!).ablate).toEqual(['blocks.1.mlp_out']);
    const api = (await response.json()) as ReportData;
    await v.page.waitForSelector('body[data-ready="true"]');
    expect(api.compare).toBeDefined();
    const c = changedCell(api);
    expect(await v.page.isVisible('#ll-which')).toBe(true);
    expect(await cellText(v.page, c)).toBe(compactToken(c.after));
    await v.page.selectOption('#ll-which', 'before');
    await v.page.waitForSelector('#ll-heatmap[data-run="before"]');
    expect(await cellText(v.page, c)).toBe(compactToken(c.before));
    expect(v.errors).toEqual([]);
    await v.page.close();
  });

  it('the viewer with control vectors: a steering switch that asks for steered vs unsteered, or unsteered alone', async () => {
    const rnd = signedRandom(7);
    const direction = Float32Array.from({ length: model.info.n_embd }, () => rnd() * 8);
    const steered = await startServer({ model, port: 0, controlVectors: [{ vector: { modelHint: 'gpt2', directions: new Map([[1, direction]]) }, scale: 2 }] });
    try {
      const v = await openPage();
      await openViewer(v.page, steered.url);
      expect(await v.page.isChecked('#ll-steer')).toBe(true);
      expect(await v.page.locator('label:has(#ll-steer)').textContent()).toContain('vector 0 ×2, block 1');
      await v.page.fill('#ll-prompt', NOTEBOOK_PROMPT);
      const on = await runLens(v.page);
      expect(JSON.parse(on.request().postData()!).steer).toBe(true);
      expect(((await on.json()) as ReportData).compare?.label).toBe('before (clean run)');
      await v.page.waitForSelector('body[data-ready="true"]');
      expect(await v.page.isVisible('#ll-which')).toBe(true);
      await v.page.uncheck('#ll-steer');
      const off = await runLens(v.page);
      expect(JSON.parse(off.request().postData()!).steer).toBe(false);
      expect(((await off.json()) as ReportData).compare).toBeUndefined();
      await v.page.waitForSelector('body[data-ready="true"]');
      expect(await v.page.isVisible('#ll-which')).toBe(false);
      expect(v.errors).toEqual([]);
      await v.page.close();
      // a server without vectors has no switch, and its requests carry no "steer"
      const p = await openPage();
      await openViewer(p.page, srv.url);
      expect(await p.page.locator('#ll-steer').count()).toBe(0);
      await p.page.close();
    } finally {
      // Chromium keeps (and speculatively opens) connections that close() would wait out for minutes
      steered.server.closeAllConnections();
      await steered.close();
    }
  });
});
