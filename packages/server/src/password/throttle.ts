/**
 * The login throttle (ASVS 6.1.1, 6.3.1; P4), on rate-limiter-flexible. Three rules:
 *
 * 1. Per client address: 100 failed logins in an hour and that address gets 429 for the rest of
 *    the hour, whatever account it tries. IPv6 addresses count per /64, the block one host owns.
 * 2. Per account: 5 free failures, then each attempt waits twice as long as the last (1 s, 2 s,
 *    4 s … capped at 15 min); the count starts over a day after the first failure of a series. The count is kept by account,
 *    not by address, so guesses spread over a botnet's addresses still add up: at most ~100 a day.
 * 3. Why the real user is not locked out by this: an address from which the account logged in
 *    successfully in the last 14 days has its own counter for that account. A spray from other
 *    addresses slows only those addresses; the user's usual device keeps logging in at once. On a
 *    new address the user waits at most 15 minutes, never a lock an attacker can renew cheaply.
 *
 * Keys hold SHA-256 of the username, never the name itself. The throttle answers the same for
 * accounts that exist and for names that do not, so it reveals nothing about who has an account.
 * With `redis`, every instance shares the counters; otherwise they live in this process.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';

export interface LoginThrottleOptions {
  /** An ioredis client: counters shared by every instance. Default: in this process's memory. */
  redis?: unknown;
  /** Key prefix in Redis. Default `latchkey:throttle`. */
  prefix?: string;
  /** Failures per account before back-off starts. Default 5. */
  freeFailures?: number;
  /** Longest back-off, seconds. Default 900 (15 min). */
  maxDelay?: number;
  /** Seconds an account's failures are remembered. Default 86400 (a day). */
  failureWindow?: number;
  /** Failures per client address per `clientWindow` before it is refused. Default 100. */
  clientFailures?: number;
  /** Seconds. Default 3600. */
  clientWindow?: number;
  /** Days an address stays "known" for an account after a successful login. Default 14, at most 24. */
  knownDays?: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfter: number; scope: 'client' | 'account' };

export interface LoginThrottle {
  /** Ask before checking a password. `retryAfter` is whole seconds, for the Retry-After header. */
  check(username: string, client: string): Promise<ThrottleDecision>;
  /** Record a wrong password (or an unknown username: the same thing to the throttle). */
  failure(username: string, client: string): Promise<void>;
  /** Record a successful login: the address becomes known for the account and its count resets. */
  success(username: string, client: string): Promise<void>;
}

/** The counting key for a client address: IPv4 as is, IPv6 by its /64 prefix. */
export function clientKey(address: string): string {
  const a = address.toLowerCase();
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7); // IPv4-mapped
  if (!isIPv6(a)) return a;
  const [head = '', tail = ''] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
const accountKey = (username: string) => digest(username.normalize('NFKC').toLowerCase());

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new ConfigurationError(`${name} must be a positive integer`);
  return v;
}

/**
 * @example
 * const throttle = createLoginThrottle();
 * const decision = await throttle.check(username, request.ip);
 * if (!decision.allowed) return reply.code(429).header('retry-after', decision.retryAfter) …
 */
export function createLoginThrottle(options: LoginThrottleOptions = {}): LoginThrottle {
  const free = positive('freeFailures', options.freeFailures, 5);
  const maxDelay = positive('maxDelay', options.maxDelay, 900);
  const window = positive('failureWindow', options.failureWindow, 86_400);
  const clientMax = positive('clientFailures', options.clientFailures, 100);
  const clientWindow = positive('clientWindow', options.clientWindow, 3600);
  // At most 24 days: the in-memory limiter keeps each key with a timer, and Node's timers stop at 2^31 ms.
  const knownDays = positive('knownDays', options.knownDays, 14);
  if (knownDays > 24) throw new ConfigurationError('knownDays must be at most 24');
  const knownFor = knownDays * 86_400;
  const prefix = options.prefix ?? 'latchkey:throttle';

  const limiter = (name: string, points: number, duration: number) => {
    const settings = { keyPrefix: `${prefix}:${name}`, points, duration };
    return options.redis === undefined
      ? new RateLimiterMemory(settings)
      : new RateLimiterRedis({ ...settings, storeClient: options.redis });
  };
  const clients = limiter('client', clientMax, clientWindow);
  const failures = limiter('failures', 1_000_000, window); // a counter: never refuses by itself
  const waits = limiter('wait', 1, maxDelay); // a key is present while its back-off runs
  const known = limiter('known', 1, knownFor);

  // A failing Redis makes the throttle unavailable, which the caller answers with 503: it never
  // skips the throttle (that would let a guesser through while Redis is down).
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof Error) throw new StoreUnavailableError('login throttle unavailable', { cause: error });
      return error as T; // a RateLimiterRes rejection: the limit was reached, which callers expect
    }
  };
  const bucket = async (username: string, client: string) => {
    const account = accountKey(username);
    const address = clientKey(client);
    const isKnown = (await known.get(`${account}|${address}`)) !== null;
    return { account, address, key: isKnown ? `${account}|${address}` : account };
  };
  const seconds = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

  return {
    check: (username, client) =>
      guard(async () => {
        const { address, key } = await bucket(username, client);
        const byClient = await clients.get(address);
        if (byClient !== null && byClient.consumedPoints >= clientMax)
          return { allowed: false, retryAfter: seconds(byClient), scope: 'client' } as const;
        const wait = await waits.get(key);
        if (wait !== null && wait.msBeforeNext > 0)
          return { allowed: false, retryAfter: seconds(wait), scope: 'account' } as const;
        return { allowed: true } as const;
      }),
    failure: (username, client) =>
      guard(async () => {
        const { address, key } = await bucket(username, client);
        await clients.penalty(address);
        const count = (await failures.penalty(key)).consumedPoints;
        if (count > free) await waits.block(key, Math.min(maxDelay, 2 ** (count - free - 1)));
      }),
    success: (username, client) =>
      guard(async () => {
        const { account, address } = await bucket(username, client);
        const own = `${account}|${address}`;
        await Promise.all([known.set(own, 1, knownFor), failures.delete(own), waits.delete(own)]);
      }),
  };
}
