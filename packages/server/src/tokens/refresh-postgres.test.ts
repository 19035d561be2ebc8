/**
 * The PostgreSQL refresh store on the real server: the conformance suite with a second pool standing
 * for another instance, then rotations raced from two pools (two processes), also under
 * SERIALIZABLE; then migration, what the tables reveal, a stopped server, and on PGlite; then its
 * arguments. Locally it skips without a server on 127.0.0.1:5432; under CI=true it fails.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import type { PgQueryable } from '../stores/postgres.js';
import { postgresIsolated } from '../test/postgres-isolated.js';
import { POSTGRES_URL, serviceAvailable } from '../test/services.js';
import { runRefreshStoreConformance } from './conformance.js';
import { createRefreshTokens } from './refresh.js';
import {
  createPostgresRefreshStore,
  dropPostgresRefreshSchema,
  POSTGRES_REFRESH_SCHEMA_VERSION,
} from './refresh-postgres.js';
import type { RefreshFamily, RefreshRecord, RefreshStore } from './refresh-store.js';

const hasPostgres = await serviceAvailable('postgres', 5432);
/** One run of this file: its tables never meet another file's, and go at the end. */
const run = randomBytes(3).toString('hex');
let made = 0;
const newPrefix = () => `lk_rt_${run}_${made++}_`;
const newId = () => randomBytes(16).toString('base64url');
const T0 = 1_800_000_000_000;
const DAY = 86_400_000;

function sample(): { family: RefreshFamily; first: RefreshRecord } {
  const family: RefreshFamily = {
    id: newId(),
    userId: `user-${randomBytes(4).toString('hex')}`,
    createdAt: T0,
    lastUsedAt: T0,
    expiresAt: T0 + 30 * DAY,
    revokedAt: null,
  };
  return { family, first: successorOf(family, T0) };
}
function successorOf(family: RefreshFamily, createdAt: number): RefreshRecord {
  return {
    id: newId(),
    familyId: family.id,
    userId: family.userId,
    secretHash: randomBytes(32).toString('base64url'),
    createdAt,
    expiresAt: createdAt + 14 * DAY,
    usedAt: null,
    successorSealed: null,
  };
}

