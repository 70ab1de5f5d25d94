// The accessors decodeLayers attaches to its result: lookups by kind + layer (negative from the end), by
// canonical or TransformerLens name, clear errors, and JSON output unchanged.
import { describe, expect, it } from 'vitest';
import { withAccessors } from '../../lib/lens/result-access.js';
import { stringifyJSON, toJSON } from '../../lib/render/format.js';
import type { Activation, HookLens, LensResult } from '../../lib/types.js';

const d = 2;
const nHead = 2;
const positions = [1, 2];

// Each captured value encodes (hook index, position, element), so a wrong slice is visible.
function activation(name: string, kind: Activation['kind'], layer: number | null, index: number, width: number): Activation {
  const data = Float32Array.from({ length: positions.length * width }, (_, i) => index * 1000 + positions[Math.floor(i / width)] * 100 + (i % width));
  return { name, kind, layer, positions, data, shape: [positions.length, width] };
}

function makeResult(): LensResult {
  const activations = [
    activation('embed', 'embed', null, 0, d),
    activation('blocks.0.resid_post', 'resid_post', 0, 1, d),
    activation('blocks.1.mlp_post', 'mlp_post', 1, 2, 4 * d),
    activation('blocks.1.resid_post', 'resid_post', 1, 3, d),
    { ...activation('blocks.1.attn_pattern', 'attn_pattern', 1, 4, nHead * 3), shape: [positions.length, nHead, 3] },
  ];
  const hooks: HookLens[] = positions.flatMap((position) =>
    activations.map((a) => ({
      name: a.name,
      layer: a.layer,
      kind: a.kind,
      position,
      ...(a.kind === 'mlp_post' || a.kind === 'attn_pattern' ? {} : { top: [{ id: position, token: `${a.name}@${position}`, prob: 0.5, logit: 1 }] }),
    })),
  );
  return {
    model: { name: 'tiny', n_layer: 2, n_embd: d, n_head: nHead, n_vocab: 10, n_ctx: 8, dtype: 'f32' },
    prompt: 'abc',
    tokens: [0, 1, 2].map((id) => ({ id, token: String(id) })),
    position: 2,
    positions,
    prediction: { id: 1, token: '1', prob: 0.5 },
    hooks,
    activations,
  };
}

describe('LensResult accessors', () => {
  const r = withAccessors(makeResult());

  it('get: the lens row by kind and layer, at the result position by default', () => {
    expect(r.get('resid_post', 1).top![0].token).toBe('blocks.1.resid_post@2');
    expect(r.get('resid_post', -1)).toBe(r.get('resid_post', 1));
    expect(r.get('resid_post', -2).name).toBe('blocks.0.resid_post');
    expect(r.get('embed').name).toBe('embed');
    expect(r.get('resid_post', 0, 1).top![0].token).toBe('blocks.0.resid_post@1');
    expect(r.get('resid_post', 0, -2).position).toBe(1);
    expect(r.get('mlp_post', 1).top).toBeUndefined();
  });

  it('accepts canonical and TransformerLens names', () => {
    expect(r.get('blocks.1.hook_resid_post')).toBe(r.get('resid_post', 1));
    expect(r.get('blocks.1.hook_resid_pre').name).toBe('blocks.0.resid_post');
    expect(r.get('resid_pre', 0).name).toBe('embed');
    expect(r.get('resid_pre', -1).name).toBe('blocks.0.resid_post');
    expect(r.get('pattern', 1).name).toBe('blocks.1.attn_pattern');
    expect(r.get('post', -1).name).toBe('blocks.1.mlp_post');
    expect(r.activation('blocks.1.mlp.hook_post').name).toBe('blocks.1.mlp_post');
  });

  it('rows: every lensed position', () => {
    expect(r.rows('resid_post', 0).map((h) => h.position)).toEqual([1, 2]);
  });

  it('vector / activation: the captured data', () => {
    expect(Array.from(r.vector('resid_post', 1))).toEqual([3200, 3201]);
    expect(Array.from(r.vector('resid_post', 1, 1))).toEqual([3100, 3101]);
    expect(Array.from(r.vector('embed', undefined, -2))).toEqual([100, 101]);
    expect(r.vector('mlp_post', 1, 2).length).toBe(4 * d);
    expect(r.vector('mlp_post', 1, 2)[7]).toBe(2207);
    expect(r.vector('attn_pattern', 1).length).toBe(nHead * 3);
    expect(r.activation('resid_post', -1).shape).toEqual([2, d]);
  });

  it('throws clear errors', () => {
    expect(() => r.get('mlp_out', 0)).toThrow(
      /hook blocks\.0\.mlp_out was not captured; captured: embed, blocks\.0\.resid_post.*hooks: \['blocks\.0\.mlp_out'\]/,
    );
    expect(() => r.get('resid_post', 2)).toThrow(/layer 2 is out of range: the model has blocks 0\.\.1 \(or -2\.\.-1\)/);
    expect(() => r.get('resid_post', -3)).toThrow(/out of range/);
    expect(() => r.get('resid_post')).toThrow(/needs a layer/);
    expect(() => r.get('embed', 0)).toThrow(/has no layer/);
    expect(() => r.get('resid_post', 1, 0)).toThrow(/position 0 was not lensed; lensed positions: 1, 2/);
    expect(() => r.get('resid_post', 1, 3)).toThrow(/outside the prompt's 3 tokens/);
    expect(() => r.get('blocks.1.resid_post', 1)).toThrow(/not a hook kind/);
    expect(() => r.get('blocks.7.resid_post')).toThrow(/out of range/);
  });

  it('leaves JSON output unchanged', () => {
    const plain = makeResult();
    expect(Object.keys(r)).toEqual(Object.keys(plain));
    expect(JSON.stringify(r)).toBe(JSON.stringify(plain));
    expect(JSON.stringify(toJSON(r))).toBe(JSON.stringify(toJSON(plain)));
    expect(stringifyJSON(toJSON(r, { vectors: true }))).toBe(stringifyJSON(toJSON(plain, { vectors: true })));
  });
});
