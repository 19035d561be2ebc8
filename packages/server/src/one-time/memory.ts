/**
 * One-time tokens in process memory: tests and single-process tools. Everything is lost on restart
 * (every pending link stops working), and another process never sees these tokens.
 */
import { ConfigurationError } from '../errors.js';
import { driverKind, driverName } from '../lib/drivers.js';
import { checkOptions } from '../lib/options.js';
import type { OneTimeTokenRecord, OneTimeTokenStore } from './store.js';

const copy = (record: OneTimeTokenRecord): OneTimeTokenRecord => ({ ...record, data: structuredClone(record.data) });

/**
 * A one-time token store in this process's memory. Takes no arguments.
 *
 * @example
 * const oneTime = createOneTimeTokens({ store: createMemoryOneTimeStore() });
 */
export function createMemoryOneTimeStore(options?: Record<string, never>): OneTimeTokenStore {
  const kind = driverKind(options);
  if (kind !== undefined) {
    throw new ConfigurationError(
      `createMemoryOneTimeStore keeps tokens in this process and takes no arguments; got ${driverName[kind]}: for a database, use createSqliteOneTimeStore(db) from 'latchkey/one-time/sqlite'`,
    );
  }
  checkOptions('createMemoryOneTimeStore', options, []);
  const records = new Map<string, OneTimeTokenRecord>();
  /** userId → purpose → token hash: at most one record per user and purpose. */
  const byUser = new Map<string, Map<string, string>>();

  const remove = (hash: string): boolean => {
    const record = records.get(hash);
    if (record === undefined) return false;
    records.delete(hash);
    const mine = byUser.get(record.userId);
    if (mine?.get(record.purpose) === hash) mine.delete(record.purpose);
    if (mine?.size === 0) byUser.delete(record.userId);
    return true;
  };
  const live = (hash: string, purpose: string, now: number) => {
    const record = records.get(hash);
    return record !== undefined && record.purpose === purpose && record.expiresAt > now ? record : null;
  };

  // Each method runs to completion without awaiting, so no take can interleave with another.
  return {
    async insert(record) {
      const previous = byUser.get(record.userId)?.get(record.purpose);
      if (previous !== undefined) remove(previous);
      records.set(record.tokenHash, copy(record));
      const mine = byUser.get(record.userId) ?? new Map<string, string>();
      byUser.set(record.userId, mine.set(record.purpose, record.tokenHash));
    },
    async take(hash, purpose, now) {
      const record = live(hash, purpose, now);
      if (record === null) return null;
      remove(hash);
      return record;
    },
    async get(hash, purpose, now) {
      const record = live(hash, purpose, now);
      return record === null ? null : copy(record);
    },
    async deleteUser(userId, purpose) {
      let count = 0;
      for (const [p, hash] of [...(byUser.get(userId) ?? [])]) {
        if ((purpose === undefined || p === purpose) && remove(hash)) count++;
      }
      return count;
    },
    async deleteExpired(now) {
      let count = 0;
      for (const [hash, record] of records) if (record.expiresAt <= now && remove(hash)) count++;
      return count;
    },
  };
}
