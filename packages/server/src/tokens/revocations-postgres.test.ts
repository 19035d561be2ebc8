/**
 * Access-token revocations in PostgreSQL on the real server, with separate pools standing for the
 * issuer and verifiers in other processes: a revocation reaches another process within the poll
 * interval (at once with LISTEN/NOTIFY), a reader's cursor never skips an append that commits late,
 * a database that cannot be read fails closed, and the options are checked at construction.
 * Locally it skips without a server on 127.0.0.1:5432; under CI=true it fails.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import type { PgQueryable } from '../stores/postgres.js';
import { POSTGRES_URL, serviceAvailable } from '../test/services.js';
import {
  type AccessTokenRevocations,
  REVOCATION_RETENTION,
  type RevocationLog,
  type SharedRevocationsOptions,
} from './revocations.js';
import {
  createPostgresRevocationLog,
  createPostgresRevocations,
  dropPostgresRevocationSchema,
  POSTGRES_REVOCATION_SCHEMA_VERSION,
  type PostgresRevocationLogOptions,
} from './revocations-postgres.js';

const hasPostgres = await serviceAvailable('postgres', 5432);
/** One run of this file: its tables never meet another file's, and go at the end. */
const run = randomBytes(3).toString('hex');
let made = 0;
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
const token = (subject: string, issuedAt = Date.now()) => ({
  subject,
  jti: randomBytes(8).toString('hex'),
  issuedAt,
});

