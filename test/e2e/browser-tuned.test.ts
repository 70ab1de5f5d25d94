// The lens switch (logit | tuned | both) of the HTML report and of the viewer in a real headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core; skipped without it), on the tiny
// synthetic checkpoint with random translators: the cells each heatmap shows are the top-1 tokens of
// that lens's rows in the page's data. Writes test-output/report-tuned.html.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../lib/index.js';
import { compactToken } from '../../lib/render/view.js';
import { decodeBothLenses, renderReport, withTuned, reportData, type ReportData } from '../../lib/render/report/index.js';
import { startServer, type LayerlensServer } from '../../lib/server/server.js';
import { haveChromium, launchChromium, openReport, openViewer, runLens, type Chromium } from '../helpers/browser.js';
import { NOTEBOOK_PROMPT, repoRoot } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { randomTunedLensSpec, writeTunedLensFolder } from '../helpers/tuned-lens-writer.js';

const OUT = join(repoRoot, 'test-output');
type Hook = ReportData['hooks'][number];

describe.skipIf(!haveChromium('browser tests (tuned lens)'))('the lens switch in headless Chromium', () => {
  const tiny = useTinyModel({ threads: 2 });
  let model: Model;
  let srv: LayerlensServer;
  let browser: Chromium;
  let work: string;
  let lensDir: string;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    model = tiny.model;
    work = mkdtempSync(join(tmpdir(), 'layerlens-browser-tuned-'));
    const { n_layer, n_embd, name } = model.info;
    lensDir = writeTunedLensFolder(join(work, 'lens'), randomTunedLensSpec(name, n_embd, n_layer, 31));
    srv = await startServer({ model, port: 0, host: '127.0.0.1', tunedLens: lensDir });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const openPage = () => browser.openPage();

  /** The top-1 token texts a table shows in row `name`, and those the data says. */
  const shown = (page: Page, table: string, name: string) => page.locator(`#${table} tbody tr[data-hook="${name}"] td`).allTextContents();
  const expected = (d: { hooks: Hook[]; positions: number[] }, name: string) =>
    d.positions.map((p) => compactToken(d.hooks.find((h) => h.name === name && h.position === p)!.top![0].token));

  /** A translated row whose top-1 tokens differ between the lenses (the test needs one to tell them apart). */
  function changedRow(data: ReportData): string {
    const name = ['embed', 'blocks.0.resid_post'].find((n) => JSON.stringify(expected(data, n)) !== JSON.stringify(expected(data.tuned!, n)));
    if (!name) throw new Error('the translators changed no top-1 token');
    return name;
  }

  /** Drives the switch through both, tuned and logit and checks the tables against the data. */
  async function checkSwitch(page: Page, data: ReportData): Promise<void> {
    const row = changedRow(data);
    const last = `blocks.${data.model.n_layer - 1}.resid_post`;
    // both (the default): the logit lens left, the tuned lens right
    expect(await page.isVisible('#ll-lens')).toBe(true);
    expect(await page.inputValue('#ll-lens')).toBe('both');
    expect(await page.isVisible('#ll-heatmap-tuned')).toBe(true);
    expect(await page.getAttribute('#ll-heatmap', 'data-lens')).toBe('logit');
    expect(await shown(page, 'll-heatmap', row)).toEqual(expected(data, row));
    expect(await shown(page, 'll-heatmap-tuned', row)).toEqual(expected(data.tuned!, row));
    expect(await shown(page, 'll-heatmap-tuned', last)).toEqual(expected(data, last));
    // a click pins both cards; the plots draw both lenses
    await page.click(`#ll-heatmap td[data-hook="${row}"][data-pos="${data.positions[data.positions.length - 1]}"]`);
    expect(await page.locator('#ll-details .ll-card').evaluateAll((cs) => cs.map((c) => c.getAttribute('data-lens')))).toEqual(['logit', 'tuned']);
    expect(await page.locator('#ll-plots svg polyline[data-run="tuned"]').count()).toBeGreaterThan(0);
    // tuned only
    await page.selectOption('#ll-lens', 'tuned');
    await page.waitForSelector('#ll-heatmap[data-lens="tuned"]');
    expect(await page.isVisible('#ll-heatmap-tuned')).toBe(false);
    expect(await shown(page, 'll-heatmap', row)).toEqual(expected(data.tuned!, row));
    // logit only
    await page.selectOption('#ll-lens', 'logit');
    await page.waitForSelector('#ll-heatmap[data-lens="logit"]');
    expect(await shown(page, 'll-heatmap', row)).toEqual(expected(data, row));
    expect(await page.isVisible('#ll-heatmap-tuned')).toBe(false);
  }

  it('the report: the switch flips between the logit lens, the tuned lens and both side by side, without a server', async () => {
    const pair = await decodeBothLenses(NOTEBOOK_PROMPT, { model, tunedLens: lensDir, positions: 'all', metrics: true, target: ' Paris', topK: 6 });
    const file = join(OUT, 'report-tuned.html');
    writeFileSync(file, renderReport(pair.logit, { tuned: pair.tuned }));
    const data = JSON.parse(JSON.stringify(withTuned(reportData(pair.logit), pair.tuned))) as ReportData;
    const { page, requests, errors } = await openPage();
    await openReport(page, file);
    await checkSwitch(page, data);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the viewer: one request answers both lenses, and the switch needs no other', async () => {
    const { page, requests, errors } = await openPage();
    await openViewer(page, srv.url);
    await page.fill('#ll-prompt', NOTEBOOK_PROMPT);
    const response = await runLens(page);
    expect(JSON.parse(response.request().postData()!).lens).toBe('both');
    const data = (await response.json()) as ReportData;
    await page.waitForSelector('body[data-ready="true"]');
    const before = requests.length;
    await checkSwitch(page, data);
    expect(requests.length).toBe(before);
    expect(errors).toEqual([]);
    await page.close();
  });
});
