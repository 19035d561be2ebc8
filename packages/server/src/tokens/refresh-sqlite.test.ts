/**
 * The SQLite refresh store: the conformance suite over a real file, with a second connection to it
 * standing for another process; then what is SQLite's own (migration of an older file, the table
 * prefix, what a stolen file reveals).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { runRefreshStoreConformance } from './conformance.js';
import { createRefreshTokens } from './refresh.js';
import { createSqliteRefreshStore } from './refresh-sqlite.js';
import type { RefreshStore } from './refresh-store.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-refresh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A connection to a file, as each process would open it: WAL, and waiting for the other's lock. */
function open(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 2000');
  return db;
}

const connections = new Map<RefreshStore, Database.Database[]>();
runRefreshStoreConformance({
  name: 'SQLite (two connections to one file)',
  createStore: () => {
    const db = open(join(dir, `conformance-${n++}.db`));
    const store = createSqliteRefreshStore(db);
    connections.set(store, [db]);
    return store;
  },
  createPeer: (store) => {
    const [db] = connections.get(store) ?? [];
    const other = open(db?.name ?? '');
    connections.get(store)?.push(other);
    return createSqliteRefreshStore(other);
  },
  destroyStore: (store) => {
    for (const db of connections.get(store) ?? []) db.close();
    connections.delete(store);
  },
  describe,
  it,
  beforeEach,
  afterEach,
});

describe('SQLite refresh store', () => {
  it('keeps neither a token nor a successor in readable form in the file', async () => {
    const file = join(dir, `readable-${n++}.db`);
    const db = open(file);
    const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db) });
    const a = await refresh.issue('user-6');
    const b = await refresh.rotate(a.token);
    expect(b.ok).toBe(true);
    db.close(); // the last connection checkpoints the WAL into the file
    const bytes = [file, `${file}-wal`]
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('');
    for (const token of [a.token, b.ok ? b.token : '']) {
      const secret = token.split('.')[1] as string;
      expect(secret).toHaveLength(43);
      expect(bytes).not.toContain(secret);
    }
  });

  it('C: a file from before lastUsedAt gets the column, and its families read as never rotated', async () => {
    const db = new Database(join(dir, `refresh-${n++}.db`));
    const made = Date.now() - 1000;
    db.exec(`
      CREATE TABLE latchkey_refresh_families (
        id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, revoked_at INTEGER
      );
      INSERT INTO latchkey_refresh_families VALUES ('old-family', 'user-1', ${made}, ${made + 86_400_000}, NULL);
    `);
    const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db) });
    createSqliteRefreshStore(db); // opening twice is harmless
    expect(await refresh.listFamilies('user-1')).toEqual([
      { id: 'old-family', createdAt: made, lastUsedAt: made, expiresAt: made + 86_400_000 },
    ]);
    const fresh = await refresh.issue('user-1');
    expect((await refresh.rotate(fresh.token)).ok).toBe(true);
    expect((await refresh.listFamilies('user-1')).map((f) => f.id)).toEqual([fresh.familyId, 'old-family']);
    db.close();
  });

  it('keeps its tables under the prefix it is given, and refuses one that is not a plain identifier', async () => {
    const db = new Database(':memory:');
    const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db, { tablePrefix: 'app_refresh' }) });
    await refresh.issue('user-1');
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all();
    expect(tables.map((t) => t.name)).toEqual(['app_refresh_families', 'app_refresh_tokens']);
    expect(() => createSqliteRefreshStore(db, { tablePrefix: 'x; DROP TABLE y' })).toThrow(
      /tablePrefix must be a plain identifier/,
    );
    expect(() => createSqliteRefreshStore(db, { tablePrefx: 'x' } as never)).toThrow(
      /unknown option "tablePrefx"; did you mean "tablePrefix"/,
    );
    db.close();
  });

  it('refuses what is not an open better-sqlite3 Database, and says what to pass', () => {
    expect(() => createSqliteRefreshStore('data/app.db' as never)).toThrow(ConfigurationError);
    expect(() => createSqliteRefreshStore('data/app.db' as never)).toThrow(
      "createSqliteRefreshStore takes an open better-sqlite3 Database, not a file name: createSqliteRefreshStore(new Database('data/tokens.db'))",
    );
    expect(() => createSqliteRefreshStore({ query: async () => ({}) } as never)).toThrow(
      /not a PostgreSQL client or pool/,
    );
    expect(() => createSqliteRefreshStore(undefined as never)).toThrow(/not undefined/);
  });
});
