/**
 * The login throttle (ASVS 6.1.1, 6.3.1; P4), on rate-limiter-flexible. `attempt` runs the
 * caller's password check itself, so there is no way to check a password without being counted:
 * each attempt is counted atomically *before* its check (a burst of concurrent guesses cannot all
 * pass a look-up made before any of them is recorded), and given back when the password is right.
 *
 * 1. Per client address: 100 failed logins in an hour and that address gets 429 for the rest of
 *    the hour, whatever account it tries. IPv6 addresses count per /64, the block one host owns.
 * 2. Per account: 5 free failures; past them, one attempt per back-off period, each period twice
 *    the last (1 s, 2 s, 4 s … capped at 15 min); the count starts over a day after the first
 *    failure of a series. The count is kept by account, not by address, so guesses spread over a
 *    botnet's addresses still add up: at most ~100 a day.
 * 3. Why the real user is not locked out by this: an address from which the account logged in
 *    successfully in the last 14 days has its own counter for that account. A spray from other
 *    addresses slows only those addresses; the user's usual device keeps logging in at once. On a
 *    new address the user waits at most 15 minutes, never a lock an attacker can renew cheaply.
 * 4. At most 2 password checks in flight per account bucket and 8 per client address; more wait
 *    a second (429). A crashed process frees its slots after 30 s.
 *
 * A refused attempt gives back every point it took, so hammering 429s neither counts as guesses
 * nor stretches the back-off. Keys hold SHA-256 of the username, never the name itself. The
 * throttle answers the same for accounts that exist and for names that do not, so it reveals
 * nothing about who has an account. With `redis`, every instance shares the counters; otherwise
 * they live in this process. A failing Redis is `StoreUnavailableError`, never a skipped throttle.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import {
  createLimiter,
  giveBack,
  guard,
  MAX_SECONDS,
  positiveInteger,
  retrySeconds,
  type Taken,
  take,
} from '../lib/limiter.js';

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
  /** Password checks running at once per account bucket. Default 2. */
  inFlightPerAccount?: number;
  /** Password checks running at once per client address. Default 8. */
  inFlightPerClient?: number;
}

/** What `attempt` answers. `retryAfter` is whole seconds (at least 1), for the Retry-After header. */
export type LoginAttemptResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfter: number; scope: 'client' | 'account' };

