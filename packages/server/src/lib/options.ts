/**
 * One check for every options object latchkey takes, run once at construction (never per request).
 * Each failure is a `ConfigurationError` whose message names the option and the fix: an unknown
 * key gets a "did you mean", a number out of range gets its range and unit, and a number of
 * seconds given in milliseconds (or the reverse) is recognised as such. Messages quote numbers,
 * never strings: a string option may hold a secret pasted in the wrong place.
 *
 * @example
 * const o = checkOptions('createThing', options, ['ttl', 'mode', 'onError'], { maxAge: 'ttl' });
 * const ttl = checkNumber('ttl', o.ttl, { default: 600, min: 1, max: 86_400, unit: 'seconds' });
 * const mode = checkOneOf('mode', o.mode, ['strict', 'lax'] as const, 'strict');
 * const onError = checkFunction('onError', o.onError, () => {});
 */
import { ConfigurationError } from '../errors.js';

/**
 * Checks that `options` is an object (or `undefined`, read as `{}`) whose own keys are all in
 * `known`, and returns it. `aliases` maps names other libraries use to ours (`secret` → `keys`),
 * for the "did you mean"; close misspellings are found without it.
 */
export function checkOptions<T extends object>(
  where: string,
  options: T | undefined,
  known: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigurationError(`${where} takes an options object; got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const guess = Object.hasOwn(aliases, key) ? aliases[key] : didYouMean(key, known);
    const hint = guess === undefined ? '.' : `; did you mean "${guess}"?`;
    throw new ConfigurationError(
      `${where} got an unknown option "${printable(key)}"${hint}${hint === '' ? '.' : ''}${known.length === 0 ? ' It takes no options.' : ` Known options: ${known.join(', ')}.`}`,
    );
  }
  return options;
}

export interface NumberSpec {
  /** Used when the value is `undefined`. Without it the option is required. */
  default?: number;
  min: number;
  max: number;
  /** Whole numbers only. Default false. */
  integer?: boolean;
  /** What the number counts, named in messages. `seconds` and `milliseconds` turn on the ×1000 hint. */
  unit?: string;
  /** `Infinity` is accepted (read "no limit"), beyond `max`. Default false. */
  infinite?: boolean;
}

/** A number in [min, max], or the default; `ConfigurationError` with the range, unit and hint otherwise. */
export function checkNumber(name: string, value: unknown, spec: NumberSpec): number {
  const v = value === undefined ? spec.default : value;
  const unit = spec.unit === undefined ? '' : ` ${spec.unit}`;
  const whole = spec.integer === true ? 'a whole number' : 'a number';
  const range = `${whole}${unit === '' ? '' : ` of${unit}`} from ${spec.min} to ${spec.max}${spec.infinite === true ? ', or Infinity' : ''}`;
  if (v === undefined) throw new ConfigurationError(`${name} is required: ${range}`);
  if (typeof v !== 'number') {
    const fix = typeof v === 'string' ? ' (convert a string from the environment with Number(...))' : '';
    throw new ConfigurationError(`${name} must be ${range}; got ${describe(v)}${fix}`);
  }
  if (spec.infinite === true && v === Number.POSITIVE_INFINITY) return v;
  const fits = (n: number) =>
    Number.isFinite(n) && n >= spec.min && n <= spec.max && (spec.integer !== true || Number.isInteger(n));
  if (fits(v)) return v;
  if (spec.unit === 'seconds' && v > spec.max && looksLikeMilliseconds(v, fits))
    throw new ConfigurationError(millisecondsHint(name, v));
  if (spec.unit === 'milliseconds' && v < spec.min && v > 0 && fits(v * 1000)) {
    throw new ConfigurationError(`${name} is in milliseconds; ${v} looks like seconds (use ${v * 1000})`);
  }
  throw new ConfigurationError(`${name} must be ${range}; got ${v}`);
}

/**
 * The message for a number of seconds that looks like milliseconds, for checks across two options
 * (an idle timeout over the absolute one): `idleTimeout is in seconds; 1800000 looks like …`.
 */
export function millisecondsHint(name: string, value: number): string {
  return `${name} is in seconds; ${value} looks like milliseconds (use ${value / 1000})`;
}

/** True when a number of seconds is a whole number of thousands whose thousandth would fit. */
export function looksLikeMilliseconds(value: number, fits: (seconds: number) => boolean): boolean {
  return Number.isFinite(value) && value >= 1000 && value % 1000 === 0 && fits(value / 1000);
}

/** One of `allowed`, or the default. */
export function checkOneOf<const T extends string | number | boolean>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback?: T,
): T {
  const v = value === undefined ? fallback : value;
  if ((allowed as readonly unknown[]).includes(v)) return v as T;
  const list = allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a))).join(', ');
  const guess =
    typeof v === 'string'
      ? didYouMean(
          v,
          allowed.filter((a) => typeof a === 'string'),
        )
      : undefined;
  const hint = guess === undefined ? '' : `; did you mean '${guess}'?`;
  throw new ConfigurationError(`${name} must be one of ${list}${v === undefined ? ' (it is required)' : hint}`);
}

/** A boolean, or the default. */
export function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw new ConfigurationError(`${name} must be true or false; got ${describe(v)}`);
  return v;
}

type AnyFunction = (...args: never[]) => unknown;

/**
 * A function, or the default. Without a default the option is required. The result has the type
 * of the value (when typed), of the default, or of an explicit type argument.
 */
export function checkFunction<F extends AnyFunction>(name: string, value: F | undefined, fallback?: F): F;
export function checkFunction<F extends AnyFunction>(name: string, value: unknown, fallback?: F): F;
export function checkFunction<F extends AnyFunction>(name: string, value: unknown, fallback?: F): F {
  const v = value ?? fallback;
  if (typeof v !== 'function') throw new ConfigurationError(`${name} must be a function; got ${describe(v)}`);
  return v as F;
}

export interface StringSpec {
  /** Used when the value is `undefined`. Without it the option is required. */
  default?: string;
  /** The whole string must match. */
  pattern?: RegExp;
  /** What a valid value looks like, for the message ("letters, digits and _"). */
  expected?: string;
  /** Default 1. */
  minLength?: number;
  maxLength?: number;
}

/** A string (never quoted back in a message), or the default. */
export function checkString(name: string, value: unknown, spec: StringSpec = {}): string {
  const v = value === undefined ? spec.default : value;
  const expected = spec.expected ?? 'a non-empty string';
  if (typeof v !== 'string') {
    throw new ConfigurationError(
      `${name} ${v === undefined ? 'is required' : `must be ${expected}; got ${describe(v)}`}`,
    );
  }
  const min = spec.minLength ?? 1;
  const max = spec.maxLength ?? Number.POSITIVE_INFINITY;
  if (v.length < min || v.length > max || (spec.pattern !== undefined && !spec.pattern.test(v))) {
    const lengths = Number.isFinite(max) ? ` of ${min} to ${max} characters` : '';
    throw new ConfigurationError(`${name} must be ${expected}${lengths}`);
  }
  return v;
}

/** What a value is, for a message, without quoting it: "a string", "a Map", "null", "a number". */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const ctor = Object.getPrototypeOf(value)?.constructor;
    const name = typeof ctor === 'function' && ctor.name !== '' && ctor.name !== 'Object' ? ctor.name : undefined;
    return name === undefined ? 'an object' : `a ${name}`;
  }
  if (typeof value === 'undefined') return 'undefined';
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
}

/** The closest of `candidates` to `word` (case-insensitive, at most a third of its letters off), if any. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(w.length / 3)) + 1;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    const prefix =
      Math.min(w.length, c.length) >= 4 && (c.startsWith(w) || w.startsWith(c) || c.endsWith(w) || w.endsWith(c));
    const d = c === w ? 0 : prefix ? 1 : distance(w, c);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Edit distance counting a swap of two neighbours as one edit. Runs at construction only. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** A key as it may be shown: an option name, cut short, letters only, never a pasted value. */
function printable(key: string): string {
  return /^[A-Za-z0-9_$.-]{1,40}$/.test(key) ? key : '(a key that is not an option name)';
}
