// `layerlens train-lens` argument parsing and its progress line (no addon needed).
import { describe, expect, it } from 'vitest';
import { HELP, parseCliArgs, UsageError } from '../../lib/cli/main.js';
import { progressLine } from '../../lib/cli/train-lens.js';
import { runCli } from '../helpers/cli.js';

describe('layerlens train-lens arguments', () => {
  it('parses every flag, with the model-load flags', () => {
    expect(
      parseCliArgs([
        'train-lens',
        '--model',
        'gpt2',
        '--threads',
        '4',
        '--data',
        'c.txt',
        '--out',
        'lens',
        '--steps',
        '100',
        '--lr',
        '0.05',
        '--tokens-per-step',
        '2048',
        '--seq-len',
        '512',
        '--held-out',
        '0',
        '--optimizer',
        'adam',
        '--checkpoint-every',
        '5',
        '--resume',
        '--quiet',
      ]),
    ).toEqual({
      command: 'train-lens',
      model: 'gpt2',
      threads: 4,
      device: 'auto',
      quiet: true,
      data: 'c.txt',
      out: 'lens',
      steps: 100,
      lr: 0.05,
      tokensPerStep: 2048,
      seqLen: 512,
      heldOut: 0,
      optimizer: 'adam',
      checkpointEvery: 5,
      resume: true,
    });
    expect(parseCliArgs(['train-lens', '--data', 'c.txt', '--out', 'd'])).toEqual({
      command: 'train-lens',
      device: 'auto',
      data: 'c.txt',
      out: 'd',
      resume: false,
    });
    expect(parseCliArgs(['train-lens', '--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['train-lens', '--data', 'x', '--out', 'y', '--lr', '1e-3'])).toMatchObject({ lr: 1e-3 });
  });

  it('rejects missing or malformed values as usage errors', async () => {
    const bad: [string[], RegExp][] = [
      [['train-lens', '--data', 'c.txt'], /give --data FILE .* and --out DIR/],
      [['train-lens', '--data', 'c', '--out', 'd', '--steps', '0'], /--steps/],
      [['train-lens', '--data', 'c', '--out', 'd', '--lr', '-1'], /--lr/],
      [['train-lens', '--data', 'c', '--out', 'd', '--lr', 'fast'], /--lr/],
      [['train-lens', '--data', 'c', '--out', 'd', '--optimizer', 'lion'], /--optimizer/],
      [['train-lens', '--data', 'c', '--out', 'd', '--seq-len', '1.5'], /--seq-len/],
      [['train-lens', '--data', 'c', '--out', 'd', 'stray'], /train-lens: .*stray/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseCliArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseCliArgs(argv), argv.join(' ')).toThrow(message);
    }
    const r = await runCli(['train-lens', '--data', 'c.txt']);
    expect(r.code).toBe(2);
  });

  it('draws a progress bar with the loss, tokens/s and the time left', () => {
    const line = progressLine({ step: 5, steps: 20, loss: 3.14159, layerLoss: [], tokens: 1000, tokensPerSecond: 50, lr: 0.1, checkpointed: false }, 10);
    // 15 steps left × 1000 tokens / 50 tokens/s = 300 s
    expect(line).toBe('[###-------] step 5/20  loss 3.1416  50.0 tok/s  ETA 5m00s');
  });

  it("every flag in --help's train-lens paragraph and usage line is one its parser accepts", () => {
    const usage = HELP.split('\n').find((l) => l.includes('layerlens train-lens'))!;
    const paragraph = HELP.slice(HELP.indexOf('  train-lens  '), HELP.indexOf('  convert PATH'));
    const flags = new Set(`${usage}\n${paragraph}`.match(/--[a-z][a-z-]+/g));
    expect(flags.size).toBeGreaterThan(10);
    for (const flag of flags) {
      if (flag === '--tuned-lens') continue; // named as the way to use the result: a flag of the lens command
      const value = ['--resume', '--quiet', '--help'].includes(flag) ? [] : [flag === '--optimizer' ? 'sgd' : flag === '--device' ? 'cpu' : '1'];
      expect(() => parseCliArgs(['train-lens', '--data', 'c', '--out', 'd', flag, ...value]), flag).not.toThrow();
    }
  });
});
