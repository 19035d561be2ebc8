import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import { runStoreConformance, sampleRecord } from './conformance.js';
import { createSqliteStore, SQLITE_SCHEMA_VERSION } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const handles = new WeakMap<object, Database.Database>();

for (const exclusive of [false, true]) {
  runStoreConformance({
    name: `sqlite (file, WAL${exclusive ? ', exclusive' : ''})`,
    createStore() {
      const db = new Database(join(dir, `conformance-${n++}.db`));
      const store = createSqliteStore(db, { exclusive });
      handles.set(store, db);
      return store;
    },
    destroyStore: (store) => handles.get(store)?.close(),
    describe,
    it,
    beforeEach,
    afterEach,
  });
}

describe('sqlite store specifics', () => {
  it('exclusive mode keeps the file to itself: another connection cannot read it', async () => {
    const file = join(dir, 'exclusive.db');
    const db = new Database(file);
    const store = createSqliteStore(db, { exclusive: true });
    await store.create(sampleRecord(), 10);
    expect(db.pragma('locking_mode', { simple: true })).toBe('exclusive');
    const other = new Database(file, { timeout: 50 });
    expect(() => other.prepare('SELECT COUNT(*) FROM latchkey_sessions').get()).toThrow(/locked/);
    other.close();
    db.close();
  });

  it('runs in WAL mode with indexes for user and expiry and a schema version', () => {
    const db = new Database(join(dir, 'schema.db'));
    createSqliteStore(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name").pluck().all();
    expect(indexes).toEqual(['latchkey_sessions_expiry', 'latchkey_sessions_user']);
    expect(db.prepare('SELECT MAX(version) FROM latchkey_schema_version').pluck().get()).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });

  it('opens an existing file again without migrating twice, and keeps its rows', async () => {
    const file = join(dir, 'reopen.db');
    const first = new Database(file);
    const record = sampleRecord();
    await createSqliteStore(first).create(record, 10);
    first.close();
    const second = new Database(file);
    const store = createSqliteStore(second);
    expect((await store.get(record.id))?.userId).toBe(record.userId);
    expect(second.prepare('SELECT COUNT(*) FROM latchkey_schema_version').pluck().get()).toBe(SQLITE_SCHEMA_VERSION);
    second.close();
  });

  it('moves a version 1 file to the current version in place: its sessions read as not remembered', async () => {
    const db = new Database(join(dir, 'v1.db'));
    db.exec(`CREATE TABLE latchkey_schema_version (version INTEGER NOT NULL);
      INSERT INTO latchkey_schema_version (version) VALUES (1);
      CREATE TABLE latchkey_sessions (id TEXT PRIMARY KEY NOT NULL, secret_hash TEXT NOT NULL, user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        absolute_expires_at INTEGER NOT NULL, authenticated_at INTEGER NOT NULL, user_agent TEXT, ip TEXT,
        data TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO latchkey_sessions VALUES ('old-id', 'hash', 'u1', 1, 1, 2, 3, 1, NULL, NULL, '{}');`);
    const store = createSqliteStore(db);
    expect(await store.get('old-id')).toMatchObject({ userId: 'u1', remembered: false, binding: null });
    expect(db.prepare('SELECT MAX(version) FROM latchkey_schema_version').pluck().get()).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });

  it('moves a version 2 file with a live session to version 3 in place: it reads as unbound, and can be bound', async () => {
    const db = new Database(join(dir, 'v2.db'));
    db.exec(`CREATE TABLE latchkey_schema_version (version INTEGER NOT NULL);
      INSERT INTO latchkey_schema_version (version) VALUES (1), (2);
      CREATE TABLE latchkey_sessions (id TEXT PRIMARY KEY NOT NULL, secret_hash TEXT NOT NULL, user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        absolute_expires_at INTEGER NOT NULL, authenticated_at INTEGER NOT NULL, user_agent TEXT, ip TEXT,
        data TEXT NOT NULL, remembered INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE INDEX latchkey_sessions_user ON latchkey_sessions (user_id, created_at);
      CREATE INDEX latchkey_sessions_expiry ON latchkey_sessions (expires_at);`);
    const old = sampleRecord({ remembered: true, data: { theme: 'dark' } });
    db.prepare('INSERT INTO latchkey_sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      old.id,
      old.secretHash,
      old.userId,
      old.createdAt,
      old.lastSeenAt,
      old.expiresAt,
      old.absoluteExpiresAt,
      old.authenticatedAt,
      old.userAgent,
      old.ip,
      JSON.stringify(old.data),
      1,
    );
    const store = createSqliteStore(db);
    expect(db.prepare('SELECT version FROM latchkey_schema_version ORDER BY version').pluck().all()).toEqual([1, 2, 3]);
    expect(await store.get(old.id)).toEqual({ ...old, binding: null });
    expect(await store.listUser(old.userId)).toEqual([{ ...old, binding: null }]);
    const binding = {
      publicKey: { kty: 'EC', crv: 'P-256', x: 'x-coordinate', y: 'y-coordinate' },
      algorithm: 'ES256',
      thumbprint: 'thumbprint',
      boundAt: old.createdAt + 10,
      provenAt: old.createdAt + 10,
    };
    expect(await store.setBinding?.(old.id, binding, null)).toBe(true);
    expect(await store.get(old.id)).toEqual({ ...old, binding });
    db.close();
  });

  it('refuses a file written by a newer schema', () => {
    const db = new Database(join(dir, 'newer.db'));
    createSqliteStore(db);
    db.prepare('INSERT INTO latchkey_schema_version (version) VALUES (99)').run();
    expect(() => createSqliteStore(db)).toThrow(
      `newer than this latchkey writes (${SQLITE_SCHEMA_VERSION}): upgrade latchkey`,
    );
    db.close();
  });

  it('keeps only the hash: no column holds a token secret', async () => {
    const db = new Database(join(dir, 'columns.db'));
    createSqliteStore(db);
    const columns = db.prepare("SELECT name FROM pragma_table_info('latchkey_sessions')").pluck().all();
    expect(columns).toContain('secret_hash');
    expect(columns).not.toContain('secret');
    expect(columns).not.toContain('token');
    db.close();
  });

  it('sweeps in batches until nothing is due', async () => {
    const db = new Database(join(dir, 'sweep.db'));
    const store = createSqliteStore(db, { sweepBatchSize: 7 });
    for (let i = 0; i < 30; i++) await store.create(sampleRecord({ createdAt: 0, expiresAt: 10 + i }), 10);
    await store.create(sampleRecord({ createdAt: 0, expiresAt: 1000 }), 10);
    expect(await store.deleteExpired(500)).toBe(30);
    expect(db.prepare('SELECT COUNT(*) FROM latchkey_sessions').pluck().get()).toBe(1);
    db.close();
  });

  it('rejects with StoreUnavailableError, never a session, when the database is gone', async () => {
    const db = new Database(join(dir, 'closed.db'));
    const store = createSqliteStore(db);
    const record = sampleRecord();
    await store.create(record, 10);
    db.close();
    await expect(store.get(record.id)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.create(sampleRecord(), 10)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('refuses a table prefix that is not a plain identifier', () => {
    const db = new Database(':memory:');
    expect(() => createSqliteStore(db, { tablePrefix: 'x; DROP TABLE y; --' })).toThrow(ConfigurationError);
    db.close();
  });

  it('says what to pass when given a file name, a pool or an unknown option', () => {
    expect(() => createSqliteStore('sessions.db' as never)).toThrow(
      new ConfigurationError(
        "createSqliteStore takes an open better-sqlite3 Database: createSqliteStore(new Database('sessions.db')), not a file name",
      ),
    );
    expect(() => createSqliteStore({ query: async () => ({ rows: [] }) } as never)).toThrow(
      /got a PostgreSQL client or pool \(for it, use await createPostgresStore\(pool\)/,
    );
    expect(() => createSqliteStore(undefined as never)).toThrow(/takes an open better-sqlite3 Database.*got undefined/);
    const db = new Database(':memory:');
    expect(() => createSqliteStore(db, { tablePrefx: 'a_' } as never)).toThrow(
      /unknown option "tablePrefx"; did you mean "tablePrefix"\?/,
    );
    expect(() => createSqliteStore(db, { sweepBatchSize: 0 })).toThrow(/sweepBatchSize must be a whole number/);
    db.close();
  });
});
