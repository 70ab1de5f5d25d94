// The sampling contract's TypeScript oracle (test/helpers/reference-sampler.ts) against published PRNG
// vectors and against distributions written out by hand; then the TS-side checks of the sampling
// options and of the CLI's --generate flags (no addon needed).
import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../lib/cli/main.js';
import { HELP } from '../../lib/cli/help.js';
import { MAX_SEED, randomSeed, resolveSampling } from '../../lib/model/sampling.js';
import { InvalidParameterError } from '../../lib/is.js';
import { ReferenceSampler, SplitMix64, referencePick } from '../helpers/reference-sampler.js';
import { runCli } from '../helpers/cli.js';

/** Pearson's chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: Map<number, number>, expected: Map<number, number>, n: number): number {
  let x2 = 0;
  for (const [id, p] of expected) x2 += ((counts.get(id) ?? 0) - n * p) ** 2 / (n * p);
  return x2;
}

function draws(logits: number[], params: { temperature: number; topK: number; topP: number; seed: number }, n: number): Map<number, number> {
  const s = new ReferenceSampler(params);
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const id = s.sample(logits);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** softmax(logits[i] / t) over the listed ids only. */
function softmaxOver(logits: number[], ids: number[], t: number): Map<number, number> {
  const w = ids.map((i) => Math.exp(logits[i] / t));
  const total = w.reduce((a, b) => a + b, 0);
  return new Map(ids.map((id, k) => [id, w[k] / total]));
}

