/**
 * `latchkey/one-time/conformance`: the one-time token store conformance suite. Every
 * `OneTimeTokenStore`, ours or yours, must pass it: the contract of store.ts method by method
 * (atomic take above all: of concurrent uses of one token, across connections, exactly one wins),
 * then the rules of `createOneTimeTokens` that rest on the store (single use, expiry, purpose
 * binding, the newest token replacing the older, revocation). It takes the test runner's
 * functions, so it runs under Vitest, node:test, or anything with describe/it.
 *
 * @example
 * import { describe, it, beforeEach, afterEach } from 'vitest';
 * import { runOneTimeTokenStoreConformance } from 'latchkey/one-time/conformance';
 * runOneTimeTokenStoreConformance({ name: 'my store', createStore: () => myStore(), describe, it, beforeEach, afterEach });
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { StoreUnavailableError } from '../errors.js';
import type { OneTimeTokenRecord, OneTimeTokenStore } from './store.js';
import { createOneTimeTokens } from './tokens.js';

type Fn = () => unknown;

/** Options of `runOneTimeTokenStoreConformance`: the store under test and the runner's functions. */
export interface OneTimeTokenStoreConformanceOptions {
  /** Names the suite in the runner's output: `OneTimeTokenStore conformance: <name>`. */
  name: string;
  /** A store over empty (or isolated) storage, created before each test. */
  createStore: () => OneTimeTokenStore | Promise<OneTimeTokenStore>;
  /**
   * A second store over the same storage as `store`, opened as another process would (its own
   * connection), for the tests of concurrent use. Default: `store` itself.
   */
  createPeer?: (store: OneTimeTokenStore) => OneTimeTokenStore | Promise<OneTimeTokenStore>;
  /** Releases what `createStore` (and `createPeer`) opened, after each test. */
  destroyStore?: (store: OneTimeTokenStore) => unknown;
  /**
   * Takes the store's backing service away (closes its connection or pool); every method must
   * then reject with `StoreUnavailableError`. Without it (a memory store cannot fail) that test
   * is left out.
   */
  breakStore?: (store: OneTimeTokenStore) => unknown;
  /**
   * Everything the store's storage holds, as text (rows, keys and values, file bytes), to check that
   * no token is kept in clear. Without it that test is left out.
   */
  readRaw?: (store: OneTimeTokenStore) => string | Promise<string>;
  describe: (name: string, body: () => void) => unknown;
  it: (name: string, body: Fn) => unknown;
  beforeEach: (body: Fn) => unknown;
  afterEach: (body: Fn) => unknown;
}

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
// A day ahead of the real clock: a store with native expiry (Redis) keeps every record while the
// suite runs, and drops them by itself a day or two later.
const T0 = Math.ceil(Date.now() / SECOND) * SECOND + DAY;
const newHash = () => randomBytes(32).toString('base64url');
const newUser = () => `user-${randomBytes(6).toString('hex')}`;

/** A record with a random hash and user, so tests never collide on shared storage. */
function sample(overrides: Partial<OneTimeTokenRecord> = {}): OneTimeTokenRecord {
  return {
    tokenHash: newHash(),
    userId: newUser(),
    purpose: 'verify-email',
    data: {},
    createdAt: T0,
    expiresAt: T0 + HOUR,
    ...overrides,
  };
}

/**
 * Registers the suite with the runner's `describe`/`it`. Each test makes its own records with
 * random hashes and users; give each test its own storage (a table prefix, a key prefix, a file),
 * since the tests of `deleteExpired` count what it deletes.
 *
 * @example
 * runOneTimeTokenStoreConformance({ name: 'memory', createStore: () => createMemoryOneTimeStore(), describe, it, beforeEach, afterEach });
 */
