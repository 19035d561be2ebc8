/**
 * The refresh-token store contract: where families and their tokens live. latchkey ships a memory
 * store (`createMemoryRefreshStore`), a SQLite one (`latchkey/tokens/sqlite`) and a PostgreSQL one
 * (`latchkey/tokens/postgres`); any other must pass `runRefreshStoreConformance`
 * (`latchkey/tokens/conformance`).
 *
 * Times are milliseconds since the epoch. Every method may reject (the caller fails closed).
 * Returned objects are copies: changing one never changes the store.
 */

/** One login's chain of refresh tokens. */
export interface RefreshFamily {
  id: string;
  userId: string;
  createdAt: number;
  /** The last rotation (ms); `createdAt` until the first one. */
  lastUsedAt: number;
  /** Absolute limit of every token in the family (ms). */
  expiresAt: number;
  revokedAt: number | null;
}

/** One refresh token. The store never sees the secret, only its hash. */
export interface RefreshRecord {
  id: string;
  familyId: string;
  userId: string;
  /** SHA-256 of the secret, base64url. */
  secretHash: string;
  createdAt: number;
  expiresAt: number;
  /** When it was exchanged for its successor; null while it is the family's head. */
  usedAt: number | null;
  /** The successor token, sealed under the secret of this one; kept for the grace window. */
  successorSealed: string | null;
}

/** Where refresh tokens live. `rotate` must be atomic: one caller wins, the others see `spent`. */
export interface RefreshStore {
  /** Stores a new family and its first token, both or neither. */
  createFamily(family: RefreshFamily, first: RefreshRecord): Promise<void>;
  /** The token and its family, as stored now (never a stale copy: rotation reads `usedAt` here), or null. */
  get(id: string): Promise<{ record: RefreshRecord; family: RefreshFamily } | null>;
  /**
   * Spends the token, stores its successor and sets the family's `lastUsedAt`, all or nothing.
   * Only an unspent token rotates: of two calls for one token, across processes too, exactly one
   * resolves `'rotated'`; the others (and a call for an unknown id) resolve `'spent'` and store nothing.
   */
  rotate(id: string, usedAt: number, successorSealed: string, successor: RefreshRecord): Promise<'rotated' | 'spent'>;
  /** Sets the family's `revokedAt`; resolves to true when it was live (not revoked yet). */
  revokeFamily(familyId: string, at: number): Promise<boolean>;
  /** Revokes every live family of a user; resolves to how many. A revoked family keeps its first `revokedAt`. */
  revokeUser(userId: string, at: number): Promise<number>;
  /** The user's families not revoked and with `expiresAt > now`, in any order. */
  liveFamilies(userId: string, now: number): Promise<RefreshFamily[]>;
  /** The family's tokens that are not spent: at most one while the family works. */
  heads(familyId: string): Promise<RefreshRecord[]>;
  /** Deletes the families with `expiresAt <= now` and their tokens; resolves to how many families. */
  deleteExpired(now: number): Promise<number>;
}
