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
 * 3. Why the real user is not locked out by this: a device (a random id the app keeps in an
 *    HttpOnly cookie, passed as `device`) or an address from which the account logged in
 *    successfully in the last 14 days has its own counter for that account. A spray from
 *    elsewhere slows only the shared count; the user's own browser keeps logging in, from any
 *    network. What remains: a browser the account never logged in from, on an address it never
 *    used, shares the count with the attacker, and an attacker who asks the moment each back-off
 *    ends (about 100 requests a day) can keep taking the one attempt per period before it.
 * 4. At most 2 password checks in flight per account bucket and 8 per client address; more wait
 *    a second (429). A crashed process frees its slots after 30 s.
 *
 * A refused attempt gives back every point it took, so hammering 429s neither counts as guesses
 * nor stretches the back-off. Keys hold SHA-256 of the username, never the name itself. The
 * throttle answers the same for accounts that exist and for names that do not, so it reveals
 * nothing about who has an account. With `redis` or `postgres`, every instance shares the counters; otherwise
 * they live in this process. A failing store is `StoreUnavailableError`, never a skipped throttle.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { detach } from '../lib/detach.js';
import {
  checkLimiterBackend,
  createLimiter,
  giveBack,
  guard,
  MAX_SECONDS,
  positiveInteger,
  retrySeconds,
  type Taken,
  take,
} from '../lib/limiter.js';
import { checkOptions, checkString } from '../lib/options.js';

/** Options of `createLoginThrottle`. Times in seconds, except `knownDays`. */
export interface LoginThrottleOptions {
  /** An ioredis client: counters shared by every instance. Default: in this process's memory. */
  redis?: unknown;
  /**
   * A pg Pool: counters shared by every instance, in one table (`latchkey_limits`, made at the
   * first count). Not with `redis`.
   */
  postgres?: unknown;
  /** Key prefix in Redis or PostgreSQL. Default `latchkey:throttle`. */
  prefix?: string;
  /** Failures per account before back-off starts. Default 5. */
  freeFailures?: number;
  /** Longest back-off, seconds. Default 900 (15 min), at most 86400. */
  maxDelay?: number;
  /** Seconds an account's failures are remembered. Default 86400 (a day). */
  failureWindow?: number;
  /** Failures per client address per `clientWindow` before it is refused. Default 100. */
  clientFailures?: number;
  /** Seconds over which a client address's failures are counted. Default 3600 (an hour). */
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

/**
 * Counts login attempts per client address and per account, from `createLoginThrottle`. The
 * password check runs inside `attempt`, so no check can skip the count. `createPasswordLogin` uses
 * one; use it directly for a login it does not cover.
 *
 * @example
 * const result = await throttle.attempt(username, req.ip, () => checkPassword(username, password), { device });
 * if (!result.ok && result.reason === 'throttled') return sendError(res, 'TOO_MANY_ATTEMPTS', { 'retry-after': String(result.retryAfter) });
 */
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
    options?: AttemptOptions,
  ): Promise<LoginAttemptResult<T>>;
  /**
   * Marks `client` (and `device`) as known for the account (after registration, say) and resets
   * their own counts.
   */
  remember(username: string, client: string, options?: AttemptOptions): Promise<void>;
}

/** Per-attempt options of `LoginThrottle.attempt`, `remember` and `PasswordLogin.check`. */
export interface AttemptOptions {
  /**
   * This browser's device id: at least 128 random bits (base64url, 22 to 128 characters) that the
   * app keeps in an HttpOnly cookie of its own, never an address or a user agent. A device that
   * logged in to the account before has its own count, so an attacker elsewhere cannot lock the
   * user out of their own browser, whatever network it is on. Anything else is ignored.
   */
  device?: string;
}

const DEVICE = /^[A-Za-z0-9_-]{22,128}$/;

/**
 * The counting key for a client address: IPv4 as is, IPv6 by its /64 prefix (the block one host
 * owns). Every spelling of one address gives one key, or a client could count anew by changing how
 * its address is written (addresses come from X-Forwarded-For when a proxy is trusted):
 * - a port is not part of the client (`203.0.113.7:5555`, `[2001:db8::1]:443`, as some proxies
 *   write them): it is dropped;
 * - IPv6 is read by the URL parser, so `::FFFF:CB00:7107`, `0:0:0:0:0:ffff:203.0.113.7` and
 *   `::ffff:203.0.113.7` are all the IPv4 client `203.0.113.7`.
 * Anything that is not an address counts as itself.
 */
