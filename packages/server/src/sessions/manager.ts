/**
 * The session manager: create, validate, rotate, revoke and list server-side sessions.
 * Expected failures (malformed token, bad mac, unknown id, wrong secret, expired) resolve to
 * `null`; misuse and bad configuration throw; a failing store rejects with StoreUnavailableError.
 */

import { LRUCache } from 'lru-cache';
import { assertCookieName, type SameSite, type SessionCookieOptions } from '../cookie/session-cookie.js';
import { ConfigurationError, InvalidArgumentError, SessionDataError } from '../errors.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import type { GetOptions, Session, SessionData, SessionRecord, SessionStore } from '../stores/store.js';
import { createKeyRing, type SigningKey } from './key-ring.js';
import { generateTokenParts, hashSecret, ID_CHARS, signToken, verifyToken } from './token.js';

export interface SessionManagerOptions {
  store: SessionStore;
  /** HMAC-SHA256 keys, newest first, each ≥ 32 bytes (raw or base64url). The newest signs. */
  keys: readonly SigningKey[];
  /** Seconds without a request after which a session ends. Default 1800 (30 min). */
  idleTimeout?: number;
  /** Seconds after login after which a session ends whatever its activity. Default 43200 (12 h). */
  absoluteTimeout?: number;
  /**
   * Seconds between two writes of `lastSeenAt` for one session. Validation writes at most once per
   * interval, never on every request. The idle timeout may then end a session up to this much
   * early, never late. Default 60, and never more than half the idle timeout.
   */
  touchInterval?: number;
  /** Live sessions one user may hold; creating one more evicts the oldest. Default 10. */
  maxSessionsPerUser?: number;
  /** Largest JSON size of session data, in bytes. Default 4096. */
  maxDataBytes?: number;
  /** Seconds between sweeps of expired sessions; 0 turns the timer off. Default 600. */
  sweepInterval?: number;
  /**
   * Tokens remembered as authentic (mac and secret already proven), so a repeat request skips the
   * HMAC and the hash; the session itself is still read from the store every time. Default 10,000;
   * 0 turns it off.
   */
  verifiedTokens?: number;
  /** The clock, in ms since the epoch. Inject one in tests. Default `Date.now`. */
  now?: () => number;
  cookie?: {
    /** Default `__Host-session`: the `__Host-` prefix pins Secure, Path=/ and no Domain. */
    name?: string;
    /** Default `strict`. `lax` is offered for apps that need cross-site top-level logins. */
    sameSite?: SameSite;
  };
  /**
   * Seconds after a password entry during which a session counts as "fresh" for sensitive actions
   * (step-up: change the password, reveal a secret). Default 600 (10 min).
   */
  freshFor?: number;
  /** Called with failures of background work (the sweep). Default: a process warning. */
  onBackgroundError?: (error: unknown) => void;
}

export interface SessionMeta {
  userAgent?: string | null | undefined;
  ip?: string | null | undefined;
  data?: SessionData | undefined;
}

export interface IssuedSession {
  /** The cookie value. Send it in Set-Cookie and nowhere else; never log it. */
  token: string;
  session: Session;
}

export interface SessionManager {
  readonly cookie: Readonly<SessionCookieOptions>;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  /** Starts a session for a user who just proved a credential. */
  createSession(userId: string, meta?: SessionMeta): Promise<IssuedSession>;
  /**
   * The live session a token names, or `null`. Slides the idle timeout (throttled). With `fresh`,
   * a cached store reads its backing store: ask for it on state-changing requests.
   */
  validateToken(token: string, options?: GetOptions): Promise<Session | null>;
  /**
   * Replaces a session's id and secret (on privilege change or step-up): the old token is dead
   * before the new one exists. Keeps the user, data and absolute limit. `null` if not valid.
   */
  rotateSession(token: string, options?: { reauthenticated?: boolean }): Promise<IssuedSession | null>;
  /** Seconds a session stays fresh after a password entry. */
  readonly freshFor: number;
  /** The session proved a credential within `freshFor` seconds (F3: step-up before sensitive actions). */
  isFresh(session: Session): boolean;
  revokeSession(sessionId: string): Promise<boolean>;
  revokeUserSessions(userId: string): Promise<number>;
  revokeOtherSessions(userId: string, currentSessionId: string): Promise<number>;
  /** A user's live sessions, oldest first, with device info; expired ones are deleted on sight. */
  listUserSessions(userId: string): Promise<Session[]>;
  updateSessionData(sessionId: string, data: SessionData): Promise<boolean>;
  deleteExpiredSessions(): Promise<number>;
  /** Stops the sweep timer. */
  close(): void;
}

