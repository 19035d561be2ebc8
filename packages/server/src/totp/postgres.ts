/**
 * `latchkey/totp/postgres`: TOTP enrolments in PostgreSQL, for sites that run many app instances.
 * It needs only `query(text, params)`, so a `pg.Pool`, a `pg.Client` and PGlite all fit. Each
 * atomic step of the store contract is one statement: a time step is spent by an
 * `UPDATE … WHERE last_step < $n`, a recovery code by a `DELETE`, both single-winner across
 * instances; writes that touch the factor and its codes together run in one statement too (CTEs),
 * so no transaction has to be held across round trips.
 */
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkOptions, checkString } from '../lib/options.js';
import { checkPgQueryable, migratePostgresSchema } from '../lib/schema.js';
import type { PgQueryable } from '../stores/postgres.js';
import type { TotpStore } from './store.js';

/** Options of `createPostgresTotpStore`. */
export interface PostgresTotpStoreOptions {
  /** Prefix of the tables this store owns. Default `latchkey_totp_`. Letters, digits and `_` only. */
  tablePrefix?: string;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  `CREATE TABLE ${t}factors (
     user_id text PRIMARY KEY,
     sealed_secret text NOT NULL,
     created_at bigint NOT NULL,
     confirmed_at bigint,
     last_step bigint NOT NULL
   );
   CREATE TABLE ${t}recovery_codes (
     user_id text NOT NULL,
     code_hash text NOT NULL,
     PRIMARY KEY (user_id, code_hash)
   );`,
];

/** The schema version this build writes. */
export const POSTGRES_TOTP_SCHEMA_VERSION = 1;

/**
 * A TOTP store in PostgreSQL; resolves once its tables are created or migrated.
 *
 * @example
 * import pg from 'pg';
 * const totp = createTotp({ store: await createPostgresTotpStore(pool), keys, issuer: 'Acme' });
 */
export async function createPostgresTotpStore(db: PgQueryable, options?: PostgresTotpStoreOptions): Promise<TotpStore> {
  checkPgQueryable('createPostgresTotpStore', db);
  const o = checkOptions('createPostgresTotpStore', options, ['tablePrefix', 'timeoutMs']);
  // Interpolated into SQL: a plain identifier only.
  const t = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_totp_',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 40,
  });
  const ms = checkDeadline(o.timeoutMs);
  await migratePostgresSchema(db, t, migrations(t), 'latchkey TOTP');

  const rows = async <R>(text: string, params: unknown[]) => (await db.query(text, params)).rows as R[];
  const changed = async (text: string, params: unknown[]) => (await rows(text, params)).length > 0;
  const run = <T>(what: string, work: () => Promise<T>) => guarded(work, ms, `postgres TOTP store ${what}`);
  /** Replaces the user's codes in the same statement as `step` (a CTE that must return a row for them to change). */
  const withCodes = (step: string) =>
    `WITH step AS (${step} RETURNING user_id),
       cleared AS (DELETE FROM ${t}recovery_codes WHERE user_id IN (SELECT user_id FROM step)),
       added AS (INSERT INTO ${t}recovery_codes (user_id, code_hash)
                 SELECT user_id, unnest($CODES::text[]) FROM step ON CONFLICT DO NOTHING)
     SELECT 1 FROM step`;

  return {
    get: (userId) =>
      run('get', async () => {
        const [row] = await rows<{
          sealed_secret: string;
          created_at: number;
          confirmed_at: number | null;
          last_step: number;
          codes: string[] | null;
        }>(
          `SELECT sealed_secret, created_at::float8 AS created_at, confirmed_at::float8 AS confirmed_at,
             last_step::float8 AS last_step,
             (SELECT array_agg(code_hash ORDER BY code_hash) FROM ${t}recovery_codes c WHERE c.user_id = f.user_id) AS codes
           FROM ${t}factors f WHERE user_id = $1`,
          [userId],
        );
        if (row === undefined) return null;
        return {
          userId,
          sealedSecret: row.sealed_secret,
          createdAt: row.created_at,
          confirmedAt: row.confirmed_at,
          lastStep: row.last_step,
          recoveryHashes: row.codes ?? [],
        };
      }),
    put: (r) =>
      run('put', () =>
        changed(
          withCodes(
            `INSERT INTO ${t}factors (user_id, sealed_secret, created_at, confirmed_at, last_step)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, created_at = EXCLUDED.created_at,
               confirmed_at = EXCLUDED.confirmed_at, last_step = EXCLUDED.last_step
             WHERE ${t}factors.confirmed_at IS NULL`,
          ).replace('$CODES', '$6'),
          [r.userId, r.sealedSecret, r.createdAt, r.confirmedAt, r.lastStep, [...r.recoveryHashes]],
        ),
      ),
    confirm: (userId, sealed, at, step, hashes) =>
      run('confirm', () =>
        changed(
          withCodes(
            `UPDATE ${t}factors SET confirmed_at = $1, last_step = $2
             WHERE user_id = $3 AND confirmed_at IS NULL AND sealed_secret = $4`,
          ).replace('$CODES', '$5'),
          [at, step, userId, sealed, [...hashes]],
        ),
      ),
    reseal: (userId, from, to) =>
      run('reseal', () =>
        changed(`UPDATE ${t}factors SET sealed_secret = $1 WHERE user_id = $2 AND sealed_secret = $3 RETURNING 1`, [
          to,
          userId,
          from,
        ]),
      ),
    useStep: (userId, step) =>
      run('useStep', () =>
        changed(
          `UPDATE ${t}factors SET last_step = $1 WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1 RETURNING 1`,
          [step, userId],
        ),
      ),
    useRecoveryCode: (userId, hash) =>
      run('useRecoveryCode', () =>
        changed(
          `DELETE FROM ${t}recovery_codes WHERE user_id = $1 AND code_hash = $2
             AND EXISTS (SELECT 1 FROM ${t}factors WHERE user_id = $1 AND confirmed_at IS NOT NULL) RETURNING 1`,
          [userId, hash],
        ),
      ),
    setRecoveryCodes: (userId, hashes) =>
      run('setRecoveryCodes', () =>
        changed(
          withCodes(
            `UPDATE ${t}factors SET last_step = last_step WHERE user_id = $1 AND confirmed_at IS NOT NULL`,
          ).replace('$CODES', '$2'),
          [userId, [...hashes]],
        ),
      ),
    delete: (userId) =>
      run('delete', () =>
        changed(
          `WITH codes AS (DELETE FROM ${t}recovery_codes WHERE user_id = $1)
           DELETE FROM ${t}factors WHERE user_id = $1 RETURNING 1`,
          [userId],
        ),
      ),
  };
}

/** Removes every table a TOTP store with this prefix owns: for tests and uninstalls. */
export async function dropPostgresTotpSchema(db: PgQueryable, tablePrefix = 'latchkey_totp_'): Promise<void> {
  checkPgQueryable('dropPostgresTotpSchema', db);
  const t = checkString('tablePrefix', tablePrefix, { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, maxLength: 40 });
  await db.query(`DROP TABLE IF EXISTS ${t}factors, ${t}recovery_codes, ${t}schema_version`);
}
