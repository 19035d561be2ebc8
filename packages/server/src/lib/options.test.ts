import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkOptions,
  checkString,
  describe as describeValue,
  didYouMean,
} from './options.js';

const message = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
};

describe('checkOptions', () => {
  const known = ['store', 'keys', 'idleTimeout', 'absoluteTimeout'];

  it('returns the object, and {} for undefined', () => {
    const options = { keys: [] };
    expect(checkOptions('f', options, known)).toBe(options);
    expect(checkOptions('f', undefined, known)).toEqual({});
  });

  it('refuses an unknown key with a guess from the aliases or the spelling', () => {
    expect(message(() => checkOptions('f', { secret: 'x' }, known, { secret: 'keys' }))).toBe(
      'f got an unknown option "secret"; did you mean "keys"? Known options: store, keys, idleTimeout, absoluteTimeout.',
    );
    expect(message(() => checkOptions('f', { idleTimout: 1 }, known))).toContain('did you mean "idleTimeout"?');
    expect(message(() => checkOptions('f', { idletimeout: 1 }, known))).toContain('did you mean "idleTimeout"?');
    expect(message(() => checkOptions('f', { zebra: 1 }, known))).not.toContain('did you mean');
  });

  it('never quotes a key that does not look like an option name', () => {
    const pasted = `${'k'.repeat(43)}=`;
    const text = message(() => checkOptions('f', { [pasted]: 1 }, known));
    expect(text).not.toContain(pasted);
    expect(text).toContain('a key that is not an option name');
  });

  it('refuses what is not an object', () => {
    expect(message(() => checkOptions('f', 'x' as never, known))).toBe('f takes an options object; got a string');
    expect(message(() => checkOptions('f', null as never, known))).toBe('f takes an options object; got null');
    expect(message(() => checkOptions('f', [] as never, known))).toBe('f takes an options object; got an array');
  });
});

describe('checkNumber', () => {
  const seconds = { default: 1800, min: 1, max: 86_400, unit: 'seconds' };

  it('returns the value or the default', () => {
    expect(checkNumber('t', 60, seconds)).toBe(60);
    expect(checkNumber('t', undefined, seconds)).toBe(1800);
  });

  it('names the range and the unit', () => {
    expect(message(() => checkNumber('t', 0, seconds))).toBe('t must be a number of seconds from 1 to 86400; got 0');
    expect(message(() => checkNumber('t', Number.NaN, seconds))).toBe(
      't must be a number of seconds from 1 to 86400; got NaN',
    );
    expect(message(() => checkNumber('n', 1.5, { min: 1, max: 9, integer: true }))).toBe(
      'n must be a whole number from 1 to 9; got 1.5',
    );
    expect(message(() => checkNumber('n', undefined, { min: 1, max: 9 }))).toBe('n is required: a number from 1 to 9');
  });

  it('recognises seconds given in milliseconds, and the reverse', () => {
    expect(message(() => checkNumber('idleTimeout', 1_800_000, seconds))).toBe(
      'idleTimeout is in seconds; 1800000 looks like milliseconds (use 1800)',
    );
    expect(message(() => checkNumber('p', 0.05, { min: 10, max: 1000, unit: 'milliseconds' }))).toBe(
      'p is in milliseconds; 0.05 looks like seconds (use 50)',
    );
    // Not a whole thousandth that fits: the plain range message.
    expect(message(() => checkNumber('t', 90_000_000, seconds))).toContain('from 1 to 86400');
  });

  it('says how to fix a string from the environment', () => {
    expect(message(() => checkNumber('t', '1800', seconds))).toBe(
      't must be a number of seconds from 1 to 86400; got a string (convert a string from the environment with Number(...))',
    );
  });

  it('takes Infinity only where a limit may be off', () => {
    expect(checkNumber('n', Number.POSITIVE_INFINITY, { min: 1, max: 9, infinite: true })).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(message(() => checkNumber('n', Number.POSITIVE_INFINITY, { min: 1, max: 9 }))).toContain('got Infinity');
  });
});

describe('the other checks', () => {
  it('checkOneOf returns a member or the default, and guesses a misspelling', () => {
    expect(checkOneOf('sameSite', 'lax', ['strict', 'lax'], 'strict')).toBe('lax');
    expect(checkOneOf('sameSite', undefined, ['strict', 'lax'], 'strict')).toBe('strict');
    expect(message(() => checkOneOf('sameSite', 'Strict ', ['strict', 'lax']))).toBe(
      "sameSite must be one of 'strict', 'lax'; did you mean 'strict'?",
    );
    expect(message(() => checkOneOf('sameSite', 'none', ['strict', 'lax']))).toBe(
      "sameSite must be one of 'strict', 'lax'",
    );
  });

  it('checkBoolean, checkFunction and checkString', () => {
    expect(checkBoolean('b', undefined, true)).toBe(true);
    expect(message(() => checkBoolean('b', 'yes', true))).toBe('b must be true or false; got a string');
    const f = () => 1;
    expect(checkFunction('f', undefined, f)).toBe(f);
    expect(message(() => checkFunction('f', 1))).toBe('f must be a function; got a number');
    expect(checkString('s', undefined, { default: 'a' })).toBe('a');
    expect(message(() => checkString('s', 'a b', { pattern: /^\w+$/, expected: 'letters, digits and _' }))).toBe(
      's must be letters, digits and _',
    );
    expect(message(() => checkString('s', undefined))).toBe('s is required');
  });

  it('describe names a kind without quoting the value', () => {
    expect(describeValue(new Map())).toBe('a Map');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(Object.create(null))).toBe('an object');
    expect(describeValue('secret')).toBe('a string');
    expect(describeValue(undefined)).toBe('undefined');
  });

  it('didYouMean finds close names only', () => {
    expect(didYouMean('idle', ['idleTimeout', 'absoluteTimeout'])).toBe('idleTimeout');
    expect(didYouMean('kyes', ['store', 'keys'])).toBe('keys');
    expect(didYouMean('prefix', ['tablePrefix', 'sweepBatchSize'])).toBe('tablePrefix');
    expect(didYouMean('s', ['store', 'keys'])).toBeUndefined();
  });
});
