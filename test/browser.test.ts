// The web viewer and the HTML report in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), on the tiny synthetic checkpoint: random weights, meaningless tokens, real pipeline.
// Writes test-output/viewer.png (the README's docs/viewer.png is a copy) and test-output/report.html.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../lib/index.js';
import { compactToken } from '../lib/cli/view.js';
import { formatProb } from '../lib/format.js';
import { decodeForView, renderReport, reportData, type ReportData } from '../lib/report/index.js';
import { startServer, type LayerlensServer } from '../lib/server.js';
import { checkpoint, NOTEBOOK_IDS, NOTEBOOK_PROMPT, repoRoot } from './helpers/checkpoints.js';
import { testDevice } from './helpers/device.js';

const CHROMIUM = process.env.LAYERLENS_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.log(`browser tests: skipped: no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set LAYERLENS_CHROMIUM)`);
}

const BANNER = 'Synthetic test checkpoint with RANDOM weights (2 layers, 64 wide): the tokens are meaningless. This is not GPT-2.';
const OUT = join(repoRoot, 'test-output');

describe.skipIf(!haveChromium)('in headless Chromium', () => {
  let model: Model;
  let srv: LayerlensServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    model = await loadModel(checkpoint('tiny-f32'), { device: testDevice(), threads: 2 });
    srv = await startServer({ model, port: 0, host: '127.0.0.1', banner: BANNER });
    profile = mkdtempSync(join(tmpdir(), 'layerlens-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 1760, height: 1000 },
      deviceScaleFactor: 1,
    });
  });

  afterAll(async () => {
    await context?.close();
    await srv?.close();
    model?.dispose();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** A fresh page that records its requests, page errors and CSP violations. */
  async function openPage(): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) errors.push(m.text());
    });
    await page.addInitScript({ content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.blockedURI));" });
    return { page, requests, errors };
  }

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
    await page.goto(srv.url);
    await page.waitForSelector('body[data-ready="idle"]');
    await page.locator('#ll-prompt').pressSequentially(NOTEBOOK_PROMPT);
    expect(await page.inputValue('#ll-prompt')).toBe(NOTEBOOK_PROMPT);
    await page.fill('#ll-target', ' Paris');
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/lens')), page.click('#ll-run')]);
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
    const before = await page.locator('#ll-heatmap tbody td').evaluateAll((tds) => tds.map((td) => (td as unknown as { style: { background: string } }).style.background));
    await page.selectOption('#ll-metric', 'rank');
    const after = await page.locator('#ll-heatmap tbody td').evaluateAll((tds) => tds.map((td) => (td as unknown as { style: { background: string } }).style.background));
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
    const url = pathToFileURL(file).href;

    const { page, requests, errors } = await openPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
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
});
