import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, InvalidArgumentError, StoreUnavailableError } from '../errors.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from '../test/services.js';
import { createRateLimit, type RateLimit, type RateLimitDecision, type RateLimitOptions } from './rate-limit.js';

type Make = (options: Omit<RateLimitOptions, 'redis' | 'prefix'>) => RateLimit;
const scope = (d: RateLimitDecision) => (d.allowed ? 'allowed' : d.scope);
const takes = async (limit: RateLimit, client: string, n: number) => {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) seen.push(scope(await limit.take(client)));
  return seen;
};
const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

interface Backend {
  make: Make;
  /** Two limits sharing their counts, as two processes would. */
  pair(options: Omit<RateLimitOptions, 'redis' | 'prefix'>): RateLimit[];
  /** Lets `seconds` go by for the limit. */
  pass(seconds: number): Promise<void>;
}

function rateLimitCases({ make, pair, pass }: Backend) {
  it('allows `points` per client address per duration, then answers when to retry', async () => {
    const signups = make({ name: 'register', perClient: { points: 3, duration: 3600 } });
    expect(await takes(signups, '203.0.113.1', 4)).toEqual([...times(3, 'allowed'), 'client']);
    const refused = await signups.take('203.0.113.1');
    expect(refused).toMatchObject({ allowed: false, scope: 'client' });
    expect(refused.allowed || refused.retryAfter).toBeGreaterThan(3590);
    expect(await signups.take('203.0.113.2')).toEqual({ allowed: true });
  });

  it('counts IPv6 clients per /64', async () => {
    const signups = make({ name: 'register', perClient: { points: 2, duration: 60 } });
    await signups.take('2001:db8:5:6::1');
    await signups.take('2001:db8:5:6::2');
    expect(scope(await signups.take('2001:db8:5:6:ffff::9'))).toBe('client');
    expect(scope(await signups.take('2001:db8:5:7::1'))).toBe('allowed');
  });

  it('caps every client together with the global rule', async () => {
    const signups = make({ name: 'register', global: { points: 5, duration: 3600 } });
    for (let i = 1; i <= 5; i++) expect(scope(await signups.take(`198.51.100.${i}`))).toBe('allowed');
    expect(scope(await signups.take('198.51.100.6'))).toBe('global');
  });

  it('a refusal by one rule gives back the point the other rule took', async () => {
    const signups = make({
      name: 'register',
      perClient: { points: 2, duration: 3600 },
      global: { points: 3, duration: 3600 },
    });
    expect(await takes(signups, '203.0.113.10', 3)).toEqual(['allowed', 'allowed', 'client']);
    // The client over its own limit did not touch the global count: one more client still fits.
    expect(scope(await signups.take('203.0.113.11'))).toBe('allowed');
    // Refused by the global rule, this client keeps its own allowance: refused again by the global
    // rule, never by its own (which a kept point would have used up).
    expect(await takes(signups, '203.0.113.12', 3)).toEqual(times(3, 'global'));
  });

  it('is atomic: 50 concurrent takes from one client on two instances allow exactly `points`', async () => {
    const [a, b] = pair({
      name: 'invite',
      perClient: { points: 10, duration: 3600 },
      global: { points: 15, duration: 3600 },
    });
    const results = await Promise.all(times(50, 0).map((_, i) => ((i % 2 ? a : b) as RateLimit).take('203.0.113.20')));
    expect(results.filter((d) => d.allowed)).toHaveLength(10);
    for (const d of results)
      if (!d.allowed) expect(d).toMatchObject({ scope: 'client', retryAfter: expect.any(Number) });
    // The 40 refused takes left the global count at 10: 5 more clients fit.
    for (let i = 1; i <= 5; i++) expect(scope(await (a as RateLimit).take(`198.51.100.${i}`))).toBe('allowed');
    expect(scope(await (b as RateLimit).take('198.51.100.6'))).toBe('global');
  });

  it('allows again once the duration has run out', async () => {
    const signups = make({ name: 'register', perClient: { points: 1, duration: 1 } });
    expect(await takes(signups, '203.0.113.30', 2)).toEqual(['allowed', 'client']);
    await pass(1);
    expect(scope(await signups.take('203.0.113.30'))).toBe('allowed');
  });

  it('keeps separate counts per action name', async () => {
    const register = make({ name: 'register', perClient: { points: 1, duration: 60 } });
    const reset = make({ name: 'reset-mail', perClient: { points: 1, duration: 60 } });
    expect(scope(await register.take('203.0.113.40'))).toBe('allowed');
    expect(scope(await reset.take('203.0.113.40'))).toBe('allowed');
  });
}

