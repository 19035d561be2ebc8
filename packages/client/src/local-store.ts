/**
 * A typed local store on IndexedDB (idb). Why IndexedDB and not localStorage, as the article (docs/article.md)
 * says: values keep their types (numbers, booleans, Dates, arrays, not strings), records have
 * primary keys and indexes, and a transaction spans several stores, so "change a note and queue it
 * for the server" is one atomic step. Only non-sensitive data belongs here: never a token, a
 * session id, a password or an API key (B1). Data read back is untrusted input (B2): a script that
 * ran on the page once could have written it, so render it as text, never as HTML.
 */
import { type DBSchema, deleteDB, type IDBPDatabase, type IDBPTransaction, openDB, type StoreNames } from 'idb';
import { ClientArgumentError } from './errors.js';

/** Options of `openLocalStore`. `S` is the database's idb schema (a `DBSchema`). */
export interface LocalStoreOptions<S extends DBSchema> {
  /** The app's name for the store; the database is `<name>:<owner>`. */
  name: string;
  /**
   * Whose data it is: `await ownerKey(userId)`. One database per account, so a session swapped
   * under the app (a cookie set from another port of the same host: cookies ignore ports) never
   * mixes two accounts' data on this device. An opaque key, never a user's name or id in clear.
   */
  owner: string;
  /** The schema version; raise it and extend `upgrade` to change stores or indexes. */
  version: number;
  /** Runs once per version step, inside the upgrade transaction. */
  upgrade(
    db: IDBPDatabase<S>,
    oldVersion: number,
    transaction: IDBPTransaction<S, StoreNames<S>[], 'versionchange'>,
  ): void;
}

const open = new Map<string, IDBPDatabase<unknown>>();

const OWNER_KEY = /^[\w-]{43}$/;

/**
 * A user's key for local data: SHA-256 of the server's stable user id (the `userId` of latchkey
 * sessions), base64url. The same account gets the same key on every visit, offline too if the app
 * remembers it; the key does not show the id. Use an id that never changes, not a name or email.
 *
 * @example
 * const owner = await ownerKey(user.id); // 43 characters, e.g. 'fN3…'
 */
export async function ownerKey(userId: string): Promise<string> {
  if (typeof userId !== 'string' || userId === '')
    throw new ClientArgumentError("ownerKey: pass the server's stable user id, a non-empty string (e.g. user.id).");
  const source = `latchkey-owner\u0000id:${userId}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(source)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/**
 * The database name of a store: `<name>:<owner>`; the owner must be a key from `ownerKey()`.
 *
 * @example
 * const name = localStoreName('drafts', await ownerKey(user.id)); // 'drafts:fN3…'
 */
export function localStoreName(name: string, owner: string): string {
  // A clear-text owner would put a user's id (or name) into a database name any script can list.
  if (!OWNER_KEY.test(owner))
    throw new ClientArgumentError('localStoreName: owner must be a key from ownerKey(userId), not a user id or name.');
  return `${name}:${owner}`;
}

/**
 * Opens (creating or upgrading) one account's typed IndexedDB database.
 *
 * @example
 * interface DraftsSchema extends DBSchema { drafts: { key: string; value: { id: string; text: string; savedAt: Date } } }
 * const owner = await ownerKey(user.id); // user: from the app's me route
 * const db = await openLocalStore<DraftsSchema>({ name: 'drafts', owner, version: 1, upgrade(db) {
 *   db.createObjectStore('drafts', { keyPath: 'id' });
 * }});
 * await db.put('drafts', { id: 'd1', text: 'Hello', savedAt: new Date() });
 */
export async function openLocalStore<S extends DBSchema>(options: LocalStoreOptions<S>): Promise<IDBPDatabase<S>> {
  const name = localStoreName(options.name, options.owner);
  const db = await openDB<S>(name, options.version, {
    upgrade: (database, oldVersion, _newVersion, transaction) => options.upgrade(database, oldVersion, transaction),
    // Another tab upgrades or wipes the database: let go at once rather than block it.
    blocking: () => {
      db.close();
      open.delete(name);
    },
  });
  open.set(name, db as IDBPDatabase<unknown>);
  return db;
}

/**
 * Closes and deletes every IndexedDB database of this origin; returns their names. `wipe()` calls it.
 *
 * @example
 * const deleted = await deleteLocalStores(); // ['drafts:fN3…']
 */
export async function deleteLocalStores(): Promise<string[]> {
  for (const db of open.values()) db.close();
  open.clear();
  const names = new Set<string>();
  if (typeof indexedDB.databases === 'function')
    for (const info of await indexedDB.databases()) if (info.name) names.add(info.name);
  await Promise.all([...names].map((name) => deleteDB(name)));
  return [...names];
}
