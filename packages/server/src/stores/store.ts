/**
 * The session store contract. A store keeps session records and nothing else; every rule
 * (timeouts, macs, hashing, caps) lives in the session manager. Times are milliseconds since the
 * Unix epoch, as numbers. All methods may reject with `StoreUnavailableError` when the backing
 * service fails; callers then answer 503 and treat the request as not logged in.
 * Every store passes the same suite: `runStoreConformance` from `latchkey/conformance`.
 */

/** Small, JSON-serialisable data kept with a session on the server. */
export type SessionData = Record<string, unknown>;

/**
 * A device key bound to a session (Device Bound Session Credentials, `latchkey/dbsc`): the browser
 * proved it holds the private half, which no script and no cookie thief can read. Public data only.
 */
export interface SessionBinding {
  /** The public key as a JWK (EC P-256 for ES256, RSA for RS256), as the browser sent it. */
  publicKey: Readonly<Record<string, unknown>>;
  /** The signature algorithm the browser chose at registration: `ES256` or `RS256`. */
  algorithm: string;
  /** RFC 7638 SHA-256 thumbprint of `publicKey`, base64url: the key's name in logs and lists. */
  thumbprint: string;
  /** When the browser registered the key. */
  boundAt: number;
  /**
   * Issue time of the newest challenge a proof has answered (`boundAt` at first). A challenge
   * issued at or before it is spent: this is what makes refresh challenges single-use.
   */
  provenAt: number;
}

/** What the application sees of a session. */
export interface Session {
  /** The token's public id part; the store's key. Safe to show in a sessions list. */
  id: string;
  userId: string;
  createdAt: number;
  /** Last time a request carried this session, to the touch interval's precision. */
  lastSeenAt: number;
  /** When the idle timeout ends it, unless activity moves it on; never after `absoluteExpiresAt`. */
  expiresAt: number;
  /** The absolute limit, fixed at login; no activity moves it. */
  absoluteExpiresAt: number;
  /** Last time the user proved a credential (login or step-up), for "fresh session" checks. */
  authenticatedAt: number;
  /**
   * The user chose "remember me" at login: the session has the manager's longer `remember` limits.
   * Fixed at login; rotation keeps it. A store keeps it as given (rows from before it existed read `false`).
   */
  remembered: boolean;
  userAgent: string | null;
  ip: string | null;
  /** Read-only: change it with `updateSessionData`. A cached store freezes it. */
  data: Readonly<SessionData>;
  /**
   * The device key this session is bound to (`latchkey/dbsc`), or `null` for an unbound session.
   * Always `null` at creation and after rotation: a new session id starts unbound. A store that
   * predates binding may leave it out; the manager reads that as `null`.
   */
  binding?: Readonly<SessionBinding> | null;
}

/** A session as stored: the session plus SHA-256(secret), never the secret itself. */
export interface SessionRecord extends Session {
  /** SHA-256 of the token's secret, base64url (43 characters). */
  secretHash: string;
}

/** Options of a read: `SessionStore.get`, and `SessionManager.validateToken`, which passes them on. */
export interface GetOptions {
  /** Bypass any cache: the answer reflects every change committed before the call. */
  fresh?: boolean;
}

/**
 * Where session records live. A store applies no rule of its own (timeouts, macs and caps live in
 * the session manager) beyond the atomic steps each method names. Times are milliseconds since the
 * epoch. To write one, implement these eight methods and run the conformance suite against it.
 *
 * @example
 * import { runStoreConformance } from 'latchkey/conformance';
 * const createMyStore = (): SessionStore => ({ create, get, touch, setData, delete: remove, deleteUser, listUser, deleteExpired });
 * runStoreConformance({ name: 'my store', createStore: createMyStore, describe, it, beforeEach, afterEach });
 */
export interface SessionStore {
  /**
   * Inserts a new record, then, in the same atomic step: deletes the user's records whose
   * `expiresAt` ≤ `record.createdAt`, and if the user still has more than `maxPerUser`, deletes the
   * oldest (by `createdAt`) until `maxPerUser` remain. Resolves to the ids it deleted that way.
   */
  create(record: SessionRecord, maxPerUser: number): Promise<string[]>;
  /**
   * The record with this id, or `null`. Does not check expiry. With `fresh`, a store that caches
   * must read its backing store (unsafe requests ask for this); other stores ignore it.
   */
  get(id: string, options?: GetOptions): Promise<SessionRecord | null>;
  /**
   * Optional: `get` without waiting, for the request path. The record or `null` when the store
   * knows at once (a cache hit, an in-process database), `undefined` when only `get` can tell. It
   * answers as `get` would at that moment and throws what `get` rejects with; never async. Why: a
   * request whose session is at hand then needs no promise between the cookie and the handler
   * (#18). A wrapper that replaces `get` (`{ ...store, get }`) must replace or drop `getNow` too;
   * latchkey's own stores' `getNow` is not used beside a `get` other than their own.
   */
  getNow?(id: string, options?: GetOptions): SessionRecord | null | undefined;
  /** Sets `lastSeenAt` and `expiresAt` of a record, if it still exists. */
  touch(id: string, lastSeenAt: number, expiresAt: number): Promise<void>;
  /** Replaces a record's data; `false` when no such record exists. */
  setData(id: string, data: SessionData): Promise<boolean>;
  /** Deletes one record; `false` when none existed. */
  delete(id: string): Promise<boolean>;
  /** Deletes every record of a user except `exceptId`; resolves to the number deleted. Atomic. */
  deleteUser(userId: string, exceptId?: string): Promise<number>;
  /** A user's records, oldest first (by `createdAt`). */
  listUser(userId: string): Promise<SessionRecord[]>;
  /** Deletes records with `expiresAt` ≤ `now`, in batches that never hold a long lock. */
  deleteExpired(now: number): Promise<number>;
  /**
   * Compare-and-set of a record's `binding`, for `latchkey/dbsc`: replaces it with `next` only if
   * the stored binding matches `expected` (`null` matches only an unbound record; otherwise the
   * same `thumbprint` and `provenAt`). `false` when the record is gone or did not match. Atomic:
   * of two racing calls with the same `expected`, at most one succeeds. Optional: a store without
   * it cannot back device-bound sessions, and `createDeviceBinding` says so at start-up.
   */
  setBinding?(id: string, next: SessionBinding | null, expected: SessionBinding | null): Promise<boolean>;
}
