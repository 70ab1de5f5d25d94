// `layerlens --generate N` on a real (synthetic) checkpoint: the continuation after the lens, its --json
// fields checked against the tokenizer, sampled runs that replay from the printed seed, and --ablate
// carried into the generation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../helpers/cli.js';
import { generate, loadModel, releaseModels, type Model } from '../../lib/index.js';
import { decode, tokenText } from '../../lib/tokens/tokenizer.js';
import { checkpoint, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';

const dir = checkpoint('tiny-f32');
let model: Model;
beforeAll(async () => {
  model = await loadModel(dir, { device: 'cpu' });
});
afterAll(() => {
  model?.dispose();
  releaseModels();
});

interface GeneratedJSON {
  generated: { id: number; token: string }[];
  generatedText: string;
  sampling: { temperature: number; topK: number; topP: number; seed: number };
  hooks: unknown[];
}

async function runJSON(args: string[]): Promise<GeneratedJSON> {
  const r = await run(['--model', dir, '--device', 'cpu', '--json', ...args]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as GeneratedJSON;
}

describe('layerlens --generate', () => {
  it('--json adds generated [{id, token}] (tokens and text as the tokenizer decodes them), generatedText and sampling; the lens is unchanged', async () => {
    const j = await runJSON(['--generate', '5', NOTEBOOK_PROMPT]);
    expect(j.generated.length).toBeGreaterThan(0);
    expect(j.generated.length).toBeLessThanOrEqual(5);
    for (const g of j.generated) expect(g.token).toBe(tokenText(g.id));
    expect(j.generatedText).toBe(decode(j.generated.map((g) => g.id)));
    expect(j.sampling).toEqual({ temperature: 0, topK: 0, topP: 1, seed: 0 });
    const greedy = await generate(NOTEBOOK_PROMPT, { model, maxNewTokens: 5 });
    expect(j.generated.map((g) => g.id)).toEqual(greedy.tokens.map((t) => t.id));
    const lensOnly = await runJSON([NOTEBOOK_PROMPT]);
    const { generated, generatedText, sampling, ...lens } = j;
    expect([generated, generatedText, sampling].every((x) => x !== undefined)).toBe(true);
    expect(lens).toEqual(lensOnly);
  });

  it('prints the continuation after the table', async () => {
    const r = await run(['--model', dir, '--device', 'cpu', '--generate', '4', 'Hello world']);
    expect(r.code).toBe(0);
    const greedy = await generate('Hello world', { model, maxNewTokens: 4 });
    expect(r.out).toMatch(/^blocks\.1\.resid_post\s/m);
    expect(r.out.endsWith(`\ncontinuation (greedy): ${JSON.stringify(greedy.text)}\n`)).toBe(true);
  });

  it('samples with the flags; the printed seed replays the run', async () => {
    const flags = ['--generate', '6', '--temperature', '1.5', '--sample-top-k', '50', '--top-p', '0.95'];
    const a = await runJSON([...flags, 'Hello']);
    expect(a.sampling).toMatchObject({ temperature: 1.5, topK: 50, topP: 0.95 });
    expect(Number.isSafeInteger(a.sampling.seed)).toBe(true);
    const api = await generate('Hello', { model, maxNewTokens: 6, temperature: 1.5, topK: 50, topP: 0.95, seed: a.sampling.seed });
    expect(a.generated.map((g) => g.id)).toEqual(api.tokens.map((t) => t.id));
    const replay = await runJSON([...flags, '--seed', String(a.sampling.seed), 'Hello']);
    expect(replay.generated).toEqual(a.generated);
    const text = await run(['--model', dir, '--device', 'cpu', ...flags, '--seed', String(a.sampling.seed), 'Hello']);
    expect(text.out).toContain(`\ncontinuation (temperature 1.5, top-k 50, top-p 0.95, seed ${a.sampling.seed}): ${JSON.stringify(a.generatedText)}\n`);
  });

  it('--ablate applies to the generated tokens too', async () => {
    const j = await runJSON(['--generate', '6', '--ablate', 'blocks.0.mlp_out', 'Hello']);
    const ablate = [{ hook: 'blocks.0.mlp_out', op: 'zero' as const }];
    const ablated = await generate('Hello', { model, maxNewTokens: 6, interventions: ablate, stepInterventions: ablate });
    const promptOnly = await generate('Hello', { model, maxNewTokens: 6, interventions: ablate });
    expect(j.generated.map((g) => g.id)).toEqual(ablated.tokens.map((t) => t.id));
    // only meaningful if ablating the new tokens' own passes changes the continuation
    expect(ablated.tokens).not.toEqual(promptOnly.tokens);
  });
});
