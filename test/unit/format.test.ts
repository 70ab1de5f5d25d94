import { describe, expect, it } from 'vitest';
import { displayWidth, float32ToJSONNumber, formatProb, formatTable, quoteToken, stringifyJSON, toJSON } from '../../lib/render/format.js';
import type { LensResult } from '../../lib/types.js';

function makeResult(): LensResult {
  const d = 4;
  const tokens = [
    { id: 32, token: 'A' },
    { id: 25, token: ':' },
  ];
  const resid = Float32Array.of(0.1, -2.5, 3, 1e-7);
  const mlpPost = Float32Array.from({ length: 2 * 4 * d }, (_, i) => i / 8);
  return {
    model: { name: 'tiny-gpt2', n_layer: 1, n_embd: d, n_head: 2, n_vocab: 50257, n_ctx: 1024, dtype: 'f32' },
    prompt: 'A:',
    tokens,
    position: 1,
    positions: [1],
    prediction: { id: 32955, token: ' Warsaw', prob: 0.612 },
    hooks: [
      {
        name: 'embed',
        layer: null,
        kind: 'embed',
        position: 1,
        top: [
          { id: 26712, token: ' unden', prob: 0.947, logit: 12.5 },
          { id: 198, token: '\n', prob: 0.022, logit: 8.75 },
        ],
      },
      { name: 'blocks.0.mlp_post', layer: 0, kind: 'mlp_post', position: 1 },
      {
        name: 'blocks.0.resid_post',
        layer: 0,
        kind: 'resid_post',
        position: 1,
        top: [
          { id: 32955, token: ' Warsaw', prob: 0.412, logit: 20 },
          { id: 999, token: ' \\xE6', prob: 0.00001, logit: 1 },
        ],
        vector: resid,
      },
    ],
    activations: [
      { name: 'blocks.0.mlp_post', layer: 0, kind: 'mlp_post', positions: [0, 1], data: mlpPost, shape: [2, 4 * d] },
      { name: 'blocks.0.resid_post', layer: 0, kind: 'resid_post', positions: [1], data: resid, shape: [1, d] },
    ],
  };
}

describe('toJSON', () => {
  it('has exactly the documented JSON shape', () => {
    const j = toJSON(makeResult());
    expect(Object.keys(j)).toEqual(['model', 'prompt', 'tokens', 'position', 'positions', 'prediction', 'hooks']);
    expect(j.model).toEqual({ name: 'tiny-gpt2', n_layer: 1, n_embd: 4, n_head: 2, n_vocab: 50257, n_ctx: 1024, dtype: 'f32' });
    expect(j.tokens).toEqual([
      { id: 32, token: 'A' },
      { id: 25, token: ':' },
    ]);
    expect(j.prediction).toEqual({ id: 32955, token: ' Warsaw', prob: 0.612 });
    expect(j.hooks.map((h) => Object.keys(h))).toEqual([
      ['name', 'layer', 'kind', 'position', 'top'],
      ['name', 'layer', 'kind', 'position'],
      ['name', 'layer', 'kind', 'position', 'top'],
    ]);
    expect(j.hooks[0]).toMatchObject({ name: 'embed', layer: null, kind: 'embed', position: 1 });
    expect(Object.keys(j.hooks[0].top![0])).toEqual(['id', 'token', 'prob', 'logit']);
    expect(JSON.stringify(j)).not.toMatch(/activations|vector/);
  });

  it('adds vectors as plain arrays only when asked, from hook.vector or the activations', () => {
    const j = toJSON(makeResult(), { vectors: true });
    expect(Array.isArray(j.hooks[2].vector)).toBe(true);
    expect(j.hooks[2].vector).toEqual([0.1, -2.5, 3, 1e-7]); // shortest decimals of the float32 values
    expect(j.hooks[1].vector).toHaveLength(16); // mlp_post row of position 1 from the activations
    expect(j.hooks[1].vector![0]).toBe(2);
    expect(j.hooks[0].vector).toBeUndefined(); // nothing captured for it
    // serializable and parses back to the same structure
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
    expect(JSON.parse(stringifyJSON(j))).toEqual(j);
  });
});