describe('the reference sampler', () => {
  it('splitmix64 gives the published outputs (Rosetta Code, seeds 1234567 and 0)', () => {
    const r = new SplitMix64(1234567);
    expect([r.next(), r.next(), r.next(), r.next(), r.next()]).toEqual([
      6457827717110365317n,
      3203168211198807973n,
      9817491932198370423n,
      4593380528125082431n,
      16408922859458223821n,
    ]);
    const z = new SplitMix64(0);
    expect([z.next(), z.next(), z.next()]).toEqual([0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n, 0x06c45d188009454fn]);
    // the uniform double is the top 53 bits
    expect(new SplitMix64(0).uniform()).toBe(Number(0xe220a8397b1dcdafn >> 11n) / 2 ** 53);
  });

  it('greedy is the argmax, equal logits going to the lowest id, whatever the draw', () => {
    const greedy = { temperature: 0, topK: 0, topP: 1 };
    expect(referencePick([1, 5, 5, 2], greedy, 0.999)).toBe(1);
    expect(referencePick([-Infinity, -3, -7], greedy, 0)).toBe(1);
  });

  it('topK = 1 and a tiny topP are the argmax at any temperature', () => {
    const logits = [0.3, 2.2, 2.2, -1, 1.9];
    for (const u of [0, 0.25, 0.5, 0.999999]) {
      expect(referencePick(logits, { temperature: 5, topK: 1, topP: 1 }, u)).toBe(1);
      expect(referencePick(logits, { temperature: 5, topK: 0, topP: 1e-6 }, u)).toBe(1);
    }
    for (let seed = 0; seed < 50; seed++) expect(new ReferenceSampler({ temperature: 3, topK: 1, topP: 1, seed }).sample(logits)).toBe(1);
  });

  it('20k draws with temperature, top-k and top-p follow the truncated softmax (chi-square)', () => {
    const logits = [2, 1, 0.5, 3, -1, 0.5, 2.5, -Infinity];
    // top-5 by logit: 3, 6, 0, 1 and 2 (0.5, tied with 5: the lower id). Softmax at T = 1:
    // 0.456, 0.277, 0.168, 0.062, 0.037; running sums 0.456, 0.733, 0.901, 0.963, 1. top-p 0.95 keeps four.
    const n = 20000;
    const counts = draws(logits, { temperature: 1, topK: 5, topP: 0.95, seed: 7 }, n);
    expect([...counts.keys()].sort()).toEqual([0, 1, 3, 6]);
    // df 3: P(X² > 16.27) = 0.001
    expect(chiSquare(counts, softmaxOver(logits, [3, 6, 0, 1], 1), n)).toBeLessThan(16.27);
    // the check can fail: the untruncated softmax is far off
    expect(chiSquare(counts, softmaxOver(logits, [0, 1, 2, 3, 5, 6], 1), n)).toBeGreaterThan(100);
  });

  it('temperature alone scales the logits (chi-square, T = 0.5 and T = 4)', () => {
    const logits = [2, 1, 0.5, 3, -1, 0.5, 2.5, -Infinity];
    const finite = [0, 1, 2, 3, 4, 5, 6];
    const n = 20000;
    for (const t of [0.5, 4]) {
      const counts = draws(logits, { temperature: t, topK: 0, topP: 1, seed: 123 }, n);
      expect(counts.has(7)).toBe(false);
      // df 6: P(X² > 22.46) = 0.001
      expect(chiSquare(counts, softmaxOver(logits, finite, t), n)).toBeLessThan(22.46);
    }
  });

  it('the same seed replays, another seed does not', () => {
    const logits = Array.from({ length: 50 }, (_, i) => Math.sin(i) * 2);
    const run = (seed: number) => {
      const s = new ReferenceSampler({ temperature: 2, topK: 0, topP: 1, seed });
      return Array.from({ length: 40 }, () => s.sample(logits));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });
});

describe('sampling options', () => {
  it('default to greedy, and a random seed when none is given', () => {
    expect(resolveSampling({}, () => 17)).toEqual({ temperature: 0, topK: 0, topP: 1, seed: 17 });
    expect(resolveSampling({ temperature: 0.7, topK: 40, topP: 0.9, seed: 5 })).toEqual({ temperature: 0.7, topK: 40, topP: 0.9, seed: 5 });
    const seeds = new Set(Array.from({ length: 20 }, () => randomSeed()));
    expect(seeds.size).toBeGreaterThan(15);
    for (const s of seeds) expect(Number.isSafeInteger(s) && s >= 0 && s <= MAX_SEED).toBe(true);
  });

  it('are checked, each error naming its option', () => {
    const bad: [object, RegExp][] = [
      [{ temperature: -1 }, /for temperature but received -1/],
      [{ temperature: NaN }, /for temperature/],
      [{ temperature: Infinity }, /for temperature/],
      [{ temperature: 1e39 }, /for temperature/],
      [{ temperature: '1' }, /for temperature but received "1" of type string/],
      [{ topK: 1.5 }, /for topK/],
      [{ topK: -1 }, /for topK/],
      [{ topP: 0 }, /a number in \(0, 1\] for topP/],
      [{ topP: 1.01 }, /for topP/],
      [{ topP: 1e-50 }, /for topP/],
      [{ seed: -1 }, /for seed/],
      [{ seed: 2 ** 53 }, /for seed/],
      [{ seed: 0.5 }, /for seed/],
    ];
    for (const [options, message] of bad) {
      expect(() => resolveSampling(options)).toThrow(InvalidParameterError);
      expect(() => resolveSampling(options)).toThrow(message);
    }
  });
});

describe('--generate and the sampling flags', () => {
  it('parse into the run command', () => {
    expect(parseCliArgs(['--generate', '5', 'Hi'])).toMatchObject({ generate: { maxNewTokens: 5, temperature: 0, topK: 0, topP: 1, seed: 0 } });
    expect(parseCliArgs(['--generate', '5', '--temperature', '0.8', '--sample-top-k', '40', '--top-p', '.9', '--seed', '12', 'Hi'])).toMatchObject({
      generate: { maxNewTokens: 5, temperature: 0.8, topK: 40, topP: 0.9, seed: 12 },
    });
    const sampled = parseCliArgs(['--generate', '5', '--temperature', '1e-1', 'Hi']);
    expect(sampled).toMatchObject({ generate: { temperature: 0.1 } });
    expect(sampled.command === 'run' && sampled.generate && 'seed' in sampled.generate).toBe(false);
    // the lens's --top-k stays the lens's
    expect(parseCliArgs(['--generate', '2', '--top-k', '3', 'Hi'])).toMatchObject({ topK: 3, generate: { topK: 0 } });
    expect(parseCliArgs(['Hi'])).not.toHaveProperty('generate');
  });

  it('give clear usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['--generate', '0', 'Hi'], /Expected an integer in 1\.\.2147483647 for --generate but received "0"/],
      [['--generate', 'x', 'Hi'], /for --generate/],
      [['--generate', '3', '--temperature=-1', 'Hi'], /Expected a number ≥ 0 \(0 = greedy\) for --temperature but received "-1"/],
      [['--generate', '3', '--temperature', 'hot', 'Hi'], /for --temperature/],
      [['--generate', '3', '--temperature', '1', '--top-p', '0', 'Hi'], /a number in \(0, 1\] for --top-p/],
      [['--generate', '3', '--temperature', '1', '--top-p', '1.5', 'Hi'], /for --top-p/],
      [['--generate', '3', '--temperature', '1', '--sample-top-k=-2', 'Hi'], /for --sample-top-k/],
      [['--generate', '3', '--temperature', '1', '--seed', '9007199254740992', 'Hi'], /for --seed/],
      [['--temperature', '1', 'Hi'], /--temperature needs --generate N/],
      [['--seed', '1', 'Hi'], /--seed needs --generate N/],
      [['--generate', '3', '--seed', '1', 'Hi'], /--seed only applies when sampling: add --temperature T/],
      [['--generate', '3', '--temperature', '0', '--top-p', '0.5', 'Hi'], /--top-p only applies when sampling/],
      [['--generate', '3', '--target', 'x', '--patch-from', 'a', '--patch-hook', 'blocks.0.resid_post', 'Hi'], /--generate does not combine with --patch-from/],
      [['--generate', '3', '--html', '-', 'Hi'], /with --html - stdout is the report/],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseCliArgs(argv)).toThrow(message);
      const r = await runCli(argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    }
  });

  it('are in the help, which says --top-k is the lens', () => {
    for (const flag of ['--generate N', '--temperature T', '--sample-top-k K', '--top-p P', '--seed S']) expect(HELP).toContain(flag);
    expect(HELP).toMatch(/--top-k N\s+tokens shown per hook[^]*the\s+sampler's top-k is --sample-top-k/);
  });
});
