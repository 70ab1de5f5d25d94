// `layerlens train-lens --model M --data corpus.txt --out DIR`: trains a tuned lens (lib/lens/tuned/train.ts)
// and writes it where --tuned-lens and Python's tuned-lens read it. Parsing is pure; the corpus is read
// and the model loaded when it runs. Progress: a redrawn bar on a terminal, else a line per checkpoint.
import { readFile } from 'node:fs/promises';
import { InvalidParameterError, invalidParameterError } from '../is.js';
import type { LensOptimizerKind, TrainProgress } from '../lens/tuned/train.js';
import { choiceFlag, integerFlag, loadModelFromFlags, MODEL_LOAD_FLAGS, parseFlags, parseModelLoadFlags, type ModelLoadFlags } from './flags.js';
import type { CommandIO } from './io.js';

export const TRAIN_LENS_OPTIMIZERS = ['sgd', 'adam'] as const satisfies readonly LensOptimizerKind[];

export interface CliTrainLensOptions extends ModelLoadFlags {
  /** A UTF-8 text file, tokenized with GPT-2's tokenizer. */
  data: string;
  out: string;
  steps?: number;
  lr?: number;
  tokensPerStep?: number;
  seqLen?: number;
  heldOut?: number;
  optimizer?: LensOptimizerKind;
  checkpointEvery?: number;
  resume: boolean;
}

/** A positive finite decimal number such as 0.1 or 1e-3. */
function positiveNumberFlag(name: string, text: string): number {
  const s = text.trim();
  const n = /^[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?$/i.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw invalidParameterError(name, 'a positive number such as 0.1 or 1e-3', text);
  return n;
}

export function parseTrainLensArgs(argv: readonly string[]): { command: 'help' } | ({ command: 'train-lens' } & CliTrainLensOptions) {
  const parsed = parseFlags(
    argv,
    {
      ...MODEL_LOAD_FLAGS,
      data: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      lr: { type: 'string' },
      'tokens-per-step': { type: 'string' },
      'seq-len': { type: 'string' },
      'held-out': { type: 'string' },
      optimizer: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    { command: 'train-lens', positionals: false },
  );
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  if (!v.data || !v.out) throw new InvalidParameterError('train-lens: give --data FILE (a text corpus) and --out DIR (where the lens is written)');
  const int = (flag: string, text: string | undefined, min: number) => (text === undefined ? undefined : integerFlag(flag, text, min, 2 ** 31 - 1));
  const options: CliTrainLensOptions = { ...parseModelLoadFlags(v), data: v.data, out: v.out, resume: v.resume === true };
  const steps = int('--steps', v.steps, 1);
  const tokensPerStep = int('--tokens-per-step', v['tokens-per-step'], 1);
  const seqLen = int('--seq-len', v['seq-len'], 1);
  const heldOut = int('--held-out', v['held-out'], 0);
  const checkpointEvery = int('--checkpoint-every', v['checkpoint-every'], 0);
  return {
    command: 'train-lens',
    ...options,
    ...(steps === undefined ? {} : { steps }),
    ...(v.lr === undefined ? {} : { lr: positiveNumberFlag('--lr', v.lr) }),
    ...(tokensPerStep === undefined ? {} : { tokensPerStep }),
    ...(seqLen === undefined ? {} : { seqLen }),
    ...(heldOut === undefined ? {} : { heldOut }),
    ...(v.optimizer === undefined ? {} : { optimizer: choiceFlag('--optimizer', v.optimizer, TRAIN_LENS_OPTIMIZERS) }),
    ...(checkpointEvery === undefined ? {} : { checkpointEvery }),
  };
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** "[#####-----] step 12/250  loss 3.2104  41.2 tok/s  ETA 1h02m" */
export function progressLine(p: TrainProgress, width = 20): string {
  const filled = Math.round((p.step / p.steps) * width);
  const eta = ((p.steps - p.step) * p.tokens) / p.tokensPerSecond;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ${p.tokensPerSecond.toFixed(1)} tok/s  ETA ${duration(eta)}`;
}

export async function trainLensCommand(cmd: CliTrainLensOptions, io: CommandIO): Promise<void> {
  const text = await readFile(cmd.data, 'utf8').catch((e: Error) => {
    throw new Error(`train-lens: cannot read --data ${cmd.data}: ${e.message}`, { cause: e });
  });
  const { trainTunedLens } = await import('../lens/tuned/train.js');
  const model = await loadModelFromFlags(cmd, io.env);
  const tty = io.stderr.isTTY === true;
  try {
    const result = await trainTunedLens(model, text, {
      out: cmd.out,
      resume: cmd.resume,
      ...(cmd.steps === undefined ? {} : { steps: cmd.steps }),
      ...(cmd.lr === undefined ? {} : { lr: cmd.lr }),
      ...(cmd.tokensPerStep === undefined ? {} : { tokensPerStep: cmd.tokensPerStep }),
      ...(cmd.seqLen === undefined ? {} : { seqLen: cmd.seqLen }),
      ...(cmd.heldOut === undefined ? {} : { heldOut: cmd.heldOut }),
      ...(cmd.optimizer === undefined ? {} : { optimizer: cmd.optimizer }),
      ...(cmd.checkpointEvery === undefined ? {} : { checkpointEvery: cmd.checkpointEvery }),
      onProgress: (p) => {
        if (cmd.quiet) return;
        if (tty) io.stderr.write(`\r${progressLine(p)}\x1b[K${p.step === p.steps ? '\n' : ''}`);
        else if (p.checkpointed || p.step === p.steps) io.stderr.write(`train-lens: ${progressLine(p)}\n`);
      },
    });
    if (result.resumedAt > 0) io.stderr.write(`train-lens: resumed from step ${result.resumedAt} (${cmd.out}/checkpoint)\n`);
    if (result.heldOut) {
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      io.stderr.write(
        `train-lens: held-out KL over ${result.heldOut.tokens} tokens, mean over translators: tuned ${mean(result.heldOut.tuned).toFixed(4)} nats, ` +
          `logit lens ${mean(result.heldOut.logitLens).toFixed(4)} nats\n`,
      );
    }
    io.stdout.write(cmd.out + '\n');
  } finally {
    model.dispose();
  }
}
