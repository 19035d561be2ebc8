/**
 * Refresh tokens in PostgreSQL, for sites that run many app instances with the database as their
 * only shared store. It needs only `query(text, params)`, so a `pg.Pool`, a `pg.Client` and PGlite
 * all fit. Migrations run under an advisory lock and record their version. Every write of the
 * contract is one statement (data-modifying CTEs), so it is all or nothing without a transaction
 * held across round trips; `rotate` is an `UPDATE … WHERE used_at IS NULL`, which row locking
 * makes single-winner across instances.
 */
import { StoreUnavailableError } from '../errors.js';
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkNumber, checkOptions } from '../lib/options.js';
import { checkPgQueryable, checkTablePrefix, migratePostgresSchema } from '../lib/schema.js';
import type { PgQueryable } from '../stores/postgres.js';
import type { RefreshFamily, RefreshRecord, RefreshStore } from './refresh-store.js';

/** Options of `createPostgresRefreshStore`. */
export interface PostgresRefreshStoreOptions {
  /**
   * Prefix of the tables this store owns. Default `latchkey_refresh_`. Letters, digits and `_`,
   * not starting with a digit: it is written into SQL as part of an identifier.
   */
  tablePrefix?: string;
  /** Families deleted per statement by `deleteExpired`. Default 1000. */
  sweepBatchSize?: number;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  // The foreign key (ON DELETE CASCADE) ties each token to a family that exists: a rotation racing
  // the sweep of its family either finishes first (the cascade then takes its successor too) or
  // fails, so no orphan token outlives its family.
  `CREATE TABLE ${t}families (
     id text PRIMARY KEY,
     user_id text NOT NULL,
     created_at bigint NOT NULL,
     last_used_at bigint NOT NULL,
     expires_at bigint NOT NULL,
     revoked_at bigint
   );
   CREATE INDEX ${t}families_user ON ${t}families (user_id);
   CREATE INDEX ${t}families_expiry ON ${t}families (expires_at);
   CREATE TABLE ${t}tokens (
     id text PRIMARY KEY,
     family_id text NOT NULL REFERENCES ${t}families (id) ON DELETE CASCADE,
     user_id text NOT NULL,
     secret_hash text NOT NULL,
     created_at bigint NOT NULL,
     expires_at bigint NOT NULL,
     used_at bigint,
     successor_sealed text
   );
   CREATE INDEX ${t}tokens_family ON ${t}tokens (family_id);`,
];

/** The schema version this build writes. */
export const POSTGRES_REFRESH_SCHEMA_VERSION = 1;

// bigint comes back from pg as a string; float8 as a number, exact for every millisecond time.
const FAMILY = `f.id AS family_id, f.user_id AS family_user_id, f.created_at::float8 AS family_created_at,
  f.last_used_at::float8 AS family_last_used_at, f.expires_at::float8 AS family_expires_at,
  f.revoked_at::float8 AS family_revoked_at`;
const TOKEN = `t.id, t.family_id, t.user_id, t.secret_hash, t.created_at::float8 AS created_at,
  t.expires_at::float8 AS expires_at, t.used_at::float8 AS used_at, t.successor_sealed`;

interface FamilyRow {
  family_id: string;
  family_user_id: string;
  family_created_at: number;
  family_last_used_at: number;
  family_expires_at: number;
  family_revoked_at: number | null;
}
interface TokenRow {
  id: string;
  family_id: string;
  user_id: string;
  secret_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  successor_sealed: string | null;
}

// New objects from each row: nothing a caller holds is shared with another call.
const toFamily = (r: FamilyRow): RefreshFamily => ({
  id: r.family_id,
  userId: r.family_user_id,
  createdAt: r.family_created_at,
  lastUsedAt: r.family_last_used_at,
  expiresAt: r.family_expires_at,
  revokedAt: r.family_revoked_at,
});
const toRecord = (r: TokenRow): RefreshRecord => ({
  id: r.id,
  familyId: r.family_id,
  userId: r.user_id,
  secretHash: r.secret_hash,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  successorSealed: r.successor_sealed,
});

