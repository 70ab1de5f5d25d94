// A real headless Chromium for the viewer and report tests: Debian's /usr/bin/chromium (or the one
// LAYERLENS_CHROMIUM names), driven by playwright-core, which brings no browser of its own.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';

export const CHROMIUM = process.env.LAYERLENS_CHROMIUM ?? '/usr/bin/chromium';

/** Whether Chromium is there; when it is not, says on the console which tests are skipped and how to get it. */
export function haveChromium(tests: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.log(`${tests}: skipped: no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set LAYERLENS_CHROMIUM)`);
  return false;
}

/** A page with what it did: the URLs it requested, and its script errors, console errors and CSP violations. */
export interface WatchedPage {
  page: Page;
  requests: string[];
  errors: string[];
}

export interface PageOptions {
  /**
   * The page is meant to get 4xx answers (a bad request the page reports): Chromium logs each as a
   * console error ("the server responded with a status of 400"), which is then not counted in `errors`.
   */
  http4xxExpected?: boolean;
}

export interface Chromium {
  readonly context: BrowserContext;
  /** A fresh page that records its requests and errors. */
  openPage(options?: PageOptions): Promise<WatchedPage>;
  /** Closes the browser (before any server it talked to: its kept-alive connections hold a closing server) and removes its profile. */
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile, no network of its own (no updates, sync or QUIC) and a wide fixed viewport. */
export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'layerlens-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
      viewport: { width: 1760, height: 1000 },
      deviceScaleFactor: 1,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async openPage(options: PageOptions = {}): Promise<WatchedPage> {
      const page = await context.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' && !(options.http4xxExpected && /status of 4\d\d/.test(m.text()))) errors.push(m.text());
      });
      await page.addInitScript({ content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.blockedURI));" });
      return { page, requests, errors };
    },
    async close(): Promise<void> {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/** Opens the viewer a server serves at `url` and waits until it is ready for a prompt. */
export async function openViewer(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="idle"]');
}

/** Opens a report file and waits until it has drawn its data; returns the file:// URL it opened. */
export async function openReport(page: Page, file: string): Promise<string> {
  const url = pathToFileURL(file).href;
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return url;
}

/** Clicks the viewer's Run and returns the answer to the POST /api/lens that it sends. */
export async function runLens(page: Page): Promise<Response> {
  const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/lens')), page.click('#ll-run')]);
  return response;
}
