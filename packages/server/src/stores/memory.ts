/**
 * An in-process session store: for tests, and for a single process that may lose its sessions on
 * restart. Records are copied in and out, so callers can never mutate what is stored.
 */
import { ConfigurationError } from '../errors.js';
import { driverKind, driverName, storeFor } from '../lib/drivers.js';
import { checkOptions } from '../lib/options.js';
import { pairGetNow } from './get-now.js';
import type { SessionBinding, SessionData, SessionRecord, SessionStore } from './store.js';

function copy(record: SessionRecord): SessionRecord {
  return {
    ...record,
    data: structuredClone(record.data),
    binding: record.binding == null ? null : structuredClone(record.binding),
  };
}

/** `setBinding`'s condition: `null` matches only an unbound record; a binding, the same key and proof. */
function bindingMatches(
  stored: Readonly<SessionBinding> | null | undefined,
  expected: Readonly<SessionBinding> | null,
): boolean {
  if (expected === null) return stored == null;
  return stored != null && stored.thumbprint === expected.thumbprint && stored.provenAt === expected.provenAt;
}

/**
 * @example
 * const sessions = createSessionManager({ store: createMemoryStore(), keys: [key] });
 */
export function createMemoryStore(options?: Record<string, never>): SessionStore {
  const kind = driverKind(options);
  if (kind !== undefined) {
    const wrap = storeFor[kind];
    throw new ConfigurationError(
      `createMemoryStore keeps sessions in this process and takes no arguments; got ${driverName[kind]}${wrap === undefined ? '' : `: for it, use ${wrap}`}`,
    );
  }
  checkOptions('createMemoryStore', options, []);
  const records = new Map<string, SessionRecord>();
  const byUser = new Map<string, Set<string>>();

  const remove = (id: string): boolean => {
    const record = records.get(id);
    if (record === undefined) return false;
    records.delete(id);
    const ids = byUser.get(record.userId);
    ids?.delete(id);
    if (ids?.size === 0) byUser.delete(record.userId);
    return true;
  };

  const userRecords = (userId: string): SessionRecord[] =>
    [...(byUser.get(userId) ?? [])]
      .map((id) => records.get(id) as SessionRecord)
      .sort((a, b) => a.createdAt - b.createdAt);

  const getNow = (id: string): SessionRecord | null => {
    const record = records.get(id);
    return record === undefined ? null : copy(record);
  };
  return pairGetNow({
    async create(record, maxPerUser) {
      records.set(record.id, copy(record));
      const ids = byUser.get(record.userId) ?? new Set<string>();
      byUser.set(record.userId, ids.add(record.id));
      const evicted: string[] = [];
      const live: SessionRecord[] = [];
      for (const r of userRecords(record.userId)) {
        if (r.expiresAt <= record.createdAt) evicted.push(r.id);
        else live.push(r);
      }
      for (const r of live.slice(0, Math.max(0, live.length - maxPerUser))) evicted.push(r.id);
      for (const id of evicted) remove(id);
      return evicted;
    },
    get: async (id) => getNow(id),
    getNow,
    async touch(id, lastSeenAt, expiresAt) {
      const record = records.get(id);
      if (record !== undefined) {
        record.lastSeenAt = lastSeenAt;
        record.expiresAt = expiresAt;
      }
    },
    async setData(id, data: SessionData) {
      const record = records.get(id);
      if (record === undefined) return false;
      record.data = structuredClone(data);
      return true;
    },
    async setBinding(id, next, expected) {
      // Synchronous from check to write: no other call runs in between.
      const record = records.get(id);
      if (record === undefined || !bindingMatches(record.binding, expected)) return false;
      record.binding = next === null ? null : structuredClone(next);
      return true;
    },
    async delete(id) {
      return remove(id);
    },
    async deleteUser(userId, exceptId) {
      let count = 0;
      for (const id of [...(byUser.get(userId) ?? [])]) {
        if (id !== exceptId && remove(id)) count++;
      }
      return count;
    },
    async listUser(userId) {
      return userRecords(userId).map(copy);
    },
    async deleteExpired(now) {
      let count = 0;
      for (const [id, record] of records) {
        if (record.expiresAt <= now && remove(id)) count++;
      }
      return count;
    },
  });
}
