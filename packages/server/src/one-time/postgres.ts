/**
 * `latchkey/one-time/postgres`: one-time tokens in PostgreSQL, for sites that run many app
 * instances. It needs only `query(text, params)`, so a `pg.Pool`, a `pg.Client` and PGlite all fit.
 * Migrations run under an advisory lock and record their version. One row per user and purpose (a
 * unique index), so issuing replaces the previous token in one `INSERT … ON CONFLICT`; using a token
 * is one `DELETE … RETURNING`, which row locking makes single-winner across instances.
 */
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkNumber, checkOptions, checkString } from '../lib/options.js';
import { checkPgQueryable, migratePostgresSchema } from '../lib/schema.js';
import type { PgQueryable } from '../stores/postgres.js';
import type { OneTimeTokenData, OneTimeTokenRecord, OneTimeTokenStore } from './store.js';

/** Options of `createPostgresOneTimeStore`. */
export interface PostgresOneTimeStoreOptions {
  /**
   * Prefix of the tables this store owns. Default `latchkey_one_time_`. Letters, digits and `_`,
   * not starting with a digit: it is written into SQL as part of an identifier.
   */
  tablePrefix?: string;
  /** Rows deleted per statement by `deleteExpired`. Default 1000. */
  sweepBatchSize?: number;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  // data is text, not jsonb: it comes back byte for byte (jsonb reorders keys and refuses \u0000).
  `CREATE TABLE ${t}tokens (
     token_hash text PRIMARY KEY,
     user_id text NOT NULL,
     purpose text NOT NULL,
     data text NOT NULL,
     created_at bigint NOT NULL,
     expires_at bigint NOT NULL
   );
   CREATE UNIQUE INDEX ${t}tokens_user ON ${t}tokens (user_id, purpose);
   CREATE INDEX ${t}tokens_expiry ON ${t}tokens (expires_at);`,
];

/** The schema version this build writes. */
export const POSTGRES_ONE_TIME_SCHEMA_VERSION = 1;

const FIELDS = `token_hash, user_id, purpose, data, created_at::float8 AS created_at, expires_at::float8 AS expires_at`;

interface Row {
  token_hash: string;
  user_id: string;
  purpose: string;
  data: string;
  created_at: number;
  expires_at: number;
}

const toRecord = (row: Row): OneTimeTokenRecord => ({
  tokenHash: row.token_hash,
  userId: row.user_id,
  purpose: row.purpose,
  data: JSON.parse(row.data) as OneTimeTokenData,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

/**
 * A one-time token store in PostgreSQL; resolves once its tables are created or migrated.
 *
 * @example
 * import pg from 'pg';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const oneTime = createOneTimeTokens({ store: await createPostgresOneTimeStore(pool) });
 */
export async function createPostgresOneTimeStore(
  db: PgQueryable,
  options?: PostgresOneTimeStoreOptions,
): Promise<OneTimeTokenStore> {
  checkPgQueryable('createPostgresOneTimeStore', db);
  const o = checkOptions('createPostgresOneTimeStore', options, ['tablePrefix', 'sweepBatchSize', 'timeoutMs']);
  const t = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_one_time_',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 40,
  });
  const batch = checkNumber('sweepBatchSize', o.sweepBatchSize, { default: 1000, min: 1, max: 100_000, integer: true });
  const ms = checkDeadline(o.timeoutMs);
  await migratePostgresSchema(db, t, migrations(t), 'latchkey one-time token');

  const rows = async <R>(text: string, params: unknown[]) => (await db.query(text, params)).rows as R[];
  const run = <T>(what: string, work: () => Promise<T>, deadline = ms) =>
    guarded(work, deadline, `postgres one-time token store ${what}`);
  const one = async (text: string, params: unknown[]) => {
    const [row] = await rows<Row>(text, params);
    return row === undefined ? null : toRecord(row);
  };

  return {
    insert: (r) =>
      run('insert', async () => {
        // The unique index on (user_id, purpose) makes "the newest replaces the older" one
        // statement; of two concurrent inserts the second waits for the first and then replaces it.
        await db.query(
          `INSERT INTO ${t}tokens (token_hash, user_id, purpose, data, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = EXCLUDED.token_hash, data = EXCLUDED.data,
             created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
          [r.tokenHash, r.userId, r.purpose, JSON.stringify(r.data), r.createdAt, r.expiresAt],
        );
      }),
    take: (hash, purpose, now) =>
      run('take', () =>
        one(`DELETE FROM ${t}tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING ${FIELDS}`, [
          hash,
          purpose,
          now,
        ]),
      ),
    get: (hash, purpose, now) =>
      run('get', () =>
        one(`SELECT ${FIELDS} FROM ${t}tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3`, [
          hash,
          purpose,
          now,
        ]),
      ),
    deleteUser: (userId, purpose) =>
      run(
        'deleteUser',
        async () =>
          (
            await rows(`DELETE FROM ${t}tokens WHERE user_id = $1 AND ($2::text IS NULL OR purpose = $2) RETURNING 1`, [
              userId,
              purpose ?? null,
            ])
          ).length,
      ),
    deleteExpired: (now) =>
      run(
        'deleteExpired',
        async () => {
          let total = 0;
          for (;;) {
            // Small batches that skip rows other instances hold: a sweep never blocks a reset for long.
            const deleted = await rows(
              `DELETE FROM ${t}tokens WHERE token_hash IN (SELECT token_hash FROM ${t}tokens WHERE expires_at <= $1
               ORDER BY expires_at LIMIT ${Number(batch)} FOR UPDATE SKIP LOCKED) RETURNING 1`,
              [now],
            );
            total += deleted.length;
            if (deleted.length < batch) return total;
          }
        },
        0,
      ), // a background sweep may take long; each batch is short
  };
}
