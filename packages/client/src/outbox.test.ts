/**
 * The outbox's ordering and failure rules, on fake-indexeddb in Node. The same code runs on
 * Chromium's IndexedDB in the web app's browser tests (offline edits, restart, conflict shown).
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { ApiError, ClientArgumentError, OfflineError } from './errors.js';
import { localStoreName, openLocalStore, ownerKey } from './local-store.js';
import { createOutbox, createOutboxStore, type OutboxEntry, type OutboxSchema } from './outbox.js';

const alice = await ownerKey('user-alice');
const mallory = await ownerKey('user-mallory');
/** The owner part of every outbox: Alice's queue, and the server says Alice is logged in. */
const owned = { owner: alice, currentOwner: async () => alice };

let n = 0;
const fresh = (owner = alice) =>
  openLocalStore<OutboxSchema>({
    name: `outbox-test-${n++}`,
    owner,
    version: 1,
    upgrade: (db) => createOutboxStore(db),
  });

async function queue(db: Awaited<ReturnType<typeof fresh>>, keys: string[]) {
  const outbox = createOutbox(db, { ...owned, send: async () => ({ status: 'done' }), onConflict: () => undefined });
  for (const key of keys) {
    const tx = db.transaction(['outbox'], 'readwrite');
    await outbox.add(tx, { kind: 'put', key, payload: { key } });
    await tx.done;
  }
}

describe('outbox', () => {
  it('replays in the order queued, keeps types, and empties', async () => {
    const db = await fresh();
    await queue(db, ['a', 'b', 'c']);
    const sent: OutboxEntry[] = [];
    const outbox = createOutbox(db, {
      ...owned,
      send: async (e) => {
        sent.push(e);
        return { status: 'done' };
      },
      onConflict: () => undefined,
    });
    expect(await outbox.flush()).toEqual({ sent: 3, conflicts: 0, pending: 0, verified: true });
    expect(sent.map((e) => e.key)).toEqual(['a', 'b', 'c']);
    expect(sent[0]?.queuedAt).toBeInstanceOf(Date);
  });

  it('stops when offline and resumes where it stopped, without sending anything twice', async () => {
    const db = await fresh();
    await queue(db, ['a', 'b', 'c']);
    const sent: string[] = [];
    let offline = false;
    const outbox = createOutbox(db, {
      ...owned,
      send: async (e) => {
        if (e.key === 'b' && !offline) {
          offline = true;
          throw new OfflineError();
        }
        sent.push(e.key);
        return { status: 'done' };
      },
      onConflict: () => undefined,
    });
    expect(await outbox.flush()).toEqual({ sent: 1, conflicts: 0, pending: 2, verified: true });
    const [first, second] = await Promise.all([outbox.flush(), outbox.flush()]); // overlapping calls share one run
    expect(first).toBe(second);
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('hands a conflict to the app with the server copy, and drops a change the server refuses for good', async () => {
    const db = await fresh();
    await queue(db, ['x', 'y', 'z']);
    const conflicts: [string, unknown][] = [];
    const rejected: string[] = [];
    const outbox = createOutbox(db, {
      ...owned,
      send: async (e) => {
        if (e.key === 'x') return { status: 'conflict', current: { title: 'theirs' } };
        if (e.key === 'y') throw new ApiError(400, 'INVALID_INPUT', 'bad');
        return { status: 'done' };
      },
      onConflict: (e, current) => {
        conflicts.push([e.key, current]);
      },
      onRejected: (e) => rejected.push(e.key),
    });
    expect(await outbox.flush()).toEqual({ sent: 1, conflicts: 1, pending: 0, verified: true });
    expect(conflicts).toEqual([['x', { title: 'theirs' }]]);
    expect(rejected).toEqual(['y']);
  });

  it('keeps everything when logged out or when the server fails', async () => {
    for (const error of [new ApiError(401, 'SESSION_REQUIRED', ''), new ApiError(503, 'STORE_UNAVAILABLE', '')]) {
      const db = await fresh();
      await queue(db, ['a', 'b']);
      const outbox = createOutbox(db, {
        ...owned,
        send: async () => {
          throw error;
        },
        onConflict: () => undefined,
      });
      expect(await outbox.flush()).toEqual({ sent: 0, conflicts: 0, pending: 2, verified: true });
    }
  });

  it('sends nothing, keeps the queue and reports it when the session belongs to another account', async () => {
    const db = await fresh();
    await queue(db, ['diary', 'plans']);
    const sent: string[] = [];
    const mismatches: string[] = [];
    let current = mallory; // a cookie tossed from another port: the server now says Mallory
    const outbox = createOutbox(db, {
      owner: alice,
      currentOwner: async () => current,
      onOwnerMismatch: (who) => mismatches.push(who),
      send: async (e) => {
        sent.push(e.key);
        return { status: 'done' };
      },
      onConflict: () => undefined,
    });
    expect(await outbox.flush()).toEqual({ sent: 0, conflicts: 0, pending: 2, verified: false });
    expect(sent).toEqual([]);
    expect(mismatches).toEqual([mallory]);
    current = alice; // Alice logs in again: her changes go to her account
    expect(await outbox.flush()).toEqual({ sent: 2, conflicts: 0, pending: 0, verified: true });
    expect(sent).toEqual(['diary', 'plans']);
  });

  it('keeps the queue, unverified, when nobody is logged in or the owner cannot be confirmed', async () => {
    for (const error of [null, new OfflineError(), new ApiError(503, 'STORE_UNAVAILABLE', ''), new Error('boom')]) {
      const db = await fresh();
      await queue(db, ['a']);
      const mismatches: string[] = [];
      const outbox = createOutbox(db, {
        owner: alice,
        currentOwner: async () => {
          if (error === null) return null; // the me route said: nobody
          throw error;
        },
        onOwnerMismatch: (who) => mismatches.push(who),
        send: async () => {
          throw new Error('must not send');
        },
        onConflict: () => undefined,
      });
      expect(await outbox.flush()).toEqual({ sent: 0, conflicts: 0, pending: 1, verified: false });
      expect(mismatches).toEqual([]); // nobody is not another account
    }
  });
});

describe('local store per account', () => {
  it("names the database by an opaque key of the server's user id, never the id itself", async () => {
    expect(alice).toMatch(/^[\w-]{43}$/);
    expect(alice).toBe(await ownerKey('user-alice')); // stable
    expect(alice).not.toBe(mallory);
    expect(localStoreName('drafts', alice)).toBe(`drafts:${alice}`);
    expect(localStoreName('drafts', alice)).not.toContain('alice');
    for (const misuse of [() => localStoreName('drafts', 'user-alice'), () => localStoreName('drafts', '')]) {
      expect(misuse).toThrow(ClientArgumentError);
      expect(misuse).toThrow(/owner must be a key from ownerKey\(userId\)/);
    }
    for (const id of ['', undefined]) {
      const error = await ownerKey(id as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientArgumentError);
      expect(error).toMatchObject({ code: 'ARGUMENT_INVALID', message: /stable user id/ });
    }
    const [a, m] = [await fresh(alice), await fresh(mallory)];
    expect(a.name).not.toBe(m.name);
    a.close();
    m.close();
  });
});
