/**
 * Refresh tokens for non-browser clients (a CLI, a mobile app), never for browsers: opaque
 * `<id>.<secret>` strings (128-bit id, 256-bit secret), stored as SHA-256(secret), rotated on every
 * use and grouped in families (one family per login). Where they live is a `RefreshStore`
 * (refresh-store.ts); the successor kept for the grace window is sealed (seal.ts).
 *
 * - Reuse detection: presenting a token that was already exchanged, after the grace window,
 *   means two parties hold the family (token theft): the whole family is revoked and `onEvent`
 *   hears `{ type: 'reuse' }`. The thief's and the user's tokens both stop working.
 * - Grace window (default 10 s): two concurrent refreshes of the same token (a mobile app
 *   retrying on a flaky network) both succeed and get the *same* successor, so a family never has
 *   two live heads. Only a successor that is still unspent is handed out again: once it was
 *   exchanged in turn, the old token is a replay like any other (no chaining R0 → R1 → R2 to reach
 *   the head).
 * - Idle (default 14 days) and absolute (default 30 days) limits; revocation per family or per user.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import { checkFunction, checkNumber, checkOptions, looksLikeMilliseconds, millisecondsHint } from '../lib/options.js';
import { checkRefreshStore } from './check-refresh-store.js';
import type { RefreshFamily, RefreshRecord, RefreshStore } from './refresh-store.js';
import { openSuccessor, sealSuccessor } from './seal.js';

/** What `onEvent` hears: a spent token presented again, and the family revoked for it. Log it as a likely theft. */
export type RefreshEvent = { type: 'reuse'; familyId: string; userId: string; at: number };

/** The outcome of `rotate`: the successor, or why there is none (an expected failure, not an error). */
export type RefreshResult =
  | { ok: true; token: string; userId: string; familyId: string; expiresAt: number }
  | { ok: false; reason: 'invalid' | 'expired' | 'revoked' | 'reused' };

/** Options of `createRefreshTokens`. Times in seconds. */
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

/** What `createRefreshTokens` returns. */
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
// The store keeps a hash only: a leaked row cannot be presented as a token.
const hash = (secret: string) => createHash('sha256').update(secret).digest('base64url');
const MAX_TIMEOUT = 400 * 86_400; // seconds: the longest a browser keeps a cookie, and plenty here
const OPTIONS = ['store', 'idleTimeout', 'absoluteTimeout', 'gracePeriod', 'onEvent', 'now'];

/**
 * @example
 * const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db), onEvent: (e) => log.warn(e) });
 * const { token } = await refresh.issue(user.id);          // give it to the CLI, never to a browser
 * const next = await refresh.rotate(presented);            // { ok: true, token } or { ok: false, reason }
 */
export function createRefreshTokens(options: RefreshTokensOptions): RefreshTokens {
  const o = checkOptions('createRefreshTokens', options, OPTIONS, {
    ttl: 'absoluteTimeout',
    maxAge: 'absoluteTimeout',
    grace: 'gracePeriod',
  });
  const store = checkRefreshStore('createRefreshTokens: store', o.store);
  const seconds = { min: 1, max: MAX_TIMEOUT, integer: true, unit: 'seconds' };
  const idle = checkNumber('idleTimeout', o.idleTimeout, { ...seconds, default: 1_209_600 });
  const absolute = checkNumber('absoluteTimeout', o.absoluteTimeout, { ...seconds, default: 2_592_000 });
  if (idle > absolute) {
    const fits = (s: number) => s >= 1 && s <= absolute;
    throw new ConfigurationError(
      looksLikeMilliseconds(idle, fits)
        ? millisecondsHint('idleTimeout', idle)
        : `idleTimeout (${idle} s) must not exceed absoluteTimeout (${absolute} s): a token cannot outlive its family`,
    );
  }
  const graceMs =
    checkNumber('gracePeriod', o.gracePeriod, { default: 10, min: 0, max: 60, integer: true, unit: 'seconds' }) * 1000;
  const idleMs = idle * 1000;
  const absoluteMs = absolute * 1000;
  const onEvent = o.onEvent === undefined ? undefined : checkFunction<(e: RefreshEvent) => void>('onEvent', o.onEvent);
  const now = checkFunction('now', o.now, Date.now);

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
      if (typeof userId !== 'string' || userId.length === 0)
        throw new InvalidArgumentError('issue(userId) needs the user id as a non-empty string');
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
      // Prevent any possibility of a timing attack by using a constant-time comparison.
      if (!found || !constantTimeEqual(hash(secret), found.record.secretHash)) return { ok: false, reason: 'invalid' };
      const t = now();
      const { family } = found;
      if (family.revokedAt !== null) return { ok: false, reason: 'revoked' };
      if (t >= found.record.expiresAt || t >= family.expiresAt) return { ok: false, reason: 'expired' };

      if (found.record.usedAt === null) {
        const next = mint(family.id, family.userId, t, family.expiresAt);
        const outcome = await store.rotate(id, t, sealSuccessor(secret, id, next.token), next.record);
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
        const successor = openSuccessor(secret, id, successorSealed);
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
      onEvent?.({ type: 'reuse', familyId: family.id, userId: family.userId, at: t });
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
