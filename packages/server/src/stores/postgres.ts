/**
 * A PostgreSQL session store for sites that run many app instances. It needs only `query(text,
 * params)`, so a `pg.Pool`, a `pg.Client` and PGlite all fit. Migrations run under an advisory
 * lock and record their version; creation is one round trip to a PL/pgSQL function that holds a
 * per-user lock, so the session cap holds across processes.
 */
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkNumber, checkOptions } from '../lib/options.js';
import { checkPgQueryable, checkTablePrefix, migratePostgresSchema } from '../lib/schema.js';
import type { SessionBinding, SessionData, SessionRecord, SessionStore } from './store.js';

/** The one method the store uses. pg's Pool and Client, and PGlite, all have it. */
export interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Options of `createPostgresStore`. */
export interface PostgresStoreOptions {
  /**
   * Prefix of the tables and function this store owns. Default `latchkey_`. Letters, digits and
   * `_`, not starting with a digit: it is written into SQL as part of an identifier.
   */
  tablePrefix?: string;
  /** Rows deleted per statement by `deleteExpired`. Default 1000. */
  sweepBatchSize?: number;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  `CREATE TABLE ${t}sessions (
     id text PRIMARY KEY,
     secret_hash text NOT NULL,
     user_id text NOT NULL,
     created_at bigint NOT NULL,
     last_seen_at bigint NOT NULL,
     expires_at bigint NOT NULL,
     absolute_expires_at bigint NOT NULL,
     authenticated_at bigint NOT NULL,
     user_agent text,
     ip text,
     data jsonb NOT NULL
   );
   CREATE INDEX ${t}sessions_user ON ${t}sessions (user_id, created_at);
   CREATE INDEX ${t}sessions_expiry ON ${t}sessions (expires_at);
   CREATE FUNCTION ${t}create_session(p_id text, p_hash text, p_user text, p_created bigint, p_last bigint,
       p_expires bigint, p_absolute bigint, p_auth bigint, p_ua text, p_ip text, p_data jsonb, p_max int)
     RETURNS SETOF text LANGUAGE plpgsql AS $fn$
   BEGIN
     -- One user's creations run one at a time (until commit), so no race leaves a user over the cap.
     PERFORM pg_advisory_xact_lock(hashtextextended('${t}' || p_user, 0));
     INSERT INTO ${t}sessions VALUES (p_id, p_hash, p_user, p_created, p_last, p_expires, p_absolute, p_auth,
       p_ua, p_ip, p_data);
     RETURN QUERY DELETE FROM ${t}sessions WHERE user_id = p_user AND expires_at <= p_created RETURNING id;
     RETURN QUERY DELETE FROM ${t}sessions WHERE id IN (
       SELECT id FROM ${t}sessions WHERE user_id = p_user AND expires_at > p_created
       ORDER BY created_at DESC, id DESC OFFSET p_max) RETURNING id;
   END $fn$;`,
  // 2: "remember me" is recorded, not inferred from the limits (0.x, #15).
  `ALTER TABLE ${t}sessions ADD COLUMN remembered boolean NOT NULL DEFAULT false;
   DROP FUNCTION ${t}create_session(text, text, text, bigint, bigint, bigint, bigint, bigint, text, text, jsonb, int);
   CREATE FUNCTION ${t}create_session(p_id text, p_hash text, p_user text, p_created bigint, p_last bigint,
       p_expires bigint, p_absolute bigint, p_auth bigint, p_ua text, p_ip text, p_data jsonb, p_max int,
       p_remembered boolean)
     RETURNS SETOF text LANGUAGE plpgsql AS $fn$
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtextextended('${t}' || p_user, 0));
     INSERT INTO ${t}sessions VALUES (p_id, p_hash, p_user, p_created, p_last, p_expires, p_absolute, p_auth,
       p_ua, p_ip, p_data, p_remembered);
     RETURN QUERY DELETE FROM ${t}sessions WHERE user_id = p_user AND expires_at <= p_created RETURNING id;
     RETURN QUERY DELETE FROM ${t}sessions WHERE id IN (
       SELECT id FROM ${t}sessions WHERE user_id = p_user AND expires_at > p_created
       ORDER BY created_at DESC, id DESC OFFSET p_max) RETURNING id;
   END $fn$;`,
  // 3: the device key a session is bound to (latchkey/dbsc), as JSON text; NULL when unbound.
  `ALTER TABLE ${t}sessions ADD COLUMN binding text;
   DROP FUNCTION ${t}create_session(text, text, text, bigint, bigint, bigint, bigint, bigint, text, text, jsonb, int,
     boolean);
   CREATE FUNCTION ${t}create_session(p_id text, p_hash text, p_user text, p_created bigint, p_last bigint,
       p_expires bigint, p_absolute bigint, p_auth bigint, p_ua text, p_ip text, p_data jsonb, p_max int,
       p_remembered boolean, p_binding text)
     RETURNS SETOF text LANGUAGE plpgsql AS $fn$
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtextextended('${t}' || p_user, 0));
     INSERT INTO ${t}sessions VALUES (p_id, p_hash, p_user, p_created, p_last, p_expires, p_absolute, p_auth,
       p_ua, p_ip, p_data, p_remembered, p_binding);
     RETURN QUERY DELETE FROM ${t}sessions WHERE user_id = p_user AND expires_at <= p_created RETURNING id;
     RETURN QUERY DELETE FROM ${t}sessions WHERE id IN (
       SELECT id FROM ${t}sessions WHERE user_id = p_user AND expires_at > p_created
       ORDER BY created_at DESC, id DESC OFFSET p_max) RETURNING id;
   END $fn$;`,
];