export function clientKey(address: string): string {
  let a = address.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(a);
  if (bracketed?.[1]) a = bracketed[1];
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  a = a.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) names an interface, not a client
  // A copy: the counters keep the key for their window, and an address read from X-Forwarded-For
  // is a view onto the whole header (the IPv6 keys below are built anew).
  if (!isIPv6(a) || !URL.canParse(`http://[${a}]/`)) return detach(a);
  const canonical = new URL(`http://[${a}]/`).hostname.slice(1, -1); // compressed hex, dotted tail as hex
  const [head = '', tail = ''] = canonical.split('::');
  const left = head ? head.split(':') : [];
  const right = canonical.includes('::') && tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 client itself.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
/**
 * The account a name counts against, folded at least as far as a lenient `findUser` matches names:
 * case and compatibility forms (`ALICE`, `Ａｌｉｃｅ`), surrounding spaces (trimmed by apps, ignored
 * by MySQL's PAD SPACE collations), accents (`alicé` is `alice` under `_ai_ci` collations) and
 * invisible characters. Else each spelling got its own free failures against the one account the
 * lookup found. Folding too far only makes look-alike names share a count, never splits one.
 */
const accountKey = (username: string) =>
  digest(
    username
      .normalize('NFKD')
      .replace(/\p{M}|\p{Default_Ignorable_Code_Point}/gu, '')
      .trim()
      .toUpperCase()
      .toLowerCase(),
  );
const WHAT = 'login throttle';
const KNOWN_OPTIONS = [
  'redis',
  'postgres',
  'prefix',
  'freeFailures',
  'maxDelay',
  'failureWindow',
  'clientFailures',
  'clientWindow',
  'knownDays',
  'inFlightPerAccount',
  'inFlightPerClient',
];
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
export function createLoginThrottle(throttleOptions?: LoginThrottleOptions): LoginThrottle {
  const options = checkOptions('createLoginThrottle', throttleOptions, KNOWN_OPTIONS, {
    maxAttempts: 'freeFailures',
    maxFailures: 'freeFailures',
    window: 'failureWindow',
    windowMs: 'failureWindow',
  });
  const free = positiveInteger('freeFailures', options.freeFailures, 5);
  const window = positiveInteger('failureWindow', options.failureWindow, 86_400, MAX_SECONDS, 'seconds');
  // A back-off longer than a day outlives the failures it follows (they are forgotten after failureWindow).
  const maxDelay = positiveInteger('maxDelay', options.maxDelay, 900, 86_400, 'seconds');
  const clientMax = positiveInteger('clientFailures', options.clientFailures, 100);
  const clientWindow = positiveInteger('clientWindow', options.clientWindow, 3600, MAX_SECONDS, 'seconds');
  const knownFor = positiveInteger('knownDays', options.knownDays, 14, 24, 'days') * 86_400;
  const perAccount = positiveInteger('inFlightPerAccount', options.inFlightPerAccount, 2);
  const perClient = positiveInteger('inFlightPerClient', options.inFlightPerClient, 8);
  const prefix = checkString('prefix', options.prefix, { default: 'latchkey:throttle', maxLength: 200 });
  checkLimiterBackend('createLoginThrottle', options);

  const limiter = (name: string, points: number, duration: number) =>
    createLimiter(options, `${prefix}:${name}`, points, duration);
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

  const bucket = async (username: string, client: string, device: unknown) => {
    if (typeof username !== 'string' || typeof client !== 'string' || client === '')
      throw new InvalidArgumentError('the throttle needs a username and a client address');
    const account = accountKey(username);
    const address = clientKey(client);
    const own = [`${account}|${address}`];
    // The device id comes from a request: malformed ones are ignored, never an error.
    if (typeof device === 'string' && DEVICE.test(device)) own.unshift(`${account}|d:${digest(device)}`);
    // A device, else an address, the account logged in from recently has its own count, so a
    // spray from elsewhere cannot lock the user out of their usual browser.
    const seen = await guard(WHAT, () => Promise.all(own.map((key) => known.get(key))));
    const mine = own.find((_key, i) => seen[i] !== null);
    return { address, own, key: mine ?? account, shared: mine === undefined };
  };
  const reset = (own: readonly string[]) =>
    guard(WHAT, () =>
      Promise.all(own.flatMap((key) => [known.set(key, 1, knownFor), failures.delete(key), waits.delete(key)])),
    );
  const giveAllBack = async (points: Taken[]) => {
    await Promise.all(points.map((point) => giveBack(point, WHAT)));
  };

  return {
    async attempt(username, client, check, attemptOptions) {
      if (typeof check !== 'function') throw new InvalidArgumentError('attempt needs a check function');
      const { address, own, key, shared } = await bucket(username, client, attemptOptions?.device);
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
        shared && failure && giveBack(failure, WHAT),
        reset(own),
      ]);
      return { ok: true, value: value as Exclude<typeof value, false | null | undefined> };
    },
    async remember(username, client, rememberOptions) {
      await reset((await bucket(username, client, rememberOptions?.device)).own);
    },
  };
}
