/**
 * A typed local store on IndexedDB (idb). Why IndexedDB and not localStorage, as the article
 * says: values keep their types (numbers, booleans, Dates, arrays, not strings), records have
 * primary keys and indexes, and a transaction spans several stores, so "change a note and queue it
 * for the server" is one atomic step. Only non-sensitive data belongs here: never a token, a
 * session id, a password or an API key (B1). Data read back is untrusted input (B2): a script that
 * ran on the page once could have written it, so render it as text, never as HTML.
 */
import { type DBSchema, deleteDB, type IDBPDatabase, type IDBPTransaction, openDB, type StoreNames } from 'idb';

export interface LocalStoreOptions<S extends DBSchema> {
  name: string;
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

/**
 * @example
 * const db = await openLocalStore<NotesSchema>({ name: 'notes', version: 1, upgrade(db) {
 *   db.createObjectStore('notes', { keyPath: 'id' }).createIndex('byUpdated', 'updatedAt');
 * }});
 */
export async function openLocalStore<S extends DBSchema>(options: LocalStoreOptions<S>): Promise<IDBPDatabase<S>> {
  const db = await openDB<S>(options.name, options.version, {
    upgrade: (database, oldVersion, _newVersion, transaction) => options.upgrade(database, oldVersion, transaction),
    // Another tab upgrades or wipes the database: let go at once rather than block it.
    blocking: () => {
      db.close();
      open.delete(options.name);
    },
  });
  open.set(options.name, db as IDBPDatabase<unknown>);
  return db;
}

/** Closes and deletes every IndexedDB database of this origin; returns their names. */
export async function deleteLocalStores(): Promise<string[]> {
  for (const db of open.values()) db.close();
  open.clear();
  const names = new Set<string>();
  if (typeof indexedDB.databases === 'function')
    for (const info of await indexedDB.databases()) if (info.name) names.add(info.name);
  await Promise.all([...names].map((name) => deleteDB(name)));
  return [...names];
}
