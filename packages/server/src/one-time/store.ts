/**
 * The one-time token store contract: where the hashes of e-mail verification, password reset and
 * similar tokens wait to be used. A store never sees a token, only SHA-256(token); every rule (which
 * purposes exist, how long each lives, what a token looks like) lives in `createOneTimeTokens`.
 * Times are milliseconds since the epoch. Every method may reject with `StoreUnavailableError`.
 * Every store passes one suite: `runOneTimeTokenStoreConformance` from `latchkey/one-time/conformance`.
 */

/** Small plain-JSON data kept with a token (the new address of an e-mail change, say). */
export type OneTimeTokenData = Record<string, unknown>;

/** One token as stored: its hash and what it grants, never the token itself. */
export interface OneTimeTokenRecord {
  /** SHA-256 of the token, base64url (43 characters): the store's key. */
  tokenHash: string;
  userId: string;
  /** What the token may be used for (`verify-email`, `reset-password`…). */
  purpose: string;
  /**
   * What `createOneTimeTokens` keeps with the token: `{}`, or `{ sealed }`, the caller's data
   * encrypted with a key derived from the token (so a store never holds it in clear). Kept and
   * returned as given.
   */
  data: OneTimeTokenData;
  createdAt: number;
  /** The token is dead from this instant on (`expiresAt <= now`). */
  expiresAt: number;
}

/**
 * Where one-time tokens live. A store holds at most one record per user and purpose: a new one
 * replaces the old, so the latest link sent is the only one that works. Returned records are
 * copies. To write one, implement these five methods and run the conformance suite against it.
 *
 * @example
 * import { runOneTimeTokenStoreConformance } from 'latchkey/one-time/conformance';
 * const createMyStore = (): OneTimeTokenStore => ({ insert, take, get, deleteUser, deleteExpired });
 * runOneTimeTokenStoreConformance({ name: 'my store', createStore: createMyStore, describe, it, beforeEach, afterEach });
 */
export interface OneTimeTokenStore {
  /**
   * Stores the record and, in the same atomic step, deletes the user's other record of the same
   * purpose, if any. Of concurrent inserts for one user and purpose, the last one to commit stays.
   */
  insert(record: OneTimeTokenRecord): Promise<void>;
  /**
   * Deletes and returns the record with this hash, if its purpose is `purpose` and
   * `expiresAt > now`; otherwise changes nothing and resolves to `null`. Atomic: of concurrent
   * takes of one record, across processes too, exactly one gets it.
   */
  take(tokenHash: string, purpose: string, now: number): Promise<OneTimeTokenRecord | null>;
  /** The record `take` would return, without deleting it. */
  get(tokenHash: string, purpose: string, now: number): Promise<OneTimeTokenRecord | null>;
  /**
   * Deletes the user's records, of one purpose or of all; resolves to how many it deleted
   * (expired ones the store still held included).
   */
  deleteUser(userId: string, purpose?: string): Promise<number>;
  /** Deletes the records with `expiresAt <= now`, in batches that never hold a lock for long; resolves to how many. */
  deleteExpired(now: number): Promise<number>;
}
