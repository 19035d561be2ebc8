/**
 * The SQLite one-time store: the conformance suite over a real file, with a second connection to it
 * standing for another process; then what is SQLite's own (schema, prefix, arguments).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { createSqliteStore, SQLITE_SCHEMA_VERSION } from '../stores/sqlite.js';
import { runOneTimeTokenStoreConformance } from './conformance.js';
import { createSqliteOneTimeStore, SQLITE_ONE_TIME_SCHEMA_VERSION } from './sqlite.js';
import type { OneTimeTokenStore } from './store.js';
import { createOneTimeTokens } from './tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-one-time-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const connections = new Map<OneTimeTokenStore, Database.Database[]>();
const first = (store: OneTimeTokenStore) => connections.get(store)?.[0] as Database.Database;

runOneTimeTokenStoreConformance({
  name: 'SQLite (two connections to one file)',
  createStore: () => {
    const db = new Database(join(dir, `conformance-${n++}.db`));
    const store = createSqliteOneTimeStore(db);
    connections.set(store, [db]);
    return store;
  },
  createPeer: (store) => {
    const other = new Database(first(store).name);
    connections.get(store)?.push(other);
    return createSqliteOneTimeStore(other);
  },
  destroyStore: (store) => {
    for (const db of connections.get(store) ?? []) if (db.open) db.close();
    connections.delete(store);
  },
  breakStore: (store) => first(store).close(),
  readRaw: (store) => {
    const file = first(store).name;
    // Every byte SQLite wrote: the file and its write-ahead log.
    return [file, `${file}-wal`]
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
  },
  describe,
  it,
  beforeEach,
  afterEach,
});

describe('SQLite one-time store', () => {
  it('keeps its tables under its prefix beside the sessions, with indexes and a schema version', async () => {
    const db = new Database(join(dir, `app-${n++}.db`));
    createSqliteStore(db);
    const oneTime = createOneTimeTokens({ store: createSqliteOneTimeStore(db) });
    await oneTime.issue('user-1', 'verify-email');
    const names = (type: string) =>
      db
        .prepare(`SELECT name FROM sqlite_master WHERE type = ? AND name LIKE 'latchkey_one_time%' ORDER BY name`)
        .pluck()
        .all(type);
    expect(names('table')).toEqual(['latchkey_one_time_schema_version', 'latchkey_one_time_tokens']);
    expect(names('index')).toEqual(['latchkey_one_time_tokens_expiry', 'latchkey_one_time_tokens_user']);
    expect(db.prepare('SELECT MAX(version) FROM latchkey_one_time_schema_version').pluck().get()).toBe(
      SQLITE_ONE_TIME_SCHEMA_VERSION,
    );
    expect(db.prepare('SELECT MAX(version) FROM latchkey_schema_version').pluck().get()).toBe(SQLITE_SCHEMA_VERSION); // the sessions' own
    createSqliteOneTimeStore(db); // opening again migrates nothing
    expect(db.prepare('SELECT COUNT(*) FROM latchkey_one_time_schema_version').pluck().get()).toBe(1);
    db.close();
  });

  it('A1: a reset link survives a restart and still works once', async () => {
    const file = join(dir, `restart-${n++}.db`);
    const before = new Database(file);
    const { token } = await createOneTimeTokens({ store: createSqliteOneTimeStore(before) }).issue(
      'user-2',
      'reset-password',
    );
    before.close();
    const after = new Database(file);
    const oneTime = createOneTimeTokens({ store: createSqliteOneTimeStore(after) });
    expect((await oneTime.consume(token, 'reset-password'))?.userId).toBe('user-2');
    expect(await oneTime.consume(token, 'reset-password')).toBeNull();
    after.close();
  });

  it('refuses a file written by a newer schema, and a prefix that is not an identifier', () => {
    const db = new Database(join(dir, `newer-${n++}.db`));
    createSqliteOneTimeStore(db, { tablePrefix: 'app_ot_' });
    db.prepare('INSERT INTO app_ot_schema_version (version) VALUES (99)').run();
    expect(() => createSqliteOneTimeStore(db, { tablePrefix: 'app_ot_' })).toThrow(
      /schema version 99, newer than this latchkey writes \(1\): upgrade latchkey/,
    );
    expect(() => createSqliteOneTimeStore(db, { tablePrefix: 'x; DROP TABLE y' })).toThrow(
      /tablePrefix must be letters, digits and _ only/,
    );
    expect(() => createSqliteOneTimeStore(db, { tablePrefx: 'x' } as never)).toThrow(
      /unknown option "tablePrefx"; did you mean "tablePrefix"/,
    );
    db.close();
  });

  it('refuses what is not an open better-sqlite3 Database, and says what to pass', () => {
    expect(() => createSqliteOneTimeStore('data/app.db' as never)).toThrow(ConfigurationError);
    expect(() => createSqliteOneTimeStore('data/app.db' as never)).toThrow(
      "createSqliteOneTimeStore takes an open better-sqlite3 Database, not a file name: createSqliteOneTimeStore(new Database('data/tokens.db'))",
    );
    expect(() => createSqliteOneTimeStore({ query: async () => ({}) } as never)).toThrow(
      /not a PostgreSQL client or pool/,
    );
  });
});
