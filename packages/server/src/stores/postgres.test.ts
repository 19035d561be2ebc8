import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import { POSTGRES_URL, serviceAvailable } from '../test/services.js';
import { runStoreConformance, sampleRecord } from './conformance.js';
import { createPostgresStore, dropPostgresSchema, type PgQueryable, POSTGRES_SCHEMA_VERSION } from './postgres.js';
import { createPostgresInvalidation } from './postgres-invalidation.js';
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
    const { rows } = await pool.query(`SELECT version FROM ${prefix}schema_version ORDER BY version`);
    expect(rows).toEqual(Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
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

  it('moves a version-1 database with live sessions to the current version in place: old sessions read as not remembered', async () => {
    const prefix = `lk_${randomBytes(4).toString('hex')}_`;
    try {
      // A version-1 database, as 0.1 left it: no remembered column, the 12-argument create function.
      await createPostgresStore(pool, { tablePrefix: prefix });
      await pool.query(
        `DROP FUNCTION ${prefix}create_session(text, text, text, bigint, bigint, bigint, bigint, bigint, text, text, jsonb, int, boolean, text)`,
      );
      await pool.query(`ALTER TABLE ${prefix}sessions DROP COLUMN binding, DROP COLUMN remembered`);
      await pool.query(
        `CREATE FUNCTION ${prefix}create_session(text, text, text, bigint, bigint, bigint, bigint, bigint, text, text, jsonb, int)
         RETURNS SETOF text LANGUAGE sql AS 'SELECT NULL::text WHERE false'`,
      );
      await pool.query(`DELETE FROM ${prefix}schema_version WHERE version > 1`);
      const old = sampleRecord();
      await pool.query(`INSERT INTO ${prefix}sessions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)`, [
        old.id,
        old.secretHash,
        old.userId,
        old.createdAt,
        old.lastSeenAt,
        old.expiresAt,
        old.absoluteExpiresAt,
        old.authenticatedAt,
        old.userAgent,
        old.ip,
        JSON.stringify(old.data),
      ]);

      const store = await createPostgresStore(pool, { tablePrefix: prefix });
      const { rows } = await pool.query(`SELECT version FROM ${prefix}schema_version ORDER BY version`);
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3]);
      expect(await store.get(old.id)).toMatchObject({
        id: old.id,
        userId: old.userId,
        remembered: false,
        binding: null,
      });
      const fresh = sampleRecord({ remembered: true });
      await store.create(fresh, 10);
      expect((await store.get(fresh.id))?.remembered).toBe(true);
    } finally {
      await dropPostgresSchema(pool, prefix);
    }
  });

  it('moves a version-2 database with a live session to version 3 in place: it reads as unbound, and can be bound', async () => {
    const prefix = `lk_${randomBytes(4).toString('hex')}_`;
    try {
      // A version-2 database: no binding column, the 13-argument create function.
      await createPostgresStore(pool, { tablePrefix: prefix });
      await pool.query(
        `DROP FUNCTION ${prefix}create_session(text, text, text, bigint, bigint, bigint, bigint, bigint, text, text, jsonb, int, boolean, text)`,
      );
      await pool.query(`ALTER TABLE ${prefix}sessions DROP COLUMN binding`);
      await pool.query(
        `CREATE FUNCTION ${prefix}create_session(text, text, text, bigint, bigint, bigint, bigint, bigint, text, text, jsonb, int, boolean)
         RETURNS SETOF text LANGUAGE sql AS 'SELECT NULL::text WHERE false'`,
      );
      await pool.query(`DELETE FROM ${prefix}schema_version WHERE version > 2`);
      const old = sampleRecord({ remembered: true, data: { theme: 'dark' } });
      await pool.query(
        `INSERT INTO ${prefix}sessions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)`,
        [
          old.id,
          old.secretHash,
          old.userId,
          old.createdAt,
          old.lastSeenAt,
          old.expiresAt,
          old.absoluteExpiresAt,
          old.authenticatedAt,
          old.userAgent,
          old.ip,
          JSON.stringify(old.data),
          true,
        ],
      );

      const store = await createPostgresStore(pool, { tablePrefix: prefix });
      const { rows } = await pool.query(`SELECT version FROM ${prefix}schema_version ORDER BY version`);
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3]);
      expect(await store.get(old.id)).toEqual({ ...old, binding: null });
      expect(await store.listUser(old.userId)).toEqual([{ ...old, binding: null }]);
      const binding = {
        publicKey: { kty: 'EC', crv: 'P-256', x: 'x-coordinate', y: 'y-coordinate' },
        algorithm: 'ES256',
        thumbprint: 'thumbprint',
        boundAt: old.createdAt + 10,
        provenAt: old.createdAt + 10,
      };
      expect(await store.setBinding?.(old.id, binding, null)).toBe(true);
      expect(await store.get(old.id)).toEqual({ ...old, binding });
      // The new create function stores a binding given at creation.
      const fresh = sampleRecord({ userId: old.userId, createdAt: old.createdAt + 1, binding });
      await store.create(fresh, 10);
      expect(await store.get(fresh.id)).toEqual(fresh);
    } finally {
      await dropPostgresSchema(pool, prefix);
    }
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

  it('a database whose schema is newer than this latchkey says to upgrade', async () => {
    const prefix = `lk_${randomBytes(4).toString('hex')}_`;
    await createPostgresStore(lite, { tablePrefix: prefix });
    await lite.query(`INSERT INTO ${prefix}schema_version (version) VALUES (${POSTGRES_SCHEMA_VERSION + 1})`);
    const error = await createPostgresStore(lite, { tablePrefix: prefix }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(
      `newer than this latchkey writes (${POSTGRES_SCHEMA_VERSION}): upgrade latchkey`,
    );
    await dropPostgresSchema(lite, prefix);
  });
});

