/**
 * The PostgreSQL TOTP store on the real server (the conformance suite, with a second pool
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
import { runTotpStoreConformance } from './conformance.js';
import { createPostgresTotpStore, dropPostgresTotpSchema } from './postgres.js';

const hasPostgres = await serviceAvailable('postgres', 5432);
const newPrefix = () => `lk_totp_${randomBytes(4).toString('hex')}_`;

describe.runIf(hasPostgres)('postgres TOTP store', () => {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  afterAll(() => admin.end());
  runTotpStoreConformance({
    name: 'postgres (two pg.Pools)',
    ...postgresIsolated(
      admin,
      (db, tablePrefix) => createPostgresTotpStore(db, { tablePrefix }),
      dropPostgresTotpSchema,
    ),
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it('a stopped pool is StoreUnavailableError, never a factor or an accepted code', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const prefix = newPrefix();
    const store = await createPostgresTotpStore(pool, { tablePrefix: prefix });
    await pool.end();
    await expect(store.get('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.useStep('x', 5)).rejects.toBeInstanceOf(StoreUnavailableError);
    await dropPostgresTotpSchema(admin, prefix);
  });
});

describe('postgres TOTP store on PGlite', () => {
  let lite: PGlite;
  beforeAll(async () => {
    lite = new PGlite();
    await lite.waitReady;
  }, 60_000);
  afterAll(() => lite.close());
  runTotpStoreConformance({
    name: 'postgres (PGlite)',
    createStore: () => createPostgresTotpStore(lite, { tablePrefix: newPrefix() }),
    describe,
    it,
    beforeEach,
    afterEach,
  });
});

describe('postgres TOTP store arguments, checked before any query', () => {
  it('a connection string is refused without being quoted; a bad prefix and an unknown option too', async () => {
    const url = 'postgres://app:s3cret-pw@db.example/app';
    const error = await createPostgresTotpStore(url as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).not.toContain('s3cret');
    const queryable: PgQueryable = { query: () => Promise.reject(new Error('no query may run')) };
    await expect(createPostgresTotpStore(queryable, { tablePrefix: '1; DROP TABLE x' })).rejects.toThrow(
      /tablePrefix must be letters, digits and _ only/,
    );
    await expect(createPostgresTotpStore(queryable, { timeout: 5 } as never)).rejects.toThrow(
      /unknown option "timeout"/,
    );
  });
});
