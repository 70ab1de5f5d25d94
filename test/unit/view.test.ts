// Terminal pictures (grid, table columns for target and metrics) and the view flags: pure, no model.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  compactToken,
  fitColumns,
  formatGrid,
  formatView,
  parseViewFlags,
  truncate,
  VIEW_HELP,
  VIEW_OPTIONS,
  viewDecodeOptions,
} from '../../lib/render/view.js';
import { displayWidth, formatProb, formatTable, toJSON } from '../../lib/render/format.js';
import { clientScript } from '../../lib/render/report/client-script.js';
import type { HookLens, LensResult } from '../../lib/types.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** A synthetic result: n_layer blocks, tokens, every position, resid_post + embed, optional target/metrics. */
function gridResult(opts: { tokens: string[]; nLayer?: number; target?: boolean; metrics?: boolean }): LensResult {
  const nLayer = opts.nLayer ?? 2;
  const tokens = opts.tokens.map((token, id) => ({ id: 1000 + id, token }));
  const hooks: HookLens[] = [];
  const positions = tokens.map((_, i) => i);
  for (const p of positions) {
    const names: [string, number | null][] = [['embed', null]];
    for (let l = 0; l < nLayer; l++) names.push([`blocks.${l}.resid_post`, l]);
    for (const [name, layer] of names) {
      const id = layer === null ? tokens[p].id : 2000 + p * 10 + layer;
      const prob = layer === null ? 0.9 : 0.3 + 0.1 * layer;
      const row: HookLens = {
        name,
        layer,
        kind: layer === null ? 'embed' : 'resid_post',
        position: p,
        top: [
          { id, token: layer === null ? tokens[p].token : ` t${p}.${layer}`, prob, logit: 10 },
          { id: 7, token: '(', prob: 0.01, logit: 1 },
        ],
      };
      if (opts.target)
        row.target = { id: 7, token: '(', prob: 0.01, logit: 1, rank: layer === null ? 1234 : 2, reciprocalRank: layer === null ? 1 / 1234 : 0.5 };
      if (opts.metrics) {
        row.entropy = 1.5 + (layer ?? -1);
        row.kl = layer === nLayer - 1 ? 0 : 3.25;
      }
      hooks.push(row);
    }
  }
  return {
    model: { name: 'synthetic', n_layer: nLayer, n_embd: 4, n_head: 2, n_vocab: 50257, n_ctx: 64, dtype: 'f32' },
    prompt: opts.tokens.join(''),
    tokens,
    position: positions[positions.length - 1],
    positions,
    prediction: { id: 2000, token: ' next', prob: 0.4 },
    hooks,
    activations: [],
    ...(opts.target ? { target: { id: 7, token: '(' } } : {}),
  };
}

describe('compactToken and truncate', () => {
  it('shows spaces as · and escapes control characters', () => {
    expect(compactToken(' Paris')).toBe('·Paris');
    expect(compactToken('\n\n')).toBe('\\n\\n');
    expect(compactToken('a\tb\r')).toBe('a\\tb\\r');
    expect(compactToken('\u00a0x\u200b')).toBe('\\u00a0x\\u200b');
    expect(compactToken(' \\xE6')).toBe('·\\xE6');
  });

  it('cuts to a display width with an ellipsis', () => {
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdefg', 6)).toBe('abcde…');
    expect(truncate('日本語です', 5)).toBe('日本…');
    expect(displayWidth(truncate('日本語です', 5))).toBeLessThanOrEqual(5);
  });

  it('the browser client uses the same token and probability rules (node:vm, no DOM)', () => {
    const sandbox: { window: { layerlens?: { compactToken(t: string): string; formatProb(p: number): string } } } = { window: {} };
    runInNewContext(clientScript(), sandbox);
    const ll = sandbox.window.layerlens!;
    for (const t of [' Paris', '\n', 'a\tb', '\u00a0', '\u2028', '</script>', ' \\xE6', '日本', '\u0007']) expect(ll.compactToken(t)).toBe(compactToken(t));
    for (const p of [0, 1, 0.5, 0.0004, 3e-7, 0.01234]) expect(ll.formatProb(p)).toBe(formatProb(p));
  });
});

