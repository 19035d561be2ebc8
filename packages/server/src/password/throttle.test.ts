import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, InvalidArgumentError, StoreUnavailableError } from '../errors.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from '../test/services.js';
import {
  clientKey,
  createLoginThrottle,
  type LoginAttemptResult,
  type LoginThrottle,
  type LoginThrottleOptions,
} from './throttle.js';

const USER = { id: 'u1' };
const wrong = async () => false as const;
const right = async () => USER;
/** A wrong password that takes 30 ms to check, like a hash. */
const slowWrong = () => new Promise<false>((resolve) => setTimeout(resolve, 30, false));

const outcome = (r: LoginAttemptResult<unknown>) =>
  r.ok ? 'ok' : r.reason === 'invalid' ? 'invalid' : `throttled:${r.scope}`;
const retryAfter = (r: LoginAttemptResult<unknown>) => (!r.ok && r.reason === 'throttled' ? r.retryAfter : 0);
const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

/** Attempts in sequence, one check each; answers their outcomes. */
async function attempts(t: LoginThrottle, username: string, client: string, checks: (() => Promise<unknown>)[]) {
  const seen: string[] = [];
  for (const check of checks) seen.push(outcome(await t.attempt(username, client, check)));
  return seen;
}

/** 60 wrong guesses at one account, sent at once from 50 addresses, spread over `instances`. */
async function burst(instances: LoginThrottle[]) {
  let checks = 0;
  const results = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      (instances[i % instances.length] as LoginThrottle).attempt('burst-victim', `198.51.100.${(i % 50) + 1}`, () => {
        checks++;
        return slowWrong();
      }),
    ),
  );
  return { checks, results };
}

interface Backend {
  make(options?: LoginThrottleOptions): LoginThrottle;
  /** Two throttles sharing their counters, as two processes would. */
  pair(options?: LoginThrottleOptions): LoginThrottle[];
  /** Lets `seconds` go by for the throttle. */
  pass(seconds: number): Promise<void>;
  /** The back-offs to walk through (each step but the last costs real seconds on Redis). */
  growth: number[];
}

