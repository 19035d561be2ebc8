/**
 * Access-token revocations shared between processes: every backend runs the same cases, with two
 * independent instances (two SQLite connections to one file, two Redis clients) standing for the
 * issuer and a verifier in another process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { REDIS_URL, serviceAvailable } from '../test/services.js';
import {
  type AccessTokenRevocations,
  createMemoryRevocations,
  createSharedRevocations,
  REVOCATION_RETENTION,
  type RevocationLog,
  type SharedRevocationsOptions,
} from './revocations.js';
import { createRedisRevocationLog, createRedisRevocations } from './revocations-redis.js';
import { createSqliteRevocationLog, createSqliteRevocations } from './revocations-sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-revocations-'));
const open: AccessTokenRevocations[] = [];
const redisClients: Redis[] = [];
afterAll(async () => {
  for (const r of open) await r.close();
  for (const c of redisClients) c.disconnect();
  rmSync(dir, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds until `done()` holds, polled every 5 ms, or Infinity after `limit`. */
async function within(done: () => boolean, limit = 3000): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < limit) {
    if (done()) return performance.now() - start;
    await sleep(5);
  }
  return Number.POSITIVE_INFINITY;
}

/** A log that can be broken (reads fail) or hung (reads never answer) on demand. */
function faulty(log: RevocationLog) {
  const state = { broken: false, hung: false };
  const wrapped: RevocationLog = {
    append: (e) => log.append(e),
    prune: (before) => log.prune(before),
    read(cursor, limit) {
      if (state.hung) return new Promise(() => {});
      if (state.broken) return Promise.reject(new Error('log down'));
      return log.read(cursor, limit);
    },
  };
  return { log: wrapped, state };
}

const token = (subject: string, issuedAt = Date.now()) => ({
  subject,
  jti: randomBytes(8).toString('hex'),
  issuedAt,
});

interface Backend {
  /** A new, independent connection to the same shared log each call. */
  connect(): RevocationLog;
}

