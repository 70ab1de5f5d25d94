// decodeBatch on the tiny model: every result equals a one-at-a-time decodeLayers of the same prompt
// (same options, the prompt's own target), in input order, whatever the number in flight; a failing
// prompt yields its error in place and the batch goes on.
import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeLayers, toJSON, type BatchPrompt, type BatchResult } from '../../lib/index.js';
import { NOTEBOOK_PROMPT } from '../helpers/checkpoints.js';
import { useTinyModel } from '../helpers/fixtures.js';

const tiny = useTinyModel({ threads: 2 });

const PROMPTS: BatchPrompt[] = [
  { prompt: NOTEBOOK_PROMPT, id: 'notebook', target: ' Warsaw' },
  { prompt: 'Hello world', id: 'hello' },
  { prompt: 'The quick brown fox jumps over the lazy', id: 'fox', target: ' dog' },
  { prompt: 'x', id: 'one-token' },
  { prompt: 'a b c d e f g h i j k l m n o p', id: 'letters', target: 318 },
];

async function collect<P extends BatchPrompt>(it: AsyncIterable<BatchResult<P>>): Promise<BatchResult<P>[]> {
  const out: BatchResult<P>[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const plain = (x: unknown) => JSON.parse(JSON.stringify(x));

describe('decodeBatch', () => {
  for (const concurrency of [1, 3]) {
    it(`equals one-at-a-time decodeLayers, in order (concurrency ${concurrency})`, async () => {
      const options = { model: tiny.model, hooks: 'all' as const, topK: 4, metrics: true, target: ' the', positions: 'all' as const };
      const results = await collect(decodeBatch(PROMPTS, { ...options, concurrency }));
      expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
      expect(results.map((r) => r.input.id)).toEqual(PROMPTS.map((p) => p.id));
      for (const [i, r] of results.entries()) {
        expect(r.error).toBeUndefined();
        const single = await decodeLayers(PROMPTS[i].prompt, { ...options, target: PROMPTS[i].target ?? options.target });
        expect(plain(toJSON(r.result!, { vectors: true }))).toEqual(plain(toJSON(single, { vectors: true })));
        expect(r.result!.activations.map((a) => a.data)).toEqual(single.activations.map((a) => a.data));
      }
      // the prompt's own target wins over the batch's
      expect(results[0].result!.target?.token).toBe(' Warsaw');
      expect(results[1].result!.target?.token).toBe(' the');
    });
  }

  // One prompt per forward (batchSize 1): `concurrency` prompts are read ahead; packed forwards: two groups of batchSize.
  for (const [label, batching, readAhead] of [
    ['one per forward', { concurrency: 2, batchSize: 1 }, 3],
    ['packed forwards', { batchSize: 2 }, 4],
  ] as const) {
    it(`takes strings and async iterables, and reads the source only as fast as results are consumed (${label})`, async () => {
      let pulled = 0;
      async function* source() {
        for (const p of ['one', 'two', 'three', 'four', 'five', 'six']) {
          pulled++;
          yield p;
        }
      }
      const it = decodeBatch(source(), { model: tiny.model, ...batching });
      const first = await it.next();
      expect(first.value).toMatchObject({ index: 0, input: { prompt: 'one' } });
      expect(pulled).toBeLessThanOrEqual(readAhead);
      const rest = await collect({ [Symbol.asyncIterator]: () => it });
      expect(rest.map((r) => r.input.prompt)).toEqual(['two', 'three', 'four', 'five', 'six']);
      const single = await decodeLayers('six', { model: tiny.model });
      expect(plain(toJSON(rest[4].result!))).toEqual(plain(toJSON(single)));
    });
  }

  it('a failing prompt yields its error in place; the others still run', async () => {
    const long = 'word '.repeat(200); // more tokens than the tiny model's context of 64
    const results = await collect(
      decodeBatch([{ prompt: 'fine' }, { prompt: long }, { prompt: 'also fine', target: ' two tokens' }, { prompt: 'last' }], { model: tiny.model }),
    );
    expect(results.map((r) => (r.error ? 'error' : 'ok'))).toEqual(['ok', 'error', 'error', 'ok']);
    expect(results[1].error!.message).toMatch(/context holds at most 64/);
    expect(results[2].error!.message).toMatch(/is 2 tokens, not one/);
  });

  it('rejects bad options before running anything', async () => {
    await expect(decodeBatch(['a'], { model: tiny.model, concurrency: 0 }).next()).rejects.toThrow(/concurrency/);
    await expect(decodeBatch(42 as never, { model: tiny.model }).next()).rejects.toThrow(/prompts/);
    await expect(decodeBatch([{ text: 'x' } as never], { model: tiny.model }).next()).rejects.toThrow(/prompts\[0\]/);
  });
});
