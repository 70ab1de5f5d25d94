// Golden facts from the notebook (../shared/notebook) and Merullo's demo, checked only when real
// gpt2-medium weights are present: LAYERLENS_GPT2_MEDIUM=/path/to/checkpoint, or a gpt2-medium
// snapshot in the local Hugging Face cache. Otherwise every test reports "skipped: no weights".
// Synthetic weights are never used here: these numbers are GPT-2's own.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, findInHubCache, generate, type LensResult, type Model } from '../../lib/index.js';
import { NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { testDevice } from '../helpers/device.js';
import { useTestModel } from '../helpers/fixtures.js';

const weights = process.env.LAYERLENS_GPT2_MEDIUM || findInHubCache('gpt2-medium');
if (!weights) console.log('golden gpt2-medium checks: skipped: no weights (set LAYERLENS_GPT2_MEDIUM or put gpt2-medium in the HF cache)');

// hidden_states[0] (embed) and the hook method's layer_residual_0..4 (= blocks.L.resid_post), from the notebook's printout.
const NOTEBOOK_TOP5: Record<string, [string, number][]> = {
  embed: [
    [' unden', 0.9470192193984985],
    [' nodd', 0.021967994049191475],
    [' enthusi', 0.011501138098537922],
    [':', 0.0050586313009262085],
    [' neighb', 0.005044832825660706],
  ],
  'blocks.0.resid_post': [
    [' (', 0.02316313423216343],
    [' [', 0.018392857164144516],
    [' The', 0.012803674675524235],
    [':', 0.00920428428798914],
    [',', 0.008853655308485031],
  ],
  'blocks.1.resid_post': [
    [' A', 0.019568050280213356],
    [' The', 0.01659923605620861],
    [' (', 0.014010702259838581],
    [' [', 0.010149895213544369],
    [' Is', 0.007642451208084822],
  ],
  'blocks.2.resid_post': [
    [' A', 0.026887251064181328],
    [' [', 0.018573066219687462],
    [' (', 0.017433306202292442],
    [' The', 0.013812464661896229],
    [' At', 0.011615300551056862],
  ],
  'blocks.3.resid_post': [
    [' A', 0.03929824382066727],
    [' [', 0.022901220247149467],
    [' (', 0.020305326208472252],
    [' Act', 0.018195513635873795],
    [' At', 0.017830180004239082],
  ],
  'blocks.4.resid_post': [
    [' A', 0.038885049521923065],
    [' [', 0.024648193269968033],
    [' At', 0.023253243416547775],
    [' Q', 0.014608520083129406],
    [' (', 0.011924289166927338],
  ],
};

describe.skipIf(!weights)(weights ? 'gpt2-medium golden facts (real weights)' : 'gpt2-medium golden facts: skipped: no weights', () => {
  const gpt2Medium = useTestModel(() => weights!, { load: { device: process.env.LAYERLENS_TEST_DEVICE ? testDevice() : 'auto' }, timeout: 600_000 });
  let model: Model;
  let result: LensResult;
  beforeAll(async () => {
    model = gpt2Medium.model;
    result = await decodeLayers(NOTEBOOK_PROMPT, { model, hooks: 'all' });
  }, 600_000);

  it("matches the notebook's top-5 table for embed and blocks 0-4", () => {
    for (const [name, expected] of Object.entries(NOTEBOOK_TOP5)) {
      const top = result.hooks.find((h) => h.name === name)!.top!;
      expect(
        top.map((t) => t.token),
        name,
      ).toEqual(expected.map(([tok]) => tok));
      top.forEach((t, i) => expect(Math.abs(t.prob - expected[i][1]), `${name} ${t.token}`).toBeLessThan(2e-3 * expected[i][1] + 1e-6));
    }
  });

  it('" Poland" becomes top-1 at block 15 and " Warsaw" at block 19 (resid_post, last token)', () => {
    const top1 = (L: number) => result.hooks.find((h) => h.name === `blocks.${L}.resid_post`)!.top![0].token;
    const firstBlock = (tok: string) => Array.from({ length: 24 }, (_, L) => L).find((L) => top1(L) === tok);
    expect(firstBlock(' Poland')).toBe(15);
    expect(firstBlock(' Warsaw')).toBe(19);
    expect(result.prediction.token).toBe(' Warsaw');
  });

  it('greedy generation continues the prompt with " Warsaw"', async () => {
    const out = await generate(NOTEBOOK_PROMPT, { model, maxNewTokens: 1 });
    expect(out.tokens[0]).toEqual({ id: 32955, token: ' Warsaw' });
  });
});