/** `pushBound`: how fast a revocation must reach an instance that polls only every second. */
function cases(name: string, backend: () => Backend, pushBound?: number) {
  describe(name, () => {
    let current: Backend;
    const make = (options: SharedRevocationsOptions = {}, log?: RevocationLog) => {
      const r = createSharedRevocations(log ?? current.connect(), { pollInterval: 50, maxStaleness: 500, ...options });
      open.push(r);
      return r;
    };

    it('a revocation in one instance reaches another within the poll interval; later tokens still pass', async () => {
      current = backend();
      const issuer = make();
      const verifier = make();
      await Promise.all([issuer.ready(), verifier.ready()]);
      const subject = `u-${randomBytes(4).toString('hex')}`;
      const old = token(subject, Date.now() - 1000);
      const bystander = token(`${subject}-other`, Date.now() - 1000);
      expect(verifier.check(old)).toBe('valid');
      const notBefore = await issuer.revokeSubject(subject);
      expect(issuer.check(old)).toBe('revoked'); // the writer at once
      const delay = await within(() => verifier.check(old) === 'revoked');
      expect(delay).toBeLessThan(500);
      expect(verifier.notBefore(subject)).toBe(notBefore);
      expect(verifier.check({ ...old, issuedAt: notBefore })).toBe('valid'); // minted at or after it
      expect(verifier.check({ ...old, issuedAt: notBefore - 1 })).toBe('revoked');
      expect(verifier.check(bystander)).toBe('valid');
      const one = token('someone');
      await issuer.revokeToken(one.jti);
      expect(await within(() => verifier.check(one) === 'revoked')).toBeLessThan(500);
      expect(verifier.check(token('someone'))).toBe('valid');
    });

    it('a new instance loads the last hour, page by page; entries past the retention are ignored', async () => {
      current = backend();
      const writer = current.connect();
      const subject = `cold-${randomBytes(4).toString('hex')}`;
      await writer.append({ kind: 'subject', key: `${subject}-ancient`, at: Date.now() - REVOCATION_RETENTION - 1000 });
      for (let i = 0; i < 1500; i++) await writer.append({ kind: 'token', key: `${subject}-${i}`, at: Date.now() });
      await writer.append({ kind: 'subject', key: subject, at: Date.now() });
      const late = make();
      await late.ready();
      expect(late.check({ subject: 'x', jti: `${subject}-0`, issuedAt: 0 })).toBe('revoked');
      expect(late.check({ subject: 'x', jti: `${subject}-1499`, issuedAt: 0 })).toBe('revoked');
      expect(late.check(token(subject, Date.now() - 5000))).toBe('revoked');
      expect(late.check(token(`${subject}-ancient`, 0))).toBe('valid');
      expect(late.notBefore(`${subject}-ancient`)).toBeUndefined();
    });

    it('pruning the log, even of its newest entry, never makes a reader miss a later one', async () => {
      current = backend();
      const writer = current.connect();
      const reader = make();
      await reader.ready();
      const a = token(`p-${randomBytes(4).toString('hex')}`);
      await writer.append({ kind: 'token', key: a.jti, at: Date.now() });
      expect(await within(() => reader.check(a) === 'revoked')).toBeLessThan(500);
      await writer.prune(Date.now() + 60_000); // everything, the newest included
      const b = token('p');
      await writer.append({ kind: 'token', key: b.jti, at: Date.now() });
      expect(await within(() => reader.check(b) === 'revoked')).toBeLessThan(500);
    });

    it('fails closed: a log that cannot be read (or hangs) for maxStaleness refuses every token, then recovers', async () => {
      current = backend();
      const { log, state } = faulty(current.connect());
      const verifier = make({ pollInterval: 20, maxStaleness: 200 }, log);
      await verifier.ready();
      const t = token('u-stale');
      expect(verifier.check(t)).toBe('valid');
      state.broken = true;
      const refusedAfter = await within(() => verifier.check(t) === 'unavailable');
      expect(refusedAfter).toBeLessThan(400);
      expect(verifier.available()).toBe(false);
      state.broken = false;
      expect(await within(() => verifier.check(t) === 'valid')).toBeLessThan(300);
      state.hung = true;
      expect(await within(() => verifier.check(t) === 'unavailable')).toBeLessThan(400);
      state.hung = false; // the hung read times out, the next one succeeds
      expect(await within(() => verifier.check(t) === 'valid', 3000)).toBeLessThan(3000);
    });

    it('is unavailable until the first read; ready() rejects when no read succeeds in time', async () => {
      current = backend();
      const { log, state } = faulty(current.connect());
      state.broken = true;
      const never = make({ pollInterval: 20, maxStaleness: 100 }, log);
      expect(never.check(token('u'))).toBe('unavailable');
      await expect(never.ready()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      state.broken = false;
      await never.ready();
      expect(never.check(token('u'))).toBe('valid');
    });

    // Only logs with a push channel (Redis) have this promise; the test exists only for them.
    if (pushBound !== undefined)
      it('announces appends: a reader polling every second learns at once', async () => {
        current = backend();
        const issuer = make({ pollInterval: 1000, maxStaleness: 5000 });
        const verifier = make({ pollInterval: 1000, maxStaleness: 5000 });
        await Promise.all([issuer.ready(), verifier.ready()]);
        await sleep(100); // the subscription is made after the first connect
        const delays: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t = token(`push-${randomBytes(4).toString('hex')}`, Date.now() - 1000);
          const start = performance.now();
          await issuer.revokeSubject(t.subject);
          await within(() => verifier.check(t) === 'revoked');
          delays.push(performance.now() - start);
        }
        console.log(
          `${name}: revocation seen by a second-polling reader after ${delays.map(Math.round).join(', ')} ms`,
        );
        expect(Math.max(...delays)).toBeLessThan(pushBound as number);
      });
  });
}

let files = 0;
cases('revocations in SQLite (one file, two connections)', () => {
  const file = join(dir, `revocations-${files++}.db`);
  const first = new Database(file);
  first.pragma('journal_mode = WAL');
  first.close();
  return {
    connect() {
      const db = new Database(file);
      db.pragma('busy_timeout = 2000');
      return createSqliteRevocationLog(db);
    },
  };
});