describe('fitColumns', () => {
  it('keeps everything when it fits', () => {
    expect(fitColumns([3, 3, 3], 12)).toEqual({ keep: [0, 1, 2], gapAfter: -1 });
  });
  it('keeps the last columns and the first ones around an elision', () => {
    const widths = Array.from({ length: 30 }, () => 4);
    const { keep, gapAfter } = fitColumns(widths, 60);
    expect(keep[keep.length - 1]).toBe(29);
    expect(keep[0]).toBe(0);
    expect(gapAfter).toBeGreaterThanOrEqual(0);
    const used = keep.reduce((s, i) => s + widths[i] + 1, 0) + 2;
    expect(used).toBeLessThanOrEqual(60);
    // tail is contiguous and longer than the head
    const head = keep.filter((i) => i <= gapAfter);
    const tail = keep.filter((i) => i > gapAfter);
    expect(tail.length).toBeGreaterThan(head.length);
    expect(tail).toEqual(Array.from({ length: tail.length }, (_, i) => 30 - tail.length + i));
  });
});

describe('formatGrid', () => {
  const tokens = ['Q', ':', ' What', ' is', '\n', 'A', ':'];

  it('has one row for embed and per block, one column per position headed by the prompt tokens', () => {
    const g = formatGrid(gridResult({ tokens }));
    const lines = g.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^top-1 token under the lens of resid_post/);
    expect(lines[1].trim().split(/\s+/)).toEqual(['Q', ':', '·What', '·is', '\\n', 'A', ':']);
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/)[0])).toEqual(['embed', 'block 0', 'block 1']);
    expect(lines[3]).toMatch(/^block 0 +·t0\.0 +·t1\.0/);
    // columns line up: the header token and the cells of column 2 start at the same offset
    expect(lines[1].indexOf('·What')).toBe(lines[3].indexOf('·t2.0'));
    expect(g).not.toMatch(/\x1b/);
  });

  it('fits the terminal width by eliding middle positions, keeping the last one', () => {
    const long = Array.from({ length: 40 }, (_, i) => ` w${i}`);
    const g = formatGrid(gridResult({ tokens: long }), { width: 80 });
    const lines = g.trimEnd().split('\n');
    expect(lines[0]).toMatch(/positions elided/);
    for (const l of lines.slice(1)) expect(displayWidth(l)).toBeLessThanOrEqual(80);
    expect(lines[1]).toContain('…');
    expect(lines[1].trim().endsWith('·w39')).toBe(true);
    expect(lines[1]).toContain('·w0 ');
    // without a width: everything
    expect(formatGrid(gridResult({ tokens: long })).split('\n')[1]).toContain('·w20');
  });

  it('cuts long tokens to the cell width', () => {
    const g = formatGrid(gridResult({ tokens: [' internationalization', 'x'] }), { maxCell: 6 });
    expect(g.split('\n')[1]).toContain('·inte…');
  });

  it('colors cells by probability and inverts the target only with color', () => {
    const r = gridResult({ tokens, target: true });
    r.hooks.find((h) => h.name === 'blocks.1.resid_post' && h.position === 3)!.top![0].id = 7;
    const g = formatGrid(r, { color: true });
    expect(g).toMatch(/\x1b\[7m/);
    expect(g).toMatch(/colour = its probability/);
    expect(strip(g).split('\n').slice(2)).toEqual(formatGrid(r).split('\n').slice(1));
  });

  it('chooses another lensed kind when there is no resid_post, and refuses unlensed kinds', () => {
    const r = gridResult({ tokens: ['a', 'b'] });
    r.hooks = r.hooks.map((h) => (h.kind === 'resid_post' ? { ...h, kind: 'mlp_out', name: h.name.replace('resid_post', 'mlp_out') } : h));
    expect(formatGrid(r)).toMatch(/lens of mlp_out/);
    expect(() => formatGrid(r, { kind: 'attn_pattern' })).toThrow(/lensed hook kinds/);
    expect(formatGrid({ ...r, hooks: [] })).toBe('');
  });
});

describe('formatView', () => {
  const tokens = ['Q', ':', ' What'];
  it('--grid: header and grid, no per-position sections', () => {
    const v = formatView(gridResult({ tokens }), { grid: true });
    expect(v).toMatch(/^model +synthetic/);
    expect(v).toMatch(/top-1 token under the lens/);
    expect(v).not.toMatch(/^position \d/m);
  });
  it('every position: the table, then the grid; one position: just the table', () => {
    const r = gridResult({ tokens });
    const v = formatView(r);
    expect(v.indexOf('position 2')).toBeGreaterThan(0);
    expect(v.indexOf('top-1 token under the lens')).toBeGreaterThan(v.indexOf('position 2'));
    const one = { ...r, positions: [2], hooks: r.hooks.filter((h) => h.position === 2) };
    expect(formatView(one)).toBe(formatTable(one));
  });
});

