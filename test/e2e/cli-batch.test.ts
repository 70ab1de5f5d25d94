// `layerlens batch` on the tiny checkpoint: the output lines are the single-prompt JSON plus the id,
// bad lines are reported with their line numbers and skipped, a run cut mid-line resumes to the same
// file, two shards cover the input exactly once, and the summary JSON and page are written.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, loadModel, toJSON, type BatchSummary, type Model } from '../../lib/index.js';
import { BatchProgress } from '../../lib/cli/batch-progress.js';
import { runCli } from '../helpers/cli.js';
import { checkpoint, NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { randomTunedLensSpec, writeTunedLensFolder } from '../helpers/tuned-lens-writer.js';

const dir = checkpoint('tiny-f32');
const work = mkdtempSync(join(tmpdir(), 'layerlens-cli-batch-'));
let model: Model;
beforeAll(async () => {
  model = await loadModel(dir, { device: 'cpu' });
});
afterAll(() => {
  model?.dispose();
  rmSync(work, { recursive: true, force: true });
});

const GOOD = [
  { id: 'nb', prompt: NOTEBOOK_PROMPT, target: ' Warsaw' },
  { id: 'hello', prompt: 'Hello world' },
  { id: 'fox', prompt: 'The quick brown fox jumps over the lazy', target: ' dog' },
  { id: 'x', prompt: 'x' },
  { prompt: 'no id here' }, // id = its line number
  { id: 'abc', prompt: 'a b c d e f' },
  { id: 'q', prompt: 'Q: What is 2 + 2?\nA:' },
  { id: 'long', prompt: 'one two three four five six seven eight nine ten' },
  { id: 'tok', prompt: 'numbers: 1, 2, 3,', target: 604 },
];
// Line numbers (1-based) of the input below.
const lines = [
  JSON.stringify(GOOD[0]),
  JSON.stringify(GOOD[1]),
  JSON.stringify(GOOD[2]),
  'this is not json',
  JSON.stringify(GOOD[3]),
  JSON.stringify(GOOD[4]),
  '{"id": "missing-prompt"}',
  JSON.stringify(GOOD[5]),
  JSON.stringify({ id: 'hello', prompt: 'duplicate id' }),
  JSON.stringify({ id: 'too-long', prompt: 'word '.repeat(100) }),
  JSON.stringify(GOOD[6]),
  JSON.stringify({ id: 'bad-target', prompt: 'x', target: ' two tokens' }),
  JSON.stringify(GOOD[7]),
  JSON.stringify(GOOD[8]),
];
const GOOD_IDS = ['nb', 'hello', 'fox', 'x', '6', 'abc', 'q', 'long', 'tok'];
const input = join(work, 'input.jsonl');
writeFileSync(input, lines.join('\n') + '\n');
const FLAGS = ['--model', dir, '--device', 'cpu', '--threads', '2', '--hooks', 'resid_mid,resid_post', '--top-k', '3', '--target', ' the'];

const readLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { id: string } & ReturnType<typeof toJSON>);

