/**
 * Notes on this device: IndexedDB through @latchkey/client, synced with /api/notes through the
 * outbox. Types survive the round trip (pinned is a boolean, priority a number, updatedAt a Date,
 * tags an array); a change and its outbox entry are written in one transaction. What is read back
 * is checked before use (B2): the database may have been written by a script that ran here once.
 *
 * One database per account (`latchkey-notes:<owner key>`), and the outbox sends a change only
 * after the server confirmed the session still belongs to that account: a session cookie swapped
 * under the app (set from another port of this host) gets none of this device's notes.
 */
import {
  ApiError,
  createOutbox,
  createOutboxStore,
  localStoreName,
  type OutboxSchema,
  openLocalStore,
  ownerKey,
} from '@latchkey/client';
import { deleteDB, type IDBPDatabase } from 'idb';
import type { Note as ServerNote } from '../../server/notes.js';
import { api, type User } from './api.js';

/** The server's note, as `/api/notes` sends it: the type comes from the server's own module. */
export type { Note as ServerNote } from '../../server/notes.js';

export interface Note {
  id: string;
  title: string;
  body: string;
  pinned: boolean;
  priority: number;
  tags: string[];
  updatedAt: Date;
  /** The server version this note is based on; 0 = never synced. */
  version: number;
  /** Set when the server refused a change: its copy (null if it deleted the note). */
  conflict?: ServerNote | null;
}

interface NotesSchema extends OutboxSchema {
  notes: { key: string; value: Note; indexes: { byUpdated: Date; byPriority: number } };
}

const DB_NAME = 'latchkey-notes';
/** The owner key of the last account that used the app here, so it opens offline (not secret). */
const OWNER_ITEM = 'latchkey-notes:owner';

const isNote = (v: unknown): v is Note => {
  const n = v as Note;
  return (
    typeof n === 'object' &&
    n !== null &&
    typeof n.id === 'string' &&
    typeof n.title === 'string' &&
    typeof n.body === 'string' &&
    typeof n.pinned === 'boolean' &&
    Number.isInteger(n.priority) &&
    Array.isArray(n.tags) &&
    n.tags.every((t) => typeof t === 'string') &&
    n.updatedAt instanceof Date &&
    Number.isInteger(n.version)
  );
};

const fromServer = (s: ServerNote): Note => ({ ...s, updatedAt: new Date(s.updatedAt), conflict: undefined });

let opened: Promise<IDBPDatabase<NotesSchema>> | undefined;
// Closed from logout until the next login: a late refresh in any tab must not re-create the
// database that wipe() just deleted.
let locked = false;
/** Whose notes are open: an owner key, set once the server (or, offline, this device) said. */
let owner: string | undefined;
const db = () => {
  if (locked || owner === undefined) return Promise.reject(new Error('logged out: the local store is closed'));
  const key = owner;
  const name = localStoreName(DB_NAME, key);
  opened ??= openLocalStore<NotesSchema>({
    name: DB_NAME,
    owner: key,
    version: 1,
    upgrade(database) {
      const notes = database.createObjectStore('notes', { keyPath: 'id' });
      notes.createIndex('byUpdated', 'updatedAt');
      notes.createIndex('byPriority', 'priority');
      createOutboxStore(database as unknown as IDBPDatabase<OutboxSchema>);
    },
  }).then(async (database) => {
    if (!locked && owner === key) return database;
    database.close();
    // Logged out while this open was in flight: wipe() may already have run, so undo the open.
    if (locked) await deleteDB(name);
    throw new Error('the local store was closed while it opened');
  });
  return opened;
};
/** Close the local store for good (logout), before wipe() deletes it. */
export const lockDatabase = () => {
  locked = true;
  owner = undefined;
  void opened?.then((database) => database.close()).catch(() => undefined);
  opened = undefined;
  outbox = undefined;
};

/** The owner key of the account whose notes this device holds, if any. */
export const deviceOwner = (): string | undefined => {
  if (owner) return owner;
  try {
    const remembered = localStorage.getItem(OWNER_ITEM);
    return remembered && /^[\w-]{43}$/.test(remembered) ? remembered : undefined;
  } catch {
    return undefined;
  }
};

/** Open the store of this account (logged in, or offline with the account last seen here). */
export const unlockDatabase = (key: string) => {
  if (owner !== key) {
    void opened?.then((database) => database.close()).catch(() => undefined);
    opened = undefined;
    outbox = undefined;
  }
  owner = key;
  locked = false;
  localStorage.setItem(OWNER_ITEM, key);
};

/** The session now belongs to another account than the open store: nothing was sent. */
const mismatchListeners = new Set<(current: User) => void>();
export const onOwnerMismatch = (listener: (current: User) => void): (() => void) => {
  mismatchListeners.add(listener);
  return () => {
    mismatchListeners.delete(listener);
  };
};

const listeners = new Set<() => void>();
export const onNotesChanged = (listener: () => void): (() => void) => {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
};
const changed = () => {
  for (const listener of listeners) listener();
};

