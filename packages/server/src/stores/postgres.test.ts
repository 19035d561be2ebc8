import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { POSTGRES_URL, serviceAvailable } from '../test/services.js';
import { runStoreConformance, sampleRecord } from './conformance.js';
import { createPostgresStore, dropPostgresSchema, type PgQueryable, POSTGRES_SCHEMA_VERSION } from './postgres.js';
import type { SessionStore } from './store.js';

const hasPostgres = await serviceAvailable('postgres', 5432);

/** Each test gets its own tables (a fresh prefix), dropped afterwards. */
function isolated(db: () => PgQueryable) {
  const prefixes = new WeakMap<SessionStore, string>();
  return {
    async createStore() {
      const prefix = `lk_${randomBytes(4).toString('hex')}_`;
      const store = await createPostgresStore(db(), { tablePrefix: prefix });
      prefixes.set(store, prefix);
      return store;
    },
    async destroyStore(store: SessionStore) {
      await dropPostgresSchema(db(), prefixes.get(store));
    },
  };
}

describe.runIf(hasPostgres)('postgres store on a pg.Pool', () => {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  afterAll(() => pool.end());
  runStoreConformance({ name: 'postgres (pg.Pool)', ...isolated(() => pool), describe, it, beforeEach, afterEach });

  it('migrates once when several instances start together, and records the version', async () => {
    const prefix = `lk_${randomBytes(4).toString('hex')}_`;
    await Promise.all(Array.from({ length: 4 }, () => createPostgresStore(pool, { tablePrefix: prefix })));
    const { rows } = await pool.query(`SELECT version FROM ${prefix}schema_version`);
    expect(rows).toEqual([{ version: POSTGRES_SCHEMA_VERSION }]);
    const indexes = await pool.query(
      `SELECT indexname FROM pg_indexes WHERE tablename = '${prefix}sessions' ORDER BY 1`,
    );
    expect(indexes.rows.map((r) => r.indexname)).toEqual([
      `${prefix}sessions_expiry`,
      `${prefix}sessions_pkey`,
      `${prefix}sessions_user`,
    ]);
    await dropPostgresSchema(pool, prefix);
  });

  it('the cap holds when two pools create sessions for one user at once', async () => {
    const other = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
    const prefix = `lk_${randomBytes(4).toString('hex')}_`;
    try {
      const [a, b] = [
        await createPostgresStore(pool, { tablePrefix: prefix }),
        await createPostgresStore(other, { tablePrefix: prefix }),
      ];
      const userId = sampleRecord().userId;
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? a : b).create(sampleRecord({ userId, createdAt: 1_800_000_000_000 + i }), 5),
        ),
      );
      expect(await a.listUser(userId)).toHaveLength(5);
    } finally {
      await dropPostgresSchema(pool, prefix);
      await other.end();
    }
  });

  it('fails closed with StoreUnavailableError when the server cannot be reached', async () => {
    const dead = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMillis: 500,
    });
    await expect(createPostgresStore(dead)).rejects.toThrow();
    dead.end().catch(() => {});
  });

  it('a query past the deadline is StoreUnavailableError, never a session', async () => {
    const slow: PgQueryable = {
      query: async (text, params) => {
        await new Promise((r) => setTimeout(r, 50));
        return pool.query(text, params);
      },
    };
    const slowStore = await createPostgresStore(slow, { timeoutMs: 10 });
    await expect(slowStore.get(sampleRecord().id)).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('postgres store on PGlite', () => {
  let lite: PGlite;
  beforeAll(async () => {
    lite = new PGlite();
    await lite.waitReady;
  }, 60_000);
  afterAll(() => lite.close());
  runStoreConformance({ name: 'postgres (PGlite)', ...isolated(() => lite), describe, it, beforeEach, afterEach });
});