describe('formatTable with target and metrics', () => {
  it('adds rank/prob and entropy/KL columns, aligned, before the top-k', () => {
    const r = gridResult({ tokens: ['a', 'b'], target: true, metrics: true });
    const t = formatTable(r);
    expect(t).toMatch(/^target +"\(" \(id 7\)/m);
    const lines = t.split('\n');
    const header = lines.find((l) => l.startsWith('position 1'))!;
    expect(header).toMatch(/rank prob +entropy +KL +top-2 under the lens/);
    const embed = lines.filter((l) => l.startsWith('embed'))[1];
    const last = lines.filter((l) => l.startsWith('blocks.1.resid_post'))[1];
    expect(embed).toMatch(/^embed +1234 0\.010 +0\.50 +3\.25 +"b" +0\.900/);
    expect(last).toMatch(/^blocks\.1\.resid_post +2 0\.010 +2\.50 +0\.00 +" t1\.1" 0\.400/);
    expect(embed.indexOf('0.010')).toBe(last.indexOf('0.010'));
    expect(embed.indexOf('"b"')).toBe(last.indexOf('" t1.1"'));
    expect(strip(formatTable(r, { color: true }))).toBe(t);
  });

  it('toJSON carries target, entropy and kl', () => {
    const j = toJSON(gridResult({ tokens: ['a'], target: true, metrics: true }));
    expect(j.target).toEqual({ id: 7, token: '(' });
    expect(Object.keys(j.hooks[1])).toEqual(['name', 'layer', 'kind', 'position', 'top', 'target', 'entropy', 'kl']);
    expect(j.hooks[1].target).toEqual({ id: 7, token: '(', prob: 0.01, logit: 1, rank: 2, reciprocalRank: 0.5 });
  });
});

describe('parseViewFlags', () => {
  it('defaults: nothing asked', () => {
    expect(parseViewFlags({})).toEqual({ metrics: false, grid: false, allPositions: false });
    expect(viewDecodeOptions(parseViewFlags({}))).toEqual({ metrics: false });
  });

  it('--target: one token of text, or id:N', () => {
    expect(parseViewFlags({ target: ' Warsaw' }).target).toBe(' Warsaw');
    expect(parseViewFlags({ target: 'id:32955' }).target).toBe(32955);
    expect(() => parseViewFlags({ target: 'Warsaw' })).toThrow(/--target: target "Warsaw" is 2 tokens.*" Warsaw", with a leading space, is one token/);
    expect(() => parseViewFlags({ target: '' })).toThrow(/--target: target is empty/);
    expect(() => parseViewFlags({ target: 'id:50257' })).toThrow(/0\.\.50256/);
    expect(() => parseViewFlags({ target: 'id:x' })).toThrow(/id:N/);
    try {
      parseViewFlags({ target: 'two words' });
    } catch (err) {
      expect((err as Error).name).toBe('UsageError');
    }
  });

  it('--grid and --html want every position unless --positions was given; --html implies --metrics', () => {
    expect(parseViewFlags({ grid: true })).toEqual({ metrics: false, grid: true, allPositions: true });
    expect(parseViewFlags({ grid: true, positions: '3,4' }).allPositions).toBe(false);
    expect(parseViewFlags({ html: 'out.html' })).toEqual({ metrics: true, grid: true, html: 'out.html', allPositions: true });
    expect(parseViewFlags({ html: 'out.html', json: true }).grid).toBe(false);
    expect(parseViewFlags({ html: '-' }).grid).toBe(false);
    expect(viewDecodeOptions(parseViewFlags({ html: 'x.html', target: ' Paris' }))).toEqual({ target: ' Paris', metrics: true, positions: 'all' });
    expect(parseViewFlags({ metrics: true }).metrics).toBe(true);
  });

  it('rejects combinations that cannot work', () => {
    expect(() => parseViewFlags({ grid: true, json: true })).toThrow(/--grid.*--json/);
    expect(() => parseViewFlags({ html: '-', json: true })).toThrow(/standard output/);
    expect(() => parseViewFlags({ html: '-', grid: true })).toThrow(/--grid/);
    expect(() => parseViewFlags({ html: ' ' })).toThrow(/--html needs a file name/);
    expect(parseViewFlags({ html: 'r.html', json: true }).html).toBe('r.html');
  });

  it('exports parseArgs specs and help lines for every flag', () => {
    expect(Object.keys(VIEW_OPTIONS).sort()).toEqual(['grid', 'html', 'metrics', 'target']);
    for (const f of ['--target TOKEN', '--metrics', '--grid', '--html FILE']) expect(VIEW_HELP).toContain(f);
    for (const line of VIEW_HELP.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
});
