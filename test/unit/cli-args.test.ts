import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOP_K, HELP, parseCliArgs, UsageError } from '../../lib/cli/main.js';
import { DEVICES, DTYPES, MAX_THREADS } from '../../lib/types.js';
import { runCli as run } from '../helpers/cli.js';

/** Flags only `layerlens steer` knows. */
const STEER_ONLY_FLAGS = ['--positive', '--negative', '--layers', '--method', '--position', '--read-from', '--normalize'];
// train-lens's own (test/unit/train-lens-cli.test.ts checks them against its parser)
const TRAIN_LENS_ONLY_FLAGS = ['--data', '--steps', '--lr', '--tokens-per-step', '--seq-len', '--optimizer', '--held-out', '--checkpoint-every', '--resume'];

describe('parseCliArgs', () => {
  it('has defaults', () => {
    expect(parseCliArgs(['hello'])).toEqual({
      command: 'run',
      model: undefined,
      topK: DEFAULT_TOP_K,
      hooks: 'default',
      positions: 'last',
      json: false,
      vectors: false,
      threads: undefined,
      device: 'auto',
      prompt: 'hello',
      view: { metrics: false, grid: false, allPositions: false },
    });
  });

  it('parses every option', () => {
    const c = parseCliArgs([
      '--model',
      '/m',
      '--top-k',
      '10',
      '--hooks',
      'resid_post, blocks.3.mlp_out',
      '--positions',
      '5,0,3,3',
      '--json',
      '--vectors',
      '--threads',
      '4',
      '--device',
      'cpu',
      'Q: A',
    ]);
    expect(c).toEqual({
      command: 'run',
      model: '/m',
      topK: 10,
      hooks: ['resid_post', 'blocks.3.mlp_out'],
      positions: [0, 3, 5],
      json: true,
      vectors: true,
      threads: 4,
      device: 'cpu',
      prompt: 'Q: A',
      view: { metrics: false, grid: false, allPositions: false },
    });
    expect(parseCliArgs(['--top-k=50257', '--hooks=all', '--positions=all', 'x'])).toMatchObject({ topK: 50257, hooks: 'all', positions: 'all' });
    expect(parseCliArgs(['--hooks', 'default', 'x'])).toMatchObject({ hooks: 'default' });
    expect(() => parseCliArgs(['--device', 'tpu', 'x'])).toThrow(
      /^Expected one of 'auto', 'cpu', 'cuda' or 'metal' for --device but received "tpu" of type string$/,
    );
    expect(parseCliArgs(['--hooks', 'default,mlp_post', 'x'])).toMatchObject({ hooks: ['default', 'mlp_post'] });
  });

  it('reads the prompt from stdin with "-" and accepts prompts after --', () => {
    expect(parseCliArgs(['-'])).toMatchObject({ prompt: null });
    expect(parseCliArgs(['--', '-5 is'])).toMatchObject({ prompt: '-5 is' });
  });

  it('handles --help and --version before anything else', () => {
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['-h', '--top-k', '0'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['--version'])).toEqual({ command: 'version' });
    expect(parseCliArgs(['-V'])).toEqual({ command: 'version' });
  });

  const bad: [string[], RegExp][] = [
    [['--top-k', '0', 'x'], /^Expected an integer in 1\.\.16777216 for --top-k but received "0" of type string$/],
    // the model's vocabulary bounds --top-k once it is loaded (GPT-2: 50257; GGUF vocabularies up to 262k+)
    [['--top-k', '16777217', 'x'], /1\.\.16777216 for --top-k but received "16777217"/],
    [['--top-k', '2.5', 'x'], /Expected an integer .* for --top-k/],
    [['--top-k', 'five', 'x'], /received "five"/],
    [['--top-k', '', 'x'], /Expected an integer .* for --top-k/],
    [['--top-k=-1', 'x'], /Expected an integer .* for --top-k/],
    [['--threads', '0', 'x'], /Expected an integer in 1\.\.1024 for --threads/],
    [['--threads', '1025', 'x'], /Expected an integer in 1\.\.1024 for --threads/],
    [['--hooks', 'blocks.3.foo', 'x'], /--hooks: unknown hook kind "foo"/],
    [['--hooks', 'resid_post,,embed', 'x'], /Expected a comma-separated list without empty items for --hooks but received "resid_post,,embed"/],
    [['--ablate', 'blocks.0.nope', 'x'], /--ablate: unknown hook kind "nope"/],
    [
      ['--patch-from', 'a', '--patch-hook', 'embed', '--target', ' Paris', '--patch-mode', 'swap', 'x'],
      /Expected one of 'set' or 'add' for --patch-mode but received "swap"/,
    ],
    [['--positions', 'first', 'x'], /Expected "last", "all" or a comma-separated list of 0-based positions .* for --positions/],
    [['--positions', '1,-2', 'x'], /--positions/],
    [['--vectors', 'x'], /--vectors only applies to --json/],
    [['--model', '', 'x'], /Expected a model path or hub name for --model but received "" of type string/],
    [['--revision', '../x', 'x'], /^--revision: revision "\.\.\/x" is not a valid/],
    [['--frobnicate', 'x'], /Unknown option '--frobnicate'/],
    [['--json'], /missing prompt/],
    [['two', 'prompts'], /expected one prompt, got 2 arguments/],
    [['--top-k'], /argument missing/],
  ];
  for (const [argv, msg] of bad) {
    it(`rejects ${argv.join(' ')}`, () => {
      expect(() => parseCliArgs(argv)).toThrow(UsageError);
      expect(() => parseCliArgs(argv)).toThrow(msg);
    });
  }
});

