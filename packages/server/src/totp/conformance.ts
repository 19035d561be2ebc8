/**
 * `latchkey/totp/conformance`: the TOTP store conformance suite. Every `TotpStore`, ours or yours,
 * must pass it: the contract of store.ts method by method, above all the atomic steps the rules
 * rest on (a time step accepted once, a recovery code used once, even when two requests race).
 *
 * @example
 * import { describe, it, beforeEach, afterEach } from 'vitest';
 * import { runTotpStoreConformance } from 'latchkey/totp/conformance';
 * runTotpStoreConformance({ name: 'my store', createStore: () => myStore(), describe, it, beforeEach, afterEach });
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TotpRecord, TotpStore } from './store.js';

type Fn = () => unknown;

/** Options of `runTotpStoreConformance`: the store under test and the runner's functions. */
export interface TotpStoreConformanceOptions {
  /** Names the suite: `TotpStore conformance: <name>`. */
  name: string;
  /** A store over empty (or isolated) storage, created before each test. */
  createStore: () => TotpStore | Promise<TotpStore>;
  /** A second store over the same storage (its own connection), for the races. Default: the store itself. */
  createPeer?: (store: TotpStore) => TotpStore | Promise<TotpStore>;
  /** Releases what `createStore` opened, after each test. */
  destroyStore?: (store: TotpStore) => unknown;
  describe: (name: string, body: () => void) => unknown;
  it: (name: string, body: Fn) => unknown;
  beforeEach: (body: Fn) => unknown;
  afterEach: (body: Fn) => unknown;
}

const T0 = 1_800_000_000_000;
const hash = () => randomBytes(32).toString('base64url');

/** A pending (unconfirmed) record with a random user id. */
function pending(overrides: Partial<TotpRecord> = {}): TotpRecord {
  return {
    userId: `user-${randomBytes(6).toString('hex')}`,
    sealedSecret: `v1.test.${randomBytes(40).toString('base64url')}`,
    createdAt: T0,
    confirmedAt: null,
    lastStep: 0,
    recoveryHashes: [],
    ...overrides,
  };
}

/**
 * Registers the `TotpStore` contract as tests with the given runner.
 *
 * @example
 * runTotpStoreConformance({ name: 'sqlite', createStore: () => createSqliteTotpStore(new Database(':memory:')), describe, it, beforeEach, afterEach });
 */
