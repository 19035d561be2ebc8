/**
 * The outbox's ordering and failure rules, on fake-indexeddb in Node. The same code runs on
 * Chromium's IndexedDB in the web app's browser tests (offline edits, restart, conflict shown).
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { ApiError, OfflineError } from './api.js';
import { openLocalStore } from './local-store.js';
import { createOutbox, createOutboxStore, type OutboxEntry, type OutboxSchema } from './outbox.js';

let n = 0;
const fresh = () =>
  openLocalStore<OutboxSchema>({ name: `outbox-test-${n++}`, version: 1, upgrade: (db) => createOutboxStore(db) });

async function queue(db: Awaited<ReturnType<typeof fresh>>, keys: string[]) {
  const outbox = createOutbox(db, { send: async () => ({ status: 'done' }), onConflict: () => undefined });
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
      send: async (e) => {
        sent.push(e);
        return { status: 'done' };
      },
      onConflict: () => undefined,
    });
    expect(await outbox.flush()).toEqual({ sent: 3, conflicts: 0, pending: 0 });
    expect(sent.map((e) => e.key)).toEqual(['a', 'b', 'c']);
    expect(sent[0]?.queuedAt).toBeInstanceOf(Date);
  });

  it('stops when offline and resumes where it stopped, without sending anything twice', async () => {
    const db = await fresh();
    await queue(db, ['a', 'b', 'c']);
    const sent: string[] = [];
    let offline = false;
    const outbox = createOutbox(db, {
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
    expect(await outbox.flush()).toEqual({ sent: 1, conflicts: 0, pending: 2 });
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
    expect(await outbox.flush()).toEqual({ sent: 1, conflicts: 1, pending: 0 });
    expect(conflicts).toEqual([['x', { title: 'theirs' }]]);
    expect(rejected).toEqual(['y']);
  });

  it('keeps everything when logged out or when the server fails', async () => {
    for (const error of [new ApiError(401, 'SESSION_REQUIRED', ''), new ApiError(503, 'STORE_UNAVAILABLE', '')]) {
      const db = await fresh();
      await queue(db, ['a', 'b']);
      const outbox = createOutbox(db, {
        send: async () => {
          throw error;
        },
        onConflict: () => undefined,
      });
      expect(await outbox.flush()).toEqual({ sent: 0, conflicts: 0, pending: 2 });
    }
  });
});