const checkPrefix = (prefix: unknown) => checkTablePrefix(prefix, 'latchkey_refresh_');

/** SQLSTATE 40001: a rotation lost a race under REPEATABLE READ or SERIALIZABLE. */
const isSerializationFailure = (error: unknown): boolean =>
  error instanceof StoreUnavailableError
    ? isSerializationFailure(error.cause)
    : (error as { code?: unknown } | null)?.code === '40001';

/**
 * A refresh-token store in PostgreSQL; resolves once its tables are created or migrated.
 *
 * @example
 * import pg from 'pg';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const refresh = createRefreshTokens({ store: await createPostgresRefreshStore(pool) });
 */
export async function createPostgresRefreshStore(
  db: PgQueryable,
  options?: PostgresRefreshStoreOptions,
): Promise<RefreshStore> {
  checkPgQueryable('createPostgresRefreshStore', db);
  const o = checkOptions('createPostgresRefreshStore', options, ['tablePrefix', 'sweepBatchSize', 'timeoutMs']);
  const t = checkPrefix(o.tablePrefix);
  const batch = checkNumber('sweepBatchSize', o.sweepBatchSize, { default: 1000, min: 1, max: 100_000, integer: true });
  const ms = checkDeadline(o.timeoutMs);
  await migratePostgresSchema(db, t, migrations(t), 'latchkey refresh token');

  const rows = async <R>(text: string, params: unknown[]) => (await db.query(text, params)).rows as R[];
  const count = async (text: string, params: unknown[]) => Number((await rows<{ n: number }>(text, params))[0]?.n ?? 0);
  const run = <T>(what: string, work: () => Promise<T>, deadline = ms) =>
    guarded(work, deadline, `postgres refresh store ${what}`);
  const spend = (id: string, usedAt: number, sealed: string, s: RefreshRecord) =>
    // One statement: the successor is inserted and the family touched only for the row the UPDATE
    // spent. Of two racing rotations the second waits on the first's row lock, then re-reads the
    // row, finds used_at set and spends nothing: exactly one resolves 'rotated'.
    count(
      `WITH spent AS (
         UPDATE ${t}tokens SET used_at = $2, successor_sealed = $3 WHERE id = $1 AND used_at IS NULL
         RETURNING family_id),
       added AS (
         INSERT INTO ${t}tokens (id, family_id, user_id, secret_hash, created_at, expires_at, used_at, successor_sealed)
         SELECT $4::text, $5::text, $6::text, $7::text, $8::bigint, $9::bigint, $10::bigint, $11::text FROM spent),
       touched AS (
         UPDATE ${t}families SET last_used_at = $2 WHERE id IN (SELECT family_id FROM spent))
       SELECT count(*)::int AS n FROM spent`,
      [
        id,
        usedAt,
        sealed,
        s.id,
        s.familyId,
        s.userId,
        s.secretHash,
        s.createdAt,
        s.expiresAt,
        s.usedAt,
        s.successorSealed,
      ],
    );

  return {
    createFamily: (f, first) =>
      run('createFamily', async () => {
        // One statement, so the family and its first token are stored both or neither.
        await db.query(
          `WITH family AS (
             INSERT INTO ${t}families (id, user_id, created_at, last_used_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6))
           INSERT INTO ${t}tokens (id, family_id, user_id, secret_hash, created_at, expires_at, used_at, successor_sealed)
           VALUES ($7, $8, $9, $10, $11, $12, $13, $14)`,
          [
            f.id,
            f.userId,
            f.createdAt,
            f.lastUsedAt,
            f.expiresAt,
            f.revokedAt,
            first.id,
            first.familyId,
            first.userId,
            first.secretHash,
            first.createdAt,
            first.expiresAt,
            first.usedAt,
            first.successorSealed,
          ],
        );
      }),
    get: (id) =>
      run('get', async () => {
        // One statement, one snapshot: the token and its family as they are now, never a cached copy.
        const [row] = await rows<TokenRow & FamilyRow>(
          `SELECT ${TOKEN}, ${FAMILY} FROM ${t}tokens t JOIN ${t}families f ON f.id = t.family_id WHERE t.id = $1`,
          [id],
        );
        return row === undefined ? null : { record: toRecord(row), family: toFamily(row) };
      }),
    rotate: (id, usedAt, sealed, successor) =>
      run('rotate', async () => {
        // Under REPEATABLE READ or SERIALIZABLE (a database default some sites set) the loser of a
        // race gets a serialization failure instead of a re-read; run again, it sees the token spent.
        for (let attempt = 1; ; attempt++) {
          try {
            return (await spend(id, usedAt, sealed, successor)) === 1 ? 'rotated' : 'spent';
          } catch (error) {
            if (attempt >= 3 || !isSerializationFailure(error)) throw error;
          }
        }
      }),
    revokeFamily: (familyId, at) =>
      run(
        'revokeFamily',
        async () =>
          // The condition keeps the first revokedAt, and tells the caller whether it was live.
          (
            await rows(`UPDATE ${t}families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING 1`, [
              at,
              familyId,
            ])
          ).length === 1,
      ),
    revokeUser: (userId, at) =>
      run('revokeUser', () =>
        // The rows are locked in id order first, so two "log out everywhere" of one user running
        // at once queue up instead of deadlocking; the second then finds nothing live to revoke.
        count(
          `WITH mine AS (SELECT id FROM ${t}families WHERE user_id = $2 AND revoked_at IS NULL ORDER BY id FOR UPDATE),
             revoked AS (UPDATE ${t}families SET revoked_at = $1 WHERE id IN (SELECT id FROM mine) AND revoked_at IS NULL
               RETURNING 1)
           SELECT count(*)::int AS n FROM revoked`,
          [at, userId],
        ),
      ),
    liveFamilies: (userId, now) =>
      run('liveFamilies', async () =>
        (
          await rows<FamilyRow>(
            `SELECT ${FAMILY} FROM ${t}families f WHERE f.user_id = $1 AND f.revoked_at IS NULL AND f.expires_at > $2`,
            [userId, now],
          )
        ).map(toFamily),
      ),
    heads: (familyId) =>
      run('heads', async () =>
        (
          await rows<TokenRow>(`SELECT ${TOKEN} FROM ${t}tokens t WHERE t.family_id = $1 AND t.used_at IS NULL`, [
            familyId,
          ])
        ).map(toRecord),
      ),
    deleteExpired: (now) =>
      run(
        'deleteExpired',
        async () => {
          let total = 0;
          for (;;) {
            // Small batches that skip families other instances hold (a rotation touching one): a
            // sweep never blocks a refresh for long. The foreign key's cascade takes their tokens.
            const deleted = await count(
              `WITH gone AS (
                 DELETE FROM ${t}families WHERE id IN (SELECT id FROM ${t}families WHERE expires_at <= $1
                   ORDER BY expires_at LIMIT ${Number(batch)} FOR UPDATE SKIP LOCKED) RETURNING 1)
               SELECT count(*)::int AS n FROM gone`,
              [now],
            );
            total += deleted;
            if (deleted < batch) return total;
          }
        },
        0,
      ), // a background sweep may take long; each batch is short
  };
}

/** Removes every table a refresh store with this prefix owns: for tests and uninstalls. */
export async function dropPostgresRefreshSchema(db: PgQueryable, tablePrefix = 'latchkey_refresh_'): Promise<void> {
  checkPgQueryable('dropPostgresRefreshSchema', db);
  const t = checkPrefix(tablePrefix);
  await db.query(`DROP TABLE IF EXISTS ${t}tokens, ${t}families, ${t}schema_version`);
}
