/**
 * The store conformance suite: every SessionStore, ours or yours, must pass it. It takes the test
 * runner's functions, so it runs under Vitest, node:test, or anything with describe/it.
 *
 * `setBinding` is optional, and so are its tests: stores without setBinding cannot back
 * latchkey/dbsc. For such a store the binding tests are skipped through the runner's test context
 * (`context.skip()`, in Vitest and node:test), so they show as skipped, never as passed.
 *
 * @example
 * import { describe, it, beforeEach, afterEach } from 'vitest';
 * import { runStoreConformance } from 'latchkey/conformance';
 * runStoreConformance({ name: 'my store', createStore: () => myStore(), describe, it, beforeEach, afterEach });
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionBinding, SessionRecord, SessionStore } from './store.js';

type Fn = () => unknown;
/** What the suite uses of the context a runner passes to a test: Vitest's and node:test's `skip`. */
interface TestContext {
  skip?: (note?: string) => unknown;
}
type TestBody = (context?: TestContext) => unknown;

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
  it: (name: string, body: TestBody) => unknown;
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
    binding: null,
    ...overrides,
  };
}

/** A device binding as latchkey/dbsc keeps it: an EC P-256 public key, random, so no two match. */
export function sampleBinding(overrides: Partial<SessionBinding> = {}): SessionBinding {
  return {
    publicKey: {
      kty: 'EC',
      crv: 'P-256',
      x: randomBytes(32).toString('base64url'),
      y: randomBytes(32).toString('base64url'),
    },
    algorithm: 'ES256',
    thumbprint: randomBytes(32).toString('base64url'),
    boundAt: T0 + 1000,
    provenAt: T0 + 1000,
    ...overrides,
  };
}