const MAX_COOKIE_AGE = 400 * 24 * 3600; // RFC 6265bis §5.6.2: browsers cap Max-Age at 400 days.
const MAX_USER_ID = 255;
const MAX_USER_AGENT = 512;
const MAX_IP = 64;

function seconds(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new ConfigurationError(`${name} must be a number of seconds between ${min} and ${max}`);
  }
  return v;
}

const clip = (value: string | null | undefined, max: number): string | null =>
  typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;

/** The record without its hash. Spelled out: object rest-spread is several times slower here. */
function toSession(r: SessionRecord): Session {
  return {
    id: r.id,
    userId: r.userId,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    expiresAt: r.expiresAt,
    absoluteExpiresAt: r.absoluteExpiresAt,
    authenticatedAt: r.authenticatedAt,
    userAgent: r.userAgent,
    ip: r.ip,
    data: r.data,
  };
}

/**
 * @example
 * const sessions = createSessionManager({ store: createMemoryStore(), keys: [process.env.SESSION_KEY!] });
 * const { token } = await sessions.createSession('user-42', { userAgent, ip });
 * const session = await sessions.validateToken(token); // Session | null
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const { store } = options;
  if (store === null || typeof store !== 'object') throw new ConfigurationError('a session store is required');
  const ring = createKeyRing(options.keys);
  const idle = seconds('idleTimeout', options.idleTimeout, 1800, 1, MAX_COOKIE_AGE);
  const absolute = seconds('absoluteTimeout', options.absoluteTimeout, 43_200, idle, MAX_COOKIE_AGE);
  const touch = seconds('touchInterval', options.touchInterval, Math.min(60, idle / 2), 0, idle / 2);
  const maxPerUser = seconds('maxSessionsPerUser', options.maxSessionsPerUser, 10, 1, 10_000);
  const maxDataBytes = seconds('maxDataBytes', options.maxDataBytes, 4096, 2, 1 << 20);
  const sweepEvery = seconds('sweepInterval', options.sweepInterval, 600, 0, 86_400);
  const verifiedMax = seconds('verifiedTokens', options.verifiedTokens, 10_000, 0, 10_000_000);
  const freshFor = seconds('freshFor', options.freshFor, 600, 1, absolute);
  const freshMs = freshFor * 1000;
  const now = options.now ?? Date.now;
  const name = options.cookie?.name ?? '__Host-session';
  assertCookieName(name);
  const sameSite = options.cookie?.sameSite ?? 'strict';
  if (sameSite !== 'strict' && sameSite !== 'lax') {
    throw new ConfigurationError("cookie.sameSite must be 'strict' or 'lax'");
  }
  const cookie = Object.freeze({ name, sameSite, maxAge: absolute });
  const idleMs = idle * 1000;
  const touchMs = touch * 1000;
  const onBackgroundError =
    options.onBackgroundError ?? ((error: unknown) => process.emitWarning(`latchkey sweep failed: ${String(error)}`));

  const checkUserId = (userId: string) => {
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID) {
      throw new InvalidArgumentError(`userId must be a string of 1 to ${MAX_USER_ID} characters`);
    }
  };
  const checkData = (data: SessionData) => {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new SessionDataError('session data must be a plain object');
    }
    let json: string;
    try {
      json = JSON.stringify(data);
    } catch {
      throw new SessionDataError('session data must be JSON-serialisable (no cycles, no BigInt)');
    }
    if (Buffer.byteLength(json) > maxDataBytes) {
      throw new SessionDataError(`session data exceeds ${maxDataBytes} bytes of JSON`);
    }
  };

  async function issue(base: Omit<SessionRecord, 'id' | 'secretHash'>): Promise<IssuedSession> {
    const parts = generateTokenParts();
    const record: SessionRecord = { ...base, id: parts.id, secretHash: hashSecret(parts.secret) };
    await store.create(record, maxPerUser);
    return { token: signToken(parts, ring), session: toSession(record) };
  }

  const expired = (record: SessionRecord, t: number) =>
    t >= record.expiresAt || t >= record.absoluteExpiresAt || t - record.lastSeenAt >= idleMs;

  // Authenticity never changes for a token under one key ring, so proving it once is enough; only
  // the session's state (revoked, expired) must be read each time, and it is. Holding recent tokens
  // adds nothing an attacker who can read this process's memory lacks: the signing keys are there.
  // The look-up is a hash-table probe (random per-process seed), not a comparison an attacker can time.
  const verified = verifiedMax > 0 ? new LRUCache<string, true>({ max: verifiedMax }) : undefined;

  /** The stored record behind a token, if the token is authentic and the session alive. */
  async function load(token: string, options?: GetOptions): Promise<SessionRecord | null> {
    let record: SessionRecord | null;
    if (verified?.has(token) === true) {
      record = await store.get(token.slice(0, ID_CHARS), options);
      if (record === null) return null;
    } else {
      const parts = verifyToken(token, ring); // forged or malformed: rejected before any store look-up
      if (parts === null) return null;
      record = await store.get(parts.id, options);
      if (record === null) return null;
      // Prevent a timing oracle on the stored hash: constant-time comparison.
      if (!constantTimeEqual(record.secretHash, hashSecret(parts.secret))) return null;
      verified?.set(token, true);
    }
    const t = now();
    if (expired(record, t)) {
      await store.delete(record.id); // T2: an expired session is deleted on sight.
      return null;
    }
    return record;
  }

  let timer: NodeJS.Timeout | undefined;
  const manager: SessionManager = {
    cookie,
    freshFor,
    idleTimeout: idle,
    absoluteTimeout: absolute,

    async createSession(userId, meta = {}) {
      checkUserId(userId);
      const data = meta.data ?? {};
      checkData(data);
      const t = now();
      const absoluteExpiresAt = t + absolute * 1000;
      return issue({
        userId,
        createdAt: t,
        lastSeenAt: t,
        expiresAt: Math.min(t + idleMs, absoluteExpiresAt),
        absoluteExpiresAt,
        authenticatedAt: t,
        userAgent: clip(meta.userAgent, MAX_USER_AGENT),
        ip: clip(meta.ip, MAX_IP),
        data,
      });
    },

    async validateToken(token, options) {
      const record = await load(token, options);
      if (record === null) return null;
      const session = toSession(record); // a copy: records from a cache are shared and frozen
      const t = now();
      // The sliding write is throttled: at most one store write per touch interval per session.
      if (t - record.lastSeenAt >= touchMs) {
        session.lastSeenAt = t;
        session.expiresAt = Math.min(t + idleMs, record.absoluteExpiresAt);
        await store.touch(record.id, session.lastSeenAt, session.expiresAt);
      }
      return session;
    },

    async rotateSession(token, rotateOptions = {}) {
      const record = await load(token, { fresh: true });
      if (record === null) return null;
      // F1: the old id dies first, so there is never a moment with two live tokens.
      if (!(await store.delete(record.id))) return null;
      const t = now();
      return issue({
        ...toSession(record),
        lastSeenAt: t,
        expiresAt: Math.min(t + idleMs, record.absoluteExpiresAt),
        authenticatedAt: rotateOptions.reauthenticated === true ? t : record.authenticatedAt,
      });
    },

    isFresh: (session) => now() - session.authenticatedAt < freshMs,

    revokeSession: (sessionId) => store.delete(String(sessionId)),

    async revokeUserSessions(userId) {
      checkUserId(userId);
      return store.deleteUser(userId);
    },

    async revokeOtherSessions(userId, currentSessionId) {
      checkUserId(userId);
      if (typeof currentSessionId !== 'string' || currentSessionId.length === 0) {
        throw new InvalidArgumentError('currentSessionId is required');
      }
      return store.deleteUser(userId, currentSessionId);
    },

    async listUserSessions(userId) {
      checkUserId(userId);
      const t = now();
      const live: Session[] = [];
      for (const record of await store.listUser(userId)) {
        if (expired(record, t)) {
          await store.delete(record.id);
        } else {
          live.push(toSession(record));
        }
      }
      return live;
    },

    async updateSessionData(sessionId, data) {
      checkData(data);
      return store.setData(String(sessionId), data);
    },

    deleteExpiredSessions: () => store.deleteExpired(now()),

    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };

  if (sweepEvery > 0) {
    timer = setInterval(() => {
      manager.deleteExpiredSessions().catch(onBackgroundError);
    }, sweepEvery * 1000);
    timer.unref(); // the sweep never keeps a process alive on its own
  }
  return manager;
}