export interface LoginThrottle {
  /**
   * Counts an attempt, runs `check` if the throttle allows it, and records its outcome. `check`
   * answers the value to keep (the user, say) for a right password, and `false`, `null` or
   * `undefined` for a wrong one or an unknown name (the same thing to the throttle). If `check`
   * throws, the attempt stays counted and the error is rethrown.
   */
  attempt<T>(
    username: string,
    client: string,
    check: () => Promise<T | false | null | undefined>,
  ): Promise<LoginAttemptResult<T>>;
  /** Marks `client` as known for the account (after registration, say) and resets its own count. */
  remember(username: string, client: string): Promise<void>;
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
const WHAT = 'login throttle';
/** Seconds after which a slot of a process that died mid-check frees itself. */
const IN_FLIGHT_SAFETY = 30;

/**
 * @example
 * const throttle = createLoginThrottle();
 * const result = await throttle.attempt(username, request.ip, async () => {
 *   const user = findUser(username);
 *   const { ok } = user ? await passwords.verify(user.passwordHash, password) : await passwords.verifyDummy(password);
 *   return ok && user;
 * });
 * if (!result.ok && result.reason === 'throttled') return reply.code(429).header('retry-after', result.retryAfter) …
 */
export function createLoginThrottle(options: LoginThrottleOptions = {}): LoginThrottle {
  const free = positiveInteger('freeFailures', options.freeFailures, 5);
  const maxDelay = positiveInteger('maxDelay', options.maxDelay, 900, MAX_SECONDS);
  const window = positiveInteger('failureWindow', options.failureWindow, 86_400, MAX_SECONDS);
  const clientMax = positiveInteger('clientFailures', options.clientFailures, 100);
  const clientWindow = positiveInteger('clientWindow', options.clientWindow, 3600, MAX_SECONDS);
  const knownFor = positiveInteger('knownDays', options.knownDays, 14, 24) * 86_400;
  const perAccount = positiveInteger('inFlightPerAccount', options.inFlightPerAccount, 2);
  const perClient = positiveInteger('inFlightPerClient', options.inFlightPerClient, 8);
  const prefix = options.prefix ?? 'latchkey:throttle';
  if (typeof prefix !== 'string' || prefix === '') throw new ConfigurationError('prefix must be a non-empty string');

  const limiter = (name: string, points: number, duration: number) =>
    createLimiter(options.redis, `${prefix}:${name}`, points, duration);
  // Attempts per address; a right password gives its point back, so what remains are failures.
  const clients = limiter('client', clientMax, clientWindow);
  const failures = limiter('failures', 1_000_000, window); // a counter: never refuses by itself
  // The back-off slot: one point, taken by the one attempt allowed per period, then blocked for
  // the period. Until the block lands it lives 1 s, so a process that dies in between frees it.
  // Refused takes are not given back here: they never move its expiry, which only the block sets.
  const waits = limiter('wait', 1, 1);
  const known = limiter('known', 1, knownFor);
  const flightsByClient = limiter('flight-client', perClient, IN_FLIGHT_SAFETY);
  const flightsByAccount = limiter('flight-account', perAccount, IN_FLIGHT_SAFETY);

  const bucket = async (username: string, client: string) => {
    if (typeof username !== 'string' || typeof client !== 'string' || client === '')
      throw new InvalidArgumentError('the throttle needs a username and a client address');
    const account = accountKey(username);
    const address = clientKey(client);
    const own = `${account}|${address}`;
    // An address the account logged in from recently has its own count, so a spray from
    // elsewhere cannot lock the user out of their usual device.
    const isKnown = (await guard(WHAT, () => known.get(own))) !== null;
    return { address, own, key: isKnown ? own : account };
  };
  const reset = (own: string) =>
    guard(WHAT, () => Promise.all([known.set(own, 1, knownFor), failures.delete(own), waits.delete(own)]));
  const giveAllBack = async (points: Taken[]) => {
    await Promise.all(points.map((point) => giveBack(point, WHAT)));
  };

  return {
    async attempt(username, client, check) {
      if (typeof check !== 'function') throw new InvalidArgumentError('attempt needs a check function');
      const { address, own, key } = await bucket(username, client);
      const counted: Taken[] = [];
      const flights: Taken[] = [];
      // A refused attempt gives back what it took: it checked no password, so it must not count as
      // a guess, and hammering 429s must not push the user's back-off further.
      const refuse = async (scope: 'client' | 'account', retryAfter: number) => {
        await giveAllBack(counted);
        return { ok: false, reason: 'throttled', retryAfter, scope } as const;
      };
      let value: Awaited<ReturnType<typeof check>>;
      try {
        const byClient = await take(clients, address, WHAT);
        counted.push(byClient.taken);
        if (!byClient.allowed) return await refuse('client', retrySeconds(byClient.res.msBeforeNext));
        // Slow hashes running at once are capped, so a burst waits its turn instead of racing the count.
        const clientFlight = await take(flightsByClient, address, WHAT);
        flights.push(clientFlight.taken);
        if (!clientFlight.allowed) return await refuse('client', 1);
        const accountFlight = await take(flightsByAccount, key, WHAT);
        flights.push(accountFlight.taken);
        if (!accountFlight.allowed) return await refuse('account', 1);
        // Counted as a failure before the check, atomically: the count the next attempt reads
        // already holds every check started before it.
        const failure = await take(failures, key, WHAT);
        counted.push(failure.taken);
        const count = failure.res.consumedPoints;
        if (count > free) {
          // Past the free failures only the attempt that takes the slot runs; the slot is then
          // held for the back-off, so concurrent attempts are refused rather than checked.
          const slot = await take(waits, key, WHAT);
          if (!slot.allowed) return await refuse('account', retrySeconds(slot.res.msBeforeNext));
          await guard(WHAT, () => waits.block(key, Math.min(maxDelay, 2 ** (count - free - 1))));
        }
        value = await check();
      } finally {
        // A slot the store cannot release now frees itself after IN_FLIGHT_SAFETY: refusing for
        // a while is the safe side, and the check's own result or error is what the caller needs.
        await Promise.all(flights.map((point) => giveBack(point, WHAT).catch(() => {})));
      }
      // A check that threw has left its attempt counted (fail closed); a wrong one stays counted.
      if (value === false || value === null || value === undefined) return { ok: false, reason: 'invalid' };
      const [byClient, failure] = counted;
      await Promise.all([
        byClient && giveBack(byClient, WHAT), // a right password is not a failure of this address
        // From a new address, the shared account count gets this attempt's point back and keeps
        // the rest: a login by the user does not wipe the count a spray has built.
        key !== own && failure && giveBack(failure, WHAT),
        reset(own),
      ]);
      return { ok: true, value: value as Exclude<typeof value, false | null | undefined> };
    },
    async remember(username, client) {
      await reset((await bucket(username, client)).own);
    },
  };
}
