/**
 * The access-token revocation log in a SQLite file (better-sqlite3), shared by the processes that
 * open it: the server that revokes and the services that verify. Use a file of its own (or one no
 * process opens with `locking_mode = EXCLUSIVE`) in WAL mode, so readers never block the writer.
 */
import type Database from 'better-sqlite3';
import { checkOptions, checkString } from '../lib/options.js';
import {
  type AccessTokenRevocations,
  createSharedRevocations,
  type RevocationEntry,
  type RevocationLog,
  SHARED_REVOCATIONS_OPTIONS,
  type SharedRevocationsOptions,
  sharedOptions,
} from './revocations.js';
import { checkSqliteDatabase } from './sqlite-database.js';

/** Options of `createSqliteRevocationLog` and `createSqliteRevocations`. */
export interface SqliteRevocationLogOptions {
  /** Default `latchkey_access_revocations`. */
  table?: string;
}

interface Row {
  seq: number;
  kind: string;
  key: string;
  at: number;
}

/**
 * @example
 * const db = new Database('data/revocations.db');
 * db.pragma('journal_mode = WAL');
 * const log = createSqliteRevocationLog(db);
 */
export function createSqliteRevocationLog(
  db: Database.Database,
  options: SqliteRevocationLogOptions = {},
): RevocationLog {
  checkSqliteDatabase('createSqliteRevocationLog', db);
  const o = checkOptions('createSqliteRevocationLog', options, ['table']);
  // Interpolated into SQL: a plain identifier only.
  const table = checkString('table', o.table, {
    default: 'latchkey_access_revocations',
    pattern: /^[a-z_][a-z0-9_]{0,60}$/,
    expected: 'a plain identifier (a-z, 0-9, _; not starting with a digit)',
  });
  // AUTOINCREMENT: a seq is never reused, even after the newest rows were pruned, so a reader's
  // cursor never skips a later entry. Writers are serialized by SQLite and a seq is taken inside
  // the write transaction, so entries commit in seq order: "seq > cursor" misses none.
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${table} (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      kind TEXT NOT NULL CHECK (kind IN ('token', 'subject')),
      key TEXT NOT NULL,
      at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${table}_at ON ${table} (at);
  `);
  const insert = db.prepare(`INSERT INTO ${table} (kind, key, at) VALUES (?, ?, ?)`);
  const after = db.prepare<[number, number], Row>(
    `SELECT seq, kind, key, at FROM ${table} WHERE seq > ? ORDER BY seq LIMIT ?`,
  );
  const prune = db.prepare(`DELETE FROM ${table} WHERE at < ?`);
  return {
    async append(e) {
      insert.run(e.kind, e.key, e.at);
    },
    async read(cursor, limit) {
      const rows = after.all(cursor === null ? 0 : Number(cursor), limit);
      const last = rows.at(-1);
      return {
        entries: rows.map((r): RevocationEntry => ({ kind: r.kind as RevocationEntry['kind'], key: r.key, at: r.at })),
        cursor: last ? String(last.seq) : cursor,
      };
    },
    prune: async (before) => prune.run(before).changes,
  };
}

/**
 * Access-token revocations shared through a SQLite file: revoke in one process, refused in every
 * process that opened the file within `pollInterval` (500 ms), fail closed after `maxStaleness`.
 * @example
 * const revocations = createSqliteRevocations(new Database('data/revocations.db'));
 * const verifier = createAccessTokenVerifier({ jwksUrl, issuer, audience, revocations });
 */
export function createSqliteRevocations(
  db: Database.Database,
  options: SqliteRevocationLogOptions & SharedRevocationsOptions = {},
): AccessTokenRevocations {
  const o = checkOptions('createSqliteRevocations', options, ['table', ...SHARED_REVOCATIONS_OPTIONS]);
  return createSharedRevocations(createSqliteRevocationLog(db, { table: o.table }), sharedOptions(o));
}
