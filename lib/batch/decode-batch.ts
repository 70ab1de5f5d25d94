// decodeBatch: the logit lens of many prompts, as an async iterator of results in input order, with
// a bounded number of prompts in flight (memory stays bounded for any number of prompts).
//
// With batchSize > 1 (the GPT-2 engine's default), prompts are grouped (batchSize prompts, at most
// maxBatchTokens tokens) and each group runs as one packed forward (Model.runBatch: no padding, each
// prompt at its own positions 0..n−1 and attending only to itself), then each prompt's rows go through
// the same lens as decodeLayers. Two groups are in flight: while the engine computes one, the JS side
// tokenizes the next prompts and builds the results of the other. A prompt the packed forward cannot
// take runs alone (see `packable`). With batchSize 1 (the llama.cpp engine's default) every prompt runs
// alone, `concurrency` of them in flight. On the GPT-2 engine each result equals decodeLayers of that
// prompt either way; on the llama.cpp engine, packed results agree with it to float rounding.
import { decodeLayers, lensDecoded, modelFrom, prepareDecode, tunedLensByName, type DecodeOptions, type PreparedDecode } from '../lens/decode.js';
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE } from './limits.js';
import { invalidParameterError, is } from '../is.js';
import { lensChoice } from '../lens/lens-choice.js';
import type { Model } from '../model/model.js';
import type { DecodedLens } from '../types.js';

/** One prompt of a batch, with its own tracked token and an id carried through to its result. */
export interface BatchPrompt {
  prompt: string;
  id?: string;
  /** Overrides `options.target` for this prompt. */
  target?: string | number;
}

export interface DecodeBatchOptions extends DecodeOptions {
  /** Prompts in flight at once when prompts run one at a time (the llama.cpp engine), 1..64 (default 2: one computing, one being prepared or read out). */
  concurrency?: number;
  /**
   * Prompts per packed forward (Model.runBatch), 1..256; 1 runs every prompt alone. Default 16 on the
   * GPT-2 engine, whose packed rows are bit for bit those of runs alone, and 1 on the llama.cpp engine,
   * whose packed rows agree with runs alone only to float rounding (~1e-5 relative: its attention sums
   * over KV cells, where a prompt's keys sit at other offsets), so the lens can differ in the last digits;
   * ask for more to pack there. Prompts with interventions, steering, the per-head hooks (attn_pattern,
   * attn_head_out), or a single token always run alone.
   */
  batchSize?: number;
  /** The most tokens (all prompts together) in one packed forward, 1..2048 (default 512; the llama.cpp engine also caps it at the model's batchSize). */
  maxBatchTokens?: number;
}

/** One prompt's outcome: its result, or the error that prompt alone raised (the batch goes on). */
export type BatchResult<P extends BatchPrompt = BatchPrompt> =
  { index: number; input: P; result: DecodedLens; error?: undefined } | { index: number; input: P; error: Error; result?: undefined };

export const DEFAULT_BATCH_CONCURRENCY = 2;
export { DEFAULT_BATCH_SIZE };
export const DEFAULT_MAX_BATCH_TOKENS = 512;
const MAX_CONCURRENCY = 64;
// Model.runBatch's limits (the GPT-2 engine's, native/engine.hpp).
const MAX_BATCH_TOKENS = 2048;
// Groups in flight on the batched path: one in the engine, one being read out.
const GROUPS_IN_FLIGHT = 2;

