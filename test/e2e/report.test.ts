// The HTML report's structure and escaping (pure), and decodeForView/reportData on the tiny checkpoint.
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, type Model } from '../../lib/index.js';
import {
  clientScript,
  compareReportData,
  decodeForView,
  escapeHtml,
  jsonForScript,
  renderPage,
  renderReport,
  reportData,
  type ReportData,
} from '../../lib/render/report/index.js';
import type { AttentionLayer, LensResult } from '../../lib/types.js';
import { NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';
import { scriptJSON } from '../helpers/report-json.js';

/** The hook kinds the page offers, in menu order: the lensable kinds, residual stream first. */
const KIND_MENU = ['resid_post', 'resid_mid', 'mlp_out', 'attn_out', 'embed'];

const EVIL = ['</script><script>alert(1)</script>', '<!--', '&amp;', '"\'', '\u2028', ' <b>', '</SCRIPT >'];

function evilResult(): LensResult {
  const tokens = EVIL.map((token, id) => ({ id, token }));
  const positions = tokens.map((_, i) => i);
  const n = tokens.length;
  const H = 2;
  const data = new Float32Array(n * H * n);
  for (let q = 0; q < n; q++) for (let h = 0; h < H; h++) for (let k = 0; k <= q; k++) data[(q * H + h) * n + k] = 1 / (q + 1);
  const act = { name: 'blocks.0.attn_pattern', layer: 0, kind: 'attn_pattern' as const, positions, data, shape: [n, H, n] };
  const attention: AttentionLayer[] = [
    {
      name: act.name,
      layer: 0,
      positions,
      n_head: H,
      n_tokens: n,
      patterns: positions.map((_, i) => [0, 1].map((h) => data.subarray((i * H + h) * n, (i * H + h + 1) * n))),
    },
  ];
  return {
    model: { name: '<img src=x onerror=alert(1)>', n_layer: 1, n_embd: 4, n_head: H, n_vocab: 50257, n_ctx: 64, dtype: 'f32' },
    prompt: EVIL.join(''),
    tokens,
    position: n - 1,
    positions,
    prediction: { id: 0, token: EVIL[0], prob: 0.5 },
    hooks: positions.flatMap((p) => [
      { name: 'embed', layer: null, kind: 'embed' as const, position: p, top: [{ id: p, token: EVIL[p], prob: 0.5, logit: 1 }], entropy: 1, kl: 2 },
      {
        name: 'blocks.0.resid_post',
        layer: 0,
        kind: 'resid_post' as const,
        position: p,
        top: [{ id: (p + 1) % n, token: EVIL[(p + 1) % n], prob: 0.25, logit: 1 }],
        entropy: 1,
        kl: 0,
        target: { id: 3, token: EVIL[3], prob: 0.1, logit: 0, rank: 4, reciprocalRank: 0.25 },
      },
    ]),
    activations: [act],
    target: { id: 3, token: EVIL[3] },
    attention,
  };
}

describe('renderReport (pure)', () => {
  it('is one self-contained page: inline style and script, data as JSON, no external references', () => {
    const r = evilResult();
    const html = renderReport({ ...r, model: { ...r.model, name: 'tiny' } });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect((html.match(/<script\b/gi) ?? []).length).toBe(3);
    expect((html.match(/<\/script/gi) ?? []).length).toBe(3);
    expect(html).not.toMatch(/\bsrc=|<link\b(?![^>]*href="data:)|@import|url\(/i);
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;[^"]*connect-src &#39;none&#39;/);
    expect(html).toContain('<link rel="icon" href="data:,">');
  });

  it('escapes token text, names and the banner; the embedded JSON parses back to reportData()', () => {
    const r = evilResult();
    const html = renderReport(r, { banner: 'synthetic <weights> & "random"' });
    expect(html).toContain('<title>layerlens: &lt;img src=x onerror=alert(1)&gt;</title>');
    expect(html).toContain('synthetic &lt;weights&gt; &amp; &quot;random&quot;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<!--');
    expect(html).not.toContain('\u2028');
    expect(scriptJSON(html, 'll-data')).toEqual(JSON.parse(JSON.stringify(reportData(r))));
    expect(scriptJSON(html, 'll-config')).toEqual({ mode: 'report', kinds: KIND_MENU });
  });

  it('passes the initial hook kind and colouring to the client', () => {
    const html = renderReport(evilResult(), { kind: 'embed', colorBy: 'kl' });
    expect(scriptJSON(html, 'll-config')).toEqual({ mode: 'report', kinds: KIND_MENU, kind: 'embed', colorBy: 'kl' });
  });

  it("offers every lensed hook kind, residual stream first; the viewer's menu has them without embed", () => {
    const page = renderPage({ mode: 'server' });
    const options = [...page.matchAll(/<option value="([a-z_]+)">\1<\/option>/g)].map((m) => m[1]);
    expect(options.filter((k) => !['after', 'before', 'prob', 'rank', 'kl', 'entropy', 'diff'].includes(k))).toEqual(KIND_MENU.filter((k) => k !== 'embed'));
    expect(scriptJSON(page, 'll-config')).toEqual({ mode: 'server', kinds: KIND_MENU });
  });

  it('escapeHtml and jsonForScript', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const v = { s: '</script><!-- & \u2028\u2029 >' };
    const j = jsonForScript(v);
    expect(j).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(j)).toEqual(v);
  });

  it('the client script is inert text for the HTML parser and valid JavaScript', () => {
    const script = clientScript();
    expect(script.toLowerCase()).not.toContain('</script');
    expect(() => new Function(script)).not.toThrow();
    const page = renderPage({ mode: 'server', prompt: '</textarea><script>', banner: 'b' });
    expect(page).toContain('<form id="ll-form"');
    expect(page).toContain('&lt;/textarea&gt;&lt;script&gt;</textarea>');
    expect(page).toMatch(/connect-src &#39;self&#39;/);
  });
});

/** A hand-made before/after pair on one row and two positions: top-k and (optionally) the target. */
function pair(withTarget: boolean): { after: LensResult; before: LensResult } {
  const base = evilResult();
  const tok = (id: number, prob: number) => ({ id, token: EVIL[id], prob, logit: 0 });
  const target = (prob: number) => ({ id: 3, token: EVIL[3], prob, logit: 0, rank: 2, reciprocalRank: 0.5 });
  const make = (p0: ReturnType<typeof tok>[], p1: ReturnType<typeof tok>[], t: [number, number]): LensResult => ({
    ...base,
    ...(withTarget ? {} : { target: undefined }),
    positions: [0, 1],
    hooks: [p0, p1].map((top, position) => ({
      name: 'blocks.0.resid_post',
      layer: 0,
      kind: 'resid_post' as const,
      position,
      top,
      ...(withTarget ? { target: target(t[position]) } : {}),
    })),
    attention: undefined,
  });
  return {
    // position 0: top-1 (id 1) is in the other top-k; position 1: top-1 (id 5) is not, so only a bound is known
    after: make([tok(1, 0.6), tok(2, 0.1)], [tok(5, 0.5), tok(2, 0.2)], [0.3, 0.05]),
    before: make([tok(2, 0.5), tok(1, 0.2)], [tok(2, 0.7), tok(4, 0.1)], [0.1, 0.25]),
  };
}

type Hook = ReportData['hooks'][number];
interface ClientIndex {
  kinds: string[];
  rows(kind: string): { name: string; label: string }[];
}
function clientHelpers(): {
  diffValue(a: Hook, b: Hook): { d: number; exact: boolean; text: string };
  divColor(v: number): string;
  METRICS: Record<string, unknown>;
  indexData(data: ReportData, kinds: string[]): ClientIndex;
} {
  const sandbox: { window: { layerlens?: ReturnType<typeof clientHelpers> } } = { window: {} };
  runInNewContext(clientScript(), sandbox);
  return sandbox.window.layerlens!;
}

describe('before/after (compare)', () => {
  it('embeds both runs with their labels, and the page has the run switch and the difference colouring', () => {
    const { after, before } = pair(true);
    const html = renderReport(after, { label: 'after <ablated>', compare: { result: before, label: 'before & clean' } });
    const data = scriptJSON(html, 'll-data') as ReportData;
    expect(data).toEqual(
      JSON.parse(JSON.stringify({ ...reportData(after), label: 'after <ablated>', compare: { ...reportData(before), label: 'before & clean' } })),
    );
    expect(data).toEqual(JSON.parse(JSON.stringify(compareReportData(after, before, { label: 'after <ablated>', compareLabel: 'before & clean' }))));
    expect(data.compare!.hooks.map((h) => h.top![0].id)).toEqual([2, 2]);
    expect(html).toMatch(
      /<label id="ll-which-wrap" hidden>[^<]*<select id="ll-which">\s*<option value="after">after<\/option>\s*<option value="before">before<\/option>/,
    );
    expect(html).toContain('<option value="diff">');
    expect(html).not.toContain('<ablated>');
    expect(html).not.toContain('& clean'); // only as \u0026 inside the JSON
    // defaults of the labels
    const plain = scriptJSON(renderReport(after, { compare: { result: before, label: 'clean' } }), 'll-data') as ReportData;
    expect([plain.label, plain.compare!.label]).toEqual(['after (intervened)', 'clean']);
    expect('compare' in (scriptJSON(renderReport(after), 'll-data') as object)).toBe(false);
  });

  it("difference: the change in the target's probability, else in that of the after-run's top-1 token", () => {
    const ll = clientHelpers();
    expect(ll.METRICS.diff).toBeDefined();
    const t = pair(true);
    const [a, b] = [reportData(t.after), reportData(t.before)];
    const withTarget = [0, 1].map((i) => ll.diffValue(a.hooks[i], b.hooks[i]));
    expect(withTarget[0].d).toBeCloseTo(0.3 - 0.1, 12);
    expect(withTarget[1].d).toBeCloseTo(0.05 - 0.25, 12);
    expect(withTarget.map((x) => x.exact)).toEqual([true, true]);
    expect(withTarget[1].text).toBe('p(target) \u22120.200');

    const n = pair(false);
    const [na, nb] = [reportData(n.after), reportData(n.before)];
    expect(na.hooks[0].target).toBeUndefined();
    const top = ll.diffValue(na.hooks[0], nb.hooks[0]);
    expect(top.d).toBeCloseTo(0.6 - 0.2, 12); // id 1: 0.6 after, 0.2 before
    expect(top.exact).toBe(true);
    const bound = ll.diffValue(na.hooks[1], nb.hooks[1]);
    expect(bound.d).toBeCloseTo(0.5 - 0.1, 12); // id 5 is not in the before top-2: p_before < 0.1
    expect(bound.exact).toBe(false);
    expect(bound.text).toMatch(/\u2265 \+0\.400/);
    expect(Number.isNaN(ll.diffValue(na.hooks[0], undefined as unknown as Hook).d)).toBe(true);
    // diverging scale: red below zero, neutral at zero, blue above
    expect(ll.divColor(0)).toBe('rgb(247, 247, 247)');
    expect(ll.divColor(-1)).toBe('rgb(103, 0, 31)');
    expect(ll.divColor(1)).toBe('rgb(5, 48, 97)');
  });
});

describe("the client's index of the data (node:vm)", () => {
  it("offers the kinds the data has in the page's order, embed alone only without others; rows embed first, then by layer", () => {
    const d = reportData(evilResult());
    const ll = clientHelpers();
    const idx = ll.indexData(d, KIND_MENU);
    expect(idx.kinds).toEqual(['resid_post']);
    expect(idx.rows('resid_post').map((r) => [r.name, r.label])).toEqual([
      ['embed', 'embed'],
      ['blocks.0.resid_post', 'block 0'],
    ]);
    // more kinds and layers, listed out of order in the data
    const hook = (name: string, layer: number, kind: string) => ({ ...d.hooks[1], name, layer, kind: kind as Hook['kind'] });
    const many = {
      ...d,
      hooks: [hook('blocks.1.attn_out', 1, 'attn_out'), hook('blocks.0.attn_out', 0, 'attn_out'), hook('blocks.0.resid_mid', 0, 'resid_mid'), d.hooks[0]],
    };
    const m = ll.indexData(many, KIND_MENU);
    expect(m.kinds).toEqual(['resid_mid', 'attn_out']);
    expect(m.rows('attn_out').map((r) => r.name)).toEqual(['embed', 'blocks.0.attn_out', 'blocks.1.attn_out']);
    expect(ll.indexData({ ...d, hooks: [d.hooks[0]] }, KIND_MENU).kinds).toEqual(['embed']);
  });
});

describe('reportData', () => {
  it('keeps the causal part of each attention row, rounded to 4 decimals', () => {
    const d = reportData(evilResult());
    const a = d.attention!;
    expect(a.positions).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(a.layers[0].weights[3][1]).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(a.layers[0].weights[2][0]).toEqual([0.3333, 0.3333, 0.3333]);
    expect(a.note).toBeUndefined();
  });

  it('keeps only the last positions that fit the size limit, and says so', () => {
    const d = reportData(evilResult(), { maxAttentionValues: 2 * (7 + 6) });
    expect(d.attention!.positions).toEqual([5, 6]);
    expect(d.attention!.layers[0].weights.map((w) => w[0].length)).toEqual([6, 7]);
    expect(d.attention!.note).toMatch(/2 of the 7 lensed positions/);
  });

  it('has no attention when none was captured', () => {
    const r = evilResult();
    delete r.attention;
    expect('attention' in reportData(r)).toBe(false);
  });
});

describe('decodeForView on the tiny checkpoint', () => {
  const tiny = useTinyModel({ threads: 2 });
  let model: Model;
  beforeAll(() => {
    model = tiny.model;
  });

  it("adds every block's attention to the lens result", async () => {
    const r = await decodeForView(NOTEBOOK_PROMPT, { model, positions: 'all', metrics: true });
    expect(r.attention!.map((a) => a.name)).toEqual(['blocks.0.attn_pattern', 'blocks.1.attn_pattern']);
    expect(r.attention![0].positions).toHaveLength(26);
    const plain = await decodeLayers(NOTEBOOK_PROMPT, { model, positions: 'all', metrics: true });
    expect(r.hooks.filter((h) => h.top).map((h) => [h.name, h.position, h.top![0].id])).toEqual(plain.hooks.map((h) => [h.name, h.position, h.top![0].id]));
  });

  it('captures the attention of the last positions in a second pass when all of it would be too large', async () => {
    const full = await decodeForView(NOTEBOOK_PROMPT, { model, positions: 'all' });
    // 2 layers · 4 heads · 26 tokens = 208 floats per position: 5 positions fit in 1100
    const r = await decodeForView(NOTEBOOK_PROMPT, { model, positions: 'all', maxAttentionFloats: 1100 });
    expect(r.hooks.some((h) => h.kind === 'attn_pattern')).toBe(false);
    const a = r.attention!;
    expect(a[0].positions).toEqual([21, 22, 23, 24, 25]);
    for (const [l, layer] of a.entries()) {
      layer.positions.forEach((p, i) => {
        for (let h = 0; h < 4; h++) expect(Array.from(layer.patterns[i][h])).toEqual(Array.from(full.attention![l].patterns[p][h]));
      });
    }
    expect(reportData(r).attention!.note).toMatch(/5 of the 26/);
    const none = await decodeForView(NOTEBOOK_PROMPT, { model, attention: false });
    expect(none.attention).toBeUndefined();
  });
});
