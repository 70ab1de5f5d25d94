import { describe, expect, it } from 'vitest';
import {
  allHooks,
  BLOCK_HOOK_KINDS,
  checkHookSpec,
  HOOK_KINDS,
  hookName,
  hookOrder,
  hookPositionWidth,
  hookRowWidth,
  isIntervenable,
  isLensable,
  LENSABLE_KINDS,
  parseHookName,
  resolveHooks,
} from '../../lib/hooks.js';

const names = (spec: Parameters<typeof resolveHooks>[0], n: number) => resolveHooks(spec, n).map((h) => h.name);

describe('hookName / parseHookName', () => {
  it('names hooks', () => {
    expect(hookName('embed', null)).toBe('embed');
    expect(hookName('resid_post', 19)).toBe('blocks.19.resid_post');
    expect(hookName('attn_pattern', 0)).toBe('blocks.0.attn_pattern');
  });

  it('rejects bad kind/layer combinations', () => {
    expect(() => hookName('embed', 3)).toThrow(/no layer/);
    expect(() => hookName('resid_post', null)).toThrow(/block index/);
    expect(() => hookName('resid_post', -1)).toThrow(/block index/);
    expect(() => hookName('resid_post', 1.5)).toThrow(/block index/);
    expect(() => hookName('resid_pre' as never, 1)).toThrow(/unknown hook kind "resid_pre"/);
  });

  it('parses names', () => {
    expect(parseHookName('embed', 24)).toEqual({ name: 'embed', kind: 'embed', layer: null });
    expect(parseHookName('blocks.3.mlp_out', 24)).toEqual({ name: 'blocks.3.mlp_out', kind: 'mlp_out', layer: 3 });
    expect(parseHookName('blocks.23.attn_pattern', 24)).toEqual({ name: 'blocks.23.attn_pattern', kind: 'attn_pattern', layer: 23 });
  });

  it('gives clear errors', () => {
    expect(() => parseHookName('blocks.24.resid_post', 24)).toThrow(/block 24 is out of range, the model has blocks 0\.\.23/);
    expect(() => parseHookName('blocks.3.resid_pre', 24)).toThrow(/unknown hook kind "resid_pre".*attn_out, resid_mid/);
    expect(() => parseHookName('blocks.3.embed', 24)).toThrow(/unknown hook kind "embed"/);
    expect(() => parseHookName('blocks.x.resid_post', 24)).toThrow(/malformed hook name/);
    expect(() => parseHookName('blocks.03.resid_post', 24)).toThrow(/leading zero/);
    // TransformerLens's token embedding alone has no layerlens hook (ours is token + position).
    expect(() => parseHookName('hook_embed', 24)).toThrow(/token embedding alone.*"embed" is hook_embed \+ hook_pos_embed.*blocks\.0\.hook_resid_pre/);
    expect(() => parseHookName('blocks.-1.resid_post', 24)).toThrow(/malformed/);
    expect(() => parseHookName('resid_post', 24)).toThrow(/is a hook kind, not a hook name; use blocks\.L\.resid_post/);
    expect(() => parseHookName('embed', 0)).toThrow(/n_layer/);
  });

  it('round-trips every hook of a model', () => {
    for (const h of allHooks(6)) expect(parseHookName(hookName(h.kind, h.layer), 6)).toEqual(h);
  });
});

