/**
 * Atomic counters for the login throttle and the action limiter, on rate-limiter-flexible: in this
 * process's memory, or in Redis (one Lua script per change) so every instance shares them. One
 * place turns a store failure into StoreUnavailableError and gives a point back safely.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../errors.js';
import { checkRedisClient } from './drivers.js';
import { checkNumber } from './options.js';

export type Limiter = RateLimiterMemory | RateLimiterRedis;

/** Longest duration in seconds: the memory limiter drops each key with a timer, and Node's timers stop at 2^31 ms. */
export const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export function createLimiter(redis: unknown, keyPrefix: string, points: number, duration: number): Limiter {
  const settings = { keyPrefix, points, duration };
  return redis === undefined
    ? new RateLimiterMemory(settings)
    : new RateLimiterRedis({ ...settings, storeClient: redis });
}

/**
 * A whole-number option in [1, max] (the shared option check); `ConfigurationError` otherwise.
 * With `unit: 'seconds'`, a value in milliseconds by mistake is named as such. A fallback of NaN
 * makes the option required.
 */
export function positiveInteger(
  name: string,
  value: unknown,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
  unit?: string,
): number {
  return checkNumber(name, value, {
    ...(Number.isNaN(fallback) ? {} : { default: fallback }),
    min: 1,
    max,
    integer: true,
    ...(unit === undefined ? {} : { unit }),
  });
}

/**
 * The `redis` option of a limiter: undefined (counts in memory) or an ioredis client.
 *
 * @example
 * checkLimiterRedis('createLoginThrottle', options.redis);
 */
export function checkLimiterRedis(where: string, redis: unknown): void {
  if (redis !== undefined) checkRedisClient(`${where}: redis`, redis, 'redis: new Redis(process.env.REDIS_URL)');
}

/** Whole seconds for a Retry-After header: at least 1, so a client never retries at once. */
export const retrySeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Runs a limiter call. A store that fails makes the limiter unavailable (503): it never skips the limit. */
export async function guard<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(`${what} unavailable`, { cause: error });
  }
}

/** A point taken from a limiter's key, and when that key expires (see `giveBack`). */
export interface Taken {
  limiter: Limiter;
  key: string;
  expiresAt: number;
}

/**
 * Counts one point against `key` and reads the new count in one atomic step (one Lua script in
 * Redis, one synchronous update in memory), so concurrent callers can never all see "under the
 * limit". The point is taken even when refused: the caller gives it back if it should not count.
 */
export async function take(
  limiter: Limiter,
  key: string,
  what: string,
): Promise<{ allowed: boolean; res: RateLimiterRes; taken: Taken }> {
  let res: RateLimiterRes;
  let allowed = true;
  try {
    res = await limiter.consume(key);
  } catch (error) {
    // rate-limiter-flexible refuses with a RateLimiterRes (the count is past the limit) and fails with an Error.
    if (!(error instanceof RateLimiterRes)) throw new StoreUnavailableError(`${what} unavailable`, { cause: error });
    res = error;
    allowed = false;
  }
  return { allowed, res, taken: { limiter, key, expiresAt: Date.now() + res.msBeforeNext } };
}

/**
 * Gives back a point taken by `take`. If the key expired in between, the reward lands on a new
 * key as a credit (-1); a flood timed for the end of a window would collect one credit per refused
 * request. A new key is recognised by its later expiry (a new key lives a whole duration, at least
 * 1 s), and then the reward is undone.
 */
export async function giveBack(taken: Taken, what: string): Promise<void> {
  const { limiter, key, expiresAt } = taken;
  const res = await guard(what, () => limiter.reward(key));
  if (Date.now() + res.msBeforeNext > expiresAt + (limiter.duration * 1000) / 2)
    await guard(what, () => limiter.penalty(key));
}
