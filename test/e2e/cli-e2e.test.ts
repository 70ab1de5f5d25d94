// The CLI on a real (synthetic) checkpoint: its JSON equals the API's result, the table shows every
// hook, and the installed bin runs as a process.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../helpers/cli.js';
import { decodeLayers, loadModel, patchActivations, releaseModels, toJSON, type Model } from '../../lib/index.js';
import { checkpoint, NOTEBOOK_PROMPT, repoRoot } from '../helpers/checkpoints.js';
import { scriptJSON } from '../helpers/report-json.js';

const dir = checkpoint('tiny-f32');
afterAll(() => releaseModels());

// The patching case of the CLI tests: 'Hello there' with blocks.0.resid_post set from a run on another
// question, tracking ' Paris'; as flags, and as patchActivations computes it.
const PATCH_SOURCE = 'Q: What is the capital of Germany?\nA:';
const PATCH_FLAGS = ['--target', ' Paris', '--patch-from', PATCH_SOURCE, '--patch-hook', 'blocks.0.resid_post', 'Hello there'];
const patchByApi = (model: Model) => patchActivations({ model, source: PATCH_SOURCE, target: 'Hello there', hook: 'blocks.0.resid_post', track: ' Paris' });

describe('layerlens CLI on a checkpoint', () => {
  it('--json equals toJSON(decodeLayers(...))', async () => {
    const r = await run(['--model', dir, '--json', '--top-k', '3', '--hooks', 'all', '--device', 'cpu', NOTEBOOK_PROMPT]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    // Same device as the CLI call, so the numbers are the same bit for bit.
    const model = await loadModel(dir, { device: 'cpu' });
    const api = await decodeLayers(NOTEBOOK_PROMPT, { model, topK: 3, hooks: 'all' });
    model.dispose();
    expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(toJSON(api))));
  });

  it('prints a table with one line per hook and the prediction', async () => {
    const r = await run(['--model', dir, 'Hello world']);
    expect(r.code).toBe(0);
    for (const name of ['embed', 'blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.resid_post']) {
      expect(r.out).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')}\\s`, 'm'));
    }
    const api = await decodeLayers('Hello world', { model: dir });
    expect(r.out).toContain(JSON.stringify(api.prediction.token));
  });

  it('--ablate zeroes hooks inside the graph, like an API zero intervention', async () => {
    const r = await run(['--model', dir, '--json', '--device', 'cpu', '--hooks', 'resid_post', '--ablate', 'blocks.1.mlp_out', NOTEBOOK_PROMPT]);
    expect(r.err).toBe('');
    const model = await loadModel(dir, { device: 'cpu' });
    const ablated = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'], interventions: [{ hook: 'blocks.1.mlp_out', op: 'zero' }] });
    const clean = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: ['resid_post'] });
    model.dispose();
    expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(toJSON(ablated))));
    expect(ablated.hooks[1].top![0].prob).not.toBe(clean.hooks[1].top![0].prob);
    const bad = await run(['--model', dir, '--ablate', 'blocks.0.attn_pattern', 'Hi']);
    expect(bad.code).not.toBe(0);
    expect(bad).toMatchObject({ code: 2, err: 'layerlens: --ablate: blocks.0.attn_pattern cannot be ablated: only d-wide hooks and mlp_post can\n' });
    expect(await run(['--model', dir, '--ablate', 'blocks.2.mlp_out', 'Hi'])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^layerlens: --ablate: .*block 2 is out of range/),
    });
    expect(await run(['--model', dir, '--target', ' Paris', '--patch-from', 'a', '--patch-hook', 'resid_post', 'Hi'])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^layerlens: --patch-hook: "resid_post" is a hook kind, not a hook name/),
    });
  });

  it('--patch-from/--patch-hook print what patchActivations computes', async () => {
    const r = await run(['--model', dir, '--json', '--device', 'cpu', ...PATCH_FLAGS]);
    expect(r.err).toBe('');
    const model = await loadModel(dir, { device: 'cpu' });
    const api = await patchByApi(model);
    model.dispose();
    const out = JSON.parse(r.out);
    expect(out.byLayer).toEqual(JSON.parse(JSON.stringify(api.byLayer)));
    expect(out.patched).toEqual(JSON.parse(JSON.stringify(toJSON(api.patched))));
    expect((await run(['--model', dir, '--patch-from', PATCH_SOURCE, '--patch-hook', 'embed', 'Hi'])).err).toMatch(/needs --target/);
  });

  it('--html with --ablate or --patch-from embeds the intervened run and the clean run to compare', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'layerlens-html-'));
    const embedded = (file: string) =>
      scriptJSON(readFileSync(file, 'utf8'), 'll-data') as ReturnType<typeof toJSON> & {
        label: string;
        compare: ReturnType<typeof toJSON> & { label: string };
      };
    const ids = (hooks: { top?: { id: number }[] }[]) => hooks.filter((h) => h.top).map((h) => h.top!.map((t) => t.id));
    try {
      const out = join(tmp, 'out.html');
      const r = await run(['--model', dir, '--device', 'cpu', '--hooks', 'resid_post', '--html', out, '--ablate', 'blocks.1.mlp_out', NOTEBOOK_PROMPT]);
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/wrote .*out\.html/);
      const d = embedded(out);
      expect([d.label, d.compare.label]).toEqual(['after (ablated: blocks.1.mlp_out)', 'before (clean run)']);
      const model = await loadModel(dir, { device: 'cpu' });
      const opts = { model, hooks: ['resid_post'], positions: 'all' as const, topK: 5 };
      const ablated = await decodeLayers(NOTEBOOK_PROMPT, { ...opts, interventions: [{ hook: 'blocks.1.mlp_out', op: 'zero' }] });
      const clean = await decodeLayers(NOTEBOOK_PROMPT, opts);
      expect(d.positions).toHaveLength(26);
      expect(ids(d.hooks)).toEqual(ids(ablated.hooks));
      expect(ids(d.compare.hooks)).toEqual(ids(clean.hooks));
      expect(d.hooks.every((h) => !h.top || typeof h.kl === 'number')).toBe(true);

      // --patch-from with --html (no longer a usage error): patched vs clean, at every position
      const pout = join(tmp, 'patch.html');
      const p = await run(['--model', dir, '--device', 'cpu', '--html', pout, ...PATCH_FLAGS]);
      expect(p.code).toBe(0);
      expect(p.out).toContain('clean → patched');
      const pd = embedded(pout);
      const api = await patchByApi(model);
      model.dispose();
      expect(pd.compare.label).toBe('before (clean run)');
      expect(pd.label).toMatch(/^after \(patched: blocks\.0\.resid_post set from/);
      expect(pd.positions).toEqual([0, 1]);
      const last = (hooks: typeof pd.hooks) => hooks.filter((h) => h.top && h.position === 1);
      expect(ids(last(pd.hooks))).toEqual(ids(api.patched.hooks));
      expect(ids(last(pd.compare.hooks))).toEqual(ids(api.clean.hooks));
      expect(last(pd.hooks).map((h) => h.target!.prob)).toEqual(api.byLayer.map((b) => b.patchedProb));
      expect(last(pd.compare.hooks).map((h) => h.target!.prob)).toEqual(api.byLayer.map((b) => b.cleanProb));
      const grid = await run(['--model', dir, '--target', ' Paris', '--grid', '--patch-from', PATCH_SOURCE, '--patch-hook', 'embed', 'Hi']);
      expect(grid.code).toBe(2);
      expect(grid.err).toMatch(/does not combine with --grid/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('reports a bad hook as a usage error', async () => {
    const r = await run(['--model', dir, '--hooks', 'blocks.5.resid_post', 'Hi']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^layerlens: --hooks: .*5/);
  });

  it.skipIf(!existsSync(join(repoRoot, 'dist', 'cli', 'main.js')))('runs as the installed bin (dist/cli/main.js)', () => {
    const out = execFileSync(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), '--model', dir, '--json', '--hooks', 'embed', 'Hi'], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out).hooks[0].name).toBe('embed');
  });
});
