/**
 * The PostgreSQL one-time store on the real server: the conformance suite with a second pool
 * standing for another instance, then migration and arguments.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import type { PgQueryable } from '../stores/postgres.js';
import { POSTGRES_URL, serviceAvailable } from '../test/services.js';
import { runOneTimeTokenStoreConformance } from './conformance.js';
import { createPostgresOneTimeStore, POSTGRES_ONE_TIME_SCHEMA_VERSION } from './postgres.js';
import type { OneTimeTokenStore } from './store.js';

const hasPostgres = await serviceAvailable('postgres', 5432);
const newPrefix = () => `lk_ot_${randomBytes(4).toString('hex')}_`;

describe.runIf(hasPostgres)('postgres one-time store', () => {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  afterAll(() => admin.end());
  const drop = (prefix: string) => admin.query(`DROP TABLE IF EXISTS ${prefix}tokens, ${prefix}schema_version`);

  /** Each test: its own tables (a fresh prefix) and its own pools, so one can be ended (breakStore). */
  const opened = new Map<OneTimeTokenStore, { prefix: string; pools: pg.Pool[] }>();
  runOneTimeTokenStoreConformance({
    name: 'postgres (two pg.Pools)',
    async createStore() {
      const prefix = newPrefix();
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
      const store = await createPostgresOneTimeStore(pool, { tablePrefix: prefix });
      opened.set(store, { prefix, pools: [pool] });
      return store;
    },
    async createPeer(store) {
      const entry = opened.get(store);
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
      entry?.pools.push(pool);
      return createPostgresOneTimeStore(pool, { tablePrefix: entry?.prefix });
    },
    async destroyStore(store) {
      const entry = opened.get(store);
      opened.delete(store);
      if (entry === undefined) return;
      await drop(entry.prefix);
      await Promise.all(entry.pools.map((pool) => (pool.ended ? undefined : pool.end())));
    },
    breakStore: (store) => opened.get(store)?.pools[0]?.end(),
    async readRaw(store) {
      const { rows } = await admin.query(`SELECT t::text AS row FROM ${opened.get(store)?.prefix}tokens t`);
      return rows.map((r) => r.row).join('\n');
    },
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it('migrates once when several instances start together, and records the version', async () => {
    const prefix = newPrefix();
    try {
      await Promise.all(Array.from({ length: 4 }, () => createPostgresOneTimeStore(admin, { tablePrefix: prefix })));
      const { rows } = await admin.query(`SELECT version FROM ${prefix}schema_version`);
      expect(rows).toEqual([{ version: POSTGRES_ONE_TIME_SCHEMA_VERSION }]);
      const indexes = await admin.query(`SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY 1`, [
        `${prefix}tokens`,
      ]);
      expect(indexes.rows.map((r) => r.indexname)).toEqual([
        `${prefix}tokens_expiry`,
        `${prefix}tokens_pkey`,
        `${prefix}tokens_user`,
      ]);
      await admin.query(`INSERT INTO ${prefix}schema_version (version) VALUES (99)`);
      await expect(createPostgresOneTimeStore(admin, { tablePrefix: prefix })).rejects.toThrow(
        /schema version 99, newer than this latchkey writes \(1\): upgrade latchkey/,
      );
    } finally {
      await drop(prefix);
    }
  });

  it('a query past the deadline is StoreUnavailableError, never a token', async () => {
    const prefix = newPrefix();
    try {
      await createPostgresOneTimeStore(admin, { tablePrefix: prefix });
      const slow: PgQueryable = {
        query: async (text, params) => {
          await new Promise((r) => setTimeout(r, 100));
          return admin.query(text, params);
        },
      };
      const store = await createPostgresOneTimeStore(slow, { tablePrefix: prefix, timeoutMs: 20 });
      await expect(store.take(randomBytes(32).toString('base64url'), 'reset-password', Date.now())).rejects.toThrow(
        StoreUnavailableError,
      );
    } finally {
      await drop(prefix);
    }
  });
});

describe('postgres one-time store on PGlite', () => {
  let lite: PGlite;
  beforeAll(async () => {
    lite = new PGlite();
    await lite.waitReady;
  }, 60_000);
  afterAll(() => lite.close());
  runOneTimeTokenStoreConformance({
    name: 'postgres (PGlite)',
    createStore: () => createPostgresOneTimeStore(lite, { tablePrefix: newPrefix() }),
    describe,
    it,
    beforeEach,
    afterEach,
  });
});

describe('postgres one-time store arguments, checked before any query', () => {
  it('a connection string is refused without being quoted (it may hold a password)', async () => {
    const url = 'postgres://app:s3cret-pw@db.example/app';
    const error = await createPostgresOneTimeStore(url as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      'createPostgresOneTimeStore takes a pg Pool, pg Client or PGlite, not a connection string: createPostgresOneTimeStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }))',
    );
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('a prefix that is not an identifier and an unknown option are refused', async () => {
    const queryable: PgQueryable = { query: () => Promise.reject(new Error('no query may run')) };
    await expect(createPostgresOneTimeStore(queryable, { tablePrefix: '1; DROP TABLE x' })).rejects.toThrow(
      /tablePrefix must be letters, digits and _ only, not starting with a digit/,
    );
    await expect(createPostgresOneTimeStore(queryable, { timeout: 5 } as never)).rejects.toThrow(
      /unknown option "timeout"; did you mean "timeoutMs"/,
    );
  });
});