const ids = (records: SessionRecord[]) => records.map((r) => r.id);
const NO_BINDING = 'this store has no setBinding: it cannot back latchkey/dbsc';

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
      // A store without setBinding may predate binding and leave the field out.
      assert.deepEqual(store.setBinding === undefined ? { binding: null, ...got } : got, record);
    });

    it('getNow, when the store has it, answers as get does or not at all (undefined), never with a deleted record', async () => {
      const getNow = store.getNow?.bind(store);
      if (getNow === undefined) return; // optional: the manager then always waits for get
      const record = sampleRecord({ data: { n: 1 } });
      const other = sampleRecord({ userId: record.userId, createdAt: T0 + 1 });
      await store.create(record, 10);
      await store.create(other, 10);
      for (const options of [undefined, { fresh: true }]) {
        const now = getNow(record.id, options);
        if (now !== undefined) assert.deepEqual(now, await store.get(record.id, options));
        assert.ok([null, undefined].includes(getNow(sampleRecord().id, options) as null | undefined));
      }
      await store.touch(record.id, T0 + 5, T0 + HOUR);
      const touched = getNow(record.id, { fresh: true });
      if (touched !== undefined) assert.equal(touched?.lastSeenAt, T0 + 5);
      assert.equal(await store.delete(record.id), true);
      assert.equal(await store.deleteUser(record.userId), 1);
      for (const id of [record.id, other.id])
        for (const options of [undefined, { fresh: true }])
          assert.ok([null, undefined].includes(getNow(id, options) as null | undefined), 'a deleted record came back');
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

    describe('device binding (setBinding)', () => {
      type SetBinding = NonNullable<SessionStore['setBinding']>;
      /** A binding test: skipped, never passed, when the store has no setBinding. */
      const bindingIt = (name: string, body: (setBinding: SetBinding) => Promise<void>) =>
        it(name, async (context?: TestContext) => {
          const { setBinding } = store;
          if (setBinding === undefined) {
            context?.skip?.(NO_BINDING);
            return;
          }
          await body(setBinding.bind(store));
        });

      bindingIt('a new record is unbound: binding null through get and listUser', async () => {
        const record = sampleRecord();
        const { binding: _, ...bare } = sampleRecord({ userId: record.userId, createdAt: T0 + 1 });
        await store.create(record, 10);
        await store.create(bare as SessionRecord, 10); // no binding field at all: stored as null
        assert.equal((await store.get(record.id))?.binding, null);
        assert.equal((await store.get(bare.id))?.binding, null);
        assert.deepEqual(
          (await store.listUser(record.userId)).map((r) => r.binding),
          [null, null],
        );
      });

      bindingIt('create keeps a binding given, field for field', async () => {
        const record = sampleRecord({ binding: sampleBinding() });
        await store.create(record, 10);
        assert.deepEqual(await store.get(record.id), record);
        assert.deepEqual(await store.listUser(record.userId), [record]);
      });

      bindingIt('binds an unbound record; get and listUser return the binding exactly', async (setBinding) => {
        const record = sampleRecord();
        const other = sampleRecord({ userId: record.userId, createdAt: T0 + 1 });
        await store.create(record, 10);
        await store.create(other, 10);
        const binding = sampleBinding({
          publicKey: { kty: 'RSA', n: randomBytes(256).toString('base64url'), e: 'AQAB', alg: 'RS256' },
          algorithm: 'RS256',
          boundAt: T0 + 1234,
          provenAt: T0 + 5678,
        });
        assert.equal(await setBinding(record.id, binding, null), true);
        assert.deepEqual(await store.get(record.id), { ...record, binding });
        assert.deepEqual(
          (await store.listUser(record.userId)).map((r) => r.binding),
          [binding, null],
        );
      });

      bindingIt('a second bind expecting an unbound record fails and keeps the first', async (setBinding) => {
        const record = sampleRecord();
        await store.create(record, 10);
        const first = sampleBinding();
        assert.equal(await setBinding(record.id, first, null), true);
        assert.equal(await setBinding(record.id, sampleBinding(), null), false);
        assert.deepEqual((await store.get(record.id))?.binding, first);
      });

      bindingIt('an expected binding with another provenAt or thumbprint does not match', async (setBinding) => {
        const record = sampleRecord();
        await store.create(record, 10);
        const bound = sampleBinding();
        await setBinding(record.id, bound, null);
        const next = { ...bound, provenAt: bound.provenAt + 1000 };
        assert.equal(await setBinding(record.id, next, { ...bound, provenAt: bound.provenAt - 1 }), false);
        assert.equal(await setBinding(record.id, next, { ...bound, provenAt: bound.provenAt + 1 }), false);
        assert.equal(await setBinding(record.id, next, { ...bound, thumbprint: sampleBinding().thumbprint }), false);
        assert.equal(await setBinding(record.id, null, { ...bound, thumbprint: sampleBinding().thumbprint }), false);
        assert.deepEqual((await store.get(record.id))?.binding, bound);
      });

      bindingIt('the right expected binding moves provenAt on, once', async (setBinding) => {
        const record = sampleRecord();
        await store.create(record, 10);
        const bound = sampleBinding();
        await setBinding(record.id, bound, null);
        // Equal by thumbprint and provenAt, not as the same object or the same JSON text.
        const expected: SessionBinding = {
          provenAt: bound.provenAt,
          thumbprint: bound.thumbprint,
          boundAt: bound.boundAt,
          algorithm: bound.algorithm,
          publicKey: { ...bound.publicKey },
        };
        const proven = { ...bound, provenAt: bound.provenAt + 30_000 };
        assert.equal(await setBinding(record.id, proven, expected), true);
        assert.deepEqual((await store.get(record.id))?.binding, proven);
        assert.equal(await setBinding(record.id, { ...bound, provenAt: bound.provenAt + 60_000 }, bound), false);
        assert.deepEqual((await store.get(record.id))?.binding, proven);
      });

      bindingIt('unbinds to null, and an unbound record can be bound again', async (setBinding) => {
        const record = sampleRecord();
        await store.create(record, 10);
        const bound = sampleBinding();
        await setBinding(record.id, bound, null);
        assert.equal(await setBinding(record.id, null, bound), true);
        assert.equal((await store.get(record.id))?.binding, null);
        assert.equal((await store.listUser(record.userId))[0]?.binding, null);
        assert.equal(await setBinding(record.id, null, bound), false);
        const again = sampleBinding();
        assert.equal(await setBinding(record.id, again, null), true);
        assert.deepEqual((await store.get(record.id))?.binding, again);
      });

      bindingIt('reports a missing record, and creates none', async (setBinding) => {
        const missing = sampleRecord();
        const bound = sampleBinding();
        assert.equal(await setBinding(missing.id, bound, null), false);
        assert.equal(await setBinding(missing.id, null, bound), false);
        assert.equal(await store.get(missing.id), null);
        const deleted = sampleRecord();
        await store.create(deleted, 10);
        await store.delete(deleted.id);
        assert.equal(await setBinding(deleted.id, bound, null), false);
        assert.equal(await store.get(deleted.id), null);
      });

      bindingIt('does not change lastSeenAt, expiresAt, data or anything else', async (setBinding) => {
        const record = sampleRecord({ data: { cart: [1, 2], note: 'kept' }, remembered: true });
        await store.create(record, 10);
        await store.touch(record.id, T0 + 5000, T0 + HOUR + 5000);
        const touched = { ...record, lastSeenAt: T0 + 5000, expiresAt: T0 + HOUR + 5000 };
        const bound = sampleBinding();
        await setBinding(record.id, bound, null);
        assert.deepEqual(await store.get(record.id), { ...touched, binding: bound });
        const proven = { ...bound, provenAt: bound.provenAt + 1 };
        await setBinding(record.id, proven, bound);
        assert.deepEqual(await store.get(record.id), { ...touched, binding: proven });
        await setBinding(record.id, null, proven);
        assert.deepEqual(await store.get(record.id), touched);
      });

      bindingIt('of 10 concurrent calls with the same expected binding, exactly one succeeds', async (setBinding) => {
        const record = sampleRecord();
        await store.create(record, 10);
        const binds = Array.from({ length: 10 }, () => sampleBinding());
        const bound = await Promise.all(binds.map((b) => setBinding(record.id, b, null)));
        assert.equal(bound.filter(Boolean).length, 1);
        const winner = binds[bound.indexOf(true)] as SessionBinding;
        assert.deepEqual((await store.get(record.id))?.binding, winner);

        const proofs = Array.from({ length: 10 }, (_, i) => ({ ...winner, provenAt: winner.provenAt + 1 + i }));
        const proven = await Promise.all(proofs.map((next) => setBinding(record.id, next, winner)));
        assert.equal(proven.filter(Boolean).length, 1);
        assert.deepEqual((await store.get(record.id))?.binding, proofs[proven.indexOf(true)]);
      });

      bindingIt(
        'does not let a caller mutate a stored binding through an object passed or returned',
        async (setBinding) => {
          const record = sampleRecord();
          await store.create(record, 10);
          const bound = sampleBinding();
          const passed = structuredClone(bound);
          await setBinding(record.id, passed, null);
          (passed.publicKey as Record<string, unknown>).x = 'changed';
          passed.provenAt = 0;
          const got = await store.get(record.id);
          assert.ok(got?.binding);
          try {
            (got.binding.publicKey as Record<string, unknown>).x = 'changed'; // a store may freeze what it returns
          } catch {}
          assert.deepEqual((await store.get(record.id))?.binding, bound);
        },
      );
    });
  });
}
