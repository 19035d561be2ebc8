/**
 * The store conformance suite: every SessionStore, ours or yours, must pass it. It takes the test
 * runner's functions, so it runs under Vitest, node:test, or anything with describe/it.
 *
 * @example
 * import { describe, it, beforeEach, afterEach } from 'vitest';
 * import { runStoreConformance } from 'latchkey/conformance';
 * runStoreConformance({ name: 'my store', createStore: () => myStore(), describe, it, beforeEach, afterEach });
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionRecord, SessionStore } from './store.js';

type Fn = () => unknown;

/** Options of `runStoreConformance`: the store under test and the test runner's functions. */
export interface ConformanceOptions {
  /** Names the suite in the runner's output: `SessionStore conformance: <name>`. */
  name: string;
  /** A store over empty (or isolated) storage, created before each test. */
  createStore: () => SessionStore | Promise<SessionStore>;
  /** Releases what `createStore` opened, after each test. */
  destroyStore?: (store: SessionStore) => unknown;
  /** The runner's `describe` (Vitest's, node:test's…). */
  describe: (name: string, body: () => void) => unknown;
  /** The runner's `it` (or `test`). */
  it: (name: string, body: Fn) => unknown;
  /** The runner's `beforeEach`. */
  beforeEach: (body: Fn) => unknown;
  /** The runner's `afterEach`. */
  afterEach: (body: Fn) => unknown;
}

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;

/** A record with random ids, so tests never collide even on a shared backing service. */
export function sampleRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: randomBytes(16).toString('base64url'),
    secretHash: randomBytes(32).toString('base64url'),
    userId: `user-${randomBytes(6).toString('hex')}`,
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + HOUR,
    absoluteExpiresAt: T0 + 12 * HOUR,
    authenticatedAt: T0,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) conformance',
    ip: '203.0.113.7',
    data: {},
    remembered: false,
    ...overrides,
  };
}

const ids = (records: SessionRecord[]) => records.map((r) => r.id);

/**
 * Registers the `SessionStore` contract as tests with the given runner: one `describe` block, one
 * test per rule, each on a new store from `createStore`. A store that passes can back the session
 * manager.
 *
 * @example
 * import { afterEach, beforeEach, describe, it } from 'vitest';
 * runStoreConformance({ name: 'sqlite', createStore: () => createSqliteStore(new Database(':memory:')), describe, it, beforeEach, afterEach });
 */
