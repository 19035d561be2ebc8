/**
 * The access-token revocation log in PostgreSQL, shared by every process that reaches the
 * database: the servers that revoke and the services that verify. It needs only `query(text,
 * params)` (a `pg.Pool`, a `pg.Client`, PGlite). The table is created (or migrated, under an
 * advisory lock, with its version recorded) by the first call, not at construction, so the
 * revocations are made synchronously like the other backends; `ready()` is the step that waits
 * for it. With a `listener` (a function returning a new `pg.Client`), each append is announced with
 * NOTIFY and read at once by the others; the poll stays the guarantee.
 */
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkOptions } from '../lib/options.js';
import { checkPgQueryable, checkTablePrefix, migratePostgresSchema } from '../lib/schema.js';
import type { PgQueryable } from '../stores/postgres.js';
import type { PgListener } from '../stores/postgres-invalidation.js';
import {
  type AccessTokenRevocations,
  createSharedRevocations,
  type RevocationEntry,
  type RevocationLog,
  SHARED_REVOCATIONS_OPTIONS,
  type SharedRevocationsOptions,
  sharedOptions,
} from './revocations.js';

/** Options of `createPostgresRevocationLog` and `createPostgresRevocations`. */
export interface PostgresRevocationLogOptions {
  /**
   * Prefix of the table, function and NOTIFY channel this log owns. Default `latchkey_access_`
   * (the table `latchkey_access_revocations`). Letters, digits and `_`, not starting with a digit:
   * it is written into SQL as part of an identifier.
   */
  tablePrefix?: string;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
  /**
   * Returns a new, unconnected `pg.Client` each time it is called: the connection of its own that
   * LISTENs for appends (a pooled connection would go back to the pool and stop listening). When
   * it drops, a new one is opened after 100 ms, doubling to at most 5 s between tries. Without it
   * the log is only polled.
   */
  listener?: () => PgListener;
}

const LOG_OPTIONS = ['tablePrefix', 'timeoutMs', 'listener'];

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string, channel: string): string[] => [
  // Appends go through the function, never a bare INSERT: an identity value is drawn before the
  // inserting transaction commits, so two concurrent appends can commit out of seq order, and a
  // reader that read `seq > cursor` between the two commits would move its cursor past the lower
  // seq and never see it. The transaction-scoped advisory lock, taken before the seq is drawn and
  // released only once the commit is visible, makes appends draw and commit one at a time, in seq
  // order: whatever a reader sees is a prefix of the log. Revocations are rare; the queue is short.
  // The identity is never reused, even after the newest rows were pruned.
  `CREATE TABLE ${t}revocations (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     kind text NOT NULL CHECK (kind IN ('token', 'subject')),
     key text NOT NULL,
     at bigint NOT NULL
   );
   CREATE INDEX ${t}revocations_at ON ${t}revocations (at);
   CREATE FUNCTION ${t}append_revocation(p_kind text, p_key text, p_at bigint) RETURNS void
     LANGUAGE plpgsql AS $fn$
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtextextended('${t}revocations', 0));
     INSERT INTO ${t}revocations (kind, key, at) VALUES (p_kind, p_key, p_at);
     -- Delivered at commit, so a listener that reads at once finds the row.
     PERFORM pg_notify('${channel}', '');
   END $fn$;`,
];

/** The schema version this build writes. */
export const POSTGRES_REVOCATION_SCHEMA_VERSION = 1;

interface Row {
  seq: string;
  kind: string;
  key: string;
  at: number;
}

const checkPrefix = (prefix: unknown) => checkTablePrefix(prefix, 'latchkey_access_');

/**
 * The log alone, for `createSharedRevocations` (`createPostgresRevocations` wraps the two). A call
 * that fails or outlasts `timeoutMs` rejects with StoreUnavailableError.
 * @example
 * import pg from 'pg';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const log = createPostgresRevocationLog(pool, { listener: () => new pg.Client(process.env.DATABASE_URL) });
 */
