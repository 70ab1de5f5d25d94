// The hook registry across the N-API boundary: lib/hooks.ts's table equals the engine's
// (addon.hookKinds); the widths it gives match the tensors the graph captures; the addon takes one
// options object per call and names the field it rejects; TransformerLens aliases capture the values
// the float64 reference has under the canonical names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHooks, decodeLayers, HOOK_KIND_TABLE, hookPositionWidth, hookRowWidth, hookKindInfo, loadModel, type Model } from '../../lib/index.js';
import { native, type NativeModel } from '../../lib/model/native.js';
import { checkpoint, NOTEBOOK_IDS } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { forwardReference, loadReference, relativeL2Error, type RefActivations } from '../reference/gpt2-f64.js';

let model: Model;
let engine: NativeModel;
let expected: RefActivations;
const dir = checkpoint('tiny-f32');

beforeAll(async () => {
  model = await loadModel(dir, { device: testDevice() });
  engine = await native().loadModel({ path: model.weightsPath, hparams: model.config, device: testDevice(), threads: 1 });
  expected = forwardReference(loadReference(dir), NOTEBOOK_IDS);
});
afterAll(() => {
  model?.dispose();
  engine?.dispose();
});

describe('hook registry', () => {
  it('lib/hooks.ts mirrors the engine table exactly (order and every field)', () => {
    expect(native().hookKinds).toEqual(HOOK_KIND_TABLE);
  });

  it('widths and per-head layout match what the graph captures', async () => {
    const P = [3, 25];
    const { activations } = await model.run(NOTEBOOK_IDS, { hooks: ['all', 'attn_head_out'], positions: P });
    const names = activations.map((a) => a.name);
    expect(names).toEqual(allHooks(model.info.n_layer).map((h) => h.name));
    for (const a of activations) {
      const info = hookKindInfo(a.kind);
      const row = hookRowWidth(a.kind, model.info, NOTEBOOK_IDS.length);
      expect(a.shape, a.name).toEqual(info.perHead ? [P.length, model.info.n_head, row] : [P.length, row]);
      expect(a.data.length, a.name).toBe(P.length * hookPositionWidth(a.kind, model.info, NOTEBOOK_IDS.length));
    }
  });
});

describe('addon requests are objects', () => {
  const tokens = Int32Array.from(NOTEBOOK_IDS);

  it('run returns kind and layer with each capture', async () => {
    const out = await engine.run({ tokens, hooks: ['embed', 'blocks.1.attn_pattern'], positions: Int32Array.of(2), logits: false });
    expect(out.captured.map(({ name, kind, layer }) => ({ name, kind, layer }))).toEqual([
      { name: 'embed', kind: 'embed', layer: null },
      { name: 'blocks.1.attn_pattern', kind: 'attn_pattern', layer: 1 },
    ]);
    expect(out.logits.length).toBe(0);
  });

  it('name the field they reject', () => {
    const run = (request: unknown) => () => engine.run(request as never);
    expect(run(tokens)).toThrow(TypeError);
    expect(run(tokens)).toThrow(/run: expected an options object/);
    expect(run({})).toThrow(/run: 'tokens' is required/);
    expect(run({ tokens: [1, 2] })).toThrow(/run: 'tokens' must be an Int32Array/);
    expect(run({ tokens, logit: false })).toThrow(/run: unknown option 'logit' \(expected tokens, hooks, positions, interventions, logits\)/);
    expect(run({ tokens, logits: 1 })).toThrow(/run: 'logits' must be a boolean/);
    expect(run({ tokens, hooks: 'embed' })).toThrow(/run: 'hooks' must be an array of strings/);
    expect(run({ tokens, positions: [0] })).toThrow(/run: 'positions' must be an Int32Array/);
    expect(run({ tokens, interventions: [{ hook: 'embed', mul: [1] }] })).toThrow(/run: interventions\[0\]: 'mul' must be a Float32Array/);
    expect(run({ tokens, interventions: [{ hook: 'embed', scale: 2 }] })).toThrow(/interventions\[0\]: unknown option 'scale'/);
    const lens = (request: unknown) => () => engine.lens(request as never);
    expect(lens({ vectors: new Float32Array(2), count: 1.5, k: 1 })).toThrow(/lens: 'count' must be a 32-bit integer/);
    expect(lens({ vectors: new Float32Array(2), count: 1 })).toThrow(/lens: 'k' is required/);
    const generate = (request: unknown) => () => engine.generate(request as never);
    expect(generate({ tokens, maxNewTokens: '3' })).toThrow(/generate: 'maxNewTokens' must be a 32-bit integer/);
    expect(() => native().loadModel({ path: dir, hparams: { ...model.config, n_head: undefined } } as never)).toThrow(
      /loadModel: hparams: 'n_head' is required/,
    );
    expect(() => native().loadModel({ path: dir, hparams: model.config, capture: 'eval' } as never)).toThrow(/loadModel: 'capture' must be/);
    expect(() => native().convertToGguf({ src: dir } as never)).toThrow(/convertToGguf: 'dst' is required/);
  });

  it('parse hook names once, canonical names only, with the layer bounded', () => {
    const run = (hooks: string[]) => () => engine.run({ tokens, hooks });
    expect(run(['blocks.2.resid_post'])).toThrow(/run: 'hooks'\[0\]: hook 'blocks\.2\.resid_post': block 2 is out of range, the model has blocks 0\.\.1/);
    expect(run(['embed', 'blocks.0.hook_resid_post'])).toThrow(/'hooks'\[1\]: hook 'blocks\.0\.hook_resid_post': unknown hook kind 'hook_resid_post'/);
    expect(run(['blocks.01.mlp_out'])).toThrow(/leading zero/);
    expect(run(['blocks.-1.mlp_out'])).toThrow(/not a non-negative integer/);
    expect(run(['resid_post'])).toThrow(/expected 'embed' or 'blocks\.L\.KIND'/);
    expect(() => engine.run({ tokens, interventions: [{ hook: 'blocks.9.resid_post' }] })).toThrow(
      /run: interventions\[0\]: 'hook': hook 'blocks\.9\.resid_post': block 9 is out of range/,
    );
  });
});

