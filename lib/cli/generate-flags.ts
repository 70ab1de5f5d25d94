// --generate N and its sampling flags on the lens command: the continuation printed after the lens.
//   --generate N          new tokens (stops early after <|endoftext|> and at the context limit)
//   --temperature T       0 (default) = greedy
//   --sample-top-k K      --top-k is taken by the lens (tokens shown per hook)
//   --top-p P
//   --seed S              default: a random one, printed so the run can be replayed
import { InvalidParameterError, invalidParameterError, is } from '../is.js';
import { MAX_SEED } from '../model/sampling.js';
import type { GenerateResult } from '../model/generate.js';
import { integerFlag } from './flags.js';

export const GENERATE_FLAGS = {
  generate: { type: 'string' },
  temperature: { type: 'string' },
  'sample-top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const GENERATE_HELP = `  --generate N          after the lens, generate up to N tokens (stopping after <|endoftext|> or at
                        the context limit) with the same control vectors and --ablate (at every
                        token) and print the continuation; --json adds "generated" ([{id, token}]),
                        "generatedText" and "sampling"; not with --patch-from or --html -
  --temperature T       with --generate: sample at temperature T (default 0 = greedy: the most
                        likely token each time)
  --sample-top-k K      with --temperature: sample among the K most likely tokens (default 0 = all;
                        --top-k is the number of tokens the lens shows)
  --top-p P             with --temperature: sample among the fewest most likely tokens whose
                        probabilities add up to at least P, in (0, 1] (default 1)
  --seed S              with --temperature: the sampler's seed, an integer in 0..2^53-1 (default: a
                        random one, printed with the continuation); a seed gives the same tokens
                        every time
`;

/** What the flags ask for; absent sampling fields keep generate()'s defaults. */
export interface CliGenerate {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  /** Absent: a random one (generate() picks and reports it). */
  seed?: number;
}

const MAX_FLOAT32 = 3.4028234663852886e38;
const MAX_INT32 = 2 ** 31 - 1;
const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A non-negative decimal number (no sign, no hex, no Infinity). */
function decimalFlag(name: string, text: string, expected: string, ok: (n: number) => boolean): number {
  const s = text.trim();
  const n = DECIMAL.test(s) ? Number(s) : NaN;
  if (!is.number(n) || !ok(n)) throw invalidParameterError(name, expected, text);
  return n;
}

type GenerateFlagValues = { [K in keyof typeof GENERATE_FLAGS]?: string };

/** Parses --generate and the sampling flags. Throws InvalidParameterError. */
export function parseGenerateFlags(v: GenerateFlagValues): CliGenerate | undefined {
  const samplingFlags = (['temperature', 'sample-top-k', 'top-p', 'seed'] as const).filter((k) => v[k] !== undefined);
  if (v.generate === undefined) {
    if (samplingFlags.length) throw new InvalidParameterError(`--${samplingFlags[0]} needs --generate N (the number of tokens to generate)`);
    return undefined;
  }
  const maxNewTokens = integerFlag('--generate', v.generate, 1, MAX_INT32);
  const temperature = v.temperature === undefined ? 0 : decimalFlag('--temperature', v.temperature, 'a number ≥ 0 (0 = greedy)', (n) => n <= MAX_FLOAT32);
  const topK = v['sample-top-k'] === undefined ? 0 : integerFlag('--sample-top-k', v['sample-top-k'], 0, MAX_INT32);
  const topP = v['top-p'] === undefined ? 1 : decimalFlag('--top-p', v['top-p'], 'a number in (0, 1]', (n) => n > 0 && n <= 1 && Math.fround(n) > 0);
  const seed = v.seed === undefined ? undefined : integerFlag('--seed', v.seed, 0, MAX_SEED);
  if (temperature === 0) {
    const ignored = samplingFlags.find((k) => k !== 'temperature');
    if (ignored) throw new InvalidParameterError(`--${ignored} only applies when sampling: add --temperature T with T > 0 (without it, --generate is greedy)`);
    // greedy draws nothing: a fixed seed keeps the output the same from run to run
    return { maxNewTokens, temperature, topK, topP, seed: 0 };
  }
  return { maxNewTokens, temperature, topK, topP, ...(seed === undefined ? {} : { seed }) };
}

/** How the continuation was picked, for the text output: "greedy" or the parameters that replay it. */
export function samplingLabel(g: CliGenerate, seed: number): string {
  if (g.temperature === 0) return 'greedy';
  const parts = [`temperature ${g.temperature}`];
  if (g.topK > 0) parts.push(`top-k ${g.topK}`);
  if (g.topP < 1) parts.push(`top-p ${g.topP}`);
  parts.push(`seed ${seed}`);
  return parts.join(', ');
}

/** The continuation below the table. */
export function formatContinuation(g: CliGenerate, r: GenerateResult): string {
  return `\ncontinuation (${samplingLabel(g, r.seed)}): ${JSON.stringify(r.text)}\n`;
}

/** The --json fields of the continuation. */
export function continuationJSON(g: CliGenerate, r: GenerateResult): Record<string, unknown> {
  return {
    generated: r.tokens.map((t) => ({ id: t.id, token: t.token })),
    generatedText: r.text,
    sampling: { temperature: g.temperature, topK: g.topK, topP: g.topP, seed: r.seed },
  };
}