/** The schema version this build writes. */
export const POSTGRES_SCHEMA_VERSION = 3;

const FIELDS = `secret_hash, user_id, created_at::float8 AS created_at, last_seen_at::float8 AS last_seen_at,
  expires_at::float8 AS expires_at, absolute_expires_at::float8 AS absolute_expires_at,
  authenticated_at::float8 AS authenticated_at, user_agent, ip, data, remembered, binding`;

interface Row {
  id?: string;
  secret_hash: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  absolute_expires_at: number;
  authenticated_at: number;
  user_agent: string | null;
  ip: string | null;
  data: SessionData;
  remembered: boolean;
  /** JSON text, not jsonb: the driver hands it over unparsed, and it is parsed only when set. */
  binding: string | null;
}

const toRecord = (id: string, row: Row): SessionRecord => ({
  id,
  secretHash: row.secret_hash,
  userId: row.user_id,
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
  expiresAt: row.expires_at,
  absoluteExpiresAt: row.absolute_expires_at,
  authenticatedAt: row.authenticated_at,
  userAgent: row.user_agent,
  ip: row.ip,
  data: row.data,
  remembered: row.remembered === true,
  binding: row.binding === null ? null : (JSON.parse(row.binding) as SessionBinding),
});

const checkPrefix = (prefix: unknown) => checkTablePrefix(prefix, 'latchkey_');

/**
 * Creates the tables on first use (or moves them to this version) under an advisory lock, so
 * several instances starting at once migrate exactly once.
 */
export async function migratePostgres(db: PgQueryable, tablePrefix = 'latchkey_'): Promise<void> {
  checkPgQueryable('migratePostgres', db);
  const t = checkPrefix(tablePrefix);
  await migratePostgresSchema(db, t, migrations(t), 'latchkey');
}

/** Removes every table and function a store with this prefix owns: for tests and uninstalls. */
export async function dropPostgresSchema(db: PgQueryable, tablePrefix = 'latchkey_'): Promise<void> {
  checkPgQueryable('dropPostgresSchema', db);
  const t = checkPrefix(tablePrefix);
  await db.query(`DROP TABLE IF EXISTS ${t}sessions, ${t}schema_version`);
  await db.query(`DROP FUNCTION IF EXISTS ${t}create_session`);
}

/**
 * @example
 * import pg from 'pg';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const store = await createPostgresStore(pool);
 */
