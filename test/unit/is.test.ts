// The argument checks' vocabulary and the one message shape every bad parameter gets.
import { describe, expect, it } from 'vitest';
import { checkParameter, InvalidParameterError, invalidParameterError, is, oneOf } from '../../lib/is.js';

describe('is', () => {
  it('tells the kinds of values apart', () => {
    expect([undefined, null, 0, ''].map(is.defined)).toEqual([false, false, true, true]);
    expect([{}, Object.create(null), [], null, new Date(), 'x'].map(is.plainObject)).toEqual([true, true, false, false, false, false]);
    expect([1, 1.5, NaN, Infinity, '1'].map(is.number)).toEqual([true, true, false, false, false]);
    expect([1, -3, 1.5, NaN, '1'].map(is.integer)).toEqual([true, true, false, false, false]);
    expect([0, 1, 5, 6, 2.5, '3'].map((x) => is.integerIn(x, 1, 5))).toEqual([false, true, true, false, false, false]);
    expect([is.inRange(1, 1, 2), is.inRange(2.5, 1, 2)]).toEqual([true, false]);
    expect([is.inArray('cpu', ['cpu', 'cuda']), is.inArray('tpu', ['cpu', 'cuda'])]).toEqual([true, false]);
    expect([[], ['a'], ['a', 1], 'a'].map(is.stringArray)).toEqual([true, true, false, false]);
    expect(['a', ' ', '', 3].map(is.nonEmptyString)).toEqual([true, false, false, false]);
    expect([true, false, 0, 'true'].map(is.bool)).toEqual([true, true, false, false]);
  });
});

describe('invalidParameterError', () => {
  it('says what was expected, for what, and what came instead', () => {
    const cases: [unknown, string][] = [
      [0, 'Expected an integer in 1..5 for topK but received 0 of type number'],
      ['five', 'Expected an integer in 1..5 for topK but received "five" of type string'],
      [null, 'Expected an integer in 1..5 for topK but received null of type null'],
      [undefined, 'Expected an integer in 1..5 for topK but received undefined of type undefined'],
      [[1, 2], 'Expected an integer in 1..5 for topK but received [1,2] of type array'],
      [{ a: 1 }, 'Expected an integer in 1..5 for topK but received {"a":1} of type object'],
    ];
    for (const [actual, message] of cases) {
      const err = invalidParameterError('topK', 'an integer in 1..5', actual);
      expect(err).toBeInstanceOf(InvalidParameterError);
      expect(err.message).toBe(message);
    }
    expect(invalidParameterError('x', 'y', 'z'.repeat(100)).message).toBe(`Expected y for x but received "${'z'.repeat(58)}… of type string`);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(invalidParameterError('x', 'y', circular).message).toBe('Expected y for x but received [object Object] of type object');
  });

  it('words lists of choices', () => {
    expect(oneOf(['auto', 'cpu', 'cuda'])).toBe("one of 'auto', 'cpu' or 'cuda'");
    expect(oneOf(['set'])).toBe("'set'");
  });

  it('checkParameter names the parameter and keeps the checker error as the cause', () => {
    const cause = new RangeError('block 9 is out of range');
    let caught: unknown;
    try {
      checkParameter('--hooks', () => {
        throw cause;
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidParameterError);
    expect((caught as Error).message).toBe('--hooks: block 9 is out of range');
    expect((caught as Error).cause).toBe(cause);
    expect(() =>
      checkParameter(null, () => {
        throw new Error('--target: two tokens');
      }),
    ).toThrow(/^--target: two tokens$/);
    const already = invalidParameterError('a', 'b', 1);
    expect(() =>
      checkParameter('--x', () => {
        throw already;
      }),
    ).toThrow(already);
    expect(checkParameter('--x', () => 42)).toBe(42);
  });
});
