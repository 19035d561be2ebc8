/**
 * `latchkey/passkeys/sqlite`: passkeys and their challenges in SQLite (better-sqlite3, an optional
 * peer), in the same file as the sessions or another. Taking a challenge is one `DELETE … RETURNING`
 * and a use is one `UPDATE … WHERE counter = ?`, so neither can happen twice.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { checkOptions, checkString } from '../lib/options.js';
import { migrateSqlite } from '../lib/schema.js';
import { checkSqliteDatabase } from '../tokens/sqlite-database.js';
import { columnsOf, fromRow, type PasskeyRow } from './row.js';
import type { PasskeyStore } from './store.js';

/** Options of `createSqlitePasskeyStore`. */
export interface SqlitePasskeyStoreOptions {
  /** Prefix of the tables this store owns. Default `latchkey_passkey_`. Letters, digits and `_` only. */
  tablePrefix?: string;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  `CREATE TABLE ${t}credentials (
     id TEXT PRIMARY KEY NOT NULL,
     user_id TEXT NOT NULL,
     public_key TEXT NOT NULL,
     counter INTEGER NOT NULL,
     transports TEXT NOT NULL,
     backup_eligible INTEGER NOT NULL,
     backed_up INTEGER NOT NULL,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER
   ) WITHOUT ROWID;
   CREATE INDEX ${t}credentials_user ON ${t}credentials (user_id, created_at);
   CREATE TABLE ${t}challenges (
     key TEXT PRIMARY KEY NOT NULL,
     challenge TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX ${t}challenges_expiry ON ${t}challenges (expires_at);`,
];

/** The schema version this build of latchkey writes. */
export const SQLITE_PASSKEY_SCHEMA_VERSION = 1;

/**
 * A passkey store in a better-sqlite3 Database; creates or migrates its tables at once.
 *
 * @example
 * import Database from 'better-sqlite3';
 * const store = createSqlitePasskeyStore(new Database('data/app.db'));
 */
export function createSqlitePasskeyStore(
  db: BetterSqlite3.Database,
  options?: SqlitePasskeyStoreOptions,
): PasskeyStore {
  checkSqliteDatabase('createSqlitePasskeyStore', db);
  const o = checkOptions('createSqlitePasskeyStore', options, ['tablePrefix']);
  // Interpolated into SQL: a plain identifier only.
  const t = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_passkey_',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 40,
  });
  db.pragma('journal_mode = WAL');
  if (db.pragma('busy_timeout', { simple: true }) === 0) db.pragma('busy_timeout = 5000');
  migrateSqlite(db, t, migrations(t), 'latchkey passkeys');

  const s = {
    // One statement: the count and the insert cannot be split by another writer (SQLite has one).
    add: db.prepare(
      `INSERT INTO ${t}credentials (id, user_id, public_key, counter, transports, backup_eligible, backed_up, name, created_at, last_used_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM ${t}credentials WHERE user_id = ?) < ?
       ON CONFLICT (id) DO NOTHING`,
    ),
    get: db.prepare<[string], PasskeyRow>(`SELECT * FROM ${t}credentials WHERE id = ?`),
    list: db.prepare<[string], PasskeyRow>(`SELECT * FROM ${t}credentials WHERE user_id = ? ORDER BY created_at, id`),
    rename: db.prepare(`UPDATE ${t}credentials SET name = ? WHERE user_id = ? AND id = ?`),
    delete: db.prepare(
      `DELETE FROM ${t}credentials WHERE user_id = ? AND id = ?
         AND (? = 0 OR (SELECT COUNT(*) FROM ${t}credentials WHERE user_id = ?) > 1)`,
    ),
    deleteAll: db.prepare(`DELETE FROM ${t}credentials WHERE user_id = ?`),
    use: db.prepare(
      `UPDATE ${t}credentials SET counter = ?, backed_up = ?, last_used_at = ? WHERE id = ? AND counter = ?`,
    ),
    sweep: db.prepare(`DELETE FROM ${t}challenges WHERE expires_at < ?`),
    putChallenge: db.prepare(
      `INSERT INTO ${t}challenges (key, challenge, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET challenge = excluded.challenge, expires_at = excluded.expires_at`,
    ),
    take: db.prepare<[string], { challenge: string; expires_at: number }>(
      `DELETE FROM ${t}challenges WHERE key = ? RETURNING challenge, expires_at`,
    ),
  };
  let puts = 0;

  // better-sqlite3 is synchronous; a driver failure surfaces as StoreUnavailableError, never as a
  // passkey accepted or a challenge handed out twice.
  const guard = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(new StoreUnavailableError('sqlite passkey store failed', { cause: error }));
    }
  };

  return {
    add: (r, maxPerUser) =>
      guard(() => s.add.run(...columnsOf(r, (b) => (b ? 1 : 0)), r.userId, maxPerUser).changes === 1),
    get: (id) =>
      guard(() => {
        const row = s.get.get(id);
        return row === undefined ? null : fromRow(row);
      }),
    list: (userId) => guard(() => s.list.all(userId).map(fromRow)),
    rename: (userId, id, name) => guard(() => s.rename.run(name, userId, id).changes === 1),
    delete: (userId, id, keepOne) =>
      guard(() => s.delete.run(userId, id, keepOne === true ? 1 : 0, userId).changes === 1),
    deleteAll: (userId) => guard(() => s.deleteAll.run(userId).changes),
    recordUse: (id, use) =>
      guard(() => s.use.run(use.counter, use.backedUp ? 1 : 0, use.at, id, use.previousCounter).changes === 1),
    putChallenge: (key, challenge, expiresAt) =>
      guard(() => {
        // Abandoned challenges go in batches, on the write path, never on a read. Measured on the
        // caller's clock: whatever expired an hour before this one does is long dead.
        if (++puts % 100 === 0) s.sweep.run(expiresAt - 3_600_000);
        s.putChallenge.run(key, challenge, expiresAt);
      }),
    takeChallenge: (key, now) =>
      guard(() => {
        const row = s.take.get(key);
        return row === undefined || row.expires_at < now ? null : row.challenge;
      }),
  };
}
