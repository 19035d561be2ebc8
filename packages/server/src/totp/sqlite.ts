/**
 * `latchkey/totp/sqlite`: TOTP enrolments in SQLite (better-sqlite3, an optional peer), in the same
 * file as the sessions or another. One row per user; the recovery codes' hashes in a table of their
 * own, so using one is a single `DELETE`: of two requests with the same code, exactly one gets it.
 * Accepting a code is one `UPDATE … WHERE last_step < ?`, so a code is never accepted twice.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { checkOptions, checkString } from '../lib/options.js';
import { migrateSqlite } from '../lib/schema.js';
import { checkSqliteDatabase } from '../tokens/sqlite-database.js';
import type { TotpRecord, TotpStore } from './store.js';

/** Options of `createSqliteTotpStore`. */
export interface SqliteTotpStoreOptions {
  /** Prefix of the tables this store owns. Default `latchkey_totp_`. Letters, digits and `_` only. */
  tablePrefix?: string;
}

/** Each entry moves the schema one version up; entries are never edited once released. */
const migrations = (t: string): string[] => [
  `CREATE TABLE ${t}factors (
     user_id TEXT PRIMARY KEY NOT NULL,
     sealed_secret TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     confirmed_at INTEGER,
     last_step INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE ${t}recovery_codes (
     user_id TEXT NOT NULL,
     code_hash TEXT NOT NULL,
     PRIMARY KEY (user_id, code_hash)
   ) WITHOUT ROWID;`,
];

/** The schema version this build of latchkey writes. */
export const SQLITE_TOTP_SCHEMA_VERSION = 1;

interface Row {
  user_id: string;
  sealed_secret: string;
  created_at: number;
  confirmed_at: number | null;
  last_step: number;
}

/**
 * A TOTP store in a better-sqlite3 Database; creates or migrates its tables at once.
 *
 * @example
 * import Database from 'better-sqlite3';
 * const totp = createTotp({ store: createSqliteTotpStore(new Database('data/app.db')), keys, issuer: 'Acme' });
 */
export function createSqliteTotpStore(db: BetterSqlite3.Database, options?: SqliteTotpStoreOptions): TotpStore {
  checkSqliteDatabase('createSqliteTotpStore', db);
  const o = checkOptions('createSqliteTotpStore', options, ['tablePrefix']);
  // Interpolated into SQL: a plain identifier only.
  const t = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_totp_',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 40,
  });
  db.pragma('journal_mode = WAL');
  if (db.pragma('busy_timeout', { simple: true }) === 0) db.pragma('busy_timeout = 5000');
  migrateSqlite(db, t, migrations(t), 'latchkey TOTP');

  const s = {
    get: db.prepare<[string], Row>(`SELECT * FROM ${t}factors WHERE user_id = ?`),
    codes: db.prepare<[string], { code_hash: string }>(
      `SELECT code_hash FROM ${t}recovery_codes WHERE user_id = ? ORDER BY code_hash`,
    ),
    put: db.prepare(
      `INSERT INTO ${t}factors (user_id, sealed_secret, created_at, confirmed_at, last_step)
       VALUES (@userId, @sealedSecret, @createdAt, @confirmedAt, @lastStep)
       ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, created_at = excluded.created_at,
         confirmed_at = excluded.confirmed_at, last_step = excluded.last_step
       WHERE ${t}factors.confirmed_at IS NULL`,
    ),
    confirm: db.prepare(
      `UPDATE ${t}factors SET confirmed_at = ?, last_step = ?
       WHERE user_id = ? AND confirmed_at IS NULL AND sealed_secret = ?`,
    ),
    reseal: db.prepare(`UPDATE ${t}factors SET sealed_secret = ? WHERE user_id = ? AND sealed_secret = ?`),
    useStep: db.prepare(
      `UPDATE ${t}factors SET last_step = ? WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`,
    ),
    useCode: db.prepare(
      `DELETE FROM ${t}recovery_codes WHERE user_id = ? AND code_hash = ?
         AND EXISTS (SELECT 1 FROM ${t}factors WHERE user_id = ? AND confirmed_at IS NOT NULL)`,
    ),
    confirmed: db.prepare<[string], { one: number }>(
      `SELECT 1 AS one FROM ${t}factors WHERE user_id = ? AND confirmed_at IS NOT NULL`,
    ),
    clearCodes: db.prepare(`DELETE FROM ${t}recovery_codes WHERE user_id = ?`),
    addCode: db.prepare(`INSERT OR IGNORE INTO ${t}recovery_codes (user_id, code_hash) VALUES (?, ?)`),
    delete: db.prepare(`DELETE FROM ${t}factors WHERE user_id = ?`),
  };
  const setCodes = (userId: string, hashes: readonly string[]) => {
    s.clearCodes.run(userId);
    for (const hash of hashes) s.addCode.run(userId, hash);
  };
  const tx = {
    put: db.transaction((r: TotpRecord) => {
      if (s.put.run(r).changes !== 1) return false;
      setCodes(r.userId, r.recoveryHashes);
      return true;
    }),
    confirm: db.transaction((userId: string, sealed: string, at: number, step: number, hashes: readonly string[]) => {
      if (s.confirm.run(at, step, userId, sealed).changes !== 1) return false;
      setCodes(userId, hashes);
      return true;
    }),
    setCodes: db.transaction((userId: string, hashes: readonly string[]) => {
      if (s.confirmed.get(userId) === undefined) return false;
      setCodes(userId, hashes);
      return true;
    }),
    delete: db.transaction((userId: string) => {
      s.clearCodes.run(userId);
      return s.delete.run(userId).changes === 1;
    }),
  };

  // better-sqlite3 is synchronous; a driver failure surfaces as StoreUnavailableError, never as a
  // code accepted or a factor that is not there.
  const guard = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(new StoreUnavailableError('sqlite TOTP store failed', { cause: error }));
    }
  };

  return {
    get: (userId) =>
      guard(() => {
        const row = s.get.get(userId);
        if (row === undefined) return null;
        return {
          userId: row.user_id,
          sealedSecret: row.sealed_secret,
          createdAt: row.created_at,
          confirmedAt: row.confirmed_at,
          lastStep: row.last_step,
          recoveryHashes: s.codes.all(userId).map((c) => c.code_hash),
        };
      }),
    put: (record) => guard(() => tx.put(record)),
    confirm: (userId, sealed, at, step, hashes) => guard(() => tx.confirm(userId, sealed, at, step, hashes)),
    reseal: (userId, from, to) => guard(() => s.reseal.run(to, userId, from).changes === 1),
    useStep: (userId, step) => guard(() => s.useStep.run(step, userId, step).changes === 1),
    useRecoveryCode: (userId, hash) => guard(() => s.useCode.run(userId, hash, userId).changes === 1),
    setRecoveryCodes: (userId, hashes) => guard(() => tx.setCodes(userId, hashes)),
    delete: (userId) => guard(() => tx.delete(userId)),
  };
}
