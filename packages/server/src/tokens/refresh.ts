/**
 * Refresh tokens for non-browser clients (a CLI, a mobile app), never for browsers: opaque
 * `<id>.<secret>` strings (128-bit id, 256-bit secret), stored as SHA-256(secret), rotated on every
 * use and grouped in families (one family per login).
 *
 * - Reuse detection: presenting a token that was already exchanged, after the grace window,
 *   means two parties hold the family (token theft): the whole family is revoked and `onEvent`
 *   hears `{ type: 'reuse' }`. The thief's and the user's tokens both stop working.
 * - Grace window (default 10 s): two concurrent refreshes of the same token (a mobile app
 *   retrying on a flaky network) both succeed and get the *same* successor, so a family never has
 *   two live heads. The successor is kept only sealed (AES-256-GCM) under a key derived from the
 *   presented token's secret, which the server does not store: a leaked database does not reveal it.
 *   Only a successor that is still unspent is handed out again: once it was exchanged in turn, the
 *   old token is a replay like any other (no chaining R0 → R1 → R2 to reach the head).
 * - Idle (default 14 days) and absolute (default 30 days) limits; revocation per family or per user.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { constantTimeEqual } from '../lib/constant-time.js';

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
  createFamily(family: RefreshFamily, first: RefreshRecord): Promise<void>;
  get(id: string): Promise<{ record: RefreshRecord; family: RefreshFamily } | null>;
  /** Spends the token, stores its successor and sets the family's `lastUsedAt`, all or nothing. */
  rotate(id: string, usedAt: number, successorSealed: string, successor: RefreshRecord): Promise<'rotated' | 'spent'>;
  /** Resolves to true when the family was live (not revoked yet). */
  revokeFamily(familyId: string, at: number): Promise<boolean>;
  /** Revokes every family of a user; resolves to how many were live. */
  revokeUser(userId: string, at: number): Promise<number>;
  /** Live (unrevoked, unexpired) families of a user, for tests and admin views. */
  liveFamilies(userId: string, now: number): Promise<RefreshFamily[]>;
  /** The family's tokens that are not spent: at most one while the family works. */
  heads(familyId: string): Promise<RefreshRecord[]>;
  deleteExpired(now: number): Promise<number>;
}

export type RefreshEvent = { type: 'reuse'; familyId: string; userId: string; at: number };

export type RefreshResult =
  | { ok: true; token: string; userId: string; familyId: string; expiresAt: number }
  | { ok: false; reason: 'invalid' | 'expired' | 'revoked' | 'reused' };

export interface RefreshTokensOptions {
  store: RefreshStore;
  /** Seconds a token may wait unused. Default 1,209,600 (14 days). */
  idleTimeout?: number;
  /** Seconds from login after which the family ends. Default 2,592,000 (30 days). */
  absoluteTimeout?: number;
  /** Seconds during which a spent token still yields its successor. Default 10, at most 60. */
  gracePeriod?: number;
  onEvent?: (event: RefreshEvent) => void;
  now?: () => number;
}

/** One grant as a user sees it beside their browser sessions: no token, no hash. */
export interface RefreshFamilySummary {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  /** The absolute limit (ms): the family ends then however often it is used. */
  expiresAt: number;
}

export interface RefreshTokens {
  /** Starts a family after the client proved a credential. */
  issue(userId: string): Promise<{ token: string; familyId: string; expiresAt: number }>;
  /** Exchanges a token for its successor (or refuses, revoking the family on reuse). */
  rotate(token: string): Promise<RefreshResult>;
  /** The user's live families (not revoked, not past the absolute or idle limit), newest first. */
  listFamilies(userId: string): Promise<RefreshFamilySummary[]>;
  /**
   * Ends one family; true when it was live. Pass `userId` when the id comes from a request: a
   * family of another user is then left alone (false), so an id cannot end someone else's grant.
   */
  revokeFamily(familyId: string, options?: { userId?: string }): Promise<boolean>;
  /** Ends every family of the user ("log out everywhere"); resolves to how many were live. */
  revokeUser(userId: string): Promise<number>;
}

const TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const hash = (secret: string) => createHash('sha256').update(secret).digest('base64url');

/** The successor is sealed under a key only the holder of this token's secret can derive. */
function sealKey(secret: string, id: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'base64url'), id, 'latchkey refresh successor', 32));
}
function seal(secret: string, id: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(secret, id), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}
function open(secret: string, id: string, sealed: string): string | null {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealKey(secret, id), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

function seconds(name: string, value: number | undefined, fallback: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > max) throw new ConfigurationError(`${name} must be 0 to ${max} seconds`);
  return v;
}

/**
 * @example
 * const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db), onEvent: (e) => log.warn(e) });
 * const { token } = await refresh.issue(user.id);          // give it to the CLI, never to a browser
 * const next = await refresh.rotate(presented);            // { ok: true, token } or { ok: false, reason }
 */