describe.runIf(hasPostgres)('revocations in PostgreSQL', () => {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  const pools: pg.Pool[] = [];
  const prefixes: string[] = [];
  const open: AccessTokenRevocations[] = [];
  afterAll(async () => {
    // Revocations first: a pool ends only once the connections it lent are back.
    for (const r of open) await r.close();
    for (const p of prefixes) await dropPostgresRevocationSchema(admin, p);
    await Promise.all(pools.map((p) => (p.ended ? undefined : p.end())));
    await admin.end();
  });
  /** A pool of its own: another process, as far as the server can tell. */
  const pool = (config: pg.PoolConfig = {}) => {
    const p = new pg.Pool({ connectionString: POSTGRES_URL, max: 4, ...config });
    pools.push(p);
    return p;
  };
  const newPrefix = () => {
    const p = `lk_rv_${run}_${made++}_`;
    prefixes.push(p);
    return p;
  };
  /** Revocations over a pool of their own, polling every 50 ms unless told otherwise. */
  const instance = (
    tablePrefix: string,
    options: PostgresRevocationLogOptions & SharedRevocationsOptions = {},
    db: PgQueryable = pool(),
  ) => {
    const r = createPostgresRevocations(db, { tablePrefix, pollInterval: 50, maxStaleness: 500, ...options });
    open.push(r);
    return r;
  };

  it('a revocation in one process reaches another within the poll interval; later tokens still pass', async () => {
    const tablePrefix = newPrefix();
    const issuer = instance(tablePrefix);
    const verifier = instance(tablePrefix);
    await Promise.all([issuer.ready(), verifier.ready()]);
    const one = token('someone', Date.now() - 1000);
    expect(verifier.check(one)).toBe('valid');
    await issuer.revokeToken(one.jti);
    expect(issuer.check(one)).toBe('revoked'); // the writer at once
    expect(await within(() => verifier.check(one) === 'revoked')).toBeLessThan(500);
    expect(verifier.check(token('someone'))).toBe('valid');
  });

  it("a subject's not-before reaches the other process to the millisecond", async () => {
    const tablePrefix = newPrefix();
    const issuer = instance(tablePrefix);
    const verifier = instance(tablePrefix);
    await Promise.all([issuer.ready(), verifier.ready()]);
    const subject = `u-${randomBytes(4).toString('hex')}`;
    const old = token(subject, Date.now() - 1000);
    const bystander = token(`${subject}-other`, Date.now() - 1000);
    const notBefore = await issuer.revokeSubject(subject);
    expect(await within(() => verifier.check(old) === 'revoked')).toBeLessThan(500);
    expect(verifier.notBefore(subject)).toBe(notBefore);
    expect(verifier.check({ ...old, issuedAt: notBefore })).toBe('valid'); // minted at or after it
    expect(verifier.check({ ...old, issuedAt: notBefore - 1 })).toBe('revoked');
    expect(verifier.check(bystander)).toBe('valid');
  });

  it('with a listener, a reader polling every second learns of an append at once', async () => {
    const tablePrefix = newPrefix();
    const listener = () => new pg.Client({ connectionString: POSTGRES_URL });
    const issuer = instance(tablePrefix, { pollInterval: 1000, maxStaleness: 5000 });
    const verifier = instance(tablePrefix, { pollInterval: 1000, maxStaleness: 5000, listener });
    await Promise.all([issuer.ready(), verifier.ready()]);
    await sleep(200); // the LISTEN connection is opened beside the first read
    for (let i = 0; i < 3; i++) {
      const t = token(`push-${randomBytes(4).toString('hex')}`, Date.now() - 1000);
      await issuer.revokeSubject(t.subject);
      expect(await within(() => verifier.check(t) === 'revoked')).toBeLessThan(300);
    }
  });

  it('a reader never skips an append that committed after a later one (seq drawn before commit)', async () => {
    const tablePrefix = newPrefix();
    const reader = createPostgresRevocationLog(pool(), { tablePrefix });
    expect(await reader.read(null, 10)).toEqual({ entries: [], cursor: null }); // creates the table
    // A process whose append commits late (a slow network, a stalled server): its transaction is
    // held open after the append ran, until `release`.
    const client = await pool().connect();
    let release: () => void = () => {};
    let committed = Promise.resolve();
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: PgQueryable = {
      async query(text, params) {
        if (!text.startsWith(`SELECT ${tablePrefix}append_revocation(`)) return client.query(text, params);
        const work = (async () => {
          await client.query('BEGIN');
          const result = await client.query(text, params);
          await held;
          await client.query('COMMIT');
          return result;
        })();
        committed = work.then(
          () => {},
          () => {},
        );
        return work;
      },
    };
    const late = createPostgresRevocationLog(slow, { tablePrefix });
    const fast = createPostgresRevocationLog(pool(), { tablePrefix });
    const first = late.append({ kind: 'token', key: 'first', at: Date.now() });
    try {
      await sleep(100); // `first` has drawn its seq and waits to commit
      const second = fast.append({ kind: 'token', key: 'second', at: Date.now() });
      await sleep(100);
      // Without the lock `second` would have committed by now with the higher seq, and this read
      // would move the cursor past `first` for good.
      const early = await reader.read(null, 10);
      expect(early.entries).toEqual([]);
      release();
      await Promise.all([first, second]);
      const after = await reader.read(early.cursor, 10);
      expect(after.entries.map((e) => e.key)).toEqual(['first', 'second']);
    } finally {
      // On failure too: an open transaction would hold the table, and dropping it would wait forever.
      release();
      await committed;
      client.release();
    }
  });

  it('under many concurrent appends from several pools, a polling reader sees every entry once, in order', async () => {
    const tablePrefix = newPrefix();
    const reader = createPostgresRevocationLog(pool(), { tablePrefix });
    await reader.read(null, 1);
    const writers = Array.from({ length: 4 }, () => createPostgresRevocationLog(pool({ max: 6 }), { tablePrefix }));
    const total = 400;
    const seen: string[] = [];
    let cursor: string | null = null;
    let writing = true;
    const polling = (async () => {
      // Small pages, read as fast as possible while the writers race: any skip shows as a missing key.
      for (;;) {
        const done = !writing;
        const page: Awaited<ReturnType<RevocationLog['read']>> = await reader.read(cursor, 7);
        for (const e of page.entries) seen.push(e.key);
        cursor = page.cursor;
        if (done && page.entries.length === 0) return;
      }
    })();
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        (writers[i % writers.length] as RevocationLog).append({ kind: 'token', key: `k${i}`, at: Date.now() }),
      ),
    );
    writing = false;
    await polling;
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    const { rows } = await admin.query(`SELECT key FROM ${tablePrefix}revocations ORDER BY seq`);
    expect(seen).toEqual(rows.map((r) => r.key));
  });

  it('pages follow the log in seq order, also from 9 to 10 and 99 to 100 (a number, not text)', async () => {
    const tablePrefix = newPrefix();
    const log = createPostgresRevocationLog(pool(), { tablePrefix });
    for (let i = 0; i < 120; i++) await log.append({ kind: 'token', key: `k${i}`, at: Date.now() });
    const keys: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page: Awaited<ReturnType<RevocationLog['read']>> = await log.read(cursor, 4);
      keys.push(...page.entries.map((e) => e.key));
      cursor = page.cursor;
      if (page.entries.length < 4) break;
    }
    expect(keys).toEqual(Array.from({ length: 120 }, (_, i) => `k${i}`));
  });

  it('a new process loads the last hour, page by page; pruning even the newest entry skips nothing later', async () => {
    const tablePrefix = newPrefix();
    const writer = createPostgresRevocationLog(pool(), { tablePrefix });
    const subject = `cold-${randomBytes(4).toString('hex')}`;
    await writer.append({ kind: 'subject', key: `${subject}-ancient`, at: Date.now() - REVOCATION_RETENTION - 1000 });
    await admin.query(
      `SELECT ${tablePrefix}append_revocation('token', $1 || '-' || i, $2) FROM generate_series(0, 1499) i`,
      [subject, Date.now()],
    );
    await writer.append({ kind: 'subject', key: subject, at: Date.now() });
    const late = instance(tablePrefix);
    await late.ready();
    expect(late.check({ subject: 'x', jti: `${subject}-0`, issuedAt: 0 })).toBe('revoked');
    expect(late.check({ subject: 'x', jti: `${subject}-1499`, issuedAt: 0 })).toBe('revoked');
    expect(late.check(token(subject, Date.now() - 5000))).toBe('revoked');
    expect(late.check(token(`${subject}-ancient`, 0))).toBe('valid');
    expect(await writer.prune(Date.now() + 60_000)).toBe(1502); // everything, the newest included
    const b = token('p');
    await writer.append({ kind: 'token', key: b.jti, at: Date.now() });
    expect(await within(() => late.check(b) === 'revoked')).toBeLessThan(500);
  });

  it('fails closed when the database cannot be reached: unavailable after maxStaleness, then recovers', async () => {
    const tablePrefix = newPrefix();
    const good = pool();
    const down = pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 200 });
    let target: PgQueryable = good;
    const switchable: PgQueryable = { query: (text, params) => target.query(text, params) };
    const verifier = instance(tablePrefix, { pollInterval: 20, maxStaleness: 200 }, switchable);
    await verifier.ready();
    const t = token('u-stale');
    expect(verifier.check(t)).toBe('valid');
    expect(verifier.available()).toBe(true);
    target = down;
    expect(await within(() => verifier.check(t) === 'unavailable')).toBeLessThan(600);
    expect(verifier.available()).toBe(false);
    target = good;
    expect(await within(() => verifier.check(t) === 'valid')).toBeLessThan(600);

    // Never reachable: unavailable from the start, ready() rejects, revoking rejects.
    const errors: unknown[] = [];
    const never = instance(newPrefix(), { pollInterval: 20, maxStaleness: 100, onError: (e) => errors.push(e) }, down);
    expect(never.check(t)).toBe('unavailable');
    expect(never.available()).toBe(false);
    await expect(never.ready()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(never.revokeToken('j')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(errors[0]).toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('migrates once when several processes start together, records the version, refuses a newer one', async () => {
    const tablePrefix = newPrefix();
    const logs = Array.from({ length: 4 }, () => createPostgresRevocationLog(pool(), { tablePrefix }));
    await Promise.all(logs.map((log) => log.read(null, 1)));
    const { rows } = await admin.query(`SELECT version FROM ${tablePrefix}schema_version`);
    expect(rows).toEqual([{ version: POSTGRES_REVOCATION_SCHEMA_VERSION }]);
    await admin.query(`INSERT INTO ${tablePrefix}schema_version (version) VALUES (99)`);
    const error = await createPostgresRevocationLog(admin, { tablePrefix })
      .read(null, 1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/revocation schema version 99, newer than this latchkey writes \(1\)/);
  });

  it('when its LISTEN connection is cut, it opens another and hears appends again', async () => {
    const tablePrefix = newPrefix();
    const name = `lk_cut_${run}`;
    const listener = () => new pg.Client({ connectionString: POSTGRES_URL, application_name: name });
    const issuer = instance(tablePrefix, { pollInterval: 1000, maxStaleness: 5000 });
    const verifier = instance(tablePrefix, { pollInterval: 1000, maxStaleness: 5000, listener });
    await Promise.all([issuer.ready(), verifier.ready()]);
    const cut = async () =>
      Number(
        (
          await admin.query(
            'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
            [name],
          )
        ).rows[0]?.n,
      );
    for (let i = 0; i < 100 && (await cut()) === 0; i++) await sleep(20); // cut it once it is up
    await sleep(500); // reconnected after 100 ms
    for (let i = 0; i < 3; i++) {
      // Faster than the one-second poll, three times: only the new connection explains it.
      const t = token(`cut-${randomBytes(4).toString('hex')}`, Date.now() - 1000);
      await issuer.revokeSubject(t.subject);
      expect(await within(() => verifier.check(t) === 'revoked')).toBeLessThan(300);
    }
  });

  it('close() ends the LISTEN connection, so the pool can end', async () => {
    const tablePrefix = newPrefix();
    const name = `lk_listen_${run}`;
    const listener = () => new pg.Client({ connectionString: POSTGRES_URL, application_name: name });
    const p = pool();
    const r = createPostgresRevocations(p, { tablePrefix, listener });
    await r.ready();
    const listening = async () =>
      Number(
        (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]))
          .rows[0]?.n,
      );
    for (let i = 0; i < 100 && (await listening()) === 0; i++) await sleep(20); // it connects beside the first read
    expect(await listening()).toBe(1);
    await r.close();
    await p.end();
    expect(await listening()).toBe(0);
  });
});

