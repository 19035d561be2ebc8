/**
 * `latchkey/one-time/sqlite`: one-time tokens in SQLite (better-sqlite3, an optional peer), in the
 * same file as the sessions or another. One row per user and purpose (a unique index), so issuing
 * a token replaces the previous one in one statement; using a token is one `DELETE … RETURNING`,
 * so of two processes sharing the file exactly one gets it.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { checkNumber, checkOptions, checkString } from '../lib/options.js';
import { migrateSqlite } from '../lib/schema.js';
import { checkSqliteDatabase } from '../tokens/sqlite-database.js';
import type { OneTimeTokenData, OneTimeTokenRecord, OneTimeTokenStore } from './store.js';

/** Options of `createSqliteOneTimeStore`. */
export interface SqliteOneTimeStoreOptions {
  /** Prefix of the tables this store owns. Default `latchkey_one_time_`. Letters, digits and `_` only. */
  tablePrefix?: string;
  /** Rows deleted per statement by `deleteExpired`, so a sweep never holds the write lock long. Default 1000. */
  sweepBatchSize?: number;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  `CREATE TABLE ${t}tokens (
     token_hash TEXT PRIMARY KEY NOT NULL,
     user_id TEXT NOT NULL,
     purpose TEXT NOT NULL,
     data TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE UNIQUE INDEX ${t}tokens_user ON ${t}tokens (user_id, purpose);
   CREATE INDEX ${t}tokens_expiry ON ${t}tokens (expires_at);`,
];

/** The schema version this build of latchkey writes. */
export const SQLITE_ONE_TIME_SCHEMA_VERSION = 1;

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
 * A one-time token store in a better-sqlite3 Database; creates or migrates its tables at once.
 *
 * @example
 * import Database from 'better-sqlite3';
 * const oneTime = createOneTimeTokens({ store: createSqliteOneTimeStore(new Database('data/app.db')) });
 */
export function createSqliteOneTimeStore(
  db: BetterSqlite3.Database,
  options?: SqliteOneTimeStoreOptions,
): OneTimeTokenStore {
  checkSqliteDatabase('createSqliteOneTimeStore', db);
  const o = checkOptions('createSqliteOneTimeStore', options, ['tablePrefix', 'sweepBatchSize']);
  // Interpolated into SQL: a plain identifier only.
  const t = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_one_time_',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 40,
  });
  const batch = checkNumber('sweepBatchSize', o.sweepBatchSize, { default: 1000, min: 1, max: 100_000, integer: true });

  // WAL: readers never wait for the writer. A second process waits for the write lock, not fails.
  db.pragma('journal_mode = WAL');
  if (db.pragma('busy_timeout', { simple: true }) === 0) db.pragma('busy_timeout = 5000');
  migrateSqlite(db, t, migrations(t), 'latchkey one-time token');

  const FIELDS = 'token_hash, user_id, purpose, data, created_at, expires_at';
  const s = {
    // The unique index on (user_id, purpose) makes "the newest replaces the older" one statement.
    insert: db.prepare(
      `INSERT INTO ${t}tokens (${FIELDS}) VALUES (@tokenHash, @userId, @purpose, @data, @createdAt, @expiresAt)
       ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = excluded.token_hash, data = excluded.data,
         created_at = excluded.created_at, expires_at = excluded.expires_at`,
    ),
    take: db.prepare<[string, string, number], Row>(
      `DELETE FROM ${t}tokens WHERE token_hash = ? AND purpose = ? AND expires_at > ? RETURNING ${FIELDS}`,
    ),
    get: db.prepare<[string, string, number], Row>(
      `SELECT ${FIELDS} FROM ${t}tokens WHERE token_hash = ? AND purpose = ? AND expires_at > ?`,
    ),
    deleteUser: db.prepare(`DELETE FROM ${t}tokens WHERE user_id = ?`),
    deletePurpose: db.prepare(`DELETE FROM ${t}tokens WHERE user_id = ? AND purpose = ?`),
    sweep: db.prepare(
      `DELETE FROM ${t}tokens WHERE token_hash IN
         (SELECT token_hash FROM ${t}tokens WHERE expires_at <= ? LIMIT ${Number(batch)})`,
    ),
  };

  // better-sqlite3 is synchronous; each call is wrapped so a driver failure (closed handle, I/O
  // error, lock timeout) surfaces as StoreUnavailableError, never as a used or a valid token.
  const guard = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(new StoreUnavailableError('sqlite one-time token store failed', { cause: error }));
    }
  };

  return {
    insert: (r) =>
      guard(() => {
        s.insert.run({ ...r, data: JSON.stringify(r.data) });
      }),
    take: (hash, purpose, now) =>
      guard(() => {
        const row = s.take.get(hash, purpose, now);
        return row === undefined ? null : toRecord(row);
      }),
    get: (hash, purpose, now) =>
      guard(() => {
        const row = s.get.get(hash, purpose, now);
        return row === undefined ? null : toRecord(row);
      }),
    deleteUser: (userId, purpose) =>
      guard(() => (purpose === undefined ? s.deleteUser.run(userId) : s.deletePurpose.run(userId, purpose)).changes),
    deleteExpired: (now) =>
      guard(() => {
        let total = 0;
        for (;;) {
          const { changes } = s.sweep.run(now);
          total += changes;
          if (changes < batch) return total;
        }
      }),
  };
}