describe('resolveHooks', () => {
  it('default = embed + resid_mid and resid_post of every block', () => {
    expect(names('default', 2)).toEqual(['embed', 'blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.resid_post']);
    expect(names('default', 24)).toHaveLength(49);
  });

  it('all = every hook in canonical order', () => {
    expect(names('all', 1)).toEqual([
      'embed',
      'blocks.0.attn_out',
      'blocks.0.resid_mid',
      'blocks.0.mlp_post',
      'blocks.0.mlp_out',
      'blocks.0.resid_post',
      'blocks.0.attn_pattern',
    ]);
    expect(names('all', 24)).toHaveLength(1 + 24 * 6);
    expect(names(['all'], 3)).toEqual(names('all', 3));
    expect(names(['default'], 3)).toEqual(names('default', 3));
  });

  it('expands kinds, blocks and names; de-duplicates; sorts canonically', () => {
    expect(names(['blocks.1.mlp_out', 'resid_post', 'embed', 'blocks.0.resid_post'], 2)).toEqual([
      'embed',
      'blocks.0.resid_post',
      'blocks.1.mlp_out',
      'blocks.1.resid_post',
    ]);
    expect(names(['blocks.1'], 3)).toEqual(
      allHooks(3)
        .filter((h) => h.layer === 1)
        .map((h) => h.name),
    );
    expect(names([' embed ', 'embed'], 3)).toEqual(['embed']);
    expect(names(['default', 'mlp_post'], 1)).toEqual(['embed', 'blocks.0.resid_mid', 'blocks.0.mlp_post', 'blocks.0.resid_post']);
  });

  it('returns refs with kind and layer', () => {
    expect(resolveHooks(['blocks.2.attn_out'], 4)).toEqual([{ name: 'blocks.2.attn_out', kind: 'attn_out', layer: 2 }]);
  });

  it('rejects empty and invalid selections', () => {
    expect(() => resolveHooks([], 4)).toThrow(/empty hook list/);
    expect(() => resolveHooks([''], 4)).toThrow(/empty hook name/);
    expect(() => resolveHooks(['blocks.4.resid_post'], 4)).toThrow(/blocks 0\.\.3/);
    expect(() => resolveHooks(['blocks.4'], 4)).toThrow(/blocks 0\.\.3/);
    expect(() => resolveHooks(['resid'], 4)).toThrow(/malformed hook name "resid"/);
    expect(() => resolveHooks('everything' as never, 4)).toThrow(/'all', 'default' or an array/);
  });

  it('checkHookSpec validates syntax without a model', () => {
    expect(() => checkHookSpec(['blocks.999.resid_post', 'mlp_post', 'embed', 'blocks.7'])).not.toThrow();
    expect(() => checkHookSpec('all')).not.toThrow();
    expect(() => checkHookSpec([])).toThrow(/empty/);
    expect(() => checkHookSpec(['blocks.1.foo'])).toThrow(/unknown hook kind "foo"/);
  });

  it('hookOrder is the canonical order', () => {
    const all = allHooks(3);
    const ranks = all.map(hookOrder);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(new Set(ranks).size).toBe(all.length);
  });
});