describe('postgres store arguments, checked before any query', () => {
  const queryable: PgQueryable = {
    query: () => Promise.reject(new Error('no query may run: the arguments are wrong')),
  };

  it('a connection string is refused without being quoted (it may hold a password)', async () => {
    const url = 'postgres://app:s3cret-pw@db.example/app';
    const error = await createPostgresStore(url as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      'createPostgresStore takes a pg Pool, pg Client or PGlite, not a connection string: createPostgresStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }))',
    );
    expect((error as Error).message).not.toContain('s3cret');
    await expect(createPostgresStore({} as never)).rejects.toThrow(
      /anything with query\(text, params\).*; got an object$/,
    );
  });

  it('options: unknown keys, a deadline in seconds, an identifier that is not one', async () => {
    await expect(createPostgresStore(queryable, { prefix: 'x_' } as never)).rejects.toThrow(
      /createPostgresStore got an unknown option "prefix"; did you mean "tablePrefix"\?/,
    );
    await expect(createPostgresStore(queryable, { timeoutMs: 2 })).rejects.toThrow(
      new ConfigurationError('timeoutMs is in milliseconds; 2 looks like seconds (use 2000)'),
    );
    await expect(createPostgresStore(queryable, { tablePrefix: 'x; DROP TABLE y' })).rejects.toBeInstanceOf(
      ConfigurationError,
    );
    await expect(dropPostgresSchema(queryable, '1x')).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('the LISTEN/NOTIFY bus checks its options', () => {
    const listener = () => ({}) as never;
    expect(() => createPostgresInvalidation({ notify: queryable, listener, channel: 'a-b' })).toThrow(
      ConfigurationError,
    );
    expect(() => createPostgresInvalidation({ notify: 'postgres://x' as never, listener })).toThrow(
      'notify must be a pg Pool or Client (anything with query()): notify: pool',
    );
    expect(() => createPostgresInvalidation({ notify: queryable, listener: new pg.Client() as never })).toThrow(
      /listener must be a function that returns a new, unconnected pg.Client/,
    );
    expect(() => createPostgresInvalidation({ notify: queryable, listener, chanel: 'x' } as never)).toThrow(
      /did you mean "channel"\?/,
    );
  });
});
