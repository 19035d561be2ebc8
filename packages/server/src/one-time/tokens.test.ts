/**
 * createOneTimeTokens over the memory store: the token's shape, the checks of its options and
 * arguments, and what never reaches the store or a message. The store-backed rules (single use,
 * expiry, purpose binding, replacement, revocation) run on every store in the conformance suite.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidArgumentError, LatchkeyError } from '../errors.js';
import { createMemoryStore } from '../stores/memory.js';
import { manualClock } from '../test/clock.js';
import { createMemoryOneTimeStore } from './memory.js';
import type { OneTimeTokenRecord, OneTimeTokenStore } from './store.js';
import { createOneTimeTokens, DEFAULT_PURPOSES, MAX_ONE_TIME_TTL } from './tokens.js';

/** The memory store, counting the calls that reach it. */
function countingStore() {
  const inner = createMemoryOneTimeStore();
  const calls: string[] = [];
  const count =
    <A extends unknown[], R>(name: string, call: (...args: A) => R) =>
    (...args: A): R => {
      calls.push(name);
      return call(...args);
    };
  const store: OneTimeTokenStore = {
    insert: count('insert', inner.insert),
    take: count('take', inner.take),
    get: count('get', inner.get),
    deleteUser: count('deleteUser', inner.deleteUser),
    deleteExpired: count('deleteExpired', inner.deleteExpired),
  };
  return { store, calls };
}

/** The error a promise rejects with; fails the test when it resolves. */
const rejection = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => {
      throw new Error('it resolved');
    },
    (error: unknown) => error as Error,
  );

const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (error) {
    return error as Error;
  }
  throw new Error('it did not throw');
};

