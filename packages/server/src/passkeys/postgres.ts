/**
 * `latchkey/passkeys/postgres`: passkeys and their challenges in PostgreSQL, for sites that run many
 * app instances. It needs only `query(text, params)`, so a `pg.Pool`, a `pg.Client` and PGlite all
 * fit. Taking a challenge is one `DELETE … RETURNING` and a use one `UPDATE … WHERE counter = $n`,
 * which row locking makes single-winner across instances; removing all but the last passkey locks
 * the user's rows first, so two removals racing cannot leave zero.
 */
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkOptions, checkString } from '../lib/options.js';
import { checkPgQueryable, migratePostgresSchema } from '../lib/schema.js';
import type { PgQueryable } from '../stores/postgres.js';
import { columnsOf, fromRow, type PasskeyRow } from './row.js';
import type { PasskeyStore } from './store.js';

/** Options of `createPostgresPasskeyStore`. */
export interface PostgresPasskeyStoreOptions {
  /** Prefix of the tables this store owns. Default `latchkey_passkey_`. Letters, digits and `_` only. */
  tablePrefix?: string;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  `CREATE TABLE ${t}credentials (
     id text PRIMARY KEY,
     user_id text NOT NULL,
     slot int NOT NULL,
     public_key text NOT NULL,
     counter bigint NOT NULL,
     transports text NOT NULL,
     backup_eligible boolean NOT NULL,
     backed_up boolean NOT NULL,
     name text NOT NULL,
     created_at bigint NOT NULL,
     last_used_at bigint
   );
   CREATE INDEX ${t}credentials_user ON ${t}credentials (user_id, created_at);
   CREATE UNIQUE INDEX ${t}credentials_slot ON ${t}credentials (user_id, slot);
   CREATE TABLE ${t}challenges (
     key text PRIMARY KEY,
     challenge text NOT NULL,
     expires_at bigint NOT NULL
   );
   CREATE INDEX ${t}challenges_expiry ON ${t}challenges (expires_at);`,
];

/** The schema version this build writes. */
export const POSTGRES_PASSKEY_SCHEMA_VERSION = 1;

const FIELDS = `id, user_id, public_key, counter::float8 AS counter, transports, backup_eligible, backed_up, name,
  created_at::float8 AS created_at, last_used_at::float8 AS last_used_at`;

/**
 * A passkey store in PostgreSQL; resolves once its tables are created or migrated.
 *
 * @example
 * import pg from 'pg';
 * const store = await createPostgresPasskeyStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 */