const hasRedis = await serviceAvailable('redis', 6379);
describe.runIf(hasRedis)('on the shared Redis server', () => {
  cases(
    'revocations in Redis (one stream, two clients)',
    () => {
      const key = `lk-test:revocations:${randomBytes(4).toString('hex')}`;
      return {
        connect() {
          const client = new Redis(REDIS_URL);
          redisClients.push(client);
          return createRedisRevocationLog(client, { key });
        },
      };
    },
    200,
  );

  it('trims the stream to the retention (by the server’s clock) as it grows', async () => {
    const client = new Redis(REDIS_URL);
    redisClients.push(client);
    const key = `lk-test:revocations:${randomBytes(4).toString('hex')}`;
    const log = createRedisRevocationLog(client, { key });
    for (let i = 1; i <= 300; i++) await client.xadd(key, `1000-${i}`, 'kind', 'token', 'key', `old${i}`, 'at', '1000');
    await log.append({ kind: 'token', key: 'new', at: Date.now() });
    expect(await client.xlen(key)).toBeLessThan(150); // approximate: whole nodes go
    expect((await log.read(null, 1000)).entries.at(-1)).toMatchObject({ key: 'new' });
    await log.prune(Date.now() - 60_000);
    expect(await client.xlen(key)).toBe(1);
    await client.del(key);
  });

  it('createRedisRevocations wires log and snapshot', async () => {
    const client = new Redis(REDIS_URL);
    redisClients.push(client);
    const key = `lk-test:revocations:${randomBytes(4).toString('hex')}`;
    const revocations = createRedisRevocations(client, { key });
    open.push(revocations);
    await revocations.ready();
    const t = token('wired', Date.now() - 1000);
    await revocations.revokeSubject('wired');
    expect(revocations.check(t)).toBe('revoked');
    await client.del(key);
  });
});

describe('in memory', () => {
  it('revokes at once in this process, prunes after the retention, and is always available', async () => {
    let clock = 1_800_000_000_000;
    const revocations = createMemoryRevocations(() => clock);
    const t = token('m', clock - 1);
    await revocations.revokeToken('jti-1');
    expect(await revocations.revokeSubject('m')).toBe(clock);
    expect(revocations.check(t)).toBe('revoked');
    expect(revocations.check({ subject: 'x', jti: 'jti-1', issuedAt: clock })).toBe('revoked');
    expect(revocations.available()).toBe(true);
    clock += REVOCATION_RETENTION + 61_000;
    await revocations.revokeToken('jti-2'); // prunes on write
    expect(revocations.check({ subject: 'x', jti: 'jti-1', issuedAt: clock })).toBe('valid');
    expect(revocations.notBefore('m')).toBeUndefined();
    await expect(revocations.revokeSubject('')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

it('refuses intervals that break the bound', () => {
  const log = createMemoryLog();
  expect(() => createSharedRevocations(log, { pollInterval: 5000 })).toThrow(ConfigurationError);
  expect(() => createSharedRevocations(log, { pollInterval: 500, maxStaleness: 600 })).toThrow(
    'maxStaleness must be a whole number of milliseconds from 1000 to 60000; got 600',
  );
  expect(() => createSharedRevocations(log, { maxStaleness: 120_000 })).toThrow(ConfigurationError);
  expect(() => createSharedRevocations(log, { maxStaleness: 5 })).toThrow(
    'maxStaleness is in milliseconds; 5 looks like seconds (use 5000)',
  );
});

it('checks what it is given at construction, and each error names the fix', () => {
  expect(() => createSharedRevocations({} as never)).toThrow(
    /needs a RevocationLog \(an object lacks append, read, prune\): pass createSqliteRevocationLog\(db\)/,
  );
  expect(() => createSharedRevocations(createMemoryLog(), { interval: 100 } as never)).toThrow(
    /unknown option "interval"/,
  );
  const db = new Database(':memory:');
  // Each backend takes its own options and the shared ones, and nothing else.
  const shared = createSqliteRevocations(db, { table: 'revoked', pollInterval: 100 });
  open.push(shared);
  expect(() => createSqliteRevocations(db, { tabel: 'x' } as never)).toThrow(
    /unknown option "tabel"; did you mean "table"/,
  );
  expect(() => createSqliteRevocationLog(db, { table: 'x; DROP TABLE y' })).toThrow(/table must be a plain identifier/);
  expect(() => createSqliteRevocations('data/revocations.db' as never)).toThrow(
    /createSqliteRevocationLog takes an open better-sqlite3 Database, not a file name/,
  );
  expect(() => createRedisRevocations({} as never)).toThrow(
    /createRedisRevocationLog takes an ioredis client \(got an object\): createRedisRevocationLog\(new Redis\(url\)\)/,
  );
  expect(() => createRedisRevocationLog(new Redis({ lazyConnect: true }), { timeoutMs: 0 })).toThrow(
    /timeoutMs must be a whole number of milliseconds from 1 to 60000/,
  );
});

function createMemoryLog(): RevocationLog {
  return {
    append: async () => {},
    read: async (cursor) => ({ entries: [], cursor }),
    prune: async () => 0,
  };
}