export function runStoreConformance(options: ConformanceOptions): void {
  const { describe, it, beforeEach, afterEach } = options;
  describe(`SessionStore conformance: ${options.name}`, () => {
    let store: SessionStore;
    beforeEach(async () => {
      store = await options.createStore();
    });
    afterEach(async () => {
      await options.destroyStore?.(store);
    });

    it('returns what it stored, field for field', async () => {
      const record = sampleRecord({ data: { n: 1.5, flag: true, nested: { list: [1, 'two', null] }, text: 'é✓' } });
      assert.deepEqual(await store.create(record, 10), []);
      const got = await store.get(record.id);
      assert.ok(got);
      assert.deepEqual(got, record);
    });

    it('answers null for an unknown id, and for ids that only look alike', async () => {
      const record = sampleRecord();
      await store.create(record, 10);
      assert.equal(await store.get(sampleRecord().id), null);
      assert.equal(
        await store.get(record.id.toUpperCase() === record.id ? `${record.id}x` : record.id.toUpperCase()),
        null,
      );
      assert.equal(await store.get(`${record.id} `), null);
    });

    it('keeps "remember me" as given, through get and listUser', async () => {
      const remembered = sampleRecord({ remembered: true });
      const ordinary = sampleRecord({ userId: remembered.userId, createdAt: T0 + 1, remembered: false });
      await store.create(remembered, 10);
      await store.create(ordinary, 10);
      assert.equal((await store.get(remembered.id))?.remembered, true);
      assert.equal((await store.get(ordinary.id))?.remembered, false);
      assert.deepEqual(
        (await store.listUser(remembered.userId)).map((r) => r.remembered),
        [true, false],
      );
    });

    it('keeps a nullable user agent and ip', async () => {
      const record = sampleRecord({ userAgent: null, ip: null });
      await store.create(record, 10);
      const got = await store.get(record.id);
      assert.equal(got?.userAgent, null);
      assert.equal(got?.ip, null);
    });

    it('touch moves lastSeenAt and expiresAt and nothing else', async () => {
      const record = sampleRecord();
      await store.create(record, 10);
      await store.touch(record.id, T0 + 5000, T0 + HOUR + 5000);
      const got = await store.get(record.id);
      assert.equal(got?.lastSeenAt, T0 + 5000);
      assert.equal(got?.expiresAt, T0 + HOUR + 5000);
      assert.equal(got?.createdAt, T0);
      assert.equal(got?.absoluteExpiresAt, record.absoluteExpiresAt);
      await store.touch(sampleRecord().id, T0, T0); // unknown id: no effect, no error
    });

    it('setData replaces data and reports a missing record', async () => {
      const record = sampleRecord({ data: { a: 1 } });
      await store.create(record, 10);
      assert.equal(await store.setData(record.id, { b: [true, 2] }), true);
      assert.deepEqual((await store.get(record.id))?.data, { b: [true, 2] });
      assert.equal(await store.setData(sampleRecord().id, { c: 1 }), false);
    });

    it('delete removes one record and reports whether it existed', async () => {
      const a = sampleRecord();
      const b = sampleRecord({ userId: a.userId });
      await store.create(a, 10);
      await store.create(b, 10);
      assert.equal(await store.delete(a.id), true);
      assert.equal(await store.delete(a.id), false);
      assert.equal(await store.get(a.id), null);
      assert.ok(await store.get(b.id));
    });

    it("lists a user's records oldest first, and no one else's", async () => {
      const userId = sampleRecord().userId;
      const late = sampleRecord({ userId, createdAt: T0 + 2000 });
      const early = sampleRecord({ userId, createdAt: T0 + 1000 });
      const other = sampleRecord();
      for (const r of [late, early, other]) await store.create(r, 10);
      assert.deepEqual(ids(await store.listUser(userId)), [early.id, late.id]);
      assert.deepEqual(await store.listUser(sampleRecord().userId), []);
    });

    it('deleteUser removes all of a user, or all but one, and no one else', async () => {
      const userId = sampleRecord().userId;
      const mine = [1, 2, 3].map((i) => sampleRecord({ userId, createdAt: T0 + i }));
      const other = sampleRecord();
      for (const r of [...mine, other]) await store.create(r, 10);
      assert.equal(await store.deleteUser(userId, mine[1]?.id), 2);
      assert.deepEqual(ids(await store.listUser(userId)), [mine[1]?.id]);
      assert.equal(await store.deleteUser(userId), 1);
      assert.deepEqual(await store.listUser(userId), []);
      assert.ok(await store.get(other.id));
    });

    it('create evicts the oldest beyond the cap, and reports them', async () => {
      const userId = sampleRecord().userId;
      const records = [1, 2, 3, 4].map((i) => sampleRecord({ userId, createdAt: T0 + i }));
      for (const r of records.slice(0, 3)) assert.deepEqual(await store.create(r, 3), []);
      assert.deepEqual(await store.create(records[3] as SessionRecord, 3), [records[0]?.id]);
      assert.deepEqual(ids(await store.listUser(userId)), ids(records.slice(1)));
      assert.deepEqual(
        (await store.create(sampleRecord({ userId, createdAt: T0 + 5 }), 1)).sort(),
        ids(records.slice(1)).sort(),
      );
    });

    it("create drops the user's expired records before counting", async () => {
      const userId = sampleRecord().userId;
      const dead = sampleRecord({ userId, createdAt: T0, expiresAt: T0 + 10 });
      const live = sampleRecord({ userId, createdAt: T0 + 1, expiresAt: T0 + HOUR });
      await store.create(dead, 5);
      await store.create(live, 5);
      const fresh = sampleRecord({ userId, createdAt: T0 + 20, expiresAt: T0 + HOUR });
      assert.deepEqual(await store.create(fresh, 2), [dead.id]);
      assert.deepEqual(ids(await store.listUser(userId)), [live.id, fresh.id]);
    });

    it('parallel creates for one user never leave more than the cap', async () => {
      const userId = sampleRecord().userId;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.create(sampleRecord({ userId, createdAt: T0 + i }), 3)),
      );
      assert.equal((await store.listUser(userId)).length, 3);
    });

    it('deleteExpired removes exactly the records due, across users', async () => {
      const due = [sampleRecord({ expiresAt: T0 + 10 }), sampleRecord({ expiresAt: T0 + 20 })];
      const alive = sampleRecord({ expiresAt: T0 + 21 });
      for (const r of [...due, alive]) await store.create(r, 10);
      assert.equal(await store.deleteExpired(T0 + 20), 2);
      for (const r of due) assert.equal(await store.get(r.id), null);
      assert.ok(await store.get(alive.id));
      assert.equal(await store.deleteExpired(T0 + 20), 0);
    });

    it('does not let a caller mutate a stored record through a returned object', async () => {
      const data: Record<string, unknown> = { role: 'user' };
      const record = sampleRecord({ data });
      await store.create(record, 10);
      data.role = 'admin';
      const got = await store.get(record.id);
      assert.equal(got?.data.role, 'user');
      try {
        (got?.data as Record<string, unknown>).role = 'admin'; // a store may freeze what it returns
      } catch {}
      assert.equal((await store.get(record.id))?.data.role, 'user');
    });
  });
}
