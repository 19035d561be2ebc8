/**
 * `latchkey/tokens/conformance`: the refresh-store conformance suite. Every `RefreshStore`, ours or
 * yours, must pass it: the contract of refresh-store.ts method by method (atomic rotation above
 * all: of two consumptions of one token exactly one wins), then the rotation rules of
 * `createRefreshTokens` that rest on the store (one successor for concurrent refreshes, a spent
 * successor never handed out again, reuse ending the family). It takes the test runner's
 * functions, so it runs under Vitest, node:test, or anything with describe/it.
 *
 * @example
 * import { describe, it, beforeEach, afterEach } from 'vitest';
 * import { runRefreshStoreConformance } from 'latchkey/tokens/conformance';
 * runRefreshStoreConformance({ name: 'my store', createStore: () => myStore(), describe, it, beforeEach, afterEach });
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRefreshTokens, type RefreshEvent, type RefreshResult } from './refresh.js';
import type { RefreshFamily, RefreshRecord, RefreshStore } from './refresh-store.js';

type Fn = () => unknown;

/** Options of `runRefreshStoreConformance`: the store under test and the runner's functions. */
export interface RefreshStoreConformanceOptions {
  name: string;
  /** A store over empty (or isolated) storage, created before each test. */
  createStore: () => RefreshStore | Promise<RefreshStore>;
  /**
   * A second store over the same storage as `store`, opened as another process would (its own
   * connection), for the tests of concurrent rotation. Default: `store` itself.
   */
  createPeer?: (store: RefreshStore) => RefreshStore | Promise<RefreshStore>;
  /** Releases what `createStore` (and `createPeer`) opened, after each test. */
  destroyStore?: (store: RefreshStore) => unknown;
  describe: (name: string, body: () => void) => unknown;
  it: (name: string, body: Fn) => unknown;
  beforeEach: (body: Fn) => unknown;
  afterEach: (body: Fn) => unknown;
}

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;
const newId = () => randomBytes(16).toString('base64url');
const newUser = () => `user-${randomBytes(6).toString('hex')}`;
const newSealed = () => randomBytes(60).toString('base64url');
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A token of `family` minted at `createdAt`, with random ids so tests never collide on a shared backend. */
function tokenOf(family: RefreshFamily, createdAt: number): RefreshRecord {
  return {
    id: newId(),
    familyId: family.id,
    userId: family.userId,
    secretHash: randomBytes(32).toString('base64url'),
    createdAt,
    expiresAt: Math.min(createdAt + 14 * DAY, family.expiresAt),
    usedAt: null,
    successorSealed: null,
  };
}

function sampleFamily(overrides: Partial<RefreshFamily> = {}): { family: RefreshFamily; first: RefreshRecord } {
  const family: RefreshFamily = {
    id: newId(),
    userId: newUser(),
    createdAt: T0,
    lastUsedAt: T0,
    expiresAt: T0 + 30 * DAY,
    revokedAt: null,
    ...overrides,
  };
  return { family, first: tokenOf(family, family.createdAt) };
}

const tokenFrom = (result: RefreshResult): string => {
  assert.ok(result.ok, `expected a successful rotation, got ${JSON.stringify(result)}`);
  return result.token;
};

/**
 * Registers the suite with the runner's `describe`/`it`. Each test makes its own families with
 * random ids and users, so a store over shared storage (one database for every test) passes too.
 */