describe('main (no model needed)', () => {
  it('--help documents every flag and the exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(HELP);
    for (const flag of ['--model', '--top-k', '--hooks', '--positions', '--json', '--vectors', '--threads', '--device', '--help', '--version', '-h', '-V']) {
      expect(r.out).toContain(flag);
    }
    expect(r.out).toMatch(/Exit codes:[\s\S]*0 +success[\s\S]*1 +runtime error[\s\S]*2 +usage error/);
    expect(r.out).toMatch(/stdin/);
    expect(r.err).toBe('');
  });

  it('--help lists the choices and limits the checks use', () => {
    expect(HELP).toContain(`--device D            ${DEVICES.join(', ')};`);
    expect(HELP).toContain(`1..${MAX_THREADS} (default: all cores)`);
    expect(HELP).toContain(`[--type ${DTYPES.join('|')}]`);
    // every long flag the parser knows is in the help, and no flag in the help is unknown to it
    const helpFlags = new Set(HELP.match(/--[a-z][a-z-]+/g));
    for (const flag of helpFlags) {
      // convert's and serve's; steer's (test/unit/steer-cli.test.ts checks them against steer's parser)
      if (['--to', '--type', '--out', '--port', '--host', ...STEER_ONLY_FLAGS, ...TRAIN_LENS_ONLY_FLAGS].includes(flag)) continue;
      // batch's own flags, checked against batch's parser
      if (['--summary', '--summary-html', '--shard', '--batch-size'].includes(flag)) {
        expect(() => parseCliArgs(['batch', 'in.jsonl', flag, flag === '--shard' ? '0/2' : flag === '--batch-size' ? '8' : 'v']), flag).not.toThrow();
        continue;
      }
      expect(
        () => parseCliArgs([flag, ...(['--help', '--version', '--json', '--vectors', '--quiet', '--metrics', '--grid'].includes(flag) ? [] : ['v'])]),
        flag,
      ).not.toThrow(/Unknown option/);
    }
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect(r).toEqual({ code: 0, out: pkg.version + '\n', err: '' });
  });

  it('usage errors exit 2 with "layerlens: <message>" on stderr', async () => {
    let r = await run(['--top-k', '0', 'hi']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe('layerlens: Expected an integer in 1..16777216 for --top-k but received "0" of type string\n');

    r = await run(['--bogus', 'hi']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^layerlens: Unknown option '--bogus'.*see --help/);

    r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^layerlens: missing prompt/);
  });

  it('without --model or LAYERLENS_MODEL looks for gpt2-medium in the HF cache and says how to get it', async () => {
    const r = await run(['hi'], { env: { HF_HUB_CACHE: '/nonexistent/hub', HF_HUB_OFFLINE: '1' } });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^layerlens: model "gpt2-medium" was not found.*\/nonexistent\/hub\/models--gpt2-medium.*huggingface-cli download gpt2-medium/s);
  });

  it('checks positions against the prompt before loading a model', async () => {
    const r = await run(['--model', '/nonexistent', '--positions', '0,7', 'A: B']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/position 7 is out of range, the prompt has 3 tokens \(0\.\.2\)/);
  });

  it('reads "-" from stdin and rejects an empty prompt', async () => {
    let r = await run(['-'], { stdin: '\n' });
    expect(r.code).toBe(2);
    expect(r.err).toBe('layerlens: the prompt is empty\n');
    r = await run(['--positions', '5', '-'], { stdin: 'A: B\n' }); // one trailing newline removed: 3 tokens
    expect(r.err).toMatch(/the prompt has 3 tokens/);
    r = await run(['--positions', '5', '-'], { stdin: 'A: B\n\n' }); // only one is removed
    expect(r.err).toMatch(/the prompt has 4 tokens/);
  });
});
