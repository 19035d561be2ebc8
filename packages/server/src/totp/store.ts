/**
 * Where TOTP enrolments live. One record per user; a store applies no rule of its own beyond the
 * atomic steps each method names (the replay rule and single-use recovery codes depend on them).
 * Every store passes `runTotpStoreConformance` from `latchkey/totp/conformance`.
 */

/** A user's TOTP factor as stored. Times are milliseconds since the epoch. */
export interface TotpRecord {
  userId: string;
  /** The shared secret, sealed (`createSecretBox`): never stored in clear. */
  sealedSecret: string;
  createdAt: number;
  /** When the confirming code arrived; `null` while the enrolment waits for it (not a factor yet). */
  confirmedAt: number | null;
  /** The last time step a code was accepted for: that step and every earlier one are spent (no replay). */
  lastStep: number;
  /** SHA-256 of each unused recovery code (`hashRecoveryCode`). */
  recoveryHashes: string[];
}

/**
 * @example
 * import { runTotpStoreConformance } from 'latchkey/totp/conformance';
 * runTotpStoreConformance({ name: 'my store', createStore, describe, it, beforeEach, afterEach });
 */
export interface TotpStore {
  /** The user's record, or null. */
  get(userId: string): Promise<TotpRecord | null>;
  /**
   * Writes a pending record, replacing a pending one, and resolves true. Atomically: a confirmed
   * record is never replaced (false, no change), so an enrolment racing a confirmation cannot
   * switch the factor off or swap its secret.
   */
  put(record: TotpRecord): Promise<boolean>;
  /**
   * Atomically: if the user's record is unconfirmed and still holds `sealedSecret` (the secret the
   * code was checked against), sets `confirmedAt`, `lastStep` and the recovery hashes, and resolves
   * true; otherwise changes nothing and resolves false.
   */
  confirm(
    userId: string,
    sealedSecret: string,
    at: number,
    step: number,
    recoveryHashes: readonly string[],
  ): Promise<boolean>;
  /** Atomically: replaces the sealed secret with `to` if it is still `from` (re-sealing under a newer key); nothing else changes. */
  reseal(userId: string, from: string, to: string): Promise<boolean>;
  /** Atomically: if the record is confirmed and `step` > `lastStep`, sets `lastStep` and resolves true. */
  useStep(userId: string, step: number): Promise<boolean>;
  /** Atomically: removes `hash` from the confirmed record's recovery hashes; true if it was there. */
  useRecoveryCode(userId: string, hash: string): Promise<boolean>;
  /** Replaces a confirmed record's recovery hashes; false when there is no confirmed record. */
  setRecoveryCodes(userId: string, hashes: readonly string[]): Promise<boolean>;
  /** Removes the user's record; true if there was one. */
  delete(userId: string): Promise<boolean>;
}

/**
 * A store in this process's memory: for tests and single-process apps that accept losing
 * enrolments on restart.
 *
 * @example
 * const totp = createTotp({ store: createMemoryTotpStore(), keys: [process.env.SESSION_KEY], issuer: 'Acme' });
 */
export function createMemoryTotpStore(): TotpStore {
  const records = new Map<string, TotpRecord>();
  const copy = (r: TotpRecord): TotpRecord => ({ ...r, recoveryHashes: [...r.recoveryHashes] });
  return {
    get: async (userId) => {
      const r = records.get(userId);
      return r === undefined ? null : copy(r);
    },
    async put(record) {
      if (records.get(record.userId)?.confirmedAt != null) return false;
      records.set(record.userId, copy(record));
      return true;
    },
    async confirm(userId, sealedSecret, at, step, hashes) {
      const r = records.get(userId);
      if (r === undefined || r.confirmedAt !== null || r.sealedSecret !== sealedSecret) return false;
      Object.assign(r, { confirmedAt: at, lastStep: step, recoveryHashes: [...hashes] });
      return true;
    },
    async useStep(userId, step) {
      const r = records.get(userId);
      if (r === undefined || r.confirmedAt === null || step <= r.lastStep) return false;
      r.lastStep = step;
      return true;
    },
    async useRecoveryCode(userId, hash) {
      const r = records.get(userId);
      const at = r === undefined || r.confirmedAt === null ? -1 : r.recoveryHashes.indexOf(hash);
      if (at === -1) return false;
      r?.recoveryHashes.splice(at, 1);
      return true;
    },
    async setRecoveryCodes(userId, hashes) {
      const r = records.get(userId);
      if (r === undefined || r.confirmedAt === null) return false;
      r.recoveryHashes = [...hashes];
      return true;
    },
    async reseal(userId, from, to) {
      const r = records.get(userId);
      if (r === undefined || r.sealedSecret !== from) return false;
      r.sealedSecret = to;
      return true;
    },
    delete: async (userId) => records.delete(userId),
  };
}
