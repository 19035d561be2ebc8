/**
 * The embedded default store, on better-sqlite3 (an optional peer dependency). WAL mode, prepared
 * statements, indexes for the user and expiry look-ups, and a schema version table so later
 * versions can migrate a file in place. better-sqlite3 is synchronous: one look-up by primary key
 * takes a few microseconds, far less than a hop to another thread would.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import { driverKind, driverName, storeFor } from '../lib/drivers.js';
import { checkBoolean, checkNumber, checkOptions, checkString, describe } from '../lib/options.js';
import { migrateSqlite } from '../lib/schema.js';
import { pairGetNow } from './get-now.js';
import type { SessionBinding, SessionData, SessionRecord, SessionStore } from './store.js';

/** Options of `createSqliteStore`. */
export interface SqliteStoreOptions {
  /** Prefix of the tables this store owns. Default `latchkey_`. Letters, digits and `_` only. */
  tablePrefix?: string;
  /** Rows deleted per statement by `deleteExpired`, so a sweep never holds the write lock long. Default 1000. */
  sweepBatchSize?: number;
  /**
   * Single-process mode: `locking_mode = EXCLUSIVE`. This connection keeps the file's lock, so
   * each read skips the per-transaction lock and stat system calls (a look-up measured 0.7 µs
   * instead of 2.7 µs here); no other process can open the file while this one has it. Right when
   * one server process owns its SQLite file (the reference server); wrong when workers, a CLI or a
   * second instance share it. Default false.
   */
  exclusive?: boolean;
}

// Column order of every SELECT below; rows come back as arrays (`.raw()`), which spares
// better-sqlite3 building a keyed object per row on the validation path.
const FIELDS = `secret_hash, user_id, created_at, last_seen_at, expires_at, absolute_expires_at,
  authenticated_at, user_agent, ip, data, remembered, binding`;
type Row = [
  string,
  string,
  number,
  number,
  number,
  number,
  number,
  string | null,
  string | null,
  string,
  number,
  string | null,
];

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  `CREATE TABLE ${t}sessions (
     id TEXT PRIMARY KEY NOT NULL,
     secret_hash TEXT NOT NULL,
     user_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_seen_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     absolute_expires_at INTEGER NOT NULL,
     authenticated_at INTEGER NOT NULL,
     user_agent TEXT,
     ip TEXT,
     data TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX ${t}sessions_user ON ${t}sessions (user_id, created_at);
   CREATE INDEX ${t}sessions_expiry ON ${t}sessions (expires_at);`,
  // 2: "remember me" is recorded, not inferred from the limits (0.x, #15).
  `ALTER TABLE ${t}sessions ADD COLUMN remembered INTEGER NOT NULL DEFAULT 0;`,
  // 3: the device key a session is bound to (latchkey/dbsc), as JSON; NULL when unbound.
  `ALTER TABLE ${t}sessions ADD COLUMN binding TEXT;`,
];

/** The schema version this build of latchkey writes. */
export const SQLITE_SCHEMA_VERSION = 3;

const toRecord = (id: string, row: Row): SessionRecord => ({
  id,
  secretHash: row[0],
  userId: row[1],
  createdAt: row[2],
  lastSeenAt: row[3],
  expiresAt: row[4],
  absoluteExpiresAt: row[5],
  authenticatedAt: row[6],
  userAgent: row[7],
  ip: row[8],
  data: row[9] === '{}' ? {} : (JSON.parse(row[9]) as SessionData),
  remembered: row[10] === 1,
  binding: row[11] === null ? null : (JSON.parse(row[11]) as SessionBinding),
});

const OPEN_DATABASE =
  "createSqliteStore takes an open better-sqlite3 Database: createSqliteStore(new Database('sessions.db'))";

/** The argument is a better-sqlite3 Database, or the error says what to pass instead. */
function checkDatabase(db: unknown): void {
  if (db !== null && typeof db === 'object' && typeof (db as { pragma?: unknown }).pragma === 'function') return;
  const kind = driverKind(db);
  const wrap = kind === undefined || kind === 'sqlite' ? undefined : storeFor[kind];
  if (kind === 'string') throw new ConfigurationError(`${OPEN_DATABASE}, not a file name`);
  if (kind === 'sqlite') {
    throw new ConfigurationError(`${OPEN_DATABASE}; this SQLite handle has no pragma() (node:sqlite is not supported)`);
  }
  const got = kind === undefined ? describe(db) : driverName[kind];
  throw new ConfigurationError(`${OPEN_DATABASE}; got ${got}${wrap === undefined ? '' : ` (for it, use ${wrap})`}`);
}

/**
 * @example
 * import Database from 'better-sqlite3';
 * const store = createSqliteStore(new Database('data/sessions.db'));
 */