export function createPostgresRevocationLog(
  db: PgQueryable,
  options: PostgresRevocationLogOptions = {},
): RevocationLog {
  checkPgQueryable('createPostgresRevocationLog', db);
  const o = checkOptions('createPostgresRevocationLog', options, LOG_OPTIONS);
  const t = checkPrefix(o.tablePrefix);
  const ms = checkDeadline(o.timeoutMs);
  if (o.listener !== undefined && typeof o.listener !== 'function')
    throw new ConfigurationError(
      'listener must be a function that returns a new, unconnected pg.Client: listener: () => new pg.Client(url)',
    );
  const listener = o.listener;
  // Unquoted identifiers are folded to lower case; the channel is spelt the way LISTEN folds it.
  const channel = `${t}revocations`.toLowerCase();

  let schema: Promise<void> | undefined;
  /** The first call creates or migrates the table; a failed attempt is tried again by the next call. */
  const ensureSchema = () => {
    schema ??= migratePostgresSchema(db, t, migrations(t, channel), 'latchkey access-token revocation').catch(
      (error: unknown) => {
        schema = undefined;
        throw error;
      },
    );
    return schema;
  };
  const rows = async <R>(text: string, params: unknown[]) => (await db.query(text, params)).rows as R[];
  const run = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await guarded(
        async () => {
          await ensureSchema();
          return work();
        },
        ms,
        `postgres revocation log ${what}`,
      );
    } catch (error) {
      // A schema newer than this build is a configuration to fix, not an outage to wait out.
      if (error instanceof StoreUnavailableError && error.cause instanceof ConfigurationError) throw error.cause;
      throw error;
    }
  };

  return {
    append: (e) =>
      run('append', async () => {
        await db.query(`SELECT ${t}append_revocation($1, $2, $3)`, [e.kind, e.key, e.at]);
      }),
    read: (cursor, limit) =>
      run('read', async () => {
        // `r.seq`, qualified: a bare `ORDER BY seq` would sort by the text output column ("10" < "9").
        const found = await rows<Row>(
          `SELECT r.seq::text AS seq, r.kind, r.key, r.at::float8 AS at FROM ${t}revocations r
           WHERE r.seq > $1::bigint ORDER BY r.seq LIMIT $2::int`,
          [cursor ?? '0', limit],
        );
        const entries: RevocationEntry[] = [];
        for (const r of found)
          if (r.kind === 'token' || r.kind === 'subject') entries.push({ kind: r.kind, key: r.key, at: r.at });
        return { entries, cursor: found.at(-1)?.seq ?? cursor };
      }),
    prune: (before) =>
      run('prune', async () => {
        const [row] = await rows<{ n: number }>(
          `WITH gone AS (DELETE FROM ${t}revocations WHERE at < $1 RETURNING 1) SELECT count(*)::int AS n FROM gone`,
          [Math.floor(before)],
        );
        return row?.n ?? 0;
      }),
    ...(listener === undefined ? {} : { watch: (onAppend: () => void) => listen(listener, channel, onAppend) }),
  };
}

/** LISTENs on a connection of its own, reconnecting with a growing delay; returns the way to stop. */
function listen(open: () => PgListener, channel: string, onAppend: () => void): () => Promise<void> {
  let stopped = false;
  let current: PgListener | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = 100;
  const connect = async () => {
    let client: PgListener;
    try {
      client = open();
    } catch {
      return schedule();
    }
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (current === client) current = undefined;
      client.end().catch(() => {});
      schedule();
    };
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (message) => {
      if (message.channel === channel) onAppend();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch {
      return onLost();
    }
    if (stopped) return void client.end().catch(() => {});
    current = client;
    delay = 100;
    // Appends announced while no connection listened: read them now rather than at the next poll.
    onAppend();
  };
  function schedule() {
    if (stopped) return;
    retry = setTimeout(() => void connect(), delay).unref();
    delay = Math.min(delay * 2, 5000);
  }
  void connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await current?.end().catch(() => {});
    current = undefined;
  };
}

/**
 * Access-token revocations shared through PostgreSQL: revoke in one process, refused in every
 * process reading the same database within `pollInterval` (500 ms; at once with a `listener`), fail
 * closed after `maxStaleness` without a successful read. Call `close()` before ending the pool.
 * @example
 * const revocations = createPostgresRevocations(pool, { listener: () => new pg.Client(process.env.DATABASE_URL) });
 * await revocations.ready();
 * const verifier = createAccessTokenVerifier({ jwksUrl, issuer, audience, revocations });
 */
export function createPostgresRevocations(
  db: PgQueryable,
  options: PostgresRevocationLogOptions & SharedRevocationsOptions = {},
): AccessTokenRevocations {
  const o = checkOptions('createPostgresRevocations', options, [...LOG_OPTIONS, ...SHARED_REVOCATIONS_OPTIONS]);
  const { tablePrefix, timeoutMs, listener } = o;
  return createSharedRevocations(
    createPostgresRevocationLog(db, { tablePrefix, timeoutMs, listener }),
    sharedOptions(o),
  );
}

/** Removes the table and function a revocation log with this prefix owns: for tests and uninstalls. */
export async function dropPostgresRevocationSchema(db: PgQueryable, tablePrefix = 'latchkey_access_'): Promise<void> {
  checkPgQueryable('dropPostgresRevocationSchema', db);
  const t = checkPrefix(tablePrefix);
  await db.query(`DROP TABLE IF EXISTS ${t}revocations, ${t}schema_version`);
  await db.query(`DROP FUNCTION IF EXISTS ${t}append_revocation`);
}
