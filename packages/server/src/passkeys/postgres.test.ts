/**
 * The PostgreSQL passkey store on the real server (the conformance suite, with a second pool
 * standing for another instance) and on PGlite, then its arguments and a stopped server.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import type { PgQueryable } from '../stores/postgres.js';
import { postgresIsolated } from '../test/postgres-isolated.js';
import { POSTGRES_URL, serviceAvailable } from '../test/services.js';
import { runPasskeyStoreConformance } from './conformance.js';
import { createPostgresPasskeyStore, dropPostgresPasskeySchema } from './postgres.js';

const hasPostgres = await serviceAvailable('postgres', 5432);
const newPrefix = () => `lk_pk_${randomBytes(4).toString('hex')}_`;

describe.runIf(hasPostgres)('postgres passkey store', () => {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  afterAll(() => admin.end());
  runPasskeyStoreConformance({
    name: 'postgres (two pg.Pools)',
    ...postgresIsolated(
      admin,
      (db, tablePrefix) => createPostgresPasskeyStore(db, { tablePrefix }),
      dropPostgresPasskeySchema,
    ),
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it('of many removals racing for the last passkeys, exactly one passkey is left', async () => {
    const prefix = newPrefix();
    const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: POSTGRES_URL, max: 4 }));
    try {
      const stores = await Promise.all(pools.map((p) => createPostgresPasskeyStore(p, { tablePrefix: prefix })));
      for (let round = 0; round < 5; round++) {
        const ids = Array.from({ length: 6 }, () => randomBytes(16).toString('base64url'));
        for (const [i, id] of ids.entries())
          await stores[0]?.add(
            {
              id,
              userId: `u${round}`,
              publicKey: 'pk',
              counter: 0,
              transports: [],
              backupEligible: false,
              backedUp: false,
              name: 'k',
              createdAt: i,
              lastUsedAt: null,
            },
            20,
          );
        await Promise.all(ids.map((id, i) => stores[i % 3]?.delete(`u${round}`, id, true)));
        expect((await stores[1]?.list(`u${round}`))?.length).toBe(1);
      }
    } finally {
      await dropPostgresPasskeySchema(admin, prefix);
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('a stopped pool is StoreUnavailableError, never a passkey or a challenge', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const prefix = newPrefix();
    const store = await createPostgresPasskeyStore(pool, { tablePrefix: prefix });
    await pool.end();
    await expect(store.get('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.takeChallenge('x', 0)).rejects.toBeInstanceOf(StoreUnavailableError);
    await dropPostgresPasskeySchema(admin, prefix);
  });
});

describe('postgres passkey store on PGlite', () => {
  let lite: PGlite;
  beforeAll(async () => {
    lite = new PGlite();
    await lite.waitReady;
  }, 60_000);
  afterAll(() => lite.close());
  runPasskeyStoreConformance({
    name: 'postgres (PGlite)',
    createStore: () => createPostgresPasskeyStore(lite, { tablePrefix: newPrefix() }),
    describe,
    it,
    beforeEach,
    afterEach,
  });
});

describe('postgres passkey store arguments, checked before any query', () => {
  it('a connection string is refused without being quoted; a bad prefix and an unknown option too', async () => {
    const url = 'postgres://app:s3cret-pw@db.example/app';
    const error = await createPostgresPasskeyStore(url as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).not.toContain('s3cret');
    const queryable: PgQueryable = { query: () => Promise.reject(new Error('no query may run')) };
    await expect(createPostgresPasskeyStore(queryable, { tablePrefix: '1; DROP TABLE x' })).rejects.toThrow(
      /tablePrefix must be letters, digits and _ only/,
    );
    await expect(createPostgresPasskeyStore(queryable, { timeout: 5 } as never)).rejects.toThrow(
      /unknown option "timeout"/,
    );
  });
});
