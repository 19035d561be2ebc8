/**
 * `latchkey/passkeys/conformance`: the passkey store conformance suite. Every `PasskeyStore`, ours
 * or yours, must pass it: the contract of store.ts method by method, above all the atomic steps the
 * rules rest on (a challenge taken once, a credential id registered once, a use that lands only on
 * the counter it was checked against, a last passkey that two racing removals cannot both take).
 *
 * @example
 * import { describe, it, beforeEach, afterEach } from 'vitest';
 * import { runPasskeyStoreConformance } from 'latchkey/passkeys/conformance';
 * runPasskeyStoreConformance({ name: 'my store', createStore: () => myStore(), describe, it, beforeEach, afterEach });
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { PasskeyRecord, PasskeyStore } from './store.js';

type Fn = () => unknown;

/** Options of `runPasskeyStoreConformance`: the store under test and the runner's functions. */
export interface PasskeyStoreConformanceOptions {
  /** Names the suite: `PasskeyStore conformance: <name>`. */
  name: string;
  /** A store over empty (or isolated) storage, created before each test. */
  createStore: () => PasskeyStore | Promise<PasskeyStore>;
  /** A second store over the same storage (its own connection), for the races. Default: the store itself. */
  createPeer?: (store: PasskeyStore) => PasskeyStore | Promise<PasskeyStore>;
  /** Releases what `createStore` opened, after each test. */
  destroyStore?: (store: PasskeyStore) => unknown;
  describe: (name: string, body: () => void) => unknown;
  it: (name: string, body: Fn) => unknown;
  beforeEach: (body: Fn) => unknown;
  afterEach: (body: Fn) => unknown;
}

const T0 = 1_800_000_000_000;
const rand = (n = 16) => randomBytes(n).toString('base64url');

function passkey(overrides: Partial<PasskeyRecord> = {}): PasskeyRecord {
  return {
    id: rand(32),
    userId: `user-${rand(6)}`,
    publicKey: rand(77),
    counter: 0,
    transports: ['internal', 'hybrid'],
    backupEligible: true,
    backedUp: false,
    name: 'Laptop',
    createdAt: T0,
    lastUsedAt: null,
    ...overrides,
  };
}

/**
 * Registers the `PasskeyStore` contract as tests with the given runner.
 *
 * @example
 * runPasskeyStoreConformance({ name: 'sqlite', createStore: () => createSqlitePasskeyStore(new Database(':memory:')), describe, it, beforeEach, afterEach });
 */