describe('one-time tokens', () => {
  it('A1: a token is 256 random bits in 43 base64url characters, new each time', async () => {
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
    const tokens = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { token } = await oneTime.issue(`user-${i}`, 'verify-email');
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      tokens.add(token);
    }
    expect(tokens.size).toBe(200);
  });

  it('A1: lifetimes default to 24 hours for verification and change, 30 minutes for a reset', async () => {
    const clock = manualClock();
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore(), now: clock.now });
    expect(oneTime.purposes).toEqual({
      'verify-email': { ttl: 86_400 },
      'reset-password': { ttl: 1800 },
      'change-email': { ttl: 86_400 },
    });
    expect(Object.isFrozen(oneTime.purposes)).toBe(true);
    expect((await oneTime.issue('u', 'reset-password')).expiresAt).toBe(clock.now() + 1_800_000);
    expect((await oneTime.issue('u', 'verify-email')).expiresAt).toBe(clock.now() + 86_400_000);
  });

  it('purposes merge over the defaults: shorter ones, and ones of the app’s own up to 7 days', async () => {
    const clock = manualClock();
    const oneTime = createOneTimeTokens({
      store: createMemoryOneTimeStore(),
      purposes: { 'reset-password': { ttl: 600 }, 'undo-email-change': { ttl: MAX_ONE_TIME_TTL } },
      now: clock.now,
    });
    expect(oneTime.purposes['reset-password']).toEqual({ ttl: 600 });
    expect(oneTime.purposes['verify-email']).toEqual({ ttl: 86_400 });
    const undo = await oneTime.issue('u', 'undo-email-change', { data: { email: 'old@example.org' } });
    expect(undo.expiresAt).toBe(clock.now() + 7 * 86_400_000);
    clock.advance(7 * 86_400_000 - 1);
    expect((await oneTime.consume(undo.token, 'undo-email-change'))?.data).toEqual({ email: 'old@example.org' });
  });

  it('A1: a lifetime over the purpose’s limit, in milliseconds, or not a whole number is refused at creation', () => {
    const store = createMemoryOneTimeStore();
    const make = (purposes: unknown) => () => createOneTimeTokens({ store, purposes: purposes as never });
    expect(make({ 'reset-password': { ttl: 3600 } })).toThrow(
      "purposes['reset-password'].ttl must be a whole number of seconds from 1 to 1800; got 3600",
    );
    expect(make({ 'reset-password': { ttl: 1_800_000 } })).toThrow(
      "purposes['reset-password'].ttl is in seconds; 1800000 looks like milliseconds (use 1800)",
    );
    expect(make({ 'verify-email': { ttl: 2 * 86_400 } })).toThrow(/from 1 to 86400; got 172800/);
    expect(make({ invite: { ttl: MAX_ONE_TIME_TTL + 1 } })).toThrow(/from 1 to 604800/);
    expect(make({ invite: { ttl: 0.5 } })).toThrow(/whole number/);
    expect(make({ invite: {} })).toThrow(
      "purposes['invite'].ttl is required: a whole number of seconds from 1 to 604800",
    );
    expect(make({ invite: { ttl: '600' } })).toThrow(/convert a string from the environment with Number/);
    expect(make({ invite: { maxAge: 600 } })).toThrow(/unknown option "maxAge"; did you mean "ttl"/);
    expect(make({ 'reset-password': {} })().purposes['reset-password']).toEqual({ ttl: 1800 }); // {} keeps the default
    expect(make([])).toThrow(/purposes must be an object of \{ ttl \} by purpose name/);
    for (const make_ of [make({ 'reset-password': { ttl: 3600 } }), make([])]) {
      expect(thrown(make_)).toBeInstanceOf(ConfigurationError);
    }
    expect(DEFAULT_PURPOSES['reset-password']).toEqual({ ttl: 1800, max: 1800 });
  });

  it('a purpose name must be short lowercase words, and a name that is not one is never quoted', () => {
    const store = createMemoryOneTimeStore();
    expect(() => createOneTimeTokens({ store, purposes: { 'Reset Password': { ttl: 60 } } })).toThrow(
      "purposes: (a string that is not a purpose name) is not a purpose name; use 1 to 40 lowercase letters, digits and -, e.g. 'verify-email'",
    );
  });

  it('checks its own options and its store once, at creation, naming the fix', () => {
    const make = (options: unknown) => () => createOneTimeTokens(options as never);
    const memory = createMemoryOneTimeStore();
    expect(make({ store: memory, ttl: 60 })).toThrow(/unknown option "ttl"; did you mean "purposes"/);
    expect(make({ store: memory, now: 5 })).toThrow('now must be a function; got a number');
    expect(make({})).toThrow(
      "createOneTimeTokens: store is required: pass createSqliteOneTimeStore(db) from 'latchkey/one-time/sqlite', or createMemoryOneTimeStore() from 'latchkey/one-time' (tests, one process)",
    );
    const db = new Database(':memory:');
    expect(make({ store: db })).toThrow(
      "createOneTimeTokens: store is a SQLite Database, not a one-time token store: pass createSqliteOneTimeStore(db) from 'latchkey/one-time/sqlite', not the client itself",
    );
    db.close();
    expect(make({ store: { query: async () => ({ rows: [] }) } })).toThrow(
      /is a PostgreSQL client or pool, not a one-time token store: pass await createPostgresOneTimeStore\(pool\)/,
    );
    expect(make({ store: Promise.resolve(memory) })).toThrow(/is a Promise: await it first/);
    expect(make({ store: createMemoryOneTimeStore })).toThrow(/is a function: call it/);
    expect(make({ store: createMemoryStore() })).toThrow(
      /does not meet the OneTimeTokenStore contract \(this looks like a session store\): it lacks insert, take/,
    );
    expect(make({ store: {} })).toThrow(/it lacks insert, take, get, deleteUser, deleteExpired/);
  });

  it('an unknown purpose is a bug in the caller: InvalidArgumentError, with a guess, at every call', async () => {
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
    const { token } = await oneTime.issue('u', 'reset-password');
    await expect(oneTime.issue('u', 'reset-pasword')).rejects.toThrow(
      "issue: unknown purpose 'reset-pasword'; did you mean 'reset-password'? The purposes are verify-email, reset-password, change-email; add others with createOneTimeTokens({ purposes })",
    );
    await expect(oneTime.consume(token, 'verify')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(oneTime.peek(token, 'password-reset')).rejects.toThrow(/peek: unknown purpose 'password-reset'/);
    await expect(oneTime.revokeUser('u', 'all')).rejects.toThrow(/revokeUser: unknown purpose 'all'/);
    // The token is still there: none of that reached the store.
    expect((await oneTime.consume(token, 'reset-password'))?.userId).toBe('u');
  });

  it('A1: arguments swapped (the token as the purpose) throw without quoting the token', async () => {
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
    const { token } = await oneTime.issue('u', 'verify-email');
    const error = await rejection(oneTime.consume('verify-email', token));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/^consume: unknown purpose \(a string that is not a purpose name\)\. The purposes/);
    expect(error.message).not.toContain(token);
  });

  it('A1: a malformed token answers null without reaching the store', async () => {
    const { store, calls } = countingStore();
    const oneTime = createOneTimeTokens({ store });
    const { token } = await oneTime.issue('u', 'reset-password');
    calls.length = 0;
    const malformed: unknown[] = [
      undefined,
      null,
      42,
      { token },
      [token],
      '',
      token.slice(1), // truncated
      `${token}A`,
      `${token}=`,
      ` ${token.slice(1)}`,
      `${token.slice(0, 42)}+`,
      `${token.slice(0, 42)}/`,
      `${token.slice(0, 42)}\n`,
    ];
    for (const bad of malformed) {
      expect(await oneTime.consume(bad as string, 'reset-password')).toBeNull();
      expect(await oneTime.peek(bad as string, 'reset-password')).toBeNull();
    }
    expect(calls).toEqual([]);
    expect((await oneTime.consume(token, 'reset-password'))?.userId).toBe('u');
  });

  it('A1: a tampered token is another token: null, and the right one still works', async () => {
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
    const { token } = await oneTime.issue('u', 'reset-password');
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    for (const at of [0, 21, 42]) {
      const tampered = token.slice(0, at) + flip(token[at] as string) + token.slice(at + 1);
      expect(await oneTime.consume(tampered, 'reset-password')).toBeNull();
    }
    expect((await oneTime.consume(token, 'reset-password'))?.userId).toBe('u');
  });

  it('A1: data is sealed with a key from the token: the store never holds it in clear, and altered data fails closed', async () => {
    const inner = createMemoryOneTimeStore();
    const records: OneTimeTokenRecord[] = [];
    const store: OneTimeTokenStore = {
      ...inner,
      insert: async (record) => {
        records.push(structuredClone(record));
        await inner.insert(record);
      },
    };
    const oneTime = createOneTimeTokens({ store });
    const data = { email: 'ann@example.org', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' };
    const first = await oneTime.issue('u', 'verify-email', { data });
    const second = await oneTime.issue('v', 'verify-email', { data });
    expect(JSON.stringify(records)).not.toMatch(/ann@example|argon2id/);
    expect(Object.keys(records[0]?.data ?? {})).toEqual(['sealed']);
    await oneTime.issue('w', 'reset-password');
    expect(records[2]?.data).toEqual({}); // no data: nothing to seal
    expect((await oneTime.peek(first.token, 'verify-email'))?.data).toEqual(data);
    // One row's data moved to another's, or altered, or replaced by clear data: never opened.
    const moved = { ...(records[1] as OneTimeTokenRecord), data: records[0]?.data ?? {} };
    await inner.insert(moved);
    expect(await oneTime.consume(second.token, 'verify-email')).toBeNull();
    const sealed = String(records[0]?.data.sealed);
    for (const altered of [
      { sealed: `${sealed.slice(0, 20)}${sealed[20] === 'A' ? 'B' : 'A'}${sealed.slice(21)}` },
      { sealed: sealed.slice(0, 20) },
      { email: 'mallory@example.org' },
    ]) {
      await inner.insert({ ...(records[0] as OneTimeTokenRecord), data: altered });
      expect(await oneTime.peek(first.token, 'verify-email')).toBeNull();
    }
  });

  it('a user id must be a string of 1 to 255 characters', async () => {
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
    for (const bad of ['', 'x'.repeat(256), 42, undefined]) {
      await expect(oneTime.issue(bad as string, 'verify-email')).rejects.toThrow(
        'issue: userId must be a string of 1 to 255 characters',
      );
      await expect(oneTime.revokeUser(bad as string)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('data is a small plain-JSON object, stored as a copy; anything else throws without quoting it', async () => {
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
    const data = { email: 'new@example.org', nested: { list: [1, 'two', null, true] } };
    const { token } = await oneTime.issue('u', 'change-email', { data });
    data.nested.list.push(5);
    expect((await oneTime.peek(token, 'change-email'))?.data).toEqual({
      email: 'new@example.org',
      nested: { list: [1, 'two', null, true] },
    });
    expect((await oneTime.issue('u', 'verify-email')).token).toHaveLength(43); // no data: {}
    const cycle: Record<string, unknown> = { secret: 'hunter2' };
    cycle.self = cycle;
    const bad: unknown[] = [
      { when: new Date() },
      { set: new Map() },
      { gone: undefined },
      { f: () => 1 },
      { n: Number.NaN },
      { n: 10n },
      cycle,
      new (class Address {
        email = 'a@example.org';
      })(),
      ['not', 'an object'],
      'hunter2',
      null,
    ];
    for (const value of bad) {
      const error = await rejection(oneTime.issue('u', 'verify-email', { data: value as never }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toMatch(/^issue: data must be a plain JSON object/);
      expect(error.message).not.toContain('hunter2');
    }
    await expect(oneTime.issue('u', 'verify-email', { data: { pad: 'x'.repeat(1024) } })).rejects.toThrow(
      'issue: data is 1034 bytes of JSON, over 1024: keep a reference (an address, an id) and the rest in your own tables',
    );
    await expect(oneTime.issue('u', 'verify-email', { email: 'x' } as never)).rejects.toThrow(
      'issue: the third argument takes data and nothing else: { data: { … } }',
    );
  });

  it('every error it throws on purpose is a LatchkeyError with a stable code', async () => {
    const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
    const errors = [
      await oneTime.issue('', 'verify-email').catch((e: unknown) => e),
      await oneTime.consume('x', 'nope').catch((e: unknown) => e),
      thrown(() => createOneTimeTokens({ store: {} as never })),
    ];
    expect(errors.map((e) => e instanceof LatchkeyError && e.code)).toEqual([
      'ARGUMENT_INVALID',
      'ARGUMENT_INVALID',
      'CONFIG_INVALID',
    ]);
  });

  it("importing 'latchkey/one-time' loads no database driver (better-sqlite3, pg, ioredis stay optional)", () => {
    const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const drivers = () => Object.keys(require.cache).filter((f) => /node_modules\\/(better-sqlite3|pg|ioredis)\\//.test(f));
      const oneTime = await import(${JSON.stringify(entry)});
      const before = drivers();
      await import('ioredis'); // the control: a driver that is loaded shows up
      console.log(JSON.stringify({ exports: Object.keys(oneTime).sort(), before, after: drivers().length > 0 }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({
      exports: [
        'DEFAULT_PURPOSES',
        'MAX_ONE_TIME_DATA_BYTES',
        'MAX_ONE_TIME_TTL',
        'createMemoryOneTimeStore',
        'createOneTimeTokens',
      ],
      before: [],
      after: true,
    });
  });
});