describe('rate limit in memory', () => {
  // Only Date is faked: the memory limiter reads it for expiry, so time can pass without waiting.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  rateLimitCases({
    make: (options) => createRateLimit(options),
    pair: (options) => {
      const limit = createRateLimit(options);
      return [limit, limit];
    },
    pass: async (seconds) => {
      vi.setSystemTime(Date.now() + seconds * 1000 + 10);
    },
  });

  it('validates its options and arguments', async () => {
    const rule = { points: 10, duration: 60 };
    expect(() => createRateLimit({ name: 'register' })).toThrow(ConfigurationError);
    expect(() => createRateLimit({ name: '', perClient: rule })).toThrow(ConfigurationError);
    expect(() => createRateLimit({ name: 'a:client', perClient: rule })).toThrow(ConfigurationError);
    expect(() => createRateLimit({ name: 'register', perClient: { points: 0, duration: 60 } })).toThrow(
      ConfigurationError,
    );
    expect(() => createRateLimit({ name: 'register', global: { points: 1, duration: 1.5 } })).toThrow(
      ConfigurationError,
    );
    expect(() => createRateLimit({ name: 'register', global: { points: 1, duration: 30 * 86_400 } })).toThrow(
      ConfigurationError,
    );
    expect(() => createRateLimit({ name: 'register', perClient: { points: 1 } as never })).toThrow(ConfigurationError);
    expect(() => createRateLimit({ name: 'register', perClient: rule, prefix: '' })).toThrow(ConfigurationError);
    expect(() => createRateLimit(undefined as never)).toThrow(ConfigurationError);
    expect(() => createRateLimit({ name: 'register', perClient: { points: 10, duration: 3_600_000 } })).toThrow(
      new ConfigurationError('perClient.duration is in seconds; 3600000 looks like milliseconds (use 3600)'),
    );
    expect(() => createRateLimit({ name: 'register', perClient: { points: 10, windowMs: 60_000 } as never })).toThrow(
      /createRateLimit: perClient got an unknown option "windowMs"; did you mean "duration"\?/,
    );
    expect(() => createRateLimit({ name: 'register', perClient: rule, perclient: rule } as never)).toThrow(
      /unknown option "perclient"; did you mean "perClient"\?/,
    );
    await expect(createRateLimit({ name: 'register', global: rule }).take('')).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

const hasRedis = await serviceAvailable('redis', 6379);

describe.runIf(hasRedis)('rate limit on Redis (shared by every instance)', () => {
  const client = new Redis(REDIS_URL);
  const second = new Redis(REDIS_URL);
  afterAll(async () => {
    await Promise.all([client.quit(), second.quit()]);
  });
  const prefix = () => `lk-test:rate:${randomBytes(4).toString('hex')}`;
  rateLimitCases({
    make: (options) => createRateLimit({ ...options, redis: client, prefix: prefix() }),
    pair: (options) => {
      const p = prefix();
      return [client, second].map((redis) => createRateLimit({ ...options, redis, prefix: p }));
    },
    pass: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 50)),
  });

  it('fails closed with StoreUnavailableError when Redis is unreachable', async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    const signups = createRateLimit({
      redis: dead,
      prefix: prefix(),
      name: 'register',
      perClient: { points: 10, duration: 3600 },
      global: { points: 500, duration: 3600 },
    });
    await expect(signups.take('192.0.2.1')).rejects.toBeInstanceOf(StoreUnavailableError);
    dead.disconnect();
  });
});

const hasPostgres = await serviceAvailable('postgres', 5432);

describe.runIf(hasPostgres)('rate limit on PostgreSQL (shared by every instance)', () => {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  const second = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  afterAll(async () => {
    await Promise.all([pool.end(), second.end()]);
  });
  const prefix = () => `lk-test:rate:${randomBytes(4).toString('hex')}`;
  rateLimitCases({
    make: (options) => createRateLimit({ ...options, postgres: pool, prefix: prefix() }),
    pair: (options) => {
      const p = prefix();
      return [pool, second].map((postgres) => createRateLimit({ ...options, postgres, prefix: p }));
    },
    pass: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 50)),
  });

  it('fails closed with StoreUnavailableError when PostgreSQL is unreachable', async () => {
    const dead = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 500 });
    const signups = createRateLimit({
      postgres: dead,
      prefix: prefix(),
      name: 'register',
      perClient: { points: 10, duration: 3600 },
    });
    await expect(signups.take('192.0.2.1')).rejects.toBeInstanceOf(StoreUnavailableError);
    await dead.end();
  });
});