export function createRefreshTokens(options: RefreshTokensOptions): RefreshTokens {
  const { store } = options;
  const idleMs = seconds('idleTimeout', options.idleTimeout, 1_209_600, 400 * 86_400) * 1000;
  const absoluteMs = seconds('absoluteTimeout', options.absoluteTimeout, 2_592_000, 400 * 86_400) * 1000;
  const graceMs = seconds('gracePeriod', options.gracePeriod, 10, 60) * 1000;
  if (idleMs === 0 || absoluteMs < idleMs) throw new ConfigurationError('refresh timeouts: 0 < idle ≤ absolute');
  const now = options.now ?? Date.now;

  const mint = (familyId: string, userId: string, createdAt: number, familyEnds: number) => {
    const id = randomBytes(16).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const record: RefreshRecord = {
      id,
      familyId,
      userId,
      secretHash: hash(secret),
      createdAt,
      expiresAt: Math.min(createdAt + idleMs, familyEnds),
      usedAt: null,
      successorSealed: null,
    };
    return { token: `${id}.${secret}`, record };
  };

  return {
    async issue(userId) {
      if (typeof userId !== 'string' || userId.length === 0) throw new InvalidArgumentError('userId is required');
      const t = now();
      const family: RefreshFamily = {
        id: randomBytes(16).toString('base64url'),
        userId,
        createdAt: t,
        lastUsedAt: t,
        expiresAt: t + absoluteMs,
        revokedAt: null,
      };
      const { token, record } = mint(family.id, userId, t, family.expiresAt);
      await store.createFamily(family, record);
      return { token, familyId: family.id, expiresAt: record.expiresAt };
    },

    async rotate(token) {
      const match = typeof token === 'string' ? TOKEN.exec(token) : null;
      if (!match) return { ok: false, reason: 'invalid' };
      const [, id = '', secret = ''] = match;
      let found = await store.get(id);
      if (!found || !constantTimeEqual(hash(secret), found.record.secretHash)) return { ok: false, reason: 'invalid' };
      const t = now();
      const { family } = found;
      if (family.revokedAt !== null) return { ok: false, reason: 'revoked' };
      if (t >= found.record.expiresAt || t >= family.expiresAt) return { ok: false, reason: 'expired' };

      if (found.record.usedAt === null) {
        const next = mint(family.id, family.userId, t, family.expiresAt);
        const outcome = await store.rotate(id, t, seal(secret, id, next.token), next.record);
        if (outcome === 'rotated')
          return {
            ok: true,
            token: next.token,
            userId: family.userId,
            familyId: family.id,
            expiresAt: next.record.expiresAt,
          };
        found = await store.get(id); // another request exchanged it first: see what it left
        if (!found) return { ok: false, reason: 'invalid' };
      }
      const { usedAt, successorSealed } = found.record;
      if (usedAt !== null && t - usedAt <= graceMs && successorSealed !== null) {
        const successor = open(secret, id, successorSealed);
        const successorId = successor?.split('.')[0];
        const live = successorId ? await store.get(successorId) : null;
        // Only the family's head may be handed out again: a successor that was itself exchanged
        // means this token is two or more rotations old, and replaying it is reuse (finding B).
        if (successor && live && live.family.revokedAt === null && live.record.usedAt === null)
          return {
            ok: true,
            token: successor,
            userId: family.userId,
            familyId: family.id,
            expiresAt: live.record.expiresAt,
          };
      }
      // A spent token, after the grace window: someone else holds this family. End it for everyone.
      await store.revokeFamily(family.id, t);
      options.onEvent?.({ type: 'reuse', familyId: family.id, userId: family.userId, at: t });
      return { ok: false, reason: 'reused' };
    },

    async listFamilies(userId) {
      const t = now();
      return (await store.liveFamilies(userId, t))
        .filter((f) => f.lastUsedAt + idleMs > t) // its head, minted at the last use, idled out
        .sort((a, b) => b.createdAt - a.createdAt)
        .map(({ id, createdAt, lastUsedAt, expiresAt }) => ({ id, createdAt, lastUsedAt, expiresAt }));
    },
    async revokeFamily(familyId, revokeOptions = {}) {
      const t = now();
      if (revokeOptions.userId !== undefined) {
        // A family never changes hands, so checking first and revoking next cannot race.
        const owned = await store.liveFamilies(revokeOptions.userId, t);
        if (!owned.some((f) => f.id === familyId)) return false;
      }
      return store.revokeFamily(familyId, t);
    },
    revokeUser: (userId) => store.revokeUser(userId, now()),
  };
}

/** Refresh tokens in process memory: tests and single-process tools. */
export function createMemoryRefreshStore(): RefreshStore {
  const families = new Map<string, RefreshFamily>();
  const records = new Map<string, RefreshRecord>();
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
      return [...records.values()].filter((r) => r.familyId === familyId && r.usedAt === null);
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
