/**
 * Refresh tokens in SQLite (better-sqlite3), beside the sessions. `rotate` is one transaction
 * whose UPDATE succeeds only while the token is unspent, so two processes sharing the file can
 * never both exchange it.
 */
import type Database from 'better-sqlite3';
import { checkOptions, checkString } from '../lib/options.js';
import type { RefreshFamily, RefreshRecord, RefreshStore } from './refresh-store.js';
import { checkSqliteDatabase } from './sqlite-database.js';

interface FamilyRow {
  id: string;
  user_id: string;
  created_at: number;
  last_used_at: number | null;
  expires_at: number;
  revoked_at: number | null;
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

const family = (r: FamilyRow): RefreshFamily => ({
  id: r.id,
  userId: r.user_id,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at ?? r.created_at, // rows from before the column: never rotated since
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});
const record = (r: TokenRow): RefreshRecord => ({
  id: r.id,
  familyId: r.family_id,
  userId: r.user_id,
  secretHash: r.secret_hash,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  successorSealed: r.successor_sealed,
});

/**
 * @example
 * const db = new Database('data/app.db');
 * db.pragma('journal_mode = WAL');
 * const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db) });
 */
export function createSqliteRefreshStore(db: Database.Database, options: { tablePrefix?: string } = {}): RefreshStore {
  checkSqliteDatabase('createSqliteRefreshStore', db);
  const o = checkOptions('createSqliteRefreshStore', options, ['tablePrefix']);
  // Interpolated into SQL: a plain identifier only.
  const p = checkString('tablePrefix', o.tablePrefix, {
    default: 'latchkey_refresh',
    pattern: /^[a-z_][a-z0-9_]{0,40}$/,
    expected: 'a plain identifier (a-z, 0-9, _; not starting with a digit)',
  });
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${p}_families (
      id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, revoked_at INTEGER, last_used_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS ${p}_families_user ON ${p}_families (user_id);
    CREATE TABLE IF NOT EXISTS ${p}_tokens (
      id TEXT PRIMARY KEY NOT NULL, family_id TEXT NOT NULL, user_id TEXT NOT NULL,
      secret_hash TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
      used_at INTEGER, successor_sealed TEXT
    );
    CREATE INDEX IF NOT EXISTS ${p}_tokens_family ON ${p}_tokens (family_id);
  `);
  // A file made by an earlier version has no last_used_at: add it (NULL reads as created_at).
  const columns = db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${p}_families')`).all();
  if (!columns.some((c) => c.name === 'last_used_at')) {
    try {
      db.exec(`ALTER TABLE ${p}_families ADD COLUMN last_used_at INTEGER`);
    } catch (error) {
      // Another process sharing the file added it between our look and our ALTER.
      if (!/duplicate column/i.test(String(error))) throw error;
    }
  }
  const insertFamily = db.prepare(
    `INSERT INTO ${p}_families (id, user_id, created_at, last_used_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)`,
  );
  const insertToken = db.prepare(
    `INSERT INTO ${p}_tokens (id, family_id, user_id, secret_hash, created_at, expires_at, used_at, successor_sealed) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)`,
  );
  const getToken = db.prepare<[string], TokenRow>(`SELECT * FROM ${p}_tokens WHERE id = ?`);
  const getFamily = db.prepare<[string], FamilyRow>(`SELECT * FROM ${p}_families WHERE id = ?`);
  const spend = db.prepare(`UPDATE ${p}_tokens SET used_at = ?, successor_sealed = ? WHERE id = ? AND used_at IS NULL`);
  const touchFamily = db.prepare(`UPDATE ${p}_families SET last_used_at = ? WHERE id = ?`);
  const revokeOne = db.prepare(`UPDATE ${p}_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`);
  const revokeAll = db.prepare(`UPDATE ${p}_families SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`);
  const live = db.prepare<[string, number], FamilyRow>(
    `SELECT * FROM ${p}_families WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`,
  );
  const heads = db.prepare<[string], TokenRow>(`SELECT * FROM ${p}_tokens WHERE family_id = ? AND used_at IS NULL`);
  const expiredTokens = db.prepare(
    `DELETE FROM ${p}_tokens WHERE family_id IN (SELECT id FROM ${p}_families WHERE expires_at <= ?)`,
  );
  const expiredFamilies = db.prepare(`DELETE FROM ${p}_families WHERE expires_at <= ?`);
  const add = (r: RefreshRecord) => insertToken.run(r.id, r.familyId, r.userId, r.secretHash, r.createdAt, r.expiresAt);

  const create = db.transaction((f: RefreshFamily, first: RefreshRecord) => {
    insertFamily.run(f.id, f.userId, f.createdAt, f.lastUsedAt, f.expiresAt);
    add(first);
  });
  const rotate = db.transaction((id: string, usedAt: number, sealed: string, successor: RefreshRecord) => {
    if (spend.run(usedAt, sealed, id).changes !== 1) return 'spent' as const;
    add(successor);
    touchFamily.run(usedAt, successor.familyId);
    return 'rotated' as const;
  });
  const sweep = db.transaction((now: number) => {
    expiredTokens.run(now);
    return expiredFamilies.run(now).changes;
  });

  return {
    async createFamily(f, first) {
      create(f, first);
    },
    async get(id) {
      const row = getToken.get(id);
      const fam = row && getFamily.get(row.family_id);
      return row && fam ? { record: record(row), family: family(fam) } : null;
    },
    rotate: async (id, usedAt, sealed, successor) => rotate(id, usedAt, sealed, successor),
    revokeFamily: async (familyId, at) => revokeOne.run(at, familyId).changes === 1,
    revokeUser: async (userId, at) => revokeAll.run(at, userId).changes,
    liveFamilies: async (userId, now) => live.all(userId, now).map(family),
    heads: async (familyId) => heads.all(familyId).map(record),
    deleteExpired: async (now) => sweep(now),
  };
}