export function runTotpStoreConformance(options: TotpStoreConformanceOptions): void {
  const { describe, it, beforeEach, afterEach } = options;
  describe(`TotpStore conformance: ${options.name}`, () => {
    let store: TotpStore;
    let peer: TotpStore;
    beforeEach(async () => {
      store = await options.createStore();
      peer = options.createPeer ? await options.createPeer(store) : store;
    });
    afterEach(async () => {
      if (peer !== store) await options.destroyStore?.(peer);
      await options.destroyStore?.(store);
    });

    it('put then get returns the record, field for field; an unknown user is null', async () => {
      const record = pending();
      await store.put(record);
      assert.deepEqual(await store.get(record.userId), record);
      assert.equal(await store.get(pending().userId), null);
    });

    it('put replaces a pending record and its recovery codes', async () => {
      const first = pending({ recoveryHashes: [hash(), hash()] });
      assert.equal(await store.put(first), true);
      const second = { ...first, sealedSecret: 'v1.test.other', recoveryHashes: [hash()] };
      assert.equal(await store.put(second), true);
      assert.deepEqual(await store.get(first.userId), second);
    });

    it('put never replaces a confirmed record (an enrolment racing the confirmation cannot turn the factor off)', async () => {
      const record = pending();
      await store.put(record);
      await store.confirm(record.userId, record.sealedSecret, T0, 5, [hash()]);
      const before = await store.get(record.userId);
      assert.equal(await peer.put(pending({ userId: record.userId })), false);
      assert.deepEqual(await store.get(record.userId), before);
    });

    it('confirm lands only on the secret the code was checked against', async () => {
      const record = pending();
      await store.put(record);
      // A re-enrolment replaced the secret between the check and the write.
      await peer.put({ ...record, sealedSecret: 'v1.test.newer' });
      assert.equal(await store.confirm(record.userId, record.sealedSecret, T0, 5, [hash()]), false);
      assert.equal((await store.get(record.userId))?.confirmedAt, null);
      assert.equal(await store.confirm(record.userId, 'v1.test.newer', T0, 5, []), true);
    });

    it('reseal swaps the sealed secret only while it is the one given', async () => {
      const record = pending();
      await store.put(record);
      await store.confirm(record.userId, record.sealedSecret, T0, 5, [hash()]);
      assert.equal(await store.reseal(record.userId, 'v1.test.stale', 'v1.test.x'), false);
      assert.equal(await store.reseal(record.userId, record.sealedSecret, 'v1.test.resealed'), true);
      const got = await store.get(record.userId);
      assert.equal(got?.sealedSecret, 'v1.test.resealed');
      assert.equal(got?.lastStep, 5); // nothing else moved
      assert.equal(got?.recoveryHashes.length, 1);
      assert.equal(await store.reseal(pending().userId, 'a', 'b'), false);
    });

    it('confirm turns a pending record on once, with its step and codes', async () => {
      const record = pending();
      await store.put(record);
      const codes = [hash(), hash(), hash()];
      assert.equal(await store.confirm(record.userId, record.sealedSecret, T0 + 5, 100, codes), true);
      const got = await store.get(record.userId);
      assert.equal(got?.confirmedAt, T0 + 5);
      assert.equal(got?.lastStep, 100);
      assert.deepEqual([...(got?.recoveryHashes ?? [])].sort(), [...codes].sort());
      assert.equal(await store.confirm(record.userId, record.sealedSecret, T0 + 6, 101, []), false); // already on
      assert.equal(await store.confirm(pending().userId, 'v1.test.none', T0, 1, []), false); // no record
    });

    it('useStep accepts only a later step, on a confirmed record', async () => {
      const record = pending();
      await store.put(record);
      assert.equal(await store.useStep(record.userId, 5), false); // not confirmed yet
      await store.confirm(record.userId, record.sealedSecret, T0, 10, []);
      assert.equal(await store.useStep(record.userId, 10), false); // the confirming code's step is spent
      assert.equal(await store.useStep(record.userId, 9), false);
      assert.equal(await store.useStep(record.userId, 11), true);
      assert.equal(await store.useStep(record.userId, 11), false); // replay
      assert.equal((await store.get(record.userId))?.lastStep, 11);
    });

    it('of concurrent uses of one step, exactly one wins, across connections', async () => {
      const record = pending();
      await store.put(record);
      await store.confirm(record.userId, record.sealedSecret, T0, 10, []);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : peer).useStep(record.userId, 11)),
      );
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('a recovery code is used once, even when two requests race; a pending record has none to use', async () => {
      const record = pending();
      const codes = [hash(), hash()];
      await store.put(record);
      assert.equal(await store.useRecoveryCode(record.userId, codes[0] as string), false);
      await store.confirm(record.userId, record.sealedSecret, T0, 1, codes);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? store : peer).useRecoveryCode(record.userId, codes[0] as string),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.deepEqual((await store.get(record.userId))?.recoveryHashes, [codes[1]]);
      assert.equal(await store.useRecoveryCode(record.userId, hash()), false);
      // Another user's code is not this user's.
      const other = pending();
      await store.put(other);
      await store.confirm(other.userId, other.sealedSecret, T0, 1, [codes[1] as string]);
      assert.equal(await store.useRecoveryCode(other.userId, codes[1] as string), true);
      assert.deepEqual((await store.get(record.userId))?.recoveryHashes, [codes[1]]);
    });

    it('setRecoveryCodes replaces the codes of a confirmed record only', async () => {
      const record = pending();
      await store.put(record);
      assert.equal(await store.setRecoveryCodes(record.userId, [hash()]), false);
      await store.confirm(record.userId, record.sealedSecret, T0, 1, [hash(), hash()]);
      const fresh = [hash(), hash(), hash()];
      assert.equal(await store.setRecoveryCodes(record.userId, fresh), true);
      assert.deepEqual([...((await store.get(record.userId))?.recoveryHashes ?? [])].sort(), [...fresh].sort());
    });

    it('delete removes the record and its codes', async () => {
      const record = pending();
      await store.put(record);
      await store.confirm(record.userId, record.sealedSecret, T0, 1, [hash()]);
      assert.equal(await store.delete(record.userId), true);
      assert.equal(await store.get(record.userId), null);
      assert.equal(await store.delete(record.userId), false);
      await store.put(pending({ userId: record.userId }));
      assert.deepEqual((await store.get(record.userId))?.recoveryHashes, []);
    });
  });
}