export function runPasskeyStoreConformance(options: PasskeyStoreConformanceOptions): void {
  const { describe, it, beforeEach, afterEach } = options;
  describe(`PasskeyStore conformance: ${options.name}`, () => {
    let store: PasskeyStore;
    let peer: PasskeyStore;
    beforeEach(async () => {
      store = await options.createStore();
      peer = options.createPeer === undefined ? store : await options.createPeer(store);
    });
    afterEach(async () => {
      if (peer !== store) await options.destroyStore?.(peer);
      await options.destroyStore?.(store);
    });

    it('adds and reads a passkey back field by field; an unknown id is null', async () => {
      const r = passkey({ counter: 7, backedUp: true, lastUsedAt: T0 + 5, name: 'Téléphone 📱' });
      assert.equal(await store.add(r, 20), true);
      assert.deepEqual(await store.get(r.id), r);
      assert.equal(await store.get(rand(32)), null);
    });

    it('registers a credential id once, to anyone: a second add changes nothing', async () => {
      const r = passkey();
      assert.equal(await store.add(r, 20), true);
      assert.equal(await store.add({ ...r, userId: 'someone-else', publicKey: rand(77) }, 20), false);
      assert.deepEqual(await store.get(r.id), r);
    });

    it("lists a user's passkeys oldest first, and nobody else's", async () => {
      const a = passkey({ createdAt: T0 + 2 });
      const b = passkey({ userId: a.userId, createdAt: T0 + 1 });
      await store.add(a, 20);
      await store.add(b, 20);
      await store.add(passkey(), 20);
      assert.deepEqual(
        (await store.list(a.userId)).map((r) => r.id),
        [b.id, a.id],
      );
      assert.deepEqual(await store.list('nobody'), []);
    });

    it("renames and deletes only the owner's passkey", async () => {
      const r = passkey();
      const other = passkey({ userId: r.userId });
      await store.add(r, 20);
      await store.add(other, 20);
      assert.equal(await store.rename('intruder', r.id, 'Mine'), false);
      assert.equal(await store.rename(r.userId, r.id, 'Work laptop'), true);
      assert.equal((await store.get(r.id))?.name, 'Work laptop');
      assert.equal(await store.delete('intruder', r.id), false);
      assert.notEqual(await store.get(r.id), null);
      assert.equal(await store.delete(r.userId, r.id), true);
      assert.equal(await store.get(r.id), null);
      assert.equal(await store.delete(r.userId, r.id), false);
    });

    it('keepOne refuses to delete the only passkey, and two racing removals leave one', async () => {
      const a = passkey();
      const b = passkey({ userId: a.userId });
      await store.add(a, 20);
      await store.add(b, 20);
      const results = await Promise.all([store.delete(a.userId, a.id, true), peer.delete(a.userId, b.id, true)]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.list(a.userId)).length, 1);
      const last = (await store.list(a.userId))[0] as PasskeyRecord;
      assert.equal(await store.delete(a.userId, last.id, true), false);
      assert.equal(await store.delete(a.userId, last.id, false), true);
    });

    it('add holds a user to maxPerUser; of racing adds of the last place, exactly one lands', async () => {
      const first = passkey();
      assert.equal(await store.add(first, 2), true);
      assert.equal(await store.add(passkey({ userId: first.userId }), 2), true);
      const over = passkey({ userId: first.userId });
      assert.equal(await store.add(over, 2), false);
      assert.equal(await store.get(over.id), null);
      assert.equal(await store.add(passkey(), 2), true); // another user has places of their own
      await store.delete(first.userId, first.id);
      const racing = [
        passkey({ userId: first.userId }),
        passkey({ userId: first.userId }),
        passkey({ userId: first.userId }),
      ];
      const landed = await Promise.all(racing.map((r, i) => (i % 2 === 0 ? store : peer).add(r, 2)));
      assert.equal(landed.filter(Boolean).length, 1);
      assert.equal((await store.list(first.userId)).length, 2);
    });

    it('deleteAll removes every passkey of the user and says how many', async () => {
      const a = passkey();
      await store.add(a, 20);
      await store.add(passkey({ userId: a.userId }), 20);
      const kept = passkey();
      await store.add(kept, 20);
      assert.equal(await store.deleteAll(a.userId), 2);
      assert.deepEqual(await store.list(a.userId), []);
      assert.notEqual(await store.get(kept.id), null);
      assert.equal(await store.deleteAll(a.userId), 0);
    });

    it('recordUse lands only on the counter it was checked against; of two racing uses, one lands', async () => {
      const r = passkey({ counter: 4 });
      await store.add(r, 20);
      assert.equal(await store.recordUse(r.id, { previousCounter: 3, counter: 9, backedUp: true, at: T0 + 1 }), false);
      assert.equal((await store.get(r.id))?.counter, 4);
      const uses = await Promise.all([
        store.recordUse(r.id, { previousCounter: 4, counter: 5, backedUp: true, at: T0 + 2 }),
        peer.recordUse(r.id, { previousCounter: 4, counter: 6, backedUp: true, at: T0 + 3 }),
      ]);
      assert.equal(uses.filter(Boolean).length, 1);
      const after = await store.get(r.id);
      assert.ok(after?.counter === 5 || after?.counter === 6);
      assert.equal(after?.backedUp, true);
      assert.ok(after?.lastUsedAt === T0 + 2 || after?.lastUsedAt === T0 + 3);
      assert.equal(await store.recordUse(rand(32), { previousCounter: 0, counter: 1, backedUp: false, at: T0 }), false);
    });

    it('a counter of 0 (no counter kept) records each use', async () => {
      const r = passkey();
      await store.add(r, 20);
      for (let i = 1; i <= 3; i++)
        assert.equal(
          await store.recordUse(r.id, { previousCounter: 0, counter: 0, backedUp: false, at: T0 + i }),
          true,
        );
      assert.equal((await store.get(r.id))?.lastUsedAt, T0 + 3);
    });

    it('a challenge is taken once, and the newer of two under one key wins', async () => {
      const key = `sign-in:${rand()}`;
      await store.putChallenge(key, 'first', T0 + 60_000);
      await store.putChallenge(key, 'second', T0 + 60_000);
      assert.equal(await store.takeChallenge(key, T0), 'second');
      assert.equal(await store.takeChallenge(key, T0), null);
      assert.equal(await store.takeChallenge(`sign-in:${rand()}`, T0), null);
    });

    it('an expired challenge is never handed out, and is gone after the attempt', async () => {
      const key = `register:${rand()}`;
      await store.putChallenge(key, 'c', T0 + 1000);
      assert.equal(await store.takeChallenge(key, T0 + 1001), null);
      assert.equal(await store.takeChallenge(key, T0), null);
    });

    it('of concurrent takes of one challenge, exactly one gets it', async () => {
      const key = `step-up:${rand()}`;
      await store.putChallenge(key, 'only', T0 + 60_000);
      const taken = await Promise.all([
        store.takeChallenge(key, T0),
        peer.takeChallenge(key, T0),
        store.takeChallenge(key, T0),
        peer.takeChallenge(key, T0),
      ]);
      assert.deepEqual(
        taken.filter((t) => t !== null),
        ['only'],
      );
    });

    it('keeps challenges under different keys apart', async () => {
      const [a, b] = [`sign-in:${rand()}`, `sign-in:${rand()}`];
      await store.putChallenge(a, 'for-a', T0 + 60_000);
      await store.putChallenge(b, 'for-b', T0 + 60_000);
      assert.equal(await store.takeChallenge(b, T0), 'for-b');
      assert.equal(await store.takeChallenge(a, T0), 'for-a');
    });
  });
}