describe('TransformerLens aliases', () => {
  it('capture the canonical hooks, matching the float64 reference', async () => {
    const hooks = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre', 'blocks.1.mlp.hook_post', 'blocks.1.attn.hook_pattern', 'blocks.0.attn.hook_result'];
    const { activations } = await model.run(NOTEBOOK_IDS, { hooks, positions: [25] });
    expect(activations.map((a) => a.name)).toEqual(['embed', 'blocks.0.resid_post', 'blocks.0.attn_head_out', 'blocks.1.mlp_post', 'blocks.1.attn_pattern']);
    for (const a of activations) expect(relativeL2Error(a.data, expected.row(a.name, 25)), a.name).toBeLessThan(1e-5);
  });

  it('TL hook_result summed over heads, plus c_proj bias, is hook_attn_out', async () => {
    const { activations } = await model.run(NOTEBOOK_IDS, { hooks: ['blocks.1.attn.hook_result', 'blocks.1.hook_attn_out'], positions: [7] });
    const [attnOut, perHead] = activations; // canonical order: attn_out before attn_head_out
    expect([attnOut.name, perHead.name]).toEqual(['blocks.1.attn_out', 'blocks.1.attn_head_out']);
    const bias = loadReference(dir).blocks[1].attn_proj_b;
    const { n_embd: d, n_head: H } = model.info;
    const sum = Float64Array.from({ length: d }, (_, j) => bias[j] + Array.from({ length: H }, (_, h) => perHead.data[h * d + j]).reduce((x, y) => x + y, 0));
    expect(relativeL2Error(attnOut.data, sum)).toBeLessThan(1e-5);
  });

  it('work in interventions and in the accessors of decodeLayers', async () => {
    const zeroTL = await model.run(NOTEBOOK_IDS, { interventions: [{ hook: 'blocks.1.hook_resid_pre', op: 'zero' }] });
    const zero = await model.run(NOTEBOOK_IDS, { interventions: [{ hook: 'blocks.0.resid_post', op: 'zero' }] });
    expect(Array.from(zeroTL.logits)).toEqual(Array.from(zero.logits));
    const r = await decodeLayers('Hello world', { model, hooks: 'all' });
    expect(r.get('blocks.1.hook_resid_post')).toBe(r.get('resid_post', -1));
    expect(Array.from(r.vector('resid_pre', 1))).toEqual(Array.from(r.vector('resid_post', 0)));
    expect(r.get('resid_post', -1).top![0].id).toBe(r.prediction.id);
    expect(() => r.get('attn_head_out', 0)).toThrow(/was not captured/);
  });
});
