// `layerlens batch INPUT.jsonl|INPUT.txt --out results.jsonl [--summary summary.json]`: the logit lens
// of every prompt of a data set, one JSON line per prompt (the --json of a single prompt plus its id),
// streamed in and out (bounded memory), resumable, shardable, with a summary per layer.
import type { LensKind } from '../lens/lens-choice.js';
import { stat } from 'node:fs/promises';
import { resolveHooks, type HookSpec } from '../hooks.js';
import { checkParameter, InvalidParameterError, invalidParameterError } from '../is.js';
import { parseShard, type BatchItem, type BadLine, type Shard } from '../batch/input.js';
import { vocabSize } from '../tokens/tokenizer.js';
import { integerFlag, loadModelFromFlags, MODEL_LOAD_FLAGS, parseFlags, parseModelLoadFlags, type ModelLoadFlags } from './flags.js';
import type { CommandIO } from './io.js';
import { checkTunedLens, type TunedLens } from '../lens/tuned/tuned-lens.js';
import { DEFAULT_TOP_K, hookListFlag, positionsFlag, tunedLensFlags, type CliRunOptions } from './lens.js';
import { BatchProgress } from './batch-progress.js';
import { MAX_BATCH_SIZE } from '../batch/limits.js';

export interface CliBatchOptions extends ModelLoadFlags {
  input: string;
  /** The JSONL output; absent or "-": stdout (nothing to resume from). */
  out?: string;
  /** --summary FILE: the summary JSON; its HTML page goes beside it (FILE with .html) unless --summary-html says where. */
  summary?: string;
  summaryHtml?: string;
  hooks: CliRunOptions['hooks'];
  topK: number;
  positions: CliRunOptions['positions'];
  /** --target: the token tracked in prompts whose line names none. */
  target?: string;
  shard?: Shard;
  /** --tuned-lens PATH|NAME: decode with this tuned lens (loaded once for the whole run). */
  tunedLens?: string;
  /** --lens logit|tuned. */
  lens?: LensKind;
  /** --batch-size N: prompts per packed forward (decodeBatch's batchSize; default: the engine's). */
  batchSize?: number;
}