/** The same attacks, run against a throttle on any backend. */
function throttleCases({ make, pair, pass, growth }: Backend) {
  it('a burst of 60 concurrent wrong guesses runs at most 5 free + 2 in-flight checks; the rest get 429', async () => {
    const both = pair();
    const { checks, results } = await burst(both);
    expect(checks).toBeGreaterThan(0);
    expect(checks).toBeLessThanOrEqual(5 + 2);
    expect(results.filter((r) => outcome(r) === 'invalid')).toHaveLength(checks);
    const refused = results.filter((r) => !r.ok && r.reason === 'throttled');
    expect(refused).toHaveLength(60 - checks);
    for (const r of refused) expect(Number.isInteger(retryAfter(r)) && retryAfter(r) >= 1).toBe(true);
    // The refused attempts gave their points back: the count holds the checks that ran, no more.
    const left = checks <= 5 ? 5 - checks + 1 : 0;
    expect(await attempts(both[1] as LoginThrottle, 'burst-victim', '192.0.2.99', times(left + 1, wrong))).toEqual([
      ...times(left, 'invalid'),
      'throttled:account',
    ]);
  });

  it('past the free failures, one attempt per back-off period runs, however many arrive at once', async () => {
    // No in-flight cap to hide behind: the back-off slot alone must hold.
    const { checks, results } = await burst(pair({ inFlightPerAccount: 1000, inFlightPerClient: 1000 }));
    expect(checks).toBe(5 + 1);
    expect(results.filter((r) => outcome(r) === 'throttled:account')).toHaveLength(60 - 6);
  });

  it('caps the checks in flight per account, even within the free failures', async () => {
    const t = make({ freeFailures: 100 });
    let running = 0;
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.attempt('kate', `198.51.100.${i + 1}`, async () => {
          most = Math.max(most, ++running);
          await slowWrong();
          running--;
          return false;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(
      results.filter((r) => outcome(r) === 'throttled:account' && retryAfter(r) === 1).length,
    ).toBeGreaterThanOrEqual(8);
  });

  it('caps the checks in flight from one client address across accounts', async () => {
    const t = make({ inFlightPerClient: 3 });
    let running = 0;
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.attempt(`user${i}`, '203.0.113.70', async () => {
          most = Math.max(most, ++running);
          await slowWrong();
          running--;
          return false;
        }),
      ),
    );
    expect(most).toBeLessThanOrEqual(3);
    expect(results.filter((r) => outcome(r) === 'invalid').length).toBeLessThanOrEqual(3);
    expect(
      results.filter((r) => outcome(r) === 'throttled:client' && retryAfter(r) === 1).length,
    ).toBeGreaterThanOrEqual(17);
  });

  it('gives 5 free failures, then one attempt per back-off period, each twice the last, up to the cap (P4)', async () => {
    const t = make({ maxDelay: 8 });
    expect(await attempts(t, 'alice', '203.0.113.9', times(5, wrong))).toEqual(times(5, 'invalid'));
    const waits: number[] = [];
    for (let i = 0; i < growth.length; i++) {
      expect(outcome(await t.attempt('alice', '203.0.113.9', wrong))).toBe('invalid'); // this period's one attempt
      const refused = await t.attempt('alice', '203.0.113.9', right);
      expect(refused).toMatchObject({ ok: false, reason: 'throttled', scope: 'account' });
      waits.push(retryAfter(refused));
      if (i < growth.length - 1) await pass(retryAfter(refused));
    }
    expect(waits).toEqual(growth);
  });

  it('refused attempts neither count nor stretch the back-off', async () => {
    const t = make({ freeFailures: 1 });
    expect(await attempts(t, 'hal', '203.0.113.11', [wrong, wrong])).toEqual(['invalid', 'invalid']); // 1 s back-off
    const hammered = await Promise.all(times(50, 0).map(() => t.attempt('hal', '203.0.113.12', wrong)));
    expect(hammered.map(retryAfter)).toEqual(times(50, 1));
    await pass(1);
    expect(outcome(await t.attempt('hal', '203.0.113.11', wrong))).toBe('invalid'); // the third check: 2 s
    const next = await t.attempt('hal', '203.0.113.11', wrong);
    expect(outcome(next)).toBe('throttled:account');
    expect(retryAfter(next)).toBe(2); // not 2^52 s capped at 15 min
  });

  it('counts guesses spread over many addresses against the account', async () => {
    const t = make();
    for (let i = 0; i < 6; i++) expect(outcome(await t.attempt('bob', `198.51.100.${i + 1}`, wrong))).toBe('invalid');
    // A fresh address that never tried before is slowed too: the count is per account.
    const d = await t.attempt('bob', '192.0.2.77', right);
    expect(d).toEqual({ ok: false, reason: 'throttled', retryAfter: 1, scope: 'account' });
    // Usernames differing only in case or Unicode form are one account.
    expect(outcome(await t.attempt('BOB', '192.0.2.78', right))).toBe('throttled:account');
    expect(outcome(await t.attempt('ｂｏｂ', '192.0.2.78', right))).toBe('throttled:account');
    expect(await t.attempt('carol', '192.0.2.77', right)).toEqual({ ok: true, value: USER });
  });

  it('throttles unknown names exactly like real ones', async () => {
    const t = make();
    const run = async (username: string, check: () => Promise<unknown>) => {
      const seen: string[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await t.attempt(username, `198.51.100.${i + 1}`, check);
        seen.push(`${outcome(r)}:${retryAfter(r)}`);
      }
      return seen;
    };
    // The caller's check answers false for a wrong password and for a name nobody has.
    const real = await run('ivy', async () => false);
    const unknown = await run('nobody-has-this-name', async () => undefined);
    expect(unknown).toEqual(real);
    expect(real).toEqual([...times(6, 'invalid:0'), 'throttled:account:1', 'throttled:account:1']);
  });

  it('a right password gives its point back, resets the address’s own count and makes the address known', async () => {
    const t = make({ freeFailures: 3 });
    const [home, other] = ['192.0.2.20', '198.51.100.20'];
    expect(await attempts(t, 'erin', home, [wrong, wrong, right])).toEqual(['invalid', 'invalid', 'ok']);
    // From a new address the shared count goes on from 2, not 3: the right password was not a failure.
    expect(await attempts(t, 'erin', other, [wrong, wrong, wrong])).toEqual([
      'invalid',
      'invalid',
      'throttled:account',
    ]);
    // `home` is known now, with its own count; a right password resets it.
    expect(await attempts(t, 'erin', home, [wrong, wrong, right, ...times(5, wrong)])).toEqual([
      'invalid',
      'invalid',
      'ok',
      ...times(4, 'invalid'),
      'throttled:account',
    ]);
  });

  it('a right password does not count against the client address', async () => {
    const t = make({ clientFailures: 3 });
    for (let i = 0; i < 5; i++) expect(outcome(await t.attempt(`user${i}`, '203.0.113.30', right))).toBe('ok');
    for (let i = 0; i < 3; i++) expect(outcome(await t.attempt(`other${i}`, '203.0.113.30', wrong))).toBe('invalid');
    expect(outcome(await t.attempt('one-more', '203.0.113.30', right))).toBe('throttled:client');
  });

  it('does not slow the real user on an address they logged in from before', async () => {
    const t = make();
    const home = '192.0.2.10';
    expect(outcome(await t.attempt('dana', home, right))).toBe('ok'); // the user's usual address
    const spray = await attempts(t, 'dana', '198.51.100.1', times(30, wrong));
    expect(spray).toEqual([...times(6, 'invalid'), ...times(24, 'throttled:account')]);
    expect(outcome(await t.attempt('dana', '198.51.100.200', right))).toBe('throttled:account');
    expect(await t.attempt('dana', home, right)).toEqual({ ok: true, value: USER });
    // The user's own mistakes from that address still count, in their own bucket.
    expect(await attempts(t, 'dana', home, times(7, wrong))).toEqual([...times(6, 'invalid'), 'throttled:account']);
    await t.remember('dana', home);
    expect(await t.attempt('dana', home, right)).toEqual({ ok: true, value: USER });
    expect(outcome(await t.attempt('dana', '198.51.100.200', right))).toBe('throttled:account'); // the spray's count stays
  });

  it('a browser that logged in before keeps logging in from a new network while a spray holds the account', async () => {
    // Found by attacking the address rule: an attacker asking the moment each back-off ends kept
    // the account's one attempt per period, so the user on a new address never got it.
    const t = make();
    const device = 'dev1ce-of-gina-0123456789';
    expect(outcome(await t.attempt('gina', '192.0.2.20', right, { device }))).toBe('ok');
    const spray = await attempts(t, 'gina', '198.51.100.2', times(10, wrong));
    expect(spray.slice(-2)).toEqual(['throttled:account', 'throttled:account']);
    // The same browser on a network it never used: its own count, not the spray's.
    expect(await t.attempt('gina', '203.0.113.77', right, { device })).toEqual({ ok: true, value: USER });
    // Another browser there, an id never seen, or a malformed one: the shared, sprayed count.
    for (const other of ['another-browser-0123456789', 'short', '../../etc', undefined])
      expect(outcome(await t.attempt('gina', '203.0.113.78', right, { device: other })), String(other)).toBe(
        'throttled:account',
      );
    // Its own mistakes count in its own bucket.
    for (let i = 0; i < 6; i++)
      expect(outcome(await t.attempt('gina', '203.0.113.90', wrong, { device }))).toBe('invalid');
    expect(outcome(await t.attempt('gina', '203.0.113.90', right, { device }))).toBe('throttled:account');
    // remember() with a device makes it known before any login (after registration, say).
    await t.remember('hana', '192.0.2.30', { device: 'hana-browser-0123456789ab' });
    await attempts(t, 'hana', '198.51.100.3', times(10, wrong));
    expect(outcome(await t.attempt('hana', '203.0.113.5', right, { device: 'hana-browser-0123456789ab' }))).toBe('ok');
  });

  it('remember makes an address known before any login (after registration, say)', async () => {
    const t = make();
    await t.remember('finn', '192.0.2.40');
    await attempts(t, 'finn', '198.51.100.40', times(10, wrong));
    expect(outcome(await t.attempt('finn', '198.51.100.41', right))).toBe('throttled:account');
    expect(outcome(await t.attempt('finn', '192.0.2.40', right))).toBe('ok');
  });

  it('refuses a client address that failed too often, whatever account it tries', async () => {
    const t = make({ clientFailures: 10 });
    for (let i = 0; i < 10; i++) await t.attempt(`user${i}`, '203.0.113.50', wrong);
    const d = await t.attempt('someone-new', '203.0.113.50', right);
    expect(outcome(d)).toBe('throttled:client');
    expect(retryAfter(d)).toBeGreaterThan(3500);
    expect(outcome(await t.attempt('someone-new', '203.0.113.51', right))).toBe('ok');
  });

  it('groups IPv6 clients by /64, so rotating the low bits does not escape', async () => {
    const t = make({ clientFailures: 5 });
    for (let i = 1; i <= 5; i++) await t.attempt(`v6user${i}`, `2001:db8:1:2::${i.toString(16)}`, wrong);
    expect(outcome(await t.attempt('other', '2001:db8:1:2:ffff::1', right))).toBe('throttled:client');
    expect(outcome(await t.attempt('other', '2001:db8:1:3::1', right))).toBe('ok');
  });

  it('a check that throws frees its in-flight slot, stays counted, and its error reaches the caller', async () => {
    const t = make({ freeFailures: 1, inFlightPerAccount: 1, inFlightPerClient: 1 });
    const failing = async () => {
      throw new Error('user table unreachable');
    };
    await expect(t.attempt('gil', '203.0.113.60', failing)).rejects.toThrow('user table unreachable');
    // The slot is free (the next check runs), and the throw counted: this one is past the free failure.
    expect(await attempts(t, 'gil', '203.0.113.60', [wrong, wrong])).toEqual(['invalid', 'throttled:account']);
  });
}