describe('isLensable / hookPositionWidth / hookRowWidth', () => {
  it('lenses only d-wide kinds', () => {
    expect(['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'].every((k) => isLensable(k as never))).toBe(true);
    expect(isLensable('mlp_post')).toBe(false);
    expect(isLensable('attn_pattern')).toBe(false);
  });

  it('knows widths per position', () => {
    const dims = { n_embd: 1024, n_head: 16 };
    expect(hookPositionWidth('embed', dims, 26)).toBe(1024);
    expect(hookPositionWidth('resid_post', dims, 26)).toBe(1024);
    expect(hookPositionWidth('mlp_post', dims, 26)).toBe(4096);
    expect(hookPositionWidth('attn_pattern', dims, 26)).toBe(16 * 26);
    expect(hookPositionWidth('attn_head_out', dims, 26)).toBe(16 * 1024);
  });

  it('knows row widths (one head per row for the per-head kinds)', () => {
    const dims = { n_embd: 1024 };
    expect(hookRowWidth('attn_out', dims, 26)).toBe(1024);
    expect(hookRowWidth('mlp_post', dims, 26)).toBe(4096);
    expect(hookRowWidth('attn_pattern', dims, 26)).toBe(26);
    expect(hookRowWidth('attn_head_out', dims, 26)).toBe(1024);
  });

  it('the registry keeps the documented order and sets', () => {
    expect(HOOK_KINDS).toEqual(['embed', 'attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post', 'attn_pattern', 'attn_head_out']);
    expect(BLOCK_HOOK_KINDS).toEqual(HOOK_KINDS.slice(1));
    expect(LENSABLE_KINDS).toEqual(['embed', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post']);
    expect(HOOK_KINDS.filter(isIntervenable)).toEqual(['embed', 'attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post']);
  });
});

describe('TransformerLens aliases', () => {
  const canonical = (name: string, n = 24) => parseHookName(name, n);

  it('map TL block hook names to canonical refs', () => {
    expect(canonical('blocks.19.hook_resid_post')).toEqual({ name: 'blocks.19.resid_post', kind: 'resid_post', layer: 19 });
    expect(canonical('blocks.0.hook_resid_mid')).toEqual({ name: 'blocks.0.resid_mid', kind: 'resid_mid', layer: 0 });
    expect(canonical('blocks.3.hook_attn_out')).toEqual({ name: 'blocks.3.attn_out', kind: 'attn_out', layer: 3 });
    expect(canonical('blocks.3.hook_mlp_out')).toEqual({ name: 'blocks.3.mlp_out', kind: 'mlp_out', layer: 3 });
    expect(canonical('blocks.3.mlp.hook_post')).toEqual({ name: 'blocks.3.mlp_post', kind: 'mlp_post', layer: 3 });
    expect(canonical('blocks.23.attn.hook_pattern')).toEqual({ name: 'blocks.23.attn_pattern', kind: 'attn_pattern', layer: 23 });
    expect(canonical('blocks.5.attn.hook_result')).toEqual({ name: 'blocks.5.attn_head_out', kind: 'attn_head_out', layer: 5 });
  });

  it("hook_resid_pre is the previous block's resid_post, and embed before block 0", () => {
    expect(canonical('blocks.0.hook_resid_pre')).toEqual({ name: 'embed', kind: 'embed', layer: null });
    expect(canonical('blocks.1.hook_resid_pre')).toEqual({ name: 'blocks.0.resid_post', kind: 'resid_post', layer: 0 });
    expect(canonical('blocks.23.hook_resid_pre')).toEqual({ name: 'blocks.22.resid_post', kind: 'resid_post', layer: 22 });
    expect(() => canonical('blocks.24.hook_resid_pre')).toThrow(/block 24 is out of range, the model has blocks 0\.\.23/);
  });

  it('bound the layer and reject TL hooks layerlens does not have', () => {
    expect(() => canonical('blocks.24.hook_resid_post')).toThrow(/block 24 is out of range/);
    expect(() => canonical('blocks.03.hook_resid_post')).toThrow(/leading zero/);
    expect(() => canonical('hook_pos_embed')).toThrow(/position embedding alone.*"embed"/);
    expect(() => canonical('blocks.2.attn.hook_z')).toThrow(/"blocks\.2\.attn\.hook_z" has no layerlens equivalent.*blocks\.L\.hook_resid_pre/);
    expect(() => canonical('blocks.2.ln1.hook_normalized')).toThrow(/no layerlens equivalent/);
    expect(() => canonical('ln_final.hook_normalized')).toThrow(/no layerlens equivalent/);
  });

  it('work in selections and de-duplicate with canonical names', () => {
    expect(names(['blocks.1.hook_resid_pre', 'blocks.0.resid_post', 'blocks.1.attn.hook_pattern'], 2)).toEqual([
      'blocks.0.resid_post',
      'blocks.1.attn_pattern',
    ]);
    expect(names(['blocks.0.hook_resid_pre'], 2)).toEqual(['embed']);
    expect(() => checkHookSpec(['blocks.99.mlp.hook_post'])).not.toThrow();
    expect(() => checkHookSpec(['hook_embed'])).toThrow(/hook_embed/);
  });
});