let outbox: ReturnType<typeof createOutbox> | undefined;
async function getOutbox() {
  const database = await db();
  const key = database.name.slice(DB_NAME.length + 1); // the owner this database belongs to
  let seen: User | undefined;
  outbox ??= createOutbox(database as unknown as IDBPDatabase<OutboxSchema>, {
    owner: key,
    // Who the session belongs to now, from the server: never from this device.
    async currentOwner() {
      seen = (await api.me())?.user;
      return seen ? ownerKey(seen.id) : null; // null: nobody is logged in, nothing is sent
    },
    onOwnerMismatch() {
      for (const listener of mismatchListeners) if (seen) listener(seen);
    },
    async send(entry) {
      const note = await database.get('notes', entry.key);
      try {
        if (entry.kind === 'delete') {
          const version = (entry.payload as { version: number }).version;
          if (version > 0)
            await api.request(`/api/notes/${encodeURIComponent(entry.key)}?baseVersion=${version}`, {
              method: 'DELETE',
            });
          return { status: 'done' };
        }
        if (!note) return { status: 'done' }; // deleted locally since
        const { note: saved } = await api.request<{ note: ServerNote }>(`/api/notes/${encodeURIComponent(note.id)}`, {
          method: 'PUT',
          body: {
            title: note.title,
            body: note.body,
            pinned: note.pinned,
            priority: note.priority,
            tags: note.tags,
            updatedAt: note.updatedAt.getTime(),
            baseVersion: note.version === 0 ? null : note.version,
          },
        });
        const latest = await database.get('notes', note.id);
        if (latest) await database.put('notes', { ...latest, version: saved.version });
        return { status: 'done' };
      } catch (error) {
        if (error instanceof ApiError && error.status === 409)
          return { status: 'conflict', current: (error.body as { current: ServerNote | null }).current };
        throw error;
      }
    },
    async onConflict(entry, current) {
      const note = await database.get('notes', entry.key);
      if (note) await database.put('notes', { ...note, conflict: current as ServerNote | null });
      changed();
    },
  });
  return outbox;
}

/** Every valid note on this device, pinned first, then the most recently changed. */
export async function listNotes(): Promise<Note[]> {
  const all = (await (await db()).getAllFromIndex('notes', 'byUpdated')).filter(isNote).reverse();
  return all.sort((a, b) => Number(b.pinned) - Number(a.pinned));
}

/** Saves locally and queues the change, in one transaction; then tries to send it. */
export async function saveNote(note: Note): Promise<void> {
  const database = await db();
  const box = await getOutbox();
  const tx = database.transaction(['notes', 'outbox'], 'readwrite');
  await tx.objectStore('notes').put(note);
  await box.add(tx as never, { kind: 'put', key: note.id, payload: null });
  await tx.done;
  changed();
  void sync();
}

export async function deleteNote(note: Note): Promise<void> {
  const database = await db();
  const box = await getOutbox();
  const tx = database.transaction(['notes', 'outbox'], 'readwrite');
  await tx.objectStore('notes').delete(note.id);
  await box.add(tx as never, { kind: 'delete', key: note.id, payload: { version: note.version } });
  await tx.done;
  changed();
  void sync();
}

/** Conflict resolution: keep this device's text (sent again on top of the server's version)… */
export async function keepMine(note: Note): Promise<void> {
  const base = note.conflict?.version ?? 0;
  await saveNote({ ...note, version: base, conflict: undefined, updatedAt: new Date() });
}

/** …or take the server's copy. */
export async function takeTheirs(note: Note): Promise<void> {
  const database = await db();
  if (note.conflict) await database.put('notes', fromServer(note.conflict));
  else await database.delete('notes', note.id);
  changed();
}

export const pendingChanges = async () => (await getOutbox()).pending();

/**
 * Sends queued changes, then takes the server's notes for everything with no pending change —
 * only after the server confirmed the session is this store's account.
 */
export async function sync(): Promise<{ pending: number }> {
  const box = await getOutbox();
  const { pending, verified, sent } = await box.flush();
  if (sent > 0) changed(); // the count on the page goes down even if the read below fails
  if (pending > 0 || !verified) return { pending };
  const { notes } = await api.request<{ notes: ServerNote[] }>('/api/notes');
  const database = await db();
  const tx = database.transaction('notes', 'readwrite');
  const serverIds = new Set(notes.map((n) => n.id));
  for (const local of await tx.store.getAll()) {
    // Gone on the server and synced before: deleted elsewhere. Never synced: still ours to send.
    if (!serverIds.has(local.id) && local.version > 0 && !local.conflict) await tx.store.delete(local.id);
  }
  for (const remote of notes) {
    const local = await tx.store.get(remote.id);
    if (!local || (local.version < remote.version && !local.conflict)) await tx.store.put(fromServer(remote));
  }
  await tx.done;
  changed();
  return { pending: 0 };
}