export function runOneTimeTokenStoreConformance(options: OneTimeTokenStoreConformanceOptions): void {
  const { describe, it, beforeEach, afterEach } = options;
  describe(`OneTimeTokenStore conformance: ${options.name}`, () => {
    let store: OneTimeTokenStore;
    let peer: OneTimeTokenStore;
    beforeEach(async () => {
      store = await options.createStore();
      peer = options.createPeer ? await options.createPeer(store) : store;
    });
    afterEach(async () => {
      await options.destroyStore?.(store);
    });

    it('returns what it stored, field for field, to every connection', async () => {
      const record = sample({
        purpose: 'change-email',
        data: { email: 'new@example.org', n: 1.5, flag: true, nested: { list: [1, 'two', null] }, text: 'é✓"\\' },
      });
      await store.insert(record);
      assert.deepEqual(await store.get(record.tokenHash, record.purpose, T0), record);
      assert.deepEqual(await peer.get(record.tokenHash, record.purpose, T0), record);
    });

    it('answers null for an unknown hash, for hashes that only look alike, and for another purpose', async () => {
      const record = sample();
      await store.insert(record);
      const h = record.tokenHash;
      for (const other of [newHash(), h.toUpperCase() === h ? `${h}x` : h.toUpperCase(), `${h} `, h.slice(1)]) {
        assert.equal(await store.get(other, record.purpose, T0), null);
        assert.equal(await store.take(other, record.purpose, T0), null);
      }
      assert.equal(await store.get(h, 'reset-password', T0), null);
      assert.equal(await store.take(h, 'reset-password', T0), null);
      assert.deepEqual(await store.get(h, record.purpose, T0), record); // none of that used it up
    });

    it('take returns the record once; after that no connection finds it', async () => {
      const record = sample({ data: { step: 2 } });
      await store.insert(record);
      assert.deepEqual(await store.take(record.tokenHash, record.purpose, T0), record);
      assert.equal(await store.take(record.tokenHash, record.purpose, T0), null);
      assert.equal(await peer.take(record.tokenHash, record.purpose, T0), null);
      assert.equal(await peer.get(record.tokenHash, record.purpose, T0), null);
    });

    it('a record is live until expiresAt, not at it; a late take leaves it as it was', async () => {
      const record = sample({ expiresAt: T0 + 30 * 60 * SECOND });
      await store.insert(record);
      assert.equal(await store.get(record.tokenHash, record.purpose, record.expiresAt), null);
      assert.equal(await store.take(record.tokenHash, record.purpose, record.expiresAt), null);
      assert.equal(await peer.take(record.tokenHash, record.purpose, record.expiresAt + DAY), null);
      assert.deepEqual(await store.get(record.tokenHash, record.purpose, record.expiresAt - 1), record);
      assert.deepEqual(await peer.take(record.tokenHash, record.purpose, record.expiresAt - 1), record);
    });

    it("insert replaces the user's record of that purpose, and no other", async () => {
      const userId = newUser();
      const older = sample({ userId, purpose: 'reset-password' });
      const verify = sample({ userId, purpose: 'verify-email' });
      const someoneElse = sample({ purpose: 'reset-password' });
      for (const r of [older, verify, someoneElse]) await store.insert(r);
      const newer = sample({ userId, purpose: 'reset-password', createdAt: T0 + SECOND, data: { n: 2 } });
      await peer.insert(newer);
      assert.equal(await store.get(older.tokenHash, 'reset-password', T0), null);
      assert.equal(await store.take(older.tokenHash, 'reset-password', T0), null);
      assert.deepEqual(await store.get(newer.tokenHash, 'reset-password', T0), newer);
      assert.deepEqual(await store.get(verify.tokenHash, 'verify-email', T0), verify);
      assert.deepEqual(await store.get(someoneElse.tokenHash, 'reset-password', T0), someoneElse);
    });

    it('of concurrent takes of one record, across connections, exactly one wins', async () => {
      const record = sample({ purpose: 'reset-password' });
      await store.insert(record);
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store : peer).take(record.tokenHash, record.purpose, T0)),
      );
      const winners = outcomes.filter((o) => o !== null);
      assert.equal(winners.length, 1, `${winners.length} of 10 concurrent takes got the record`);
      assert.deepEqual(winners[0], record);
      assert.equal(await store.get(record.tokenHash, record.purpose, T0), null);
    });

    it('of concurrent inserts for one user and purpose, across connections, one record stays', async () => {
      const userId = newUser();
      const records = Array.from({ length: 8 }, (_, i) =>
        sample({ userId, purpose: 'change-email', createdAt: T0 + i, data: { i } }),
      );
      await Promise.all(records.map((r, i) => (i % 2 === 0 ? store : peer).insert(r)));
      const live = [];
      for (const r of records) if ((await store.get(r.tokenHash, r.purpose, T0)) !== null) live.push(r);
      assert.equal(live.length, 1, `${live.length} of 8 records of one user and purpose are live`);
      assert.equal(await store.deleteUser(userId), 1);
    });

    it("deleteUser removes one purpose or all of a user's records, counts them, and no one else's", async () => {
      const userId = newUser();
      const mine = ['verify-email', 'reset-password', 'change-email'].map((purpose) => sample({ userId, purpose }));
      const other = sample({ purpose: 'reset-password' });
      for (const r of [...mine, other]) await store.insert(r);
      assert.equal(await store.deleteUser(userId, 'reset-password'), 1);
      assert.equal(await store.get(mine[1]?.tokenHash ?? '', 'reset-password', T0), null);
      assert.deepEqual(await store.get(mine[0]?.tokenHash ?? '', 'verify-email', T0), mine[0]);
      assert.equal(await peer.deleteUser(userId, 'reset-password'), 0);
      assert.equal(await peer.deleteUser(userId), 2);
      for (const r of mine) assert.equal(await store.take(r.tokenHash, r.purpose, T0), null);
      assert.deepEqual(await store.get(other.tokenHash, other.purpose, T0), other);
      assert.equal(await store.deleteUser(userId), 0);
      assert.equal(await store.deleteUser(newUser()), 0);
    });

    it('deleteExpired removes the records due, across users and purposes, and nothing else', async () => {
      const due = [
        sample({ expiresAt: T0 + 10 * SECOND }),
        sample({ purpose: 'reset-password', expiresAt: T0 + 20 * SECOND }),
      ];
      const alive = sample({ expiresAt: T0 + 20 * SECOND + 1 });
      for (const r of [...due, alive]) await store.insert(r);
      assert.equal(await store.deleteExpired(T0 + 20 * SECOND), 2);
      for (const r of due) assert.equal(await store.get(r.tokenHash, r.purpose, T0), null);
      assert.deepEqual(await store.get(alive.tokenHash, alive.purpose, T0), alive);
      assert.equal(await peer.deleteExpired(T0 + 20 * SECOND), 0);
    });

    it('does not let a caller change stored data through the objects it passed or got back', async () => {
      const record = sample({ data: { email: 'a@example.org', list: [1] } });
      const stored = structuredClone(record);
      await store.insert(record);
      (record.data.list as number[]).push(2);
      record.expiresAt = T0;
      const got = await store.get(stored.tokenHash, stored.purpose, T0);
      assert.ok(got);
      try {
        (got.data.list as number[]).push(3);
        got.userId = 'mallory';
      } catch {} // a store may freeze what it returns
      assert.deepEqual(await store.get(stored.tokenHash, stored.purpose, T0), stored);
    });

    if (options.breakStore !== undefined) {
      const breakStore = options.breakStore;
      it('with its backing service gone, every method rejects with StoreUnavailableError', async () => {
        const record = sample();
        await store.insert(record);
        await breakStore(store);
        const calls: [string, () => Promise<unknown>][] = [
          ['insert', () => store.insert(sample())],
          ['take', () => store.take(record.tokenHash, record.purpose, T0)],
          ['get', () => store.get(record.tokenHash, record.purpose, T0)],
          ['deleteUser', () => store.deleteUser(record.userId)],
          ['deleteExpired', () => store.deleteExpired(T0)],
        ];
        for (const [name, call] of calls) {
          const outcome = await call().then(
            (value) => ({ value }),
            (error: unknown) => ({ error }),
          );
          assert.ok('error' in outcome, `${name} resolved (${JSON.stringify(outcome)}) with the store down`);
          assert.ok(
            outcome.error instanceof StoreUnavailableError,
            `${name} rejected with ${String(outcome.error)}, not StoreUnavailableError`,
          );
          assert.ok(!outcome.error.message.includes(record.tokenHash), `${name}: the message names the hash`);
        }
      });
    }

    describe('with createOneTimeTokens', () => {
      /** One-time tokens over `store` and over `peer` (two processes), on one test clock. */
      function tokens() {
        const clock = { t: T0 };
        const over = (s: OneTimeTokenStore) => createOneTimeTokens({ store: s, now: () => clock.t });
        return { here: over(store), there: over(peer), clock };
      }

      it('A1: a token is single-use: consume grants once, then consume and peek answer null', async () => {
        const { here, there } = tokens();
        const userId = newUser();
        const { token, expiresAt } = await here.issue(userId, 'verify-email', { data: { email: 'a@example.org' } });
        assert.equal(expiresAt, T0 + DAY);
        const grant = { userId, data: { email: 'a@example.org' }, createdAt: T0, expiresAt };
        assert.deepEqual(await there.consume(token, 'verify-email'), grant);
        assert.equal(await here.consume(token, 'verify-email'), null);
        assert.equal(await there.peek(token, 'verify-email'), null);
      });

      it('A1: peek answers without using the token up', async () => {
        const { here, there } = tokens();
        const userId = newUser();
        const { token } = await here.issue(userId, 'reset-password');
        const grant = { userId, data: {}, createdAt: T0, expiresAt: T0 + 1800 * SECOND };
        assert.deepEqual(await here.peek(token, 'reset-password'), grant);
        assert.deepEqual(await there.peek(token, 'reset-password'), grant);
        assert.deepEqual(await there.consume(token, 'reset-password'), grant);
        assert.equal(await here.peek(token, 'reset-password'), null);
      });

      it('A1: of concurrent consumptions of one token, on two connections, exactly one wins', async () => {
        const { here, there } = tokens();
        const userId = newUser();
        const { token } = await here.issue(userId, 'reset-password');
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? here : there).consume(token, 'reset-password')),
        );
        assert.deepEqual(
          outcomes.filter((o) => o !== null).map((o) => o?.userId),
          [userId],
        );
      });

      it('A1: a reset token dies after 30 minutes, a verification token after 24 hours', async () => {
        const { here, there, clock } = tokens();
        const reset = await here.issue(newUser(), 'reset-password');
        const verify = await here.issue(newUser(), 'verify-email');
        clock.t = T0 + 1800 * SECOND - 1;
        assert.ok(await there.peek(reset.token, 'reset-password'));
        clock.t = T0 + 1800 * SECOND;
        assert.equal(await there.consume(reset.token, 'reset-password'), null);
        assert.ok(await there.peek(verify.token, 'verify-email'));
        clock.t = T0 + DAY;
        assert.equal(await here.consume(verify.token, 'verify-email'), null);
        assert.equal(await here.deleteExpired(), 2);
        clock.t = T0;
        assert.equal(await here.peek(reset.token, 'reset-password'), null); // swept, not only past its time
      });

      it('A1: a token is bound to its purpose: another purpose neither answers nor burns it', async () => {
        const { here, there } = tokens();
        const userId = newUser();
        const { token } = await here.issue(userId, 'reset-password');
        assert.equal(await there.consume(token, 'verify-email'), null);
        assert.equal(await there.consume(token, 'change-email'), null);
        assert.equal(await there.peek(token, 'verify-email'), null);
        assert.equal((await here.consume(token, 'reset-password'))?.userId, userId);
      });

      it('A1: a newer token of the same purpose kills the older; other purposes and users keep theirs', async () => {
        const { here, there, clock } = tokens();
        const [alice, bob] = [newUser(), newUser()];
        const first = await here.issue(alice, 'reset-password');
        const verify = await here.issue(alice, 'verify-email');
        const bobs = await here.issue(bob, 'reset-password');
        clock.t += 60 * SECOND;
        const second = await there.issue(alice, 'reset-password');
        assert.equal(await here.consume(first.token, 'reset-password'), null);
        assert.equal((await here.consume(second.token, 'reset-password'))?.createdAt, T0 + 60 * SECOND);
        assert.equal((await there.consume(verify.token, 'verify-email'))?.userId, alice);
        assert.equal((await there.consume(bobs.token, 'reset-password'))?.userId, bob);
      });

      it("A1: revokeUser ends a user's tokens, of one purpose or all, and no one else's", async () => {
        const { here, there } = tokens();
        const [alice, bob] = [newUser(), newUser()];
        const reset = await here.issue(alice, 'reset-password');
        const verify = await here.issue(alice, 'verify-email');
        const change = await here.issue(alice, 'change-email', { data: { email: 'new@example.org' } });
        const bobs = await here.issue(bob, 'reset-password');
        assert.equal(await there.revokeUser(alice, 'reset-password'), 1);
        assert.equal(await here.consume(reset.token, 'reset-password'), null);
        assert.ok(await here.peek(verify.token, 'verify-email'));
        assert.equal(await there.revokeUser(alice), 2); // the password changed: every pending link dies
        assert.equal(await here.consume(verify.token, 'verify-email'), null);
        assert.equal(await here.consume(change.token, 'change-email'), null);
        assert.equal((await here.consume(bobs.token, 'reset-password'))?.userId, bob);
        assert.equal(await here.revokeUser(alice), 0);
      });

      if (options.readRaw !== undefined) {
        const readRaw = options.readRaw;
        it('A1: the storage holds the token hash, never the token or its data', async () => {
          const { here } = tokens();
          const issued = await Promise.all(
            ['verify-email', 'reset-password', 'change-email'].map((purpose) =>
              here.issue(newUser(), purpose, { data: { email: 'someone@example.org' } }),
            ),
          );
          const raw = await readRaw(store);
          for (const { token } of issued) {
            assert.equal(token.length, 43);
            assert.ok(raw.includes(createHash('sha256').update(token).digest('base64url')), 'the hash is not there');
            assert.ok(!raw.includes(token), 'the token is stored in clear');
          }
          // The data is sealed by createOneTimeTokens with a key the store never sees.
          assert.ok(!raw.includes('someone@example.org'), 'the data is stored in clear');
        });
      }
    });
  });
}