export async function createPostgresPasskeyStore(
  db: PgQueryable,
  options?: PostgresPasskeyStoreOptions,
): Promise<PasskeyStore> {
  checkPgQueryable('createPostgresPasskeyStore', db);
  const o = checkOptions('createPostgresPasskeyStore', options, ['tablePrefix', 'timeoutMs']);
  // Interpolated into SQL: a plain identifier only.
  const t = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_passkey_',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 40,
  });
  const ms = checkDeadline(o.timeoutMs);
  await migratePostgresSchema(db, t, migrations(t), 'latchkey passkey');

  const rows = async <R>(text: string, params: unknown[]) => (await db.query(text, params)).rows as R[];
  const count = async (text: string, params: unknown[]) => (await rows(text, params)).length;
  const run = <T>(what: string, work: () => Promise<T>) => guarded(work, ms, `postgres passkey store ${what}`);
  let puts = 0;

  return {
    add: (r, maxPerUser) =>
      run('add', async () => {
        // The limit as slots: a passkey takes the lowest free slot below maxPerUser, and a unique
        // index on (user, slot) makes two racing inserts of the last slot a conflict one of them
        // loses, which a count in one statement's snapshot could not. A loser retries while a slot
        // is free (another one than the winner's may be).
        for (let attempt = 0; attempt < 3; attempt++) {
          const [row] = await rows<{ outcome: string }>(
            `WITH free AS (SELECT min(s) AS s FROM generate_series(0, $11::int - 1) s
                           WHERE s NOT IN (SELECT slot FROM ${t}credentials WHERE user_id = $2)),
                  added AS (INSERT INTO ${t}credentials (id, user_id, slot, public_key, counter, transports, backup_eligible,
                              backed_up, name, created_at, last_used_at)
                            SELECT $1, $2, free.s, $3, $4, $5, $6, $7, $8, $9, $10 FROM free WHERE free.s IS NOT NULL
                            ON CONFLICT DO NOTHING RETURNING 1)
             SELECT CASE WHEN EXISTS (SELECT 1 FROM added) THEN 'added'
                         WHEN (SELECT s FROM free) IS NULL THEN 'full' ELSE 'conflict' END AS outcome`,
            [...columnsOf(r, (b) => b), maxPerUser],
          );
          if (row?.outcome === 'added') return true;
          if (row?.outcome === 'full') return false;
          // A conflict: the id is taken (final), or another insert took the slot (try again).
          if ((await rows(`SELECT 1 FROM ${t}credentials WHERE id = $1`, [r.id])).length > 0) return false;
        }
        return false;
      }),
    get: (id) =>
      run('get', async () => {
        const [row] = await rows<PasskeyRow>(`SELECT ${FIELDS} FROM ${t}credentials WHERE id = $1`, [id]);
        return row === undefined ? null : fromRow(row);
      }),
    list: (userId) =>
      run('list', async () =>
        (
          await rows<PasskeyRow>(`SELECT ${FIELDS} FROM ${t}credentials WHERE user_id = $1 ORDER BY created_at, id`, [
            userId,
          ])
        ).map(fromRow),
      ),
    rename: (userId, id, name) =>
      run(
        'rename',
        async () =>
          (await count(`UPDATE ${t}credentials SET name = $1 WHERE user_id = $2 AND id = $3 RETURNING 1`, [
            name,
            userId,
            id,
          ])) === 1,
      ),
    delete: (userId, id, keepOne) =>
      run(
        'delete',
        async () =>
          // One statement: the CTE locks every row of the user, so a concurrent removal waits and
          // then counts what is left.
          (await count(
            `WITH mine AS (SELECT id FROM ${t}credentials WHERE user_id = $1 FOR UPDATE)
             DELETE FROM ${t}credentials WHERE user_id = $1 AND id = $2
               AND (NOT $3::boolean OR (SELECT COUNT(*) FROM mine) > 1) RETURNING 1`,
            [userId, id, keepOne === true],
          )) === 1,
      ),
    deleteAll: (userId) =>
      run('deleteAll', () => count(`DELETE FROM ${t}credentials WHERE user_id = $1 RETURNING 1`, [userId])),
    recordUse: (id, use) =>
      run(
        'recordUse',
        async () =>
          (await count(
            `UPDATE ${t}credentials SET counter = $1, backed_up = $2, last_used_at = $3 WHERE id = $4 AND counter = $5 RETURNING 1`,
            [use.counter, use.backedUp, use.at, id, use.previousCounter],
          )) === 1,
      ),
    putChallenge: (key, challenge, expiresAt) =>
      run('putChallenge', async () => {
        // Abandoned challenges go in batches, on the write path; whatever expired an hour before
        // this one does is long dead on the caller's clock.
        if (++puts % 100 === 0)
          await db.query(`DELETE FROM ${t}challenges WHERE expires_at < $1`, [expiresAt - 3_600_000]);
        await db.query(
          `INSERT INTO ${t}challenges (key, challenge, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET challenge = EXCLUDED.challenge, expires_at = EXCLUDED.expires_at`,
          [key, challenge, expiresAt],
        );
      }),
    takeChallenge: (key, now) =>
      run('takeChallenge', async () => {
        const [row] = await rows<{ challenge: string; expires_at: number }>(
          `DELETE FROM ${t}challenges WHERE key = $1 RETURNING challenge, expires_at::float8 AS expires_at`,
          [key],
        );
        return row === undefined || row.expires_at < now ? null : row.challenge;
      }),
  };
}

/** Removes every table a passkey store with this prefix owns: for tests and uninstalls. */
export async function dropPostgresPasskeySchema(db: PgQueryable, tablePrefix = 'latchkey_passkey_'): Promise<void> {
  checkPgQueryable('dropPostgresPasskeySchema', db);
  const t = checkString('tablePrefix', tablePrefix, { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, maxLength: 40 });
  await db.query(`DROP TABLE IF EXISTS ${t}credentials, ${t}challenges, ${t}schema_version`);
}