export function createSqliteStore(db: BetterSqlite3.Database, options?: SqliteStoreOptions): SessionStore {
  checkDatabase(db);
  const o = checkOptions('createSqliteStore', options, ['tablePrefix', 'sweepBatchSize', 'exclusive']);
  const t = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_',
    pattern: /^[A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only',
    minLength: 0,
    maxLength: 40,
  });
  const batch = checkNumber('sweepBatchSize', o.sweepBatchSize, { default: 1000, min: 1, max: 100_000, integer: true });
  const exclusive = checkBoolean('exclusive', o.exclusive, false);

  // Before WAL is switched on, so that SQLite keeps the WAL index in heap memory, not in -shm.
  if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
  // WAL: readers never wait for the writer; NORMAL sync is crash-safe for the process in WAL mode.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrateSqlite(db, t, migrations(t), 'latchkey');

  const s = {
    insert: db.prepare(
      `INSERT INTO ${t}sessions (id, secret_hash, user_id, created_at, last_seen_at, expires_at,
         absolute_expires_at, authenticated_at, user_agent, ip, data, remembered, binding)
       VALUES (@id, @secretHash, @userId, @createdAt, @lastSeenAt, @expiresAt,
         @absoluteExpiresAt, @authenticatedAt, @userAgent, @ip, @data, @remembered, @binding)`,
    ),
    get: db.prepare(`SELECT ${FIELDS} FROM ${t}sessions WHERE id = ?`).raw(),
    touch: db.prepare(`UPDATE ${t}sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`),
    setData: db.prepare(`UPDATE ${t}sessions SET data = ? WHERE id = ?`),
    // Compare-and-set in one statement. The binding is one JSON column; the condition reads the
    // thumbprint and provenAt out of it (json_extract), so no other column has to be kept in step.
    bindUnbound: db.prepare(`UPDATE ${t}sessions SET binding = ? WHERE id = ? AND binding IS NULL`),
    rebind: db.prepare(
      `UPDATE ${t}sessions SET binding = ? WHERE id = ?
         AND json_extract(binding, '$.thumbprint') = ? AND json_extract(binding, '$.provenAt') = ?`,
    ),
    delete: db.prepare(`DELETE FROM ${t}sessions WHERE id = ?`),
    deleteUser: db.prepare(`DELETE FROM ${t}sessions WHERE user_id = ? AND id != ?`),
    listUser: db.prepare(`SELECT id, ${FIELDS} FROM ${t}sessions WHERE user_id = ? ORDER BY created_at, id`).raw(),
    userExpired: db.prepare(`SELECT id FROM ${t}sessions WHERE user_id = ? AND expires_at <= ?`),
    userLive: db.prepare(`SELECT id FROM ${t}sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at, id`),
    sweep: db.prepare(
      `DELETE FROM ${t}sessions WHERE id IN
         (SELECT id FROM ${t}sessions WHERE expires_at <= ? LIMIT ${Number(batch)})`,
    ),
  };

  const create = db.transaction((record: SessionRecord, maxPerUser: number): string[] => {
    s.insert.run({
      ...record,
      data: JSON.stringify(record.data),
      remembered: record.remembered === true ? 1 : 0,
      binding: record.binding == null ? null : JSON.stringify(record.binding),
    });
    const evicted = (s.userExpired.all(record.userId, record.createdAt) as { id: string }[]).map((r) => r.id);
    const live = (s.userLive.all(record.userId, record.createdAt) as { id: string }[]).map((r) => r.id);
    evicted.push(...live.slice(0, Math.max(0, live.length - maxPerUser)));
    for (const id of evicted) s.delete.run(id);
    return evicted;
  });

  // better-sqlite3 is synchronous; each call is wrapped so a driver failure (closed handle, I/O
  // error, lock timeout) surfaces as StoreUnavailableError and never as "logged in".
  const unavailable = (error: unknown) => new StoreUnavailableError('sqlite session store failed', { cause: error });
  const guard = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(unavailable(error));
    }
  };

  /** The validation path: one statement, no closure, no promise. */
  const getNow = (id: string): SessionRecord | null => {
    try {
      const row = s.get.get(id) as Row | undefined;
      return row === undefined ? null : toRecord(id, row);
    } catch (error) {
      throw unavailable(error);
    }
  };

  return pairGetNow({
    create: (record, maxPerUser) => guard(() => create.immediate(record, maxPerUser)),
    get(id) {
      try {
        return Promise.resolve(getNow(id));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    getNow,
    touch: (id, lastSeenAt, expiresAt) =>
      guard(() => {
        s.touch.run(lastSeenAt, expiresAt, id);
      }),
    setData: (id, data) => guard(() => s.setData.run(JSON.stringify(data), id).changes > 0),
    setBinding: (id, next, expected) =>
      guard(() => {
        const value = next === null ? null : JSON.stringify(next);
        const { changes } =
          expected === null
            ? s.bindUnbound.run(value, id)
            : s.rebind.run(value, id, expected.thumbprint, expected.provenAt);
        return changes > 0;
      }),
    delete: (id) => guard(() => s.delete.run(id).changes > 0),
    deleteUser: (userId, exceptId) => guard(() => s.deleteUser.run(userId, exceptId ?? '').changes),
    listUser: (userId) =>
      guard(() => (s.listUser.all(userId) as [string, ...Row][]).map(([id, ...row]) => toRecord(id, row))),
    deleteExpired: (now) =>
      guard(() => {
        let total = 0;
        for (;;) {
          const { changes } = s.sweep.run(now);
          total += changes;
          if (changes < batch) return total;
        }
      }),
  });
}