export function runRefreshStoreConformance(options: RefreshStoreConformanceOptions): void {
  const { describe, it, beforeEach, afterEach } = options;
  describe(`RefreshStore conformance: ${options.name}`, () => {
    let store: RefreshStore;
    let peer: RefreshStore;
    beforeEach(async () => {
      store = await options.createStore();
      peer = options.createPeer ? await options.createPeer(store) : store;
    });
    afterEach(async () => {
      await options.destroyStore?.(store);
    });

    /** Creates the family and rotates its first token `times` times; the records, oldest first. */
    async function chain(times: number, overrides: Partial<RefreshFamily> = {}) {
      const { family, first } = sampleFamily(overrides);
      await store.createFamily(family, first);
      const records = [first];
      for (let i = 1; i <= times; i++) {
        const next = tokenOf(family, T0 + i * 1000);
        assert.equal(
          await store.rotate((records.at(-1) as RefreshRecord).id, next.createdAt, newSealed(), next),
          'rotated',
        );
        records.push(next);
      }
      return { family, records };
    }

    it('returns a new family and its first token, field for field, to every connection', async () => {
      const { family, first } = sampleFamily();
      await store.createFamily(family, first);
      assert.deepEqual(await store.get(first.id), { record: first, family });
      assert.deepEqual(await peer.get(first.id), { record: first, family });
      assert.deepEqual(await store.heads(family.id), [first]);
    });

    it('answers null for an unknown id, and for ids that only look alike', async () => {
      const { family, first } = sampleFamily();
      await store.createFamily(family, first);
      assert.equal(await store.get(newId()), null);
      assert.equal(
        await store.get(first.id.toUpperCase() === first.id ? `${first.id}x` : first.id.toUpperCase()),
        null,
      );
      assert.equal(await store.get(`${first.id} `), null);
      assert.equal(await store.get(family.id), null); // a family id is not a token id
    });

    it("rotate spends the token, stores its successor and moves the family's lastUsedAt, all at once", async () => {
      const { family, first } = sampleFamily();
      await store.createFamily(family, first);
      const next = tokenOf(family, T0 + 5000);
      const sealed = newSealed();
      assert.equal(await store.rotate(first.id, T0 + 5000, sealed, next), 'rotated');
      const moved = { ...family, lastUsedAt: T0 + 5000 };
      assert.deepEqual(await store.get(first.id), {
        record: { ...first, usedAt: T0 + 5000, successorSealed: sealed },
        family: moved,
      });
      assert.deepEqual(await store.get(next.id), { record: next, family: moved });
      assert.deepEqual(await peer.get(next.id), { record: next, family: moved });
      assert.deepEqual(await store.heads(family.id), [next]);
    });

    it('rotate of a spent or unknown token answers spent and changes nothing', async () => {
      const { family, first } = sampleFamily();
      await store.createFamily(family, first);
      const next = tokenOf(family, T0 + 5000);
      const sealed = newSealed();
      assert.equal(await store.rotate(first.id, T0 + 5000, sealed, next), 'rotated');
      const late = tokenOf(family, T0 + 9000);
      assert.equal(await peer.rotate(first.id, T0 + 9000, newSealed(), late), 'spent');
      assert.equal(await store.get(late.id), null);
      assert.deepEqual(await store.get(first.id), {
        record: { ...first, usedAt: T0 + 5000, successorSealed: sealed },
        family: { ...family, lastUsedAt: T0 + 5000 },
      });
      const stray = tokenOf(family, T0 + 9000);
      assert.equal(await store.rotate(newId(), T0 + 9000, newSealed(), stray), 'spent');
      assert.equal(await store.get(stray.id), null);
      assert.deepEqual(await store.heads(family.id), [next]);
    });

    it('of concurrent rotations of one token, across connections, exactly one wins', async () => {
      const { family, first } = sampleFamily();
      await store.createFamily(family, first);
      const attempts = Array.from({ length: 8 }, (_, i) => ({
        successor: tokenOf(family, T0 + 1000 + i),
        sealed: newSealed(),
        on: i % 2 === 0 ? store : peer,
      }));
      const outcomes = await Promise.all(
        attempts.map((a) => a.on.rotate(first.id, a.successor.createdAt, a.sealed, a.successor)),
      );
      assert.equal(outcomes.filter((o) => o === 'rotated').length, 1, `outcomes: ${outcomes.join(', ')}`);
      assert.equal(outcomes.filter((o) => o === 'spent').length, attempts.length - 1);
      const winner = attempts[outcomes.indexOf('rotated')];
      assert.ok(winner);
      assert.deepEqual(await store.heads(family.id), [winner.successor]);
      const spent = await store.get(first.id);
      assert.equal(spent?.record.usedAt, winner.successor.createdAt);
      assert.equal(spent?.record.successorSealed, winner.sealed);
      assert.equal(spent?.family.lastUsedAt, winner.successor.createdAt);
      for (const a of attempts) if (a !== winner) assert.equal(await store.get(a.successor.id), null);
    });

    it('a successor spent in turn reads as spent, from every connection', async () => {
      const { family, first } = sampleFamily();
      await store.createFamily(family, first);
      const r1 = tokenOf(family, T0 + 1000);
      const r2 = tokenOf(family, T0 + 2000);
      assert.equal(await store.rotate(first.id, T0 + 1000, newSealed(), r1), 'rotated');
      assert.equal(await peer.get(r1.id).then((found) => found?.record.usedAt), null);
      assert.equal(await peer.rotate(r1.id, T0 + 2000, newSealed(), r2), 'rotated');
      // The rotation reads usedAt here to decide whether a successor may be handed out again.
      for (const view of [store, peer]) {
        assert.equal((await view.get(r1.id))?.record.usedAt, T0 + 2000);
        assert.equal((await view.get(first.id))?.family.lastUsedAt, T0 + 2000);
        assert.deepEqual(await view.heads(family.id), [r2]);
      }
    });

    it('heads lists the unspent tokens of one family only', async () => {
      const a = await chain(2);
      const b = await chain(0, { userId: a.family.userId });
      assert.deepEqual(await store.heads(a.family.id), [a.records[2]]);
      assert.deepEqual(await store.heads(b.family.id), [b.records[0]]);
      assert.deepEqual(await store.heads(newId()), []);
    });

    it('revokeFamily ends one family, once, and no other', async () => {
      const a = sampleFamily();
      const b = sampleFamily({ userId: a.family.userId });
      await store.createFamily(a.family, a.first);
      await store.createFamily(b.family, b.first);
      assert.equal(await store.revokeFamily(a.family.id, T0 + 1), true);
      assert.equal(await peer.revokeFamily(a.family.id, T0 + 2), false);
      assert.equal(await store.revokeFamily(newId(), T0 + 2), false);
      assert.deepEqual((await store.get(a.first.id))?.family, { ...a.family, revokedAt: T0 + 1 });
      assert.deepEqual((await store.get(b.first.id))?.family, b.family);
    });

    it('revokeUser ends every live family of the user, counts only those, and no one else’s', async () => {
      const userId = newUser();
      const [a, b, c] = [sampleFamily({ userId }), sampleFamily({ userId }), sampleFamily({ userId })];
      const other = sampleFamily();
      for (const f of [a, b, c, other]) await store.createFamily(f.family, f.first);
      assert.equal(await store.revokeFamily(c.family.id, T0 + 1), true);
      assert.equal(await store.revokeUser(userId, T0 + 5), 2);
      assert.equal((await store.get(a.first.id))?.family.revokedAt, T0 + 5);
      assert.equal((await store.get(b.first.id))?.family.revokedAt, T0 + 5);
      assert.equal((await store.get(c.first.id))?.family.revokedAt, T0 + 1); // keeps its first revocation
      assert.equal((await store.get(other.first.id))?.family.revokedAt, null);
      assert.equal(await peer.revokeUser(userId, T0 + 6), 0);
      assert.equal(await store.revokeUser(newUser(), T0 + 6), 0);
    });

    it("liveFamilies lists the user's unrevoked, unexpired families with their lastUsedAt", async () => {
      const userId = newUser();
      const now = T0 + DAY;
      const rotated = await chain(1, { userId });
      const idle = sampleFamily({ userId, createdAt: T0 + 10 });
      const revoked = sampleFamily({ userId });
      const endsNow = sampleFamily({ userId, expiresAt: now }); // expiresAt <= now: not live
      const endsLater = sampleFamily({ userId, expiresAt: now + 1 });
      const someoneElse = sampleFamily();
      for (const f of [idle, revoked, endsNow, endsLater, someoneElse]) await store.createFamily(f.family, f.first);
      await store.revokeFamily(revoked.family.id, T0 + 2);
      const expected = [{ ...rotated.family, lastUsedAt: T0 + 1000 }, idle.family, endsLater.family].sort(byId);
      assert.deepEqual((await store.liveFamilies(userId, now)).sort(byId), expected);
      assert.deepEqual((await peer.liveFamilies(userId, now)).sort(byId), expected);
      assert.deepEqual(await store.liveFamilies(newUser(), now), []);
    });

    it('deleteExpired removes the families due and their tokens, across users, and nothing else', async () => {
      const due = [await chain(1, { expiresAt: T0 + 10_000 }), await chain(0, { expiresAt: T0 + 20_000 })];
      const alive = await chain(1, { expiresAt: T0 + 20_001 });
      assert.equal(await store.deleteExpired(T0 + 20_000), 2);
      for (const { family, records } of due) {
        for (const r of records) assert.equal(await store.get(r.id), null);
        assert.deepEqual(await store.heads(family.id), []);
      }
      for (const r of alive.records) assert.ok(await store.get(r.id));
      assert.deepEqual(await store.heads(alive.family.id), [alive.records[1]]);
      assert.equal(await store.deleteExpired(T0 + 20_000), 0);
    });

    it('does not let a caller change stored data through the objects it passed or got back', async () => {
      const { family, first } = sampleFamily();
      const stored = structuredClone({ record: first, family });
      await store.createFamily(family, first);
      family.revokedAt = T0;
      first.usedAt = T0;
      assert.deepEqual(await store.get(first.id), stored);
      const tamper = (f: () => void) => {
        try {
          f();
        } catch {} // a store may freeze what it returns
      };
      const got = await store.get(first.id);
      tamper(() => {
        (got as { record: RefreshRecord }).record.usedAt = T0;
        (got as { family: RefreshFamily }).family.revokedAt = T0;
      });
      const [head] = await store.heads(stored.family.id);
      tamper(() => {
        (head as RefreshRecord).usedAt = T0;
      });
      const [live] = await store.liveFamilies(stored.family.userId, T0);
      tamper(() => {
        (live as RefreshFamily).revokedAt = T0;
      });
      assert.deepEqual(await store.get(first.id), stored);
      assert.deepEqual(await store.heads(stored.family.id), [stored.record]);
    });

    describe('with createRefreshTokens', () => {
      /** Refresh tokens over `store` and over `peer` (two processes), on one test clock. */
      function tokens(gracePeriod = 10) {
        const clock = { t: T0 };
        const events: RefreshEvent[] = [];
        const over = (s: RefreshStore) =>
          createRefreshTokens({ store: s, gracePeriod, now: () => clock.t, onEvent: (e) => events.push(e) });
        return { here: over(store), there: over(peer), clock, events };
      }

      it('concurrent refreshes of one token get the same successor, and the family keeps one head', async () => {
        const { here, there, events } = tokens();
        const first = await here.issue(newUser());
        const results = await Promise.all([
          here.rotate(first.token),
          there.rotate(first.token),
          here.rotate(first.token),
        ]);
        const successors = new Set(results.map(tokenFrom));
        assert.equal(successors.size, 1);
        assert.equal((await store.heads(first.familyId)).length, 1);
        assert.deepEqual(events, []);
        assert.ok((await there.rotate([...successors][0] as string)).ok); // the successor works, once
      });

      it('a token replayed two rotations back is reuse, even inside the grace window: the family ends', async () => {
        const { here, there, events, clock } = tokens();
        const userId = newUser();
        const r0 = await here.issue(userId);
        clock.t += 1000;
        const r1 = tokenFrom(await here.rotate(r0.token));
        clock.t += 1000;
        const r2 = tokenFrom(await there.rotate(r1));
        assert.deepEqual(await here.rotate(r0.token), { ok: false, reason: 'reused' });
        assert.equal((await store.heads(r0.familyId)).length, 1); // nothing was minted for the replay
        assert.deepEqual(await there.rotate(r2), { ok: false, reason: 'revoked' });
        assert.deepEqual(events, [{ type: 'reuse', familyId: r0.familyId, userId, at: clock.t }]);
      });

      it('a spent token replayed after the grace window ends the family for everyone', async () => {
        const { here, there, clock } = tokens();
        const userId = newUser();
        const r0 = await here.issue(userId);
        const r1 = tokenFrom(await here.rotate(r0.token));
        clock.t += 11_000;
        assert.deepEqual(await there.rotate(r0.token), { ok: false, reason: 'reused' });
        assert.deepEqual(await here.rotate(r1), { ok: false, reason: 'revoked' });
        assert.deepEqual(await here.listFamilies(userId), []);
      });

      it('lists live families with their last use, newest first, and drops one idle past its limit', async () => {
        const { here, there, clock } = tokens();
        const userId = newUser();
        const a = await here.issue(userId);
        clock.t += 60_000;
        const b = await here.issue(userId);
        clock.t += 60_000;
        tokenFrom(await there.rotate(a.token));
        assert.deepEqual(await there.listFamilies(userId), [
          { id: b.familyId, createdAt: T0 + 60_000, lastUsedAt: T0 + 60_000, expiresAt: T0 + 60_000 + 30 * DAY },
          { id: a.familyId, createdAt: T0, lastUsedAt: T0 + 120_000, expiresAt: T0 + 30 * DAY },
        ]);
        clock.t = T0 + 60_000 + 14 * DAY; // b's token, never used, reaches the idle limit
        assert.deepEqual(
          (await here.listFamilies(userId)).map((f) => f.id),
          [a.familyId],
        );
        assert.deepEqual(await here.rotate(b.token), { ok: false, reason: 'expired' });
      });
    });
  });
}