describe('postgres revocation arguments, checked at construction', () => {
  const queryable: PgQueryable = { query: () => Promise.reject(new Error('no query may run')) };
  it('refuses a connection string (unquoted), a bad prefix, unknown options, a bad listener and bad intervals', () => {
    const url = 'postgres://app:s3cret-pw@db.example/app';
    expect(() => createPostgresRevocations(url as never)).toThrow(ConfigurationError);
    expect(() => createPostgresRevocations(url as never)).toThrow(
      'createPostgresRevocationLog takes a pg Pool, pg Client or PGlite, not a connection string: createPostgresRevocationLog(new pg.Pool({ connectionString: process.env.DATABASE_URL }))',
    );
    expect(() => createPostgresRevocationLog(queryable, { tablePrefix: 'x; DROP TABLE y' })).toThrow(
      /tablePrefix must be letters, digits and _ only, not starting with a digit/,
    );
    expect(() => createPostgresRevocations(queryable, { tablePrefx: 'x' } as never)).toThrow(
      /unknown option "tablePrefx"; did you mean "tablePrefix"/,
    );
    expect(() => createPostgresRevocationLog(queryable, { pollInterval: 100 } as never)).toThrow(
      /unknown option "pollInterval"/,
    );
    expect(() => createPostgresRevocationLog(queryable, { listener: new pg.Client() as never })).toThrow(
      /listener must be a function that returns a new, unconnected pg.Client/,
    );
    expect(() => createPostgresRevocations(queryable, { pollInterval: 5000 })).toThrow(ConfigurationError);
    expect(() => createPostgresRevocations(queryable, { timeoutMs: 2 })).toThrow(/looks like seconds/);
  });
});
