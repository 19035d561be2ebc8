/**
 * Refresh tokens in process memory: tests and single-process tools. Everything is lost on restart,
 * and another process never sees these tokens: use `createSqliteRefreshStore` for that.
 */
import type { RefreshFamily, RefreshRecord, RefreshStore } from './refresh-store.js';

/**
 * @example
 * const refresh = createRefreshTokens({ store: createMemoryRefreshStore() });
 */
export function createMemoryRefreshStore(): RefreshStore {
  const families = new Map<string, RefreshFamily>();
  const records = new Map<string, RefreshRecord>();
  // Each method runs to completion without awaiting, so a rotation cannot interleave with another.
  return {
    async createFamily(family, first) {
      families.set(family.id, { ...family });
      records.set(first.id, { ...first });
    },
    async get(id) {
      const record = records.get(id);
      const family = record && families.get(record.familyId);
      return record && family ? { record: { ...record }, family: { ...family } } : null;
    },
    async rotate(id, usedAt, successorSealed, successor) {
      const record = records.get(id);
      if (!record || record.usedAt !== null) return 'spent';
      record.usedAt = usedAt;
      record.successorSealed = successorSealed;
      records.set(successor.id, { ...successor });
      const family = families.get(record.familyId);
      if (family) family.lastUsedAt = usedAt;
      return 'rotated';
    },
    async revokeFamily(familyId, at) {
      const family = families.get(familyId);
      if (!family || family.revokedAt !== null) return false;
      family.revokedAt = at;
      return true;
    },
    async revokeUser(userId, at) {
      let count = 0;
      for (const family of families.values())
        if (family.userId === userId && family.revokedAt === null) {
          family.revokedAt = at;
          count++;
        }
      return count;
    },
    async liveFamilies(userId, now) {
      return [...families.values()]
        .filter((f) => f.userId === userId && f.revokedAt === null && f.expiresAt > now)
        .map((f) => ({ ...f }));
    },
    async heads(familyId) {
      return [...records.values()].filter((r) => r.familyId === familyId && r.usedAt === null).map((r) => ({ ...r }));
    },
    async deleteExpired(now) {
      let count = 0;
      for (const [id, family] of families)
        if (family.expiresAt <= now) {
          families.delete(id);
          count++;
          for (const [rid, r] of records) if (r.familyId === id) records.delete(rid);
        }
      return count;
    },
  };
}
