/**
 * Where passkeys and their pending challenges live. A store applies no rule of its own beyond the
 * atomic steps each method names: a challenge is taken once, a credential id is registered once,
 * and a use only lands on the counter it was checked against. Every store passes
 * `runPasskeyStoreConformance` from `latchkey/passkeys/conformance`.
 */

/** A registered passkey as stored. Public data only (nothing here signs anything). Times are ms since the epoch. */
export interface PasskeyRecord {
  /** The credential id, base64url (at most 1,364 characters: 1,023 bytes). */
  id: string;
  userId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The signature counter last seen; 0 for authenticators that keep none (most synced passkeys). */
  counter: number;
  /** What the browser said the authenticator speaks over (`internal`, `hybrid`, `usb`…), as hints. */
  transports: string[];
  /** The BE flag at registration: the credential may be synced. It never changes for a credential. */
  backupEligible: boolean;
  /** The BS flag last seen: the credential is synced now. */
  backedUp: boolean;
  /** The user's name for it ("Work laptop"). */
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** What a use of a passkey writes: the counter it was checked against and the new one. */
export interface PasskeyUse {
  /** The counter the signature was verified against: the write lands only if the record still has it. */
  previousCounter: number;
  counter: number;
  backedUp: boolean;
  at: number;
}

/**
 * @example
 * import { runPasskeyStoreConformance } from 'latchkey/passkeys/conformance';
 * runPasskeyStoreConformance({ name: 'my store', createStore, describe, it, beforeEach, afterEach });
 */
export interface PasskeyStore {
  /**
   * Adds a passkey; false (and no change) when the credential id is registered already, to anyone,
   * or when the user holds `maxPerUser` passkeys already: counted in the same atomic step, so of
   * racing adds no more than the limit land.
   */
  add(record: PasskeyRecord, maxPerUser: number): Promise<boolean>;
  /** The passkey with this credential id, or null. */
  get(id: string): Promise<PasskeyRecord | null>;
  /** The user's passkeys, oldest first. */
  list(userId: string): Promise<PasskeyRecord[]>;
  /** Renames the user's passkey; false when the user has no passkey with this id. */
  rename(userId: string, id: string, name: string): Promise<boolean>;
  /**
   * Removes the user's passkey; false when the user has no passkey with this id, or when `keepOne`
   * is true and it is the user's only one (checked and removed atomically: two removals racing
   * never leave zero).
   */
  delete(userId: string, id: string, keepOne?: boolean): Promise<boolean>;
  /** Removes every passkey of the user; how many there were. */
  deleteAll(userId: string): Promise<number>;
  /**
   * Atomically: if the passkey's counter is still `use.previousCounter`, sets the counter, the
   * backed-up flag and the last use, and resolves true; otherwise changes nothing and resolves false.
   */
  recordUse(id: string, use: PasskeyUse): Promise<boolean>;
  /** Keeps a challenge under `key` until `expiresAt`, replacing any under the same key. */
  putChallenge(key: string, challenge: string, expiresAt: number): Promise<void>;
  /**
   * Atomically removes the challenge under `key` and resolves it, or null when there is none or it
   * expired before `now`. Of two concurrent takes, at most one gets it.
   */
  takeChallenge(key: string, now: number): Promise<string | null>;
}

/**
 * A store in this process's memory: for tests and single-process apps that accept losing passkeys
 * on restart (their users would have to register them again).
 *
 * @example
 * const passkeys = createPasskeys({ store: createMemoryPasskeyStore(), rpId: 'localhost', rpName: 'Acme', origins: ['http://localhost:3000'] });
 */
export function createMemoryPasskeyStore(): PasskeyStore {
  const keys = new Map<string, PasskeyRecord>();
  const challenges = new Map<string, { challenge: string; expiresAt: number }>();
  const copy = (r: PasskeyRecord): PasskeyRecord => ({ ...r, transports: [...r.transports] });
  const owned = (userId: string, id: string) => {
    const r = keys.get(id);
    return r !== undefined && r.userId === userId ? r : undefined;
  };
  return {
    async add(record, maxPerUser) {
      if (keys.has(record.id)) return false;
      if ([...keys.values()].filter((r) => r.userId === record.userId).length >= maxPerUser) return false;
      keys.set(record.id, copy(record));
      return true;
    },
    get: async (id) => {
      const r = keys.get(id);
      return r === undefined ? null : copy(r);
    },
    list: async (userId) =>
      [...keys.values()]
        .filter((r) => r.userId === userId)
        .sort((a, b) => a.createdAt - b.createdAt)
        .map(copy),
    async rename(userId, id, name) {
      const r = owned(userId, id);
      if (r === undefined) return false;
      r.name = name;
      return true;
    },
    async delete(userId, id, keepOne) {
      if (owned(userId, id) === undefined) return false;
      if (keepOne === true && [...keys.values()].filter((r) => r.userId === userId).length < 2) return false;
      return keys.delete(id);
    },
    async deleteAll(userId) {
      let n = 0;
      for (const [id, r] of keys) if (r.userId === userId && keys.delete(id)) n++;
      return n;
    },
    async recordUse(id, use) {
      const r = keys.get(id);
      if (r === undefined || r.counter !== use.previousCounter) return false;
      Object.assign(r, { counter: use.counter, backedUp: use.backedUp, lastUsedAt: use.at });
      return true;
    },
    async putChallenge(key, challenge, expiresAt) {
      if (challenges.size >= 1000)
        for (const [k, c] of challenges) if (c.expiresAt < expiresAt - 3_600_000) challenges.delete(k);
      challenges.set(key, { challenge, expiresAt });
    },
    async takeChallenge(key, now) {
      const c = challenges.get(key);
      challenges.delete(key);
      return c === undefined || c.expiresAt < now ? null : c.challenge;
    },
  };
}
