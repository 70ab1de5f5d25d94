// The view flags (--target, --metrics, --grid, --html) and `layerlens serve` through the CLI's main().
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELP, parseCliArgs } from '../../lib/cli/main.js';
import { runCli as run } from '../helpers/cli.js';
import { SERVE_HELP } from '../../lib/cli/serve.js';
import { checkpoint, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';

describe('CLI view flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'layerlens-cli-view-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const model = () => ['--model', checkpoint('tiny-f32'), '--device', testDevice(), '--threads', '2'];

  it('parses the view flags into `view` and validates them before loading a model', () => {
    expect(parseCliArgs(['x'])).toMatchObject({ view: { metrics: false, grid: false, allPositions: false } });
    expect(parseCliArgs(['--target', ' Paris', '--metrics', 'x'])).toMatchObject({ positions: 'last', view: { target: ' Paris', metrics: true } });
    expect(parseCliArgs(['--grid', 'x'])).toMatchObject({ positions: 'all', view: { grid: true } });
    expect(parseCliArgs(['--html', 'r.html', '--positions', '3', 'x'])).toMatchObject({ positions: [3], view: { html: 'r.html', metrics: true } });
    expect(() => parseCliArgs(['--target', 'Warsaw', 'x'])).toThrow(/--target: .*" Warsaw", with a leading space, is one token/);
    expect(() => parseCliArgs(['--grid', '--json', 'x'])).toThrow(/--grid/);
    expect(parseCliArgs(['serve', '--port', '0'])).toEqual({ command: 'serve', argv: ['--port', '0'] });
  });

  it('--target and --metrics add columns to the table', async () => {
    const r = await run([...model(), '--target', ' Paris', '--metrics', NOTEBOOK_PROMPT]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^target +" Paris" \(id 6342\)/m);
    expect(r.out).toMatch(/rank prob +entropy +KL +top-5/);
    expect(r.out).toMatch(/^blocks\.1\.resid_post +\d+ \S+ +\d+\.\d\d +0\.00 /m);
  });

  it('--grid prints the header and the grid; --html writes a report and prints the grid', async () => {
    const g = await run([...model(), '--grid', NOTEBOOK_PROMPT]);
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/top-1 token under the lens of resid_post/);
    expect(
      g.out
        .trimEnd()
        .split('\n')
        .slice(-3)
        .map((l) => l.split(/\s{2,}/)[0]),
    ).toEqual(['embed', 'block 0', 'block 1']);
    const file = join(dir, 'r.html');
    const h = await run([...model(), '--html', file, '--target', 'id:6342', NOTEBOOK_PROMPT]);
    expect(h.code).toBe(0);
    expect(h.err).toMatch(/wrote .*r\.html/);
    expect(h.out).toMatch(/top-1 token under the lens/);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<script type="application/json" id="ll-data">');
    expect(html).toContain('"attention":');
    const s = await run([...model(), '--html', '-', 'A: B']);
    expect(s.out.startsWith('<!doctype html>')).toBe(true);
  });

  it('dispatches `layerlens serve`', async () => {
    const r = await run(['serve', '--help']);
    expect(r).toEqual({ code: 0, out: SERVE_HELP, err: '' });
    expect((await run(['serve', '--port', 'x'])).code).toBe(2);
    expect(HELP).toMatch(/layerlens serve/);
  });
});
