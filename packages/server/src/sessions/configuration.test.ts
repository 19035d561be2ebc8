/**
 * What a new user gets wrong when setting up the manager (issue #14), and the error each mistake
 * must end in: a LatchkeyError at construction whose message names the fix and quotes no secret.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError, KeyError, type LatchkeyError, SessionDataError } from '../errors.js';
import { createMemoryStore } from '../stores/memory.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionStore } from '../stores/store.js';
import { generateSigningKey } from './key-ring.js';
import { createSessionManager, type SessionManagerOptions } from './manager.js';

const key = generateSigningKey();
const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const make = (options: Partial<SessionManagerOptions>) =>
  createSessionManager({ store: createMemoryStore(), keys: [key], sweepInterval: 0, ...options });

/** The error `run` throws, checked to be a LatchkeyError of `kind`. */
function thrown(run: () => unknown, kind: new (message: string) => LatchkeyError = ConfigurationError): LatchkeyError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(kind);
    return error as LatchkeyError;
  }
  throw new Error('expected an error');
}

describe('the signing key', () => {
  const HOWTO = /npx latchkey keygen.*randomBytes\(32\)\.toString\('base64url'\).*keys: \[process\.env\.SESSION_KEY\]/;

  it('an unset SESSION_KEY says how to make one', () => {
    for (const missing of [undefined, '', '  ']) {
      const error = thrown(() => make({ keys: [missing as unknown as string] }), KeyError);
      expect(error.code).toBe('KEY_INVALID');
      expect(error.message).toMatch(/^signing key #0 is (undefined|an empty string) \(is SESSION_KEY set\?/);
      expect(error.message).toMatch(HOWTO);
    }
    expect(thrown(() => make({ keys: [] }), KeyError).message).toMatch(HOWTO);
  });

  it('one key instead of a list says to wrap it', () => {
    expect(thrown(() => make({ keys: key as never }), KeyError).message).toBe(
      'keys takes a list of keys, newest first: write keys: [process.env.SESSION_KEY]',
    );
  });

  it('accepts `openssl rand -base64 32` output: the same bytes as their base64url spelling', async () => {
    const bytes = Buffer.alloc(32, 0xfb); // encodes with '+', '/' and '=' padding
    const standard = bytes.toString('base64');
    expect(standard).toMatch(/[+/=]/);
    // Two managers on one store: a token signed under one spelling validates under the other.
    const store = createMemoryStore();
    const c = make({ store, keys: [standard] });
    const d = make({ store, keys: [bytes.toString('base64url')] });
    const issued = await c.createSession('u1');
    expect((await d.validateToken(issued.token))?.userId).toBe('u1');
  });

  it('refuses a malformed key without quoting it', () => {
    const withNewline = `${Buffer.alloc(32, 7).toString('base64url')}\n`;
    const error = thrown(() => make({ keys: [withNewline] }), KeyError);
    expect(error.message).toMatch(/^signing key #0 holds whitespace: trim the line break/);
    expect(error.message).not.toContain(withNewline.trim());
    const passphrase = 'correct horse battery staple';
    expect(thrown(() => make({ keys: [passphrase] }), KeyError).message).not.toContain(passphrase);
    const short = Buffer.alloc(16, 1).toString('base64url');
    const tooShort = thrown(() => make({ keys: [short] }), KeyError).message;
    expect(tooShort).toMatch(/^signing key #0 has 16 bytes; at least 32 are required: generate one with/);
    expect(tooShort).not.toContain(short);
    // Only base64url characters, yet not a key: the message must not blame the alphabet.
    for (const typed of ['hunter2', 'a'.repeat(43)])
      expect(thrown(() => make({ keys: [typed] }), KeyError).message).toMatch(
        /^signing key #0 is not the base64url text of a random key \(a passphrase, or a key cut short/,
      );
  });
});

describe('timeouts and intervals', () => {
  it('a timeout in milliseconds is named as such, on the option that is wrong', () => {
    const cases: [Partial<SessionManagerOptions>, string][] = [
      [{ idleTimeout: 1_800_000 }, 'idleTimeout is in seconds; 1800000 looks like milliseconds (use 1800)'],
      [{ absoluteTimeout: 43_200_000 }, 'absoluteTimeout is in seconds; 43200000 looks like milliseconds (use 43200)'],
      [{ touchInterval: 60_000 }, 'touchInterval is in seconds; 60000 looks like milliseconds (use 60)'],
      [{ freshFor: 600_000 }, 'freshFor is in seconds; 600000 looks like milliseconds (use 600)'],
      [{ sweepInterval: 600_000 }, 'sweepInterval is in seconds; 600000 looks like milliseconds (use 600)'],
    ];
    for (const [options, message] of cases) expect(thrown(() => make(options)).message).toBe(message);
  });

  it('an idle timeout over the absolute one blames the idle timeout, and says which absolute one', () => {
    expect(thrown(() => make({ idleTimeout: 86_400 })).message).toBe(
      'idleTimeout (86400 s) is longer than the default absoluteTimeout (43200 s): lower idleTimeout or raise absoluteTimeout',
    );
    expect(thrown(() => make({ idleTimeout: 3600, absoluteTimeout: 60 })).message).toBe(
      'idleTimeout (3600 s) is longer than absoluteTimeout (60 s): lower idleTimeout or raise absoluteTimeout',
    );
    expect(make({ idleTimeout: 86_400, absoluteTimeout: 7 * 86_400 }).idleTimeout).toBe(86_400);
  });

  it('each option is checked for its own range, and a string from the environment is named', () => {
    expect(thrown(() => make({ idleTimeout: 0 })).message).toBe(
      'idleTimeout must be a number of seconds from 1 to 34560000; got 0',
    );
    expect(thrown(() => make({ maxSessionsPerUser: 2.5 })).message).toBe(
      'maxSessionsPerUser must be a whole number from 1 to 10000; got 2.5',
    );
    expect(thrown(() => make({ idleTimeout: '1800' as never })).message).toMatch(
      /got a string \(convert a string from the environment with Number\(\.\.\.\)\)$/,
    );
  });
});

describe('unknown options', () => {
  it('`secret` asks "did you mean keys?", and a misspelling finds its option', () => {
    expect(thrown(() => make({ secret: key } as never)).message).toMatch(
      /^createSessionManager got an unknown option "secret"; did you mean "keys"\? Known options: store, keys, /,
    );
    expect(thrown(() => make({ idleTimout: 60 } as never)).message).toMatch(/did you mean "idleTimeout"\?/);
    expect(thrown(() => make({ cookie: { nmae: 'x' } } as never)).message).toMatch(
      /^createSessionManager: cookie got an unknown option "nmae"; did you mean "name"\?/,
    );
  });

  it('cookie attributes the __Host- prefix fixes cannot be set', () => {
    expect(thrown(() => make({ cookie: { secure: false } } as never)).message).toBe(
      'cookie.secure cannot be set: the session cookie is always __Host- (Secure, HttpOnly, Path=/, no Domain) and lives as long as absoluteTimeout',
    );
    expect(thrown(() => make({ cookie: { sameSite: 'none' as never } })).message).toBe(
      "cookie.sameSite must be one of 'strict', 'lax'",
    );
    expect(thrown(() => make({ cookie: { name: 'bad name;' } })).message).toMatch(/RFC 6265 token/);
  });
});

describe('the store', () => {
  it('a value that is not a store fails at construction with the fix, not at the first login', async () => {
    const db = new Database(join(dir, 'raw.db'));
    const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' }); // never connects
    const redis = new Redis({ lazyConnect: true });
    try {
      const cases: [unknown, RegExp][] = [
        [undefined, /^createSessionManager: store is required: pass createMemoryStore\(\)/],
        [
          {},
          /^createSessionManager: store does not meet the SessionStore contract: it lacks create, get, touch, setData, delete, deleteUser, listUser, deleteExpired\. .*runStoreConformance/,
        ],
        [{ ...createMemoryStore(), touch: undefined }, /it lacks touch\./],
        [
          db,
          /store is a SQLite Database, not a session store: pass createSqliteStore\(db\) from 'latchkey\/sqlite', not the client itself/,
        ],
        [pool, /store is a PostgreSQL client or pool, not a session store: pass await createPostgresStore\(pool\)/],
        [redis, /store is an ioredis client, not a session store: pass createRedisStore\(redis\)/],
        [new Map(), /store is a Map, not a session store: pass createMemoryStore\(\)/],
        [Promise.resolve(createMemoryStore()), /store is a Promise: await it first/],
        [createMemoryStore, /store is a function: call it/],
      ];
      for (const [store, message] of cases) {
        expect(thrown(() => make({ store: store as SessionStore })).message).toMatch(message);
      }
    } finally {
      db.close();
      await pool.end();
      redis.disconnect();
    }
  });

  it('a store of our own, or any object with every method, is accepted', () => {
    const db = new Database(join(dir, 'ok.db'));
    expect(() => make({ store: createSqliteStore(db) })).not.toThrow();
    class Custom {
      inner = createMemoryStore();
      create: SessionStore['create'] = (...args) => this.inner.create(...args);
      get: SessionStore['get'] = (...args) => this.inner.get(...args);
      touch: SessionStore['touch'] = (...args) => this.inner.touch(...args);
      setData: SessionStore['setData'] = (...args) => this.inner.setData(...args);
      delete: SessionStore['delete'] = (...args) => this.inner.delete(...args);
      deleteUser: SessionStore['deleteUser'] = (...args) => this.inner.deleteUser(...args);
      listUser: SessionStore['listUser'] = (...args) => this.inner.listUser(...args);
      deleteExpired: SessionStore['deleteExpired'] = (...args) => this.inner.deleteExpired(...args);
      query() {} // a custom store may have methods of its own, even one named like a driver's
    }
    expect(() => make({ store: new Custom() })).not.toThrow();
    db.close();
  });

  it('createMemoryStore takes no arguments, and says so when given a database', () => {
    const db = new Database(':memory:');
    expect(thrown(() => createMemoryStore(db as never)).message).toBe(
      "createMemoryStore keeps sessions in this process and takes no arguments; got a SQLite Database: for it, use createSqliteStore(db) from 'latchkey/sqlite'",
    );
    expect(thrown(() => createMemoryStore({ max: 10 } as never)).message).toBe(
      'createMemoryStore got an unknown option "max". It takes no options.',
    );
    db.close();
  });
});

describe('session data', () => {
  /** Every store, so each is shown to get the same answer. */
  const stores = (): [string, SessionStore][] => [
    ['memory', createMemoryStore()],
    ['sqlite', createSqliteStore(new Database(join(dir, `data-${Math.random()}.db`)))],
  ];

  it('refuses what is not plain JSON, naming the path and never the value', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { prefs: new Map([['theme', 'dark']]) },
        'data.prefs is a Map; session data must be plain JSON (objects, arrays, strings, finite numbers, booleans, null): convert it, e.g. Object.fromEntries(map)',
      ],
      [{ onLogin: () => 'x' }, 'data.onLogin is a function; session data must be plain JSON'],
      [{ at: new Date(0) }, 'data.at is a Date; session data must be plain JSON'],
      [{ cart: { items: [1, undefined] } }, 'data.cart.items[1] is undefined; session data must be plain JSON'],
      [{ score: Number.NaN }, 'data.score is NaN; session data must be plain JSON'],
      [{ n: 1n }, 'data.n is a bigint; session data must be plain JSON'],
      [{ tags: new Set(['a']) }, 'data.tags is a Set; session data must be plain JSON'],
      [{ 'a b': { when: new Date(0) } }, 'data["a b"].when is a Date; session data must be plain JSON'],
    ];
    for (const [name, store] of stores()) {
      const sessions = make({ store });
      const { session } = await sessions.createSession('u1');
      for (const [data, message] of cases) {
        const error = await sessions.updateSessionData(session.id, data).catch((e: unknown) => e);
        expect(error, name).toBeInstanceOf(SessionDataError);
        expect((error as Error).message).toContain(message);
        expect((error as Error).message).not.toContain('dark');
        await expect(sessions.createSession('u1', { data })).rejects.toBeInstanceOf(SessionDataError);
      }
      const cyclic: Record<string, unknown> = { a: {} };
      (cyclic.a as Record<string, unknown>).back = cyclic;
      await expect(sessions.updateSessionData(session.id, cyclic)).rejects.toThrow(
        'data.a.back refers back to an object that contains it (a cycle)',
      );
      let deep: Record<string, unknown> = {};
      const root = deep;
      for (let i = 0; i < 40; i++) deep = deep.next = {} as Record<string, unknown>;
      await expect(sessions.updateSessionData(session.id, root)).rejects.toThrow(/nested deeper than 32 levels/);
    }
  });

  it('plain JSON round-trips the same through every store', async () => {
    const plain = Object.assign(Object.create(null) as Record<string, unknown>, {
      cart: [1, 2.5, 'three', true, null, { nested: [] }],
      empty: {},
    });
    for (const [name, store] of stores()) {
      const sessions = make({ store });
      const { token, session } = await sessions.createSession('u1', { data: plain });
      expect((await sessions.validateToken(token))?.data, name).toEqual({ ...plain });
      expect(await sessions.updateSessionData(session.id, { step: 2 })).toBe(true);
      expect((await sessions.validateToken(token))?.data, name).toEqual({ step: 2 });
    }
  });

  it('the size limit names the option and the way out', async () => {
    const sessions = make({ maxDataBytes: 64 });
    const { session } = await sessions.createSession('u1');
    await expect(sessions.updateSessionData(session.id, { big: 'x'.repeat(100) })).rejects.toThrow(
      'session data is 110 bytes of JSON, over maxDataBytes (64): keep large state in your own tables, keyed by user id',
    );
  });
});
