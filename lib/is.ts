// Argument checks shared by the public API, the server's request bodies and the CLI's flags (after
// sharp's lib/is.js): small predicates, and one error type whose message always has the same shape,
// "Expected <what> for <name> but received <value> of type <type>". The CLI turns an
// InvalidParameterError into exit code 2 and the server into HTTP 400, each in one place, so a check
// never needs to know who called it.

/** A bad argument, option, flag or request field. */
export class InvalidParameterError extends Error {
  override name = 'InvalidParameterError';
}

export const is = {
  /** Neither undefined nor null. */
  defined<T>(value: T): value is NonNullable<T> {
    return value !== undefined && value !== null;
  },
  /** A plain object literal (not an array, a class instance or null). */
  plainObject(value: unknown): value is Record<string, unknown> {
    if (typeof value !== 'object' || value === null) return false;
    const proto = Object.getPrototypeOf(value) as unknown;
    return proto === Object.prototype || proto === null;
  },
  /** Any non-null object (options objects may come from classes). */
  object(value: unknown): value is object {
    return typeof value === 'object' && value !== null;
  },
  bool(value: unknown): value is boolean {
    return typeof value === 'boolean';
  },
  string(value: unknown): value is string {
    return typeof value === 'string';
  },
  /** A string with something other than white space in it. */
  nonEmptyString(value: unknown): value is string {
    return typeof value === 'string' && value.trim() !== '';
  },
  /** A finite number. */
  number(value: unknown): value is number {
    return typeof value === 'number' && Number.isFinite(value);
  },
  integer(value: unknown): value is number {
    return Number.isInteger(value);
  },
  /** min ≤ value ≤ max. */
  inRange(value: number, min: number, max: number): boolean {
    return value >= min && value <= max;
  },
  /** An integer in min..max. */
  integerIn(value: unknown, min: number, max: number): value is number {
    return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
  },
  inArray<T>(value: unknown, list: readonly T[]): value is T {
    return list.includes(value as T);
  },
  /** An array of strings. */
  stringArray(value: unknown): value is string[] {
    return Array.isArray(value) && value.every((x) => typeof x === 'string');
  },
};

const MAX_SHOWN = 60;

/** The received value as the message shows it: strings quoted, long values cut. */
function show(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'function') text = `function ${value.name || '(anonymous)'}`;
  else if (typeof value === 'object' && value !== null) {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value); // circular: the tag says enough
    }
  } else text = String(value);
  return text.length > MAX_SHOWN ? text.slice(0, MAX_SHOWN - 1) + '…' : text;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** "Expected <expected> for <name> but received <actual> of type <type>". */
export function invalidParameterError(name: string, expected: string, actual: unknown): InvalidParameterError {
  return new InvalidParameterError(`Expected ${expected} for ${name} but received ${show(actual)} of type ${typeOf(actual)}`);
}

/** Words for a list of choices: `one of 'a', 'b' or 'c'`. */
export function oneOf(list: readonly unknown[]): string {
  const shown = list.map((x) => (typeof x === 'string' ? `'${x}'` : String(x)));
  return shown.length === 1 ? shown[0] : `one of ${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

/**
 * Runs a check that lives elsewhere (hook names, targets, positions, revisions: their checkers do not
 * know which option they were given) and names the parameter in its error. The checker's own error is
 * kept as the cause.
 */
export function checkParameter<T>(name: string | null, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidParameterError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    // name null: the checker's message already names the parameter
    throw new InvalidParameterError(name === null ? message : `${name}: ${message}`, { cause: err });
  }
}
