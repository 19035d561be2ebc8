/**
 * The outbox: changes made while offline (or before the server answered), kept in IndexedDB in
 * the same transaction as the change itself, and replayed in order when the connection returns.
 *
 * Conflict rule (stated, not guessed): the server keeps a version number per record; a replayed
 * change names the version it was based on, and the server refuses it (409) if the record moved
 * on. A refused change is handed to `onConflict` with the server's copy, so the app can show both
 * and let the user choose; neither side is dropped silently.
 *
 * Owner rule: the queue belongs to the account it was written for. Before each replay the outbox
 * asks the server who the session belongs to now; if that is another account (a cookie swapped
 * under the app, say tossed from another port of the same host), it sends nothing, keeps the
 * queue and reports the mismatch: one user's changes never land in another user's account.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import { ApiError, OfflineError } from './errors.js';

/** One queued change, as `add` stores it and `send` receives it. */
export interface OutboxEntry<P = unknown> {
  /** Order of replay, assigned by IndexedDB. */
  seq?: number;
  /** The app's name for the kind of change (`put`, `delete`…), for `send` to choose the request. */
  kind: string;
  /** The app's key of the record the change is about. */
  key: string;
  /** What `send` sends: the change itself, structured-cloneable. */
  payload: P;
  /** When `add` queued it. */
  queuedAt: Date;
}

/** What a database with an outbox must have: a store named `outbox`, auto-incrementing on `seq`. */
export interface OutboxSchema extends DBSchema {
  outbox: { key: number; value: OutboxEntry };
}

/**
 * What `OutboxOptions.send` answers for one change: `done` when the server took it, or `conflict`
 * with the server's current copy when it refused it (a 409: the record moved on).
 */
export type SendResult = { status: 'done' } | { status: 'conflict'; current: unknown };

/** What one `Outbox.flush` did. */
export interface FlushResult {
  /** Changes the server took. */
  sent: number;
  /** Changes the server refused as conflicts: handed to `onConflict`, then taken off the queue. */
  conflicts: number;
  /**
   * Changes still queued afterwards: a flush stops and keeps them when offline, logged out, on
   * another account, or when the server fails.
   */
  pending: number;
  /**
   * Whether the server confirmed, during this flush, that the session is the queue's owner.
   * `false`: offline, logged out, or another account (then `onOwnerMismatch` was called). Read
   * the server's data into the owner's store only after a flush that says `true`.
   */
  verified: boolean;
}

/**
 * One account's queue of changes for the server, from `createOutbox`: `add` a change in the same
 * IndexedDB transaction as the change itself, and `flush` when the connection returns. Changes are
 * replayed in order, one flush at a time, and only while the session belongs to the queue's owner.
 *
 * @example
 * const tx = db.transaction(['drafts', 'outbox'], 'readwrite');
 * await tx.objectStore('drafts').put(draft);
 * await outbox.add(tx, { kind: 'put', key: draft.id, payload: draft });
 * await tx.done;
 * const { verified, pending } = await outbox.flush();
 */
export interface Outbox {
  /** Queue a change inside the caller's transaction (which must include `outbox`). */
  add(
    tx: IDBPTransaction<OutboxSchema, ['outbox', ...StoreNames<OutboxSchema>[]], 'readwrite'>,
    entry: Omit<OutboxEntry, 'seq' | 'queuedAt'>,
  ): Promise<void>;
  /**
   * Confirm the owner with the server, then replay queued changes in order until the queue is
   * empty or the server cannot be reached.
   */
  flush(): Promise<FlushResult>;
  /** How many changes are queued. */
  pending(): Promise<number>;
}