export async function createPostgresStore(db: PgQueryable, options?: PostgresStoreOptions): Promise<SessionStore> {
  checkPgQueryable('createPostgresStore', db);
  const o = checkOptions('createPostgresStore', options, ['tablePrefix', 'sweepBatchSize', 'timeoutMs']);
  const t = checkPrefix(o.tablePrefix);
  const batch = checkNumber('sweepBatchSize', o.sweepBatchSize, { default: 1000, min: 1, max: 100_000, integer: true });
  const ms = checkDeadline(o.timeoutMs);
  await migratePostgres(db, t);

  const rows = async <R>(text: string, params: unknown[]) => (await db.query(text, params)).rows as R[];
  const run = <T>(what: string, work: () => Promise<T>, deadline = ms) =>
    guarded(work, deadline, `postgres session store ${what}`);

  return {
    create: (r, maxPerUser) =>
      run('create', async () =>
        (
          await rows<{ id: string }>(
            `SELECT x AS id FROM ${t}create_session($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14) AS x`,
            [
              r.id,
              r.secretHash,
              r.userId,
              r.createdAt,
              r.lastSeenAt,
              r.expiresAt,
              r.absoluteExpiresAt,
              r.authenticatedAt,
              r.userAgent,
              r.ip,
              JSON.stringify(r.data),
              maxPerUser,
              r.remembered === true,
              r.binding == null ? null : JSON.stringify(r.binding),
            ],
          )
        ).map((row) => row.id),
      ),
    get: (id) =>
      run('get', async () => {
        const [row] = await rows<Row>(`SELECT ${FIELDS} FROM ${t}sessions WHERE id = $1`, [id]);
        return row === undefined ? null : toRecord(id, row);
      }),
    touch: (id, lastSeenAt, expiresAt) =>
      run('touch', async () => {
        await db.query(`UPDATE ${t}sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1`, [
          id,
          lastSeenAt,
          expiresAt,
        ]);
      }),
    setData: (id, data) =>
      run(
        'setData',
        async () =>
          (
            await rows(`UPDATE ${t}sessions SET data = $2::jsonb WHERE id = $1 RETURNING id`, [
              id,
              JSON.stringify(data),
            ])
          ).length > 0,
      ),
    setBinding: (id, next, expected) =>
      run('setBinding', async () => {
        const value = next === null ? null : JSON.stringify(next);
        // One UPDATE … WHERE: the row lock makes it a compare-and-set. The binding is one JSON text
        // column; the condition reads thumbprint and provenAt out of it, so nothing else is kept in step.
        const updated =
          expected === null
            ? await rows(`UPDATE ${t}sessions SET binding = $2 WHERE id = $1 AND binding IS NULL RETURNING id`, [
                id,
                value,
              ])
            : await rows(
                `UPDATE ${t}sessions SET binding = $2 WHERE id = $1 AND binding::jsonb ->> 'thumbprint' = $3
                   AND (binding::jsonb ->> 'provenAt')::float8 = $4::float8 RETURNING id`,
                [id, value, expected.thumbprint, expected.provenAt],
              );
        return updated.length > 0;
      }),
    delete: (id) =>
      run('delete', async () => (await rows(`DELETE FROM ${t}sessions WHERE id = $1 RETURNING id`, [id])).length > 0),
    deleteUser: (userId, exceptId) =>
      run(
        'deleteUser',
        async () =>
          (
            await rows(`DELETE FROM ${t}sessions WHERE user_id = $1 AND id <> $2 RETURNING id`, [
              userId,
              exceptId ?? '',
            ])
          ).length,
      ),
    listUser: (userId) =>
      run('listUser', async () =>
        (
          await rows<Row & { id: string }>(
            `SELECT id, ${FIELDS} FROM ${t}sessions WHERE user_id = $1 ORDER BY created_at, id`,
            [userId],
          )
        ).map((row) => toRecord(row.id, row)),
      ),
    deleteExpired: (now) =>
      run(
        'deleteExpired',
        async () => {
          let total = 0;
          for (;;) {
            // Small batches that skip rows other instances hold: a sweep never blocks logins for long.
            const deleted = await rows(
              `DELETE FROM ${t}sessions WHERE id IN (SELECT id FROM ${t}sessions WHERE expires_at <= $1
               ORDER BY expires_at LIMIT ${Number(batch)} FOR UPDATE SKIP LOCKED) RETURNING id`,
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