const BATCH_FLAGS = {
  ...MODEL_LOAD_FLAGS,
  out: { type: 'string', short: 'o' },
  summary: { type: 'string' },
  'summary-html': { type: 'string' },
  hooks: { type: 'string' },
  'top-k': { type: 'string' },
  positions: { type: 'string' },
  target: { type: 'string' },
  shard: { type: 'string' },
  'batch-size': { type: 'string' },
  'tuned-lens': { type: 'string' },
  lens: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** FILE.json → FILE.html; any other name gets .html appended. */
export function summaryPagePath(summary: string): string {
  return summary.toLowerCase().endsWith('.json') ? summary.slice(0, -5) + '.html' : summary + '.html';
}

/** Parses the arguments after `batch`. Throws InvalidParameterError. No I/O. */
export function parseBatchArgs(argv: readonly string[]): { command: 'help' } | ({ command: 'batch' } & CliBatchOptions) {
  const parsed = parseFlags(argv, BATCH_FLAGS, { command: 'batch' });
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  const pos = parsed.positionals;
  if (pos.length === 0)
    throw new InvalidParameterError('batch: missing the input file (INPUT.jsonl with {"prompt": …} lines, or INPUT.txt with one prompt per line)');
  if (pos.length > 1) throw new InvalidParameterError(`batch: expected one input file, got ${pos.length}: ${pos.join(' ')}`);
  const shard = v.shard === undefined ? undefined : checkParameter(null, () => parseShard(v.shard!));
  if (v.target !== undefined && v.target === '') throw invalidParameterError('--target', 'the text of one token or a token id', v.target);
  const out = v.out === undefined || v.out === '-' ? undefined : v.out;
  if (out !== undefined && out === pos[0]) throw new InvalidParameterError('batch: --out must not be the input file');
  return {
    command: 'batch',
    ...parseModelLoadFlags(v),
    input: pos[0],
    ...(out === undefined ? {} : { out }),
    ...(v.summary === undefined ? {} : { summary: v.summary }),
    ...(v['summary-html'] === undefined ? {} : { summaryHtml: v['summary-html'] }),
    hooks: v.hooks === undefined ? 'default' : hookListFlag('--hooks', v.hooks),
    topK: v['top-k'] === undefined ? DEFAULT_TOP_K : integerFlag('--top-k', v['top-k'], 1, vocabSize),
    positions: v.positions === undefined ? 'last' : positionsFlag(v.positions),
    ...(v.target === undefined ? {} : { target: v.target }),
    ...(shard === undefined ? {} : { shard }),
    ...tunedLensFlags(v),
    ...(v['batch-size'] === undefined ? {} : { batchSize: integerFlag('--batch-size', v['batch-size'], 1, MAX_BATCH_SIZE) }),
  };
}

/** A token id given as digits, else the token's text. */
function targetValue(t: string | number | undefined): string | number | undefined {
  return typeof t === 'string' && /^[0-9]+$/.test(t) ? Number(t) : t;
}

export async function batchCommand(cmd: CliBatchOptions, io: CommandIO): Promise<void> {
  const { readBatchInput } = await import('../batch/input.js');
  const { scanOutput, OutputWriter } = await import('../batch/output.js');
  const { decodeBatch } = await import('../batch/decode-batch.js');
  const { SummaryAccumulator, summarizeOutputFile } = await import('../batch/summary.js');
  const { toJSON } = await import('../render/format.js');
  try {
    if (!(await stat(cmd.input)).isFile()) throw new Error('not a file');
  } catch (err) {
    throw new Error(`batch: cannot read the input ${cmd.input} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const say = (s: string) => io.stderr.write(`layerlens batch: ${s}\n`);

  // What an earlier run already wrote (and the repair of a line a crash cut short).
  const existing = cmd.out === undefined ? { ids: new Set<string>(), cutBytes: 0 } : await scanOutput(cmd.out);
  if (existing.cutBytes > 0) say(`${cmd.out}: cut an incomplete last line (${existing.cutBytes} bytes, from an interrupted run); its prompt runs again`);

  const readOptions = { ...(cmd.shard ? { shard: cmd.shard } : {}) };
  const showProgress = io.stderr.isTTY === true && cmd.quiet !== true;
  let total: number | undefined;
  if (showProgress) {
    // A first pass only to count (the input is streamed twice rather than held).
    total = 0;
    for await (const x of readBatchInput(cmd.input, readOptions)) if (x.kind === 'item' && !existing.ids.has(x.id)) total++;
  }

  // The lens first (a bad one costs no model load), checked against the model once it is loaded: a lens
  // for another model fails the run here, not every prompt.
  let tunedLens: TunedLens | undefined;
  if (cmd.tunedLens !== undefined && cmd.lens !== 'logit') {
    const { loadTunedLensByName } = await import('../lens/tuned/resolve.js');
    tunedLens = await loadTunedLensByName(cmd.tunedLens, { env: io.env as NodeJS.ProcessEnv });
  }
  const model = await loadModelFromFlags(cmd, io.env);
  if (tunedLens) {
    try {
      checkTunedLens(tunedLens, model.info);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  const progress = new BatchProgress(showProgress ? io.stderr : undefined, total);
  const report = (line: number, message: string) => {
    progress.clear();
    io.stderr.write(`layerlens batch: ${cmd.input}:${line}: ${message} (skipped)\n`);
  };
  let skipped = 0;
  let bad = 0;
  let failed = 0;
  let done = 0;
  const started = Date.now();
  const acc = cmd.out === undefined ? new SummaryAccumulator() : undefined;
  const writer = cmd.out === undefined ? undefined : await OutputWriter.open(cmd.out);
  try {
    // Named hooks are checked against the model's depth once, not once per prompt.
    const hooks: HookSpec =
      typeof cmd.hooks === 'string' ? cmd.hooks : checkParameter('--hooks', () => resolveHooks(cmd.hooks, model.info.n_layer).map((h) => h.name));
    // Lines to run: bad ones are reported here, in file order; done ids are passed over.
    async function* todo(): AsyncGenerator<BatchItem> {
      for await (const x of readBatchInput(cmd.input, readOptions) as AsyncGenerator<BatchItem | BadLine>) {
        if (x.kind === 'bad') {
          bad++;
          report(x.line, x.message);
        } else if (existing.ids.has(x.id)) skipped++;
        else yield x;
      }
    }
    const target = targetValue(cmd.target);
    const results = decodeBatch(
      (async function* () {
        for await (const x of todo()) yield { prompt: x.prompt, id: x.id, line: x.line, ...(x.target === undefined ? {} : { target: targetValue(x.target) }) };
      })(),
      {
        model,
        topK: cmd.topK,
        hooks,
        positions: cmd.positions,
        metrics: true,
        ...(target === undefined ? {} : { target }),
        ...(cmd.batchSize === undefined ? {} : { batchSize: cmd.batchSize }),
        ...(tunedLens ? { tunedLens } : {}),
      },
    );
    for await (const r of results) {
      const input = r.input;
      if (r.error) {
        failed++;
        report(input.line, `${JSON.stringify(input.id)}: ${r.error.message}`);
        continue;
      }
      const json = { id: input.id, ...toJSON(r.result) };
      if (writer) await writer.writeLine(json);
      else {
        io.stdout.write(JSON.stringify(json) + '\n');
        acc!.add(json);
      }
      done++;
      progress.update(done);
    }
  } finally {
    progress.update(done, true);
    progress.clear();
    await writer?.close();
    model.dispose();
  }

  const seconds = (Date.now() - started) / 1000;
  const parts = [`${done} prompts done in ${seconds.toFixed(1)} s (${(done / Math.max(seconds, 1e-3)).toFixed(1)}/s)`];
  if (skipped) parts.push(`${skipped} already in ${cmd.out}`);
  if (bad) parts.push(`${bad} bad lines skipped`);
  if (failed) parts.push(`${failed} prompts failed`);
  say(parts.join(', '));

  if (cmd.summary !== undefined || cmd.summaryHtml !== undefined) {
    const { writeFile } = await import('node:fs/promises');
    const { renderSummaryPage } = await import('../batch/summary-page.js');
    // From the whole output file: a resumed run's summary covers the earlier runs' lines too.
    const summary = acc ? acc.summary() : await summarizeOutputFile(cmd.out!);
    if (cmd.summary !== undefined) {
      await writeFile(cmd.summary, JSON.stringify(summary, null, 2) + '\n');
      say(`wrote ${cmd.summary}`);
    }
    const page = cmd.summaryHtml ?? summaryPagePath(cmd.summary!);
    await writeFile(page, renderSummaryPage(summary, `layerlens batch: ${cmd.input}`));
    say(`wrote ${page}`);
  }
}