describe.runIf(hasPostgres)('postgres refresh store', () => {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  const pools: pg.Pool[] = [];
  const prefixes: string[] = [];
  /** A pool of its own (another process, as far as the server can tell), ended after the file. */
  const pool = (config: pg.PoolConfig = {}) => {
    const p = new pg.Pool({ connectionString: POSTGRES_URL, max: 4, ...config });
    pools.push(p);
    return p;
  };
  const prefix = () => {
    const p = newPrefix();
    prefixes.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of prefixes) await dropPostgresRefreshSchema(admin, p);
    await Promise.all(pools.map((p) => (p.ended ? undefined : p.end())));
    await admin.end();
  });

  runRefreshStoreConformance({
    name: 'postgres (two pg.Pools)',
    ...postgresIsolated(
      admin,
      (db, tablePrefix) => createPostgresRefreshStore(db, { tablePrefix }),
      dropPostgresRefreshSchema,
    ),
    describe,
    it,
    beforeEach,
    afterEach,
  });

  /** Creates `families` families on `a`, then rotates each first token `racers` times at once, alternating between `a` and `b`. */
  async function race(a: RefreshStore, b: RefreshStore, families: number, racers: number) {
    const chains = Array.from({ length: families }, sample);
    for (const { family, first } of chains) await a.createFamily(family, first);
    const attempts = chains.flatMap(({ family, first }) =>
      Array.from({ length: racers }, (_, i) => ({
        first,
        successor: successorOf(family, T0 + 1000 + i),
        sealed: randomBytes(40).toString('base64url'),
        on: i % 2 === 0 ? a : b,
      })),
    );
    const outcomes = await Promise.all(
      attempts.map((x) => x.on.rotate(x.first.id, x.successor.createdAt, x.sealed, x.successor)),
    );
    for (const { family, first } of chains) {
      const mine = attempts.flatMap((x, i) => (x.first === first ? [{ ...x, outcome: outcomes[i] }] : []));
      const winners = mine.filter((x) => x.outcome === 'rotated');
      expect(winners).toHaveLength(1);
      expect(mine.filter((x) => x.outcome === 'spent')).toHaveLength(racers - 1);
      const winner = winners[0] as (typeof mine)[number];
      expect(await b.heads(family.id)).toEqual([winner.successor]);
      expect(await a.get(first.id)).toEqual({
        record: { ...first, usedAt: winner.successor.createdAt, successorSealed: winner.sealed },
        family: { ...family, lastUsedAt: winner.successor.createdAt },
      });
      for (const loser of mine) if (loser !== winner) expect(await a.get(loser.successor.id)).toBeNull();
    }
  }

  it('rotations of one token raced from two pools (two processes): exactly one wins, per token', async () => {
    const tablePrefix = prefix();
    const a = await createPostgresRefreshStore(pool(), { tablePrefix });
    const b = await createPostgresRefreshStore(pool(), { tablePrefix });
    await race(a, b, 12, 8);
  });

  it('under SERIALIZABLE the losers of a race resolve spent too, not an error', async () => {
    const tablePrefix = prefix();
    const serializable = { options: '-c default_transaction_isolation=serializable' };
    const a = await createPostgresRefreshStore(pool(serializable), { tablePrefix });
    const b = await createPostgresRefreshStore(pool(serializable), { tablePrefix });
    await race(a, b, 6, 6);
  });

  it('concurrent refreshes through createRefreshTokens in two processes hand out one successor', async () => {
    const tablePrefix = prefix();
    const here = createRefreshTokens({ store: await createPostgresRefreshStore(pool(), { tablePrefix }) });
    const there = createRefreshTokens({ store: await createPostgresRefreshStore(pool(), { tablePrefix }) });
    const first = await here.issue('user-race');
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => (i % 2 ? here : there).rotate(first.token)));
    expect(new Set(results.map((r) => (r.ok ? r.token : r.reason))).size).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it('migrates once when several instances start together, records the version, refuses a newer one', async () => {
    const tablePrefix = prefix();
    await Promise.all(Array.from({ length: 4 }, () => createPostgresRefreshStore(pool(), { tablePrefix })));
    const { rows } = await admin.query(`SELECT version FROM ${tablePrefix}schema_version`);
    expect(rows).toEqual([{ version: POSTGRES_REFRESH_SCHEMA_VERSION }]);
    const tables = await admin.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE $1 ORDER BY 1`, [
      `${tablePrefix}%`,
    ]);
    expect(tables.rows.map((r) => r.tablename)).toEqual(
      ['families', 'schema_version', 'tokens'].map((name) => `${tablePrefix}${name}`),
    );
    await admin.query(`INSERT INTO ${tablePrefix}schema_version (version) VALUES (99)`);
    await expect(createPostgresRefreshStore(admin, { tablePrefix })).rejects.toThrow(
      /refresh token schema version 99, newer than this latchkey writes \(1\): upgrade latchkey/,
    );
  });

  it('keeps neither a token nor a successor in readable form, and times as exact milliseconds', async () => {
    const tablePrefix = prefix();
    const refresh = createRefreshTokens({ store: await createPostgresRefreshStore(pool(), { tablePrefix }) });
    const a = await refresh.issue('user-raw');
    const b = await refresh.rotate(a.token);
    expect(b.ok).toBe(true);
    const dump = async (table: string) =>
      (await admin.query(`SELECT t::text AS row FROM ${tablePrefix}${table} t`)).rows.map((r) => r.row).join('\n');
    const raw = (await dump('tokens')) + (await dump('families'));
    for (const token of [a.token, b.ok ? b.token : '']) {
      const secret = token.split('.')[1] as string;
      expect(secret).toHaveLength(43);
      expect(raw).not.toContain(secret);
    }
    const { rows } = await admin.query(
      `SELECT pg_typeof(created_at)::text AS type FROM ${tablePrefix}families LIMIT 1`,
    );
    expect(rows).toEqual([{ type: 'bigint' }]);
    const [family] = await (await createPostgresRefreshStore(admin, { tablePrefix })).liveFamilies('user-raw', 0);
    expect(typeof family?.createdAt).toBe('number');
    expect(typeof family?.revokedAt).toBe('object'); // null, not a string
  });

  it('a stopped pool, a closed port and a query past the deadline are StoreUnavailableError', async () => {
    const tablePrefix = prefix();
    const stopped = pool({ max: 1 });
    const store = await createPostgresRefreshStore(stopped, { tablePrefix });
    await stopped.end();
    const { family, first } = sample();
    await expect(store.get(first.id)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.rotate(first.id, T0, 'x', successorOf(family, T0))).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    const nowhere = pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 500 });
    await expect(createPostgresRefreshStore(nowhere, { tablePrefix })).rejects.toThrow();
    const slow: PgQueryable = {
      query: async (text, params) => {
        await new Promise((r) => setTimeout(r, 100));
        return admin.query(text, params);
      },
    };
    const late = await createPostgresRefreshStore(slow, { tablePrefix, timeoutMs: 20 });
    await expect(late.get(first.id)).rejects.toThrow(/postgres refresh store get timed out after 20 ms/);
  });
});

describe('postgres refresh store on PGlite', () => {
  let lite: PGlite;
  beforeAll(async () => {
    lite = new PGlite();
    await lite.waitReady;
  }, 60_000);
  afterAll(() => lite.close());
  runRefreshStoreConformance({
    name: 'postgres (PGlite)',
    createStore: () => createPostgresRefreshStore(lite, { tablePrefix: newPrefix() }),
    describe,
    it,
    beforeEach,
    afterEach,
  });
});

describe('postgres refresh store arguments, checked before any query', () => {
  it('a connection string is refused without being quoted; a bad prefix and an unknown option too', async () => {
    const url = 'postgres://app:s3cret-pw@db.example/app';
    const error = await createPostgresRefreshStore(url as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      'createPostgresRefreshStore takes a pg Pool, pg Client or PGlite, not a connection string: createPostgresRefreshStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }))',
    );
    const queryable: PgQueryable = { query: () => Promise.reject(new Error('no query may run')) };
    await expect(createPostgresRefreshStore(queryable, { tablePrefix: '1; DROP TABLE x' })).rejects.toThrow(
      /tablePrefix must be letters, digits and _ only, not starting with a digit/,
    );
    await expect(createPostgresRefreshStore(queryable, { tablePrefx: 'x' } as never)).rejects.toThrow(
      /unknown option "tablePrefx"; did you mean "tablePrefix"/,
    );
    await expect(createPostgresRefreshStore(queryable, { sweepBatchSize: 0 })).rejects.toBeInstanceOf(
      ConfigurationError,
    );
    await expect(createPostgresRefreshStore(queryable, { timeoutMs: 2 })).rejects.toThrow(/looks like seconds/);
  });
});
