import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import { REDIS_URL, serviceAvailable } from '../test/services.js';
import { clientKey, createLoginThrottle, type LoginThrottle, type ThrottleDecision } from './throttle.js';

const retry = (d: ThrottleDecision) => (d.allowed ? 0 : d.retryAfter);

/** The same attack, run against a throttle on any backend. */
function throttleCases(make: (options?: Parameters<typeof createLoginThrottle>[0]) => LoginThrottle) {
  it('gives 5 free failures, then a back-off that doubles per failure, up to the cap (P4)', async () => {
    const t = make({ maxDelay: 8 });
    for (let i = 0; i < 5; i++) {
      expect((await t.check('alice', '203.0.113.9')).allowed).toBe(true);
      await t.failure('alice', '203.0.113.9');
    }
    expect((await t.check('alice', '203.0.113.9')).allowed).toBe(true);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await t.failure('alice', '203.0.113.9');
      const d = await t.check('alice', '203.0.113.9');
      expect(d).toMatchObject({ allowed: false, scope: 'account' });
      waits.push(retry(d));
    }
    expect(waits).toEqual([1, 2, 4, 8, 8]);
  });

  it('counts guesses spread over many addresses against the account', async () => {
    const t = make();
    for (let i = 0; i < 7; i++) await t.failure('bob', `198.51.100.${i + 1}`);
    // A fresh address that never tried before is slowed too: the count is per account.
    const d = await t.check('bob', '192.0.2.77');
    expect(d).toMatchObject({ allowed: false, scope: 'account' });
    expect(retry(d)).toBe(2);
    // Usernames differing only in case or Unicode form are one account.
    expect((await t.check('BOB', '192.0.2.78')).allowed).toBe(false);
    expect((await t.check('carol', '192.0.2.77')).allowed).toBe(true);
  });

  it('does not slow the real user on an address they logged in from before', async () => {
    const t = make();
    await t.success('dana', '192.0.2.10'); // the user's usual address
    for (let i = 0; i < 30; i++) await t.failure('dana', `198.51.100.${i + 1}`); // the spray
    expect((await t.check('dana', '198.51.100.200')).allowed).toBe(false);
    expect(await t.check('dana', '192.0.2.10')).toEqual({ allowed: true });
    // The user's own mistakes from that address still count, in their own bucket.
    for (let i = 0; i < 6; i++) await t.failure('dana', '192.0.2.10');
    expect((await t.check('dana', '192.0.2.10')).allowed).toBe(false);
    await t.success('dana', '192.0.2.10');
    expect(await t.check('dana', '192.0.2.10')).toEqual({ allowed: true });
    expect((await t.check('dana', '198.51.100.200')).allowed).toBe(false); // the spray's count stays
  });

  it('refuses a client address that failed too often, whatever account it tries', async () => {
    const t = make({ clientFailures: 10 });
    for (let i = 0; i < 10; i++) await t.failure(`user${i}`, '203.0.113.50');
    const d = await t.check('someone-new', '203.0.113.50');
    expect(d).toMatchObject({ allowed: false, scope: 'client' });
    expect(retry(d)).toBeGreaterThan(3500);
    expect((await t.check('someone-new', '203.0.113.51')).allowed).toBe(true);
  });

  it('groups IPv6 clients by /64, so rotating the low bits does not escape', async () => {
    const t = make({ clientFailures: 5 });
    for (let i = 1; i <= 5; i++) await t.failure(`v6user${i}`, `2001:db8:1:2::${i.toString(16)}`);
    expect((await t.check('other', '2001:db8:1:2:ffff::1')).allowed).toBe(false);
    expect((await t.check('other', '2001:db8:1:3::1')).allowed).toBe(true);
  });

  it('lets an attempt through again once the back-off has run out', async () => {
    const t = make({ freeFailures: 1, maxDelay: 1 });
    await t.failure('erin', '203.0.113.7');
    await t.failure('erin', '203.0.113.7');
    expect((await t.check('erin', '203.0.113.7')).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await t.check('erin', '203.0.113.7')).allowed).toBe(true);
  });
}

describe('login throttle in memory', () => {
  throttleCases((options) => createLoginThrottle(options));

  it('validates its options', () => {
    expect(() => createLoginThrottle({ freeFailures: 0 })).toThrow(ConfigurationError);
    expect(() => createLoginThrottle({ maxDelay: 1.5 })).toThrow(ConfigurationError);
  });

  it('keys clients: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('2001:DB8:0:0:1::5')).toBe('2001:db8:0:0::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });
});

const hasRedis = await serviceAvailable('redis', 6379);

describe.runIf(hasRedis)('login throttle on Redis (shared by every instance)', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());
  const prefix = () => `lk-test:throttle:${randomBytes(4).toString('hex')}`;
  throttleCases((options) => createLoginThrottle({ ...options, redis: client, prefix: prefix() }));

  it('shares counts between two instances', async () => {
    const p = prefix();
    const a = createLoginThrottle({ redis: client, prefix: p });
    const b = createLoginThrottle({ redis: client, prefix: p });
    for (let i = 0; i < 6; i++) await (i % 2 ? a : b).failure('frank', `198.51.100.${i}`);
    expect((await a.check('frank', '192.0.2.1')).allowed).toBe(false);
    expect((await b.check('frank', '192.0.2.1')).allowed).toBe(false);
    const keys = await client.keys(`${p}*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toContain('frank'); // names are hashed
  });

  it('fails closed with StoreUnavailableError when Redis is unreachable', async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    const t = createLoginThrottle({ redis: dead, prefix: prefix() });
    await expect(t.check('gina', '192.0.2.1')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(t.failure('gina', '192.0.2.1')).rejects.toBeInstanceOf(StoreUnavailableError);
    dead.disconnect();
  });
});
