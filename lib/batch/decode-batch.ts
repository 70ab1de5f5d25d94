// decodeBatch: the logit lens of many prompts, as an async iterator of results in input order, with
// a bounded number of prompts in flight (memory stays bounded for any number of prompts).
//
// The GPT-2 engine runs one prompt per forward (its calls are serialized on the model), so prompts are
// pipelined: while the engine computes prompt i+1, the JS side tokenizes the next prompt and builds
// the result of prompt i. An engine with a batched forward can take several prompts per call behind the
// same iterator; the results must not change (each prompt is independent: no padding, no shared state).
import { decodeLayers, modelFrom, type DecodeOptions } from '../lens/decode.js';
import { invalidParameterError, is } from '../is.js';
import type { DecodedLens } from '../types.js';

/** One prompt of a batch, with its own tracked token and an id carried through to its result. */
export interface BatchPrompt {
  prompt: string;
  id?: string;
  /** Overrides `options.target` for this prompt. */
  target?: string | number;
}

export interface DecodeBatchOptions extends DecodeOptions {
  /** Prompts in flight at once, 1..64 (default 2: one computing, one being prepared or read out). */
  concurrency?: number;
}

/** One prompt's outcome: its result, or the error that prompt alone raised (the batch goes on). */
export type BatchResult<P extends BatchPrompt = BatchPrompt> =
  { index: number; input: P; result: DecodedLens; error?: undefined } | { index: number; input: P; error: Error; result?: undefined };

export const DEFAULT_BATCH_CONCURRENCY = 2;
const MAX_CONCURRENCY = 64;

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
  const { concurrency = DEFAULT_BATCH_CONCURRENCY, ...decode } = options;
  if (!is.integerIn(concurrency, 1, MAX_CONCURRENCY)) throw invalidParameterError('concurrency', `an integer in 1..${MAX_CONCURRENCY}`, concurrency);
  const it = iteratorOf(prompts);
  // Loaded once, not once per prompt.
  const model = await modelFrom(decode.model);
  const inFlight: Promise<BatchResult<P>>[] = [];
  let index = 0;
  let done = false;

  const start = (input: P, i: number): Promise<BatchResult<P>> => {
    const target = input.target ?? decode.target;
    return decodeLayers(input.prompt, { ...decode, model, ...(target === undefined ? {} : { target }) }).then(
      (result): BatchResult<P> => ({ index: i, input, result }),
      (err: unknown): BatchResult<P> => ({ index: i, input, error: err instanceof Error ? err : new Error(String(err)) }),
    );
  };

  try {
    while (true) {
      while (!done && inFlight.length < concurrency) {
        const next = await it.next();
        if (next.done) {
          done = true;
          break;
        }
        const i = index++;
        inFlight.push(start(toBatchPrompt(next.value, i), i));
      }
      const head = inFlight.shift();
      if (head === undefined) return;
      yield await head;
    }
  } finally {
    // The consumer stopped early (or a prompt was malformed): let the source close its file.
    if (!done) await it.return?.();
  }
}
