/**
 * Bounds a store call in time. A store that hangs must fail closed like a store that is down: the
 * caller gets StoreUnavailableError after `ms`, never a late "logged in".
 */
import { StoreUnavailableError } from '../errors.js';
import { checkNumber } from './options.js';

/**
 * A store call's deadline option, in milliseconds: 0 for none, else 10 ms to 10 minutes. A value
 * under 10 is taken for seconds given by mistake (`timeoutMs: 2` → "use 2000").
 *
 * @example
 * const ms = checkDeadline(options.timeoutMs); // 2000 when unset
 */
export function checkDeadline(value: unknown, name = 'timeoutMs', fallback = 2000): number {
  if (value === 0) return 0;
  return checkNumber(name, value, { default: fallback, min: 10, max: 600_000, unit: 'milliseconds' });
}

export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Runs a store call: failures become StoreUnavailableError, and so does a call past its deadline. */
export function guarded<T>(run: () => Promise<T>, ms: number, what: string): Promise<T> {
  let work: Promise<T>;
  try {
    work = run();
  } catch (error) {
    return Promise.reject(new StoreUnavailableError(`${what} failed`, { cause: error }));
  }
  const failed = work.catch((error: unknown) => {
    throw error instanceof StoreUnavailableError
      ? error
      : new StoreUnavailableError(`${what} failed`, { cause: error });
  });
  return ms > 0 ? withDeadline(failed, ms, what) : failed;
}