describe('login throttle in memory', () => {
  // Only Date is faked: the memory limiter reads it for expiry, so time can pass without waiting.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  throttleCases({
    make: (options) => createLoginThrottle(options),
    pair: (options) => {
      const t = createLoginThrottle(options);
      return [t, t];
    },
    pass: async (seconds) => {
      vi.setSystemTime(Date.now() + seconds * 1000 + 10);
    },
    growth: [1, 2, 4, 8, 8],
  });

  it('an in-flight slot outliving its 30 s safety expiry is not given back twice', async () => {
    const t = createLoginThrottle({ inFlightPerAccount: 1 });
    // The check outlasts the slot's key; its release must not leave a credit on the next key.
    await t.attempt('jo', '203.0.113.80', async () => {
      vi.setSystemTime(Date.now() + 31_000);
      return false;
    });
    let running = 0;
    let most = 0;
    await Promise.all(
      times(5, 0).map(() =>
        t.attempt('jo', '203.0.113.80', async () => {
          most = Math.max(most, ++running);
          await slowWrong();
          running--;
          return false;
        }),
      ),
    );
    expect(most).toBe(1);
  });

  it('validates its options and arguments', async () => {
    expect(() => createLoginThrottle({ freeFailures: 0 })).toThrow(ConfigurationError);
    expect(() => createLoginThrottle({ maxDelay: 1.5 })).toThrow(ConfigurationError);
    expect(() => createLoginThrottle({ inFlightPerAccount: 0 })).toThrow(ConfigurationError);
    expect(() => createLoginThrottle({ knownDays: 25 })).toThrow(ConfigurationError);
    expect(() => createLoginThrottle({ failureWindow: 30 * 86_400 })).toThrow(ConfigurationError);
    expect(() => createLoginThrottle({ prefix: '' })).toThrow(ConfigurationError);
    // Windows in milliseconds are named as such (issue #14), and so is each unknown option.
    expect(() => createLoginThrottle({ failureWindow: 86_400_000 })).toThrow(
      new ConfigurationError('failureWindow is in seconds; 86400000 looks like milliseconds (use 86400)'),
    );
    expect(() => createLoginThrottle({ clientWindow: 3_600_000 })).toThrow(
      new ConfigurationError('clientWindow is in seconds; 3600000 looks like milliseconds (use 3600)'),
    );
    expect(() => createLoginThrottle({ maxDelay: 900_000 })).toThrow(
      new ConfigurationError('maxDelay is in seconds; 900000 looks like milliseconds (use 900)'),
    );
    expect(() => createLoginThrottle({ maxAttempts: 5 } as never)).toThrow(
      /createLoginThrottle got an unknown option "maxAttempts"; did you mean "freeFailures"\?/,
    );
    expect(() => createLoginThrottle({ redis: REDIS_URL as never })).toThrow(
      new ConfigurationError(
        "createLoginThrottle: redis takes an ioredis client, not a URL: redis: new Redis(process.env.REDIS_URL), with import { Redis } from 'ioredis'",
      ),
    );
    expect(() => createLoginThrottle({ redis: {} })).toThrow(
      /takes an ioredis client \(Redis or Cluster\), not an object/,
    );
    const t = createLoginThrottle();
    await expect(t.attempt('kim', '', right)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(t.attempt('kim', '192.0.2.1', undefined as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('keys clients: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('2001:DB8:0:0:1::5')).toBe('2001:db8:0:0::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });

  it('keys every spelling of one address alike: ports dropped, mapped IPv4 in hex or dotted, zone ids', () => {
    // Each spelling once counted as a new client (found by attacking the fix through X-Forwarded-For).
    for (const spelling of [
      '203.0.113.7:5555',
      '203.0.113.7:1',
      '::FFFF:CB00:7107',
      '0:0:0:0:0:ffff:203.0.113.7',
      '[::ffff:203.0.113.7]:443',
      ' 203.0.113.7 ',
    ])
      expect(clientKey(spelling), spelling).toBe('203.0.113.7');
    expect(clientKey('[2001:DB8:1:2::9]:443')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff::')).toBe('2001:db8:1:2::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKey('not an address')).toBe('not an address');
  });
});

const hasRedis = await serviceAvailable('redis', 6379);

describe.runIf(hasRedis)('login throttle on Redis (shared by every instance)', () => {
  // Two connections: the "two processes" of the shared-counter tests each have their own.
  const client = new Redis(REDIS_URL);
  const second = new Redis(REDIS_URL);
  afterAll(async () => {
    await Promise.all([client.quit(), second.quit()]);
  });
  const prefix = () => `lk-test:throttle:${randomBytes(4).toString('hex')}`;

  throttleCases({
    make: (options) => createLoginThrottle({ ...options, redis: client, prefix: prefix() }),
    pair: (options) => {
      const p = prefix();
      return [client, second].map((redis) => createLoginThrottle({ ...options, redis, prefix: p }));
    },
    pass: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 50)),
    growth: [1, 2],
  });

  it('shares counts between two instances, and keeps no username in a key', async () => {
    const p = prefix();
    const a = createLoginThrottle({ redis: client, prefix: p });
    const b = createLoginThrottle({ redis: second, prefix: p });
    for (let i = 0; i < 6; i++) await (i % 2 ? a : b).attempt('frank', `198.51.100.${i}`, wrong);
    expect(outcome(await a.attempt('frank', '192.0.2.1', right))).toBe('throttled:account');
    expect(outcome(await b.attempt('frank', '192.0.2.1', right))).toBe('throttled:account');
    const keys = await client.keys(`${p}*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toContain('frank'); // names are hashed
  });

  it('fails closed with StoreUnavailableError when Redis is unreachable, before any check', async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    const t = createLoginThrottle({ redis: dead, prefix: prefix() });
    const check = vi.fn(right);
    await expect(t.attempt('gina', '192.0.2.1', check)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(t.remember('gina', '192.0.2.1')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(check).not.toHaveBeenCalled();
    dead.disconnect();
  });
});

const hasPostgres = await serviceAvailable('postgres', 5432);

describe.runIf(hasPostgres)('login throttle on PostgreSQL (shared by every instance)', () => {
  // Two pools: the "two processes" of the shared-counter tests each have their own.
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  const second = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  afterAll(async () => {
    await Promise.all([pool.end(), second.end()]);
  });
  const prefix = () => `lk-test:throttle:${randomBytes(4).toString('hex')}`;

  throttleCases({
    make: (options) => createLoginThrottle({ ...options, postgres: pool, prefix: prefix() }),
    pair: (options) => {
      const p = prefix();
      return [pool, second].map((postgres) => createLoginThrottle({ ...options, postgres, prefix: p }));
    },
    pass: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 50)),
    growth: [1, 2],
  });

  it('shares counts between two instances in one table, and keeps no username in a key', async () => {
    const p = prefix();
    const a = createLoginThrottle({ postgres: pool, prefix: p });
    const b = createLoginThrottle({ postgres: second, prefix: p });
    for (let i = 0; i < 6; i++) await (i % 2 ? a : b).attempt('frank', `198.51.100.${i}`, wrong);
    expect(outcome(await a.attempt('frank', '192.0.2.1', right))).toBe('throttled:account');
    expect(outcome(await b.attempt('frank', '192.0.2.1', right))).toBe('throttled:account');
    const { rows } = await pool.query<{ key: string }>('SELECT key FROM latchkey_limits WHERE key LIKE $1', [`${p}%`]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.key).join(' ')).not.toContain('frank'); // names are hashed
  });

  it('a burst of concurrent wrong passwords from many instances checks no more than the free failures', async () => {
    const p = prefix();
    const instances = [pool, second, pool].map((postgres) => createLoginThrottle({ postgres, prefix: p }));
    const check = vi.fn(wrong);
    await Promise.all(Array.from({ length: 30 }, (_, i) => instances[i % 3]?.attempt('hana', `203.0.113.${i}`, check)));
    // 5 free failures, then one attempt per back-off period; the in-flight cap (2) refuses the rest.
    expect(check.mock.calls.length).toBeLessThanOrEqual(6);
    expect(check.mock.calls.length).toBeGreaterThan(0);
  });

  it('refuses a connection string, a Client-like object, and redis with postgres at once', () => {
    expect(() => createLoginThrottle({ postgres: POSTGRES_URL })).toThrow(
      /postgres takes a pg Pool, not a connection string: postgres: new pg.Pool/,
    );
    expect(() => createLoginThrottle({ postgres: { query: () => undefined } })).toThrow(ConfigurationError);
    expect(() => createLoginThrottle({ postgres: pool, redis: new Redis({ lazyConnect: true }) })).toThrow(
      /pass redis or postgres, not both/,
    );
    expect(() => createLoginThrottle({ postgres: POSTGRES_URL })).not.toThrow(/postgres:\/\//);
  });

  it('fails closed with StoreUnavailableError when PostgreSQL is unreachable, before any check', async () => {
    const dead = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 500 });
    const t = createLoginThrottle({ postgres: dead, prefix: prefix() });
    const check = vi.fn(right);
    await expect(t.attempt('gina', '192.0.2.1', check)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(t.remember('gina', '192.0.2.1')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(check).not.toHaveBeenCalled();
    await dead.end();
  });
});