/** Options of `createOutbox`: whose queue it is, how to send a change, and what to do when one is refused. */
export interface OutboxOptions {
  /** The account the queue belongs to: the `ownerKey()` of the store's owner. */
  owner: string;
  /**
   * The `ownerKey()` of the account the session belongs to now, from the server (the app's me
   * route), or `null` when nobody is logged in. Never from local state. E.g.
   * `async () => { const me = await api.me(); return me && ownerKey(me.user.id); }`.
   */
  currentOwner(): Promise<string | null>;
  /** The session belongs to another account: nothing was sent, the queue is kept. */
  onOwnerMismatch?(current: string): void;
  /** Sends one change. Throw OfflineError to stop; return `conflict` with the server's copy. */
  send(entry: OutboxEntry): Promise<SendResult>;
  /**
   * A change the server refused as a conflict, with the server's copy. The change leaves the queue
   * once this returns, so keep both here (show them, let the user choose): nothing else keeps it.
   */
  onConflict(entry: OutboxEntry, current: unknown): Promise<void> | void;
  /** A change the server refused for good (a 4xx other than 409/401): reported, then dropped. */
  onRejected?(entry: OutboxEntry, error: ApiError): void;
}

/**
 * Creates the `outbox` object store; call it from `openLocalStore`'s `upgrade`.
 *
 * @example
 * const db = await openLocalStore<DraftsSchema & OutboxSchema>({ name: 'drafts', owner, version: 1, upgrade(db) {
 *   db.createObjectStore('drafts', { keyPath: 'id' });
 *   createOutboxStore(db as unknown as IDBPDatabase<OutboxSchema>);
 * }});
 */
export function createOutboxStore(db: IDBPDatabase<OutboxSchema>): void {
  db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
}

/**
 * The outbox of one account's database: `add` a change in the same transaction as the change,
 * `flush` when the connection returns.
 *
 * @example
 * const outbox = createOutbox(db, {
 *   owner,
 *   async currentOwner() {
 *     const me = await api.me();
 *     return me && ownerKey(me.user.id);
 *   },
 *   send: async (entry) => {
 *     await api.request(`/drafts/${entry.key}`, { method: 'PUT', body: entry.payload });
 *     return { status: 'done' };
 *   },
 *   onConflict: (entry, current) => showConflict(entry.key, current),
 * });
 * const tx = db.transaction(['drafts', 'outbox'], 'readwrite');
 * await tx.objectStore('drafts').put(draft);
 * await outbox.add(tx, { kind: 'put', key: draft.id, payload: draft });
 * await tx.done;
 * api.on('connectivity', (online) => online && void outbox.flush());
 */
export function createOutbox(db: IDBPDatabase<OutboxSchema>, options: OutboxOptions): Outbox {
  let running: Promise<FlushResult> | undefined;

  const drain = async (): Promise<FlushResult> => {
    let sent = 0;
    let conflicts = 0;
    let current: string | null;
    try {
      current = await options.currentOwner();
    } catch {
      current = null; // offline or a server in trouble
    }
    // Offline, logged out (the app wipes) or a server in trouble: keep everything.
    if (current === null) return { sent, conflicts, pending: await db.count('outbox'), verified: false };
    if (current !== options.owner) {
      options.onOwnerMismatch?.(current);
      return { sent, conflicts, pending: await db.count('outbox'), verified: false };
    }
    for (;;) {
      const cursor = await db.transaction('outbox').store.openCursor();
      const entry = cursor?.value;
      if (!entry || entry.seq === undefined) break;
      let result: SendResult;
      try {
        result = await options.send(entry);
      } catch (error) {
        if (error instanceof OfflineError) break; // keep it; try again when back online
        if (error instanceof ApiError && error.status === 401) break; // logged out: the app wipes
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          options.onRejected?.(entry, error);
          await db.delete('outbox', entry.seq);
          continue;
        }
        break; // 5xx: the server has trouble; keep the change
      }
      if (result.status === 'conflict') {
        conflicts++;
        await options.onConflict(entry, result.current);
      } else sent++;
      await db.delete('outbox', entry.seq);
    }
    return { sent, conflicts, pending: await db.count('outbox'), verified: true };
  };

  return {
    async add(tx, entry) {
      await tx.objectStore('outbox').add({ ...entry, queuedAt: new Date() });
    },
    // One replay at a time: two overlapping flushes would send a change twice.
    flush() {
      running ??= drain().finally(() => {
        running = undefined;
      });
      return running;
    },
    pending: () => db.count('outbox'),
  };
}