describe('layerlens batch', () => {
  const out = join(work, 'out.jsonl');
  const summaryPath = join(work, 'summary.json');
  let first = '';

  it('writes one line per good prompt (the --json of that prompt plus its id) and reports bad lines by number', async () => {
    const r = await runCli(['batch', input, '--out', out, '--summary', summaryPath, ...FLAGS]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    const errs = r.err.split('\n').filter((l) => l !== '');
    expect(errs.slice(0, 5)).toEqual([
      expect.stringMatching(new RegExp(`^layerlens batch: ${input}:4: not JSON .*\\(skipped\\)$`)),
      `layerlens batch: ${input}:7: "prompt" must be a string (it is missing) (skipped)`,
      `layerlens batch: ${input}:9: id "hello" was already used by an earlier line (skipped)`,
      expect.stringMatching(new RegExp(`^layerlens batch: ${input}:10: "too-long": .*context holds at most 64.*\\(skipped\\)$`)),
      expect.stringMatching(new RegExp(`^layerlens batch: ${input}:12: "bad-target": .*target " two tokens" is 2 tokens.*\\(skipped\\)$`)),
    ]);
    expect(r.err).toMatch(/9 prompts done in .*, 3 bad lines skipped, 2 prompts failed/);
    first = readFileSync(out, 'utf8');
    const got = readLines(out);
    expect(got.map((l) => l.id)).toEqual(GOOD_IDS);
    for (const [i, g] of GOOD.entries()) {
      const single = await decodeLayers(g.prompt, { model, hooks: ['resid_mid', 'resid_post'], topK: 3, metrics: true, target: g.target ?? ' the' });
      expect(got[i], GOOD_IDS[i]).toEqual(JSON.parse(JSON.stringify({ id: GOOD_IDS[i], ...toJSON(single) })));
    }
  });

  it('writes the summary JSON and its page, agreeing with a count over the output lines', () => {
    const s = JSON.parse(readFileSync(summaryPath, 'utf8')) as BatchSummary;
    const got = readLines(out);
    expect(s.prompts).toBe(got.length);
    expect(s.withTarget).toBe(got.length); // --target gives every line one
    expect(s.hooks.map((h) => h.name)).toEqual(['blocks.0.resid_mid', 'blocks.0.resid_post', 'blocks.1.resid_mid', 'blocks.1.resid_post']);
    for (const h of s.hooks) {
      const rows = got.map((l) => ({ l, row: l.hooks.find((x) => x.name === h.name && x.position === l.position)! }));
      expect(h.top1IsPrediction.count).toBe(rows.filter(({ l, row }) => row.top![0].id === l.prediction.id).length);
      expect(h.top1IsTarget!.count).toBe(rows.filter(({ row }) => row.top![0].id === row.target!.id).length);
      const meanProb = rows.reduce((a, { row }) => a + row.target!.prob, 0) / rows.length;
      expect(h.targetProb!.mean).toBeCloseTo(meanProb, 12);
    }
    // the last block's resid_post lens is the model's prediction itself
    expect(s.hooks[3].top1IsPrediction.share).toBe(1);
    expect(s.hooks[3].kl!.mean).toBe(0);
    const page = readFileSync(join(work, 'summary.html'), 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('<svg');
  });

  it('resumes after a crash mid-line: the incomplete line is cut, done ids are skipped, the file ends the same', async () => {
    const text = first;
    const cutAt = text.split('\n').slice(0, 5).join('\n').length + 1 + 40; // 5 whole lines and 40 bytes of the 6th
    writeFileSync(out, text.slice(0, cutAt));
    const r = await runCli(['batch', input, '--out', out, ...FLAGS]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`${out}: cut an incomplete last line (40 bytes, from an interrupted run)`);
    expect(r.err).toMatch(/4 prompts done in .*, 5 already in /);
    expect(readFileSync(out, 'utf8')).toBe(first);
    // a third run has nothing left to do
    const again = await runCli(['batch', input, '--out', out, ...FLAGS]);
    expect(again.err).toMatch(/0 prompts done in .*, 9 already in /);
    expect(readFileSync(out, 'utf8')).toBe(first);
  });

  it('--shard 0/2 and 1/2 cover the input exactly once, with the same lines as the whole run', async () => {
    const whole = new Map(readLines(out).map((l) => [l.id, l]));
    const parts: string[][] = [];
    for (const i of [0, 1]) {
      const file = join(work, `shard-${i}.jsonl`);
      const r = await runCli(['batch', input, '--out', file, '--shard', `${i}/2`, ...FLAGS]);
      expect(r.code).toBe(0);
      const got = readLines(file);
      for (const l of got) expect(l).toEqual(whole.get(l.id));
      parts.push(got.map((l) => l.id));
    }
    expect(parts[0].length).toBeGreaterThan(0);
    expect(parts[1].length).toBeGreaterThan(0);
    expect([...parts[0], ...parts[1]].sort()).toEqual([...GOOD_IDS].sort());
  });

  it('--batch-size 1 (one prompt per forward) and 4 write the same lines as the default packed run', async () => {
    const whole = readLines(out);
    for (const n of ['1', '4']) {
      const file = join(work, `batch-size-${n}.jsonl`);
      const r = await runCli(['batch', input, '--out', file, '--batch-size', n, ...FLAGS]);
      expect(r.code).toBe(0);
      expect(readLines(file)).toEqual(whole);
    }
    expect(await runCli(['batch', input, '--batch-size', '0'])).toMatchObject({ code: 2, err: expect.stringMatching(/--batch-size/) });
    expect(await runCli(['batch', input, '--batch-size', '257'])).toMatchObject({ code: 2, err: expect.stringMatching(/--batch-size/) });
  });

  it('--tuned-lens writes the lines decodeLayers gives with that lens (loaded once), --lens logit the logit lens', async () => {
    const { n_embd: d, n_layer } = model.info;
    const lensDir = writeTunedLensFolder(join(work, 'lens'), randomTunedLensSpec(model.info.name, d, n_layer, 31));
    const file = join(work, 'tuned.jsonl');
    const r = await runCli(['batch', input, '--out', file, '--tuned-lens', lensDir, ...FLAGS]);
    expect(r.code).toBe(0);
    const got = readLines(file);
    expect(got.map((l) => l.id)).toEqual(GOOD_IDS);
    for (const i of [0, 2]) {
      const g = GOOD[i];
      const single = await decodeLayers(g.prompt, {
        model,
        hooks: ['resid_mid', 'resid_post'],
        topK: 3,
        metrics: true,
        target: g.target ?? ' the',
        tunedLens: lensDir,
      });
      expect(single.lens).toBe('tuned');
      expect(got[i], GOOD_IDS[i]).toEqual(JSON.parse(JSON.stringify({ id: GOOD_IDS[i], ...toJSON(single) })));
    }
    // The translated rows differ from the logit lens's, so the tuned lens really was applied.
    expect(got[0]).not.toEqual(readLines(out)[0]);
    const logitFile = join(work, 'logit.jsonl');
    expect((await runCli(['batch', input, '--out', logitFile, '--tuned-lens', lensDir, '--lens', 'logit', ...FLAGS])).code).toBe(0);
    expect(readLines(logitFile)).toEqual(readLines(out));
    expect(await runCli(['batch', input, '--lens', 'tuned'])).toMatchObject({ code: 2, err: expect.stringMatching(/--lens tuned needs --tuned-lens/) });
  });

  it('a tuned lens for another model fails the run at once (exit 1), not every prompt', async () => {
    const { n_embd: d, n_layer } = model.info;
    const wrong = writeTunedLensFolder(join(work, 'lens-wide'), randomTunedLensSpec(model.info.name, d * 2, n_layer, 32));
    const file = join(work, 'wrong-lens.jsonl');
    const r = await runCli(['batch', input, '--out', file, '--tuned-lens', wrong, ...FLAGS]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`d_model is ${d * 2} but the model .* has n_embd ${d}`));
    expect(r.err).not.toMatch(/skipped/);
    expect(existsSync(file)).toBe(false);
  });

  it('reads .txt (ids = line numbers) and writes to stdout without --out', async () => {
    const txt = join(work, 'prompts.txt');
    writeFileSync(txt, 'Hello world\n\nThe capital of France is\n');
    const r = await runCli(['batch', txt, ...FLAGS.slice(0, 6), '--summary', join(work, 's2.json'), '--summary-html', join(work, 'page2.html')]);
    expect(r.code).toBe(0);
    const got = r.out
      .split('\n')
      .filter((l) => l)
      .map((l) => JSON.parse(l));
    expect(got.map((l) => [l.id, l.prompt])).toEqual([
      ['1', 'Hello world'],
      ['3', 'The capital of France is'],
    ]);
    expect(JSON.parse(readFileSync(join(work, 's2.json'), 'utf8')).prompts).toBe(2);
    expect(existsSync(join(work, 'page2.html'))).toBe(true);
  });

  it('usage errors exit 2 before loading anything', async () => {
    expect(await runCli(['batch'])).toMatchObject({ code: 2, err: expect.stringMatching(/batch: missing the input file/) });
    expect(await runCli(['batch', input, '--shard', '2/2'])).toMatchObject({ code: 2, err: expect.stringMatching(/--shard must be i\/N/) });
    expect(await runCli(['batch', input, '--out', input])).toMatchObject({ code: 2, err: expect.stringMatching(/--out must not be the input/) });
    expect(await runCli(['batch', join(work, 'absent.jsonl'), '--model', dir])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/cannot read the input .*ENOENT/),
    });
    expect(await runCli(['batch', input, '--bogus'])).toMatchObject({ code: 2 });
  });

  it('the progress line shows done/total, rate and ETA', () => {
    const p = new BatchProgress({ write: () => true, isTTY: true }, 200);
    const line = p.render(50, Date.now() + 10_000);
    expect(line).toMatch(/^batch {2}25% \[#####\.{15}\] 50\/200 prompts {2}5\.0\/s {2}ETA 0:30$/);
  });
});