function iteratorOf<T>(source: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> | Iterator<T> {
  if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) return (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  if (source !== null && (typeof source === 'object' || typeof source === 'string') && Symbol.iterator in Object(source))
    return (source as Iterable<T>)[Symbol.iterator]();
  throw invalidParameterError('prompts', 'an iterable or async iterable of prompts', source);
}

function toBatchPrompt<P extends BatchPrompt>(p: string | P, index: number): P {
  if (typeof p === 'string') return { prompt: p } as P;
  if (is.object(p) && typeof (p as BatchPrompt).prompt === 'string') return p;
  throw invalidParameterError(`prompts[${index}]`, 'a string or { prompt, id?, target? }', p);
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * Reads the source one prompt at a time, numbering them from 0; undefined once it is exhausted (then,
 * and only then, `onDone` is called: the source needs no closing).
 */
function promptReader<P extends BatchPrompt>(
  it: AsyncIterator<string | P> | Iterator<string | P>,
  onDone: () => void,
): () => Promise<{ input: P; index: number } | undefined> {
  let index = 0;
  let done = false;
  return async () => {
    if (done) return undefined;
    const r = await it.next();
    if (r.done) {
      done = true;
      onDone();
      return undefined;
    }
    const i = index++;
    return { input: toBatchPrompt(r.value, i), index: i };
  };
}

/** decodeLayers' options for one prompt: the batch's, with the prompt's own target if it has one. */
function optionsFor<P extends BatchPrompt>(input: P, decode: DecodeOptions): DecodeOptions {
  const target = input.target ?? decode.target;
  return { ...decode, ...(target === undefined ? {} : { target }) };
}

/**
 * A prepared prompt the packed forward takes: no edits inside the graph, row hooks only, and at least
 * two tokens. (ggml multiplies a single column through another kernel than several, which rounds
 * differently in the last bits: a one-token prompt runs alone so that its result equals decodeLayers'.)
 */
function packable(p: PreparedDecode): boolean {
  return p.interventions.length === 0 && p.ids.length >= 2 && !p.hooks.some((h) => h.kind === 'attn_pattern' || h.kind === 'attn_head_out');
}

interface Pending<P> {
  index: number;
  input: P;
  prepared?: PreparedDecode;
  error?: Error;
}

/** One group's results in input order: the packable prompts in one packed forward, the others alone. */
async function runGroup<P extends BatchPrompt>(model: Model, group: Pending<P>[]): Promise<BatchResult<P>[]> {
  const results: BatchResult<P>[] = [];
  const fail = (g: Pending<P>, err: unknown): BatchResult<P> => ({ index: g.index, input: g.input, error: asError(err) });
  const packed = group.filter((g) => g.prepared && packable(g.prepared));
  const activations = new Map<Pending<P>, Awaited<ReturnType<Model['runBatch']>>[number]['activations']>();
  if (packed.length) {
    try {
      const outs = await model.runBatch(
        packed.map((g) => g.prepared!.ids),
        { hooks: packed[0].prepared!.captureNames, positions: packed.map((g) => g.prepared!.positions), logits: false },
      );
      packed.forEach((g, i) => activations.set(g, outs[i].activations));
    } catch {
      // each of them runs alone below, and reports its own error if it has one
    }
  }
  for (const g of group) {
    if (!g.prepared) {
      results.push(fail(g, g.error));
      continue;
    }
    try {
      let acts = activations.get(g);
      if (!acts) {
        // Not packable, or the packed forward failed: run alone, so one prompt's failure stays its own.
        const { ids, captureNames, positions, interventions } = g.prepared;
        acts = (await model.run(ids, { hooks: captureNames, positions, logits: false, ...(interventions.length ? { interventions } : {}) })).activations;
      }
      results.push({ index: g.index, input: g.input, result: await lensDecoded(g.prepared, acts) });
    } catch (err) {
      results.push(fail(g, err));
    }
  }
  return results;
}

/**
 * The logit lens of every prompt, yielded in input order as `{ index, input, result }` (or `{ index,
 * input, error }` for a prompt that failed: too long, a bad target, …). Each result equals
 * `decodeLayers(prompt, options)` with the prompt's own target. `prompts` may be any iterable or async
 * iterable (a generator over a file): it is read only as fast as results are consumed.
 */
export async function* decodeBatch<P extends BatchPrompt = BatchPrompt>(
  prompts: Iterable<string | P> | AsyncIterable<string | P>,
  options: DecodeBatchOptions = {},
): AsyncGenerator<BatchResult<P>, void, undefined> {
  if (!is.object(options)) throw invalidParameterError('options', 'an object', options);
  const { concurrency = DEFAULT_BATCH_CONCURRENCY, batchSize: askedBatchSize, maxBatchTokens = DEFAULT_MAX_BATCH_TOKENS, ...decode } = options;
  if (!is.integerIn(concurrency, 1, MAX_CONCURRENCY)) throw invalidParameterError('concurrency', `an integer in 1..${MAX_CONCURRENCY}`, concurrency);
  if (askedBatchSize !== undefined && !is.integerIn(askedBatchSize, 1, MAX_BATCH_SIZE))
    throw invalidParameterError('batchSize', `an integer in 1..${MAX_BATCH_SIZE}`, askedBatchSize);
  if (!is.integerIn(maxBatchTokens, 1, MAX_BATCH_TOKENS)) throw invalidParameterError('maxBatchTokens', `an integer in 1..${MAX_BATCH_TOKENS}`, maxBatchTokens);
  const it = iteratorOf(prompts);
  // Loaded once, not once per prompt.
  const model = await modelFrom(decode.model);
  const batchSize = askedBatchSize ?? (model.isLlama ? 1 : DEFAULT_BATCH_SIZE);
  // The llama.cpp engine takes at most its n_batch tokens per forward (its info.n_ctx is already capped at n_batch).
  const tokenCap = model.isLlama ? Math.min(maxBatchTokens, model.info.n_ctx) : maxBatchTokens;
  let done = false;
  try {
    // A tuned lens named by its folder or published name is read once here rather than once per prompt.
    const tunedLens = is.nonEmptyString(decode.tunedLens) && lensChoice(decode).lens === 'tuned' ? await tunedLensByName(decode.tunedLens) : decode.tunedLens;
    const shared = { ...decode, model, ...(tunedLens === undefined ? {} : { tunedLens }) };
    if (batchSize > 1) {
      yield* batched(it, model, shared, batchSize, tokenCap, () => (done = true));
    } else {
      yield* pipelined(it, model, shared, concurrency, () => (done = true));
    }
  } finally {
    // The consumer stopped early (or a prompt was malformed): let the source close its file.
    if (!done) await it.return?.();
  }
}

async function* batched<P extends BatchPrompt>(
  it: AsyncIterator<string | P> | Iterator<string | P>,
  model: Model,
  decode: DecodeOptions,
  batchSize: number,
  maxBatchTokens: number,
  onDone: () => void,
): AsyncGenerator<BatchResult<P>, void, undefined> {
  const inFlight: Promise<BatchResult<P>[]>[] = [];
  const read = promptReader(it, onDone);
  let exhausted = false;
  let carried: Pending<P> | undefined; // the prompt that did not fit in the previous group

  const prepare = async (input: P, index: number): Promise<Pending<P>> => {
    try {
      return { index, input, prepared: await prepareDecode(input.prompt, optionsFor(input, decode), model) };
    } catch (err) {
      return { index, input, error: asError(err) };
    }
  };
  const tokensOf = (g: Pending<P>) => (g.prepared && packable(g.prepared) ? g.prepared.ids.length : 0);

  while (true) {
    while (!(exhausted && !carried) && inFlight.length < GROUPS_IN_FLIGHT) {
      const group: Pending<P>[] = [];
      let tokens = 0;
      while (group.length < batchSize) {
        let next = carried;
        carried = undefined;
        if (!next) {
          const r = exhausted ? undefined : await read();
          if (!r) {
            exhausted = true;
            break;
          }
          next = await prepare(r.input, r.index);
        }
        const n = tokensOf(next);
        if (group.length > 0 && tokens + n > maxBatchTokens) {
          carried = next;
          break;
        }
        group.push(next);
        tokens += n;
      }
      if (group.length === 0) break;
      inFlight.push(runGroup(model, group));
    }
    const head = inFlight.shift();
    if (head === undefined) return;
    yield* await head;
  }
}

async function* pipelined<P extends BatchPrompt>(
  it: AsyncIterator<string | P> | Iterator<string | P>,
  model: Model,
  decode: DecodeOptions,
  concurrency: number,
  onDone: () => void,
): AsyncGenerator<BatchResult<P>, void, undefined> {
  const inFlight: Promise<BatchResult<P>>[] = [];
  const read = promptReader(it, onDone);
  let exhausted = false;

  const start = (input: P, index: number): Promise<BatchResult<P>> =>
    decodeLayers(input.prompt, { ...optionsFor(input, decode), model }).then(
      (result): BatchResult<P> => ({ index, input, result }),
      (err: unknown): BatchResult<P> => ({ index, input, error: asError(err) }),
    );

  while (true) {
    while (!exhausted && inFlight.length < concurrency) {
      const r = await read();
      if (!r) {
        exhausted = true;
        break;
      }
      inFlight.push(start(r.input, r.index));
    }
    const head = inFlight.shift();
    if (head === undefined) return;
    yield await head;
  }
}