describe('float32ToJSONNumber', () => {
  it('gives the shortest decimal that reads back as the same float32', () => {
    for (const v of [0.1, -2.5, 1e-7, 3.4028234663852886e38, 1.401298464324817e-45, 0.3333333432674408, 123456.7890625]) {
      const f = Math.fround(v);
      const out = float32ToJSONNumber(f)!;
      expect(Math.fround(out)).toBe(f);
      expect(String(out).replace(/^-|0\.0*|\.|e.*$/g, '').length).toBeLessThanOrEqual(9);
    }
    expect(float32ToJSONNumber(Math.fround(0.1))).toBe(0.1);
    expect(float32ToJSONNumber(-0)).toBe(0);
    expect(float32ToJSONNumber(NaN)).toBeNull();
    expect(float32ToJSONNumber(Infinity)).toBeNull();
  });
});

describe('stringifyJSON', () => {
  it('keeps number arrays and small objects on one line', () => {
    const s = stringifyJSON({ a: [1, 2, 3], b: { id: 1, token: ' x' }, c: Array.from({ length: 50 }, (_, i) => ({ id: i, token: 'tok' })) });
    expect(s).toContain('"a": [1,2,3]');
    expect(s).toContain('"b": {"id": 1, "token": " x"}');
    expect(s.split('\n')).toContain('    {"id": 7, "token": "tok"},');
    expect(JSON.parse(s)).toBeTruthy();
  });
});

describe('formatTable', () => {
  it('prints a header and one aligned line per hook', () => {
    const t = formatTable(makeResult(), { color: false });
    expect(t).not.toMatch(/\x1b\[/);
    const lines = t.split('\n');
    expect(t).toMatch(/tiny-gpt2 \(1 layers, n_embd 4, 2 heads, vocab 50257, f32\)/);
    expect(t).toMatch(/prompt +2 tokens/);
    expect(t).toMatch(/prediction +" Warsaw" 0\.612/);
    const embed = lines.find((l) => l.startsWith('embed'))!;
    const post = lines.find((l) => l.startsWith('blocks.0.resid_post'))!;
    const mlp = lines.find((l) => l.startsWith('blocks.0.mlp_post'))!;
    expect(embed).toMatch(/^embed +" unden" +0\.947 +"\\n" +0\.022$/);
    expect(post).toMatch(/^blocks\.0\.resid_post +" Warsaw" 0\.412 +" \\xE6" 1e-05$/);
    expect(mlp).toMatch(/not lensed/);
    expect(mlp).toMatch(/16 per position/);
    // columns line up: first token and second token start at the same offsets
    expect(embed.indexOf('" unden"')).toBe(post.indexOf('" Warsaw"'));
    expect(embed.indexOf('"\\n"')).toBe(post.indexOf('" \\xE6"'));
    expect(t.endsWith('\n')).toBe(true);
  });

  it('colors only when asked', () => {
    const t = formatTable(makeResult(), { color: true });
    expect(t).toMatch(/\x1b\[32m/);
    expect(t.replace(/\x1b\[[0-9;]*m/g, '')).toBe(formatTable(makeResult(), { color: false }));
  });

  it('makes one section per position', () => {
    const r = makeResult();
    r.positions = [0, 1];
    r.hooks = [{ ...r.hooks[0], position: 0 }, ...r.hooks];
    const t = formatTable(r);
    expect(t).toMatch(/position 0 "A"/);
    expect(t).toMatch(/position 1 ":"/);
    expect(t.match(/^embed /gm)).toHaveLength(2);
  });
});

describe('helpers', () => {
  it('quotes tokens so whitespace is visible', () => {
    expect(quoteToken(' Warsaw')).toBe('" Warsaw"');
    expect(quoteToken('\n\t"')).toBe('"\\n\\t\\""');
    expect(quoteToken('\u00a0x\u0007')).toBe('"\\u00a0x\\u0007"');
    expect(quoteToken('\\xE6')).toBe('"\\xE6"'); // already escaped by tokenText: kept
  });

  it('measures display width', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('東京')).toBe(4);
    expect(displayWidth('😀')).toBe(2);
    expect(displayWidth('e\u0301')).toBe(1);
  });

  it('formats probabilities in 5 columns', () => {
    expect(formatProb(0.41234)).toBe('0.412');
    expect(formatProb(1)).toBe('1.000');
    expect(formatProb(0.00001)).toBe('1e-05');
    expect(formatProb(0.0004)).toBe('4e-04');
    expect(formatProb(0)).toBe('0.000');
  });
});
