/**
 * The session manager: create, validate, rotate, revoke and list server-side sessions.
 * Expected failures (malformed token, bad mac, unknown id, wrong secret, expired) resolve to
 * `null`; misuse and bad configuration throw; a failing store rejects with StoreUnavailableError.
 */

import { LRUCache } from 'lru-cache';
import { assertCookieName, type SameSite, type SessionCookieOptions } from '../cookie/session-cookie.js';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import { detach } from '../lib/detach.js';
import {
  checkFunction,
  checkNumber,
  checkOneOf,
  checkOptions,
  looksLikeMilliseconds,
  millisecondsHint,
} from '../lib/options.js';
import { checkSessionStore } from '../stores/check-store.js';
import { usableGetNow } from '../stores/get-now.js';
import type { GetOptions, Session, SessionBinding, SessionData, SessionRecord, SessionStore } from '../stores/store.js';
import { createKeyRing, type KeyRing, type SigningKey } from './key-ring.js';
import { checkSessionData } from './session-data.js';
import { generateTokenParts, hashSecret, signToken, type TokenParts, verifyToken } from './token.js';

/**
 * Options of `createSessionManager`. Times are in seconds, except `now`, which gives milliseconds.
 * Every option is checked once, at creation: a wrong one throws `ConfigurationError` (or
 * `KeyError` for `keys`) at start-up, never during a request.
 */
export interface SessionManagerOptions {
  /**
   * Where sessions are kept: a store from `latchkey/memory`, `latchkey/sqlite`, `latchkey/postgres`
   * or `latchkey/redis` (or `latchkey/cached` in front of one), or your own that passes
   * `latchkey/conformance`.
   */
  store: SessionStore;
  /**
   * HMAC-SHA256 keys, newest first, each ≥ 32 bytes (raw or base64url). The newest signs.
   * `undefined` is accepted by the type so `keys: [process.env.SESSION_KEY]` compiles: an unset
   * variable then stops the app at start-up with `KEY_INVALID` and how to make a key.
   */
  keys: readonly (SigningKey | undefined)[];
  /** Seconds without a request after which a session ends. Default 1800 (30 min). */
  idleTimeout?: number;
  /** Seconds after login after which a session ends whatever its activity. Default 43200 (12 h). */
  absoluteTimeout?: number;
  /**
   * "Remember me": the lifetimes of a session created with `remember: true`, an explicit choice
   * the user makes at login. Default `{ absoluteTimeout: 2592000 (30 days), idleTimeout: 604800
   * (7 days) }`; the absolute limit is capped at 400 days (what browsers allow a cookie), and it
   * must be longer than `absoluteTimeout`. `true` means the defaults; `false` refuses `remember: true`. A remembered session
   * is not fresher: step-up (`freshFor`) is the same for every session.
   */
  remember?: { absoluteTimeout?: number; idleTimeout?: number } | boolean;
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
  /**
   * The cookie's name and SameSite. Its other attributes are fixed (Secure, HttpOnly, Path=/, no
   * Domain, Max-Age = `absoluteTimeout`): passing one of them throws.
   */
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

/** What `createSession` keeps with a new session besides the user: device info for a sessions list, and data. */
export interface SessionMeta {
  /** The User-Agent header; cut to 512 characters. Missing or empty: `null`. */
  userAgent?: string | null | undefined;
  /** The client address; cut to 64 characters. Missing or empty: `null`. */
  ip?: string | null | undefined;
  /** Plain JSON kept on the server, at most `maxDataBytes` as JSON. Default `{}`. */
  data?: SessionData | undefined;
  /**
   * The user ticked "remember me": this session gets the longer lifetimes of the `remember` option
   * (and its cookie a Max-Age to match). Default `false`.
   */
  remember?: boolean | undefined;
}

/** A new session and its token, from `createSession` or `rotateSession`. */
export interface IssuedSession {
  /** The cookie value. Send it in Set-Cookie and nowhere else; never log it. */
  token: string;
  /** The session as stored, without the secret's hash. */
  session: Session;
}

/**
 * Server-side sessions: what `createSessionManager` returns. Expected failures (a malformed,
 * forged, unknown or expired token) resolve to `null`; misuse throws; a store that fails rejects
 * with `StoreUnavailableError`, which must never be read as "logged in". The framework adapters
 * call it for you; use it directly for sessions lists, revocation and background jobs.
 *
 * @example
 * const sessions = createSessionManager({ store: createMemoryStore(), keys: [process.env.SESSION_KEY] });
 * const { token } = await sessions.createSession(user.id, { userAgent, ip });
 * const session = await sessions.validateToken(token); // Session | null
 * if (session) await sessions.revokeOtherSessions(session.userId, session.id); // "log out my other devices"
 */
export interface SessionManager {
  /** The cookie's name, SameSite and Max-Age (seconds, equal to `absoluteTimeout`), for the Set-Cookie header. */
  readonly cookie: Readonly<SessionCookieOptions>;
  /** Seconds without a request after which a session ends. */
  readonly idleTimeout: number;
  /** Seconds after login after which a session ends whatever its activity. */
  readonly absoluteTimeout: number;
  /** The lifetimes of a session created with `remember: true`, in seconds; `null` when turned off. */
  readonly remember: Readonly<{ absoluteTimeout: number; idleTimeout: number }> | null;
  /** The session was created with `remember: true` (its absolute limit is the longer one). */
  isRemembered(session: Session): boolean;
  /** Starts a session for a user who just proved a credential. */
  createSession(userId: string, meta?: SessionMeta): Promise<IssuedSession>;
  /**
   * The live session a token names, or `null`. Slides the idle timeout (throttled). With `fresh`,
   * a cached store reads its backing store: ask for it on state-changing requests. It does not
   * check a device binding (`latchkey/dbsc`): the adapters given `{ deviceBinding }` do that, with
   * the request's bound cookie.
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
  /** Ends one session by its id (`Session.id`, not the token); `false` when there was none. */
  revokeSession(sessionId: string): Promise<boolean>;
  /** Ends every session of a user (after a password reset, say); resolves to how many ended. */
  revokeUserSessions(userId: string): Promise<number>;
  /** Ends every session of a user but `currentSessionId` ("log out my other devices"); resolves to how many ended. */
  revokeOtherSessions(userId: string, currentSessionId: string): Promise<number>;
  /** A user's live sessions, oldest first, with device info; expired ones are deleted on sight. */
  listUserSessions(userId: string): Promise<Session[]>;
  /**
   * Replaces a session's data; `false` when no such session exists. Throws `SessionDataError` for
   * data that is not plain JSON or is larger than `maxDataBytes`.
   */
  updateSessionData(sessionId: string, data: SessionData): Promise<boolean>;
  /**
   * Deletes the sessions whose `expiresAt` has passed; resolves to how many. The sweep timer calls
   * it every `sweepInterval` seconds (unless that is 0).
   */
  deleteExpiredSessions(): Promise<number>;
  /** Stops the sweep timer. */
  close(): void;
}

const MAX_COOKIE_AGE = 400 * 24 * 3600; // RFC 6265bis §5.6.2: browsers cap Max-Age at 400 days.
const MAX_USER_ID = 255;
const MAX_USER_AGENT = 512;
const MAX_IP = 64;

const KNOWN = [
  'store',
  'keys',
  'idleTimeout',
  'absoluteTimeout',
  'remember',
  'touchInterval',
  'maxSessionsPerUser',
  'maxDataBytes',
  'sweepInterval',
  'verifiedTokens',
  'now',
  'cookie',
  'freshFor',
  'onBackgroundError',
];
// Names other session libraries use for our options (express-session, iron-session, lucia).
const ALIASES = {
  secret: 'keys',
  secrets: 'keys',
  password: 'keys',
  maxAge: 'absoluteTimeout',
  ttl: 'idleTimeout',
  rolling: 'touchInterval',
  name: 'cookie',
  cookieName: 'cookie',
  sameSite: 'cookie',
};
// Attributes fixed by the `__Host-` prefix (RFC 6265bis §4.1.3.2), which no option can loosen.
const FIXED_COOKIE_ATTRIBUTES = ['secure', 'httpOnly', 'path', 'domain', 'maxAge', 'expires', 'partitioned'];

/** Every option checked once, here: the request path does no checking of its own. */
function readOptions(options: SessionManagerOptions) {
  const o = checkOptions('createSessionManager', options, KNOWN, ALIASES);
  const store = checkSessionStore('createSessionManager: store', o.store);
  const ring = createKeyRing(o.keys);
  const secondsFrom = (min: number, max: number, fallback: number) =>
    ({ default: fallback, min, max, unit: 'seconds' }) as const;
  const idle = checkNumber('idleTimeout', o.idleTimeout, secondsFrom(1, MAX_COOKIE_AGE, 1800));
  const absolute = checkNumber('absoluteTimeout', o.absoluteTimeout, secondsFrom(1, MAX_COOKIE_AGE, 43_200));
  if (idle > absolute) {
    if (looksLikeMilliseconds(idle, (s) => s <= absolute))
      throw new ConfigurationError(millisecondsHint('idleTimeout', idle));
    const which = o.absoluteTimeout === undefined ? 'the default absoluteTimeout' : 'absoluteTimeout';
    throw new ConfigurationError(
      `idleTimeout (${idle} s) is longer than ${which} (${absolute} s): lower idleTimeout or raise absoluteTimeout`,
    );
  }
  const remember = readRemember(o.remember, absolute);
  const touch = checkNumber('touchInterval', o.touchInterval, secondsFrom(0, idle / 2, Math.min(60, idle / 2)));
  const freshFor = checkNumber('freshFor', o.freshFor, secondsFrom(1, absolute, Math.min(600, absolute)));
  const sweepEvery = checkNumber('sweepInterval', o.sweepInterval, secondsFrom(0, 86_400, 600));
  const integer = (min: number, max: number, fallback: number, unit?: string) =>
    ({ default: fallback, min, max, integer: true, ...(unit === undefined ? {} : { unit }) }) as const;
  const maxPerUser = checkNumber('maxSessionsPerUser', o.maxSessionsPerUser, integer(1, 10_000, 10));
  const maxDataBytes = checkNumber('maxDataBytes', o.maxDataBytes, integer(2, 1 << 20, 4096, 'bytes'));
  const verifiedMax = checkNumber('verifiedTokens', o.verifiedTokens, integer(0, 10_000_000, 10_000));
  const now = checkFunction<() => number>('now', o.now, Date.now);
  const onBackgroundError = checkFunction<(error: unknown) => void>(
    'onBackgroundError',
    o.onBackgroundError,
    (error: unknown) => process.emitWarning(`latchkey sweep failed: ${String(error)}`),
  );
  const c = o.cookie === undefined ? {} : o.cookie;
  for (const attribute of FIXED_COOKIE_ATTRIBUTES) {
    if (c !== null && typeof c === 'object' && Object.hasOwn(c, attribute)) {
      throw new ConfigurationError(
        `cookie.${attribute} cannot be set: the session cookie is always __Host- (Secure, HttpOnly, Path=/, no Domain) and lives as long as absoluteTimeout`,
      );
    }
  }
  checkOptions('createSessionManager: cookie', c, ['name', 'sameSite']);
  const name = c.name ?? '__Host-session';
  assertCookieName(name);
  const sameSite = checkOneOf('cookie.sameSite', c.sameSite, ['strict', 'lax'] as const, 'strict');
  return {
    store,
    ring,
    idle,
    absolute,
    remember,
    touch,
    freshFor,
    sweepEvery,
    maxPerUser,
    maxDataBytes,
    verifiedMax,
    now,
    onBackgroundError,
    cookie: Object.freeze({ name, sameSite, maxAge: absolute }),
  };
}

/** The `remember` option: longer lifetimes, still capped, never shorter than the ordinary ones. */
function readRemember(value: SessionManagerOptions['remember'], absolute: number) {
  if (value === false) return null;
  // An app whose ordinary sessions already live as long as a cookie can has nothing longer to offer.
  if (value === undefined && absolute >= MAX_COOKIE_AGE) return null;
  const r = checkOptions(
    'createSessionManager: remember',
    value === true ? undefined : value,
    ['absoluteTimeout', 'idleTimeout'],
    {
      maxAge: 'absoluteTimeout',
    },
  );
  const unit = 'seconds';
  const longest = checkNumber('remember.absoluteTimeout', r.absoluteTimeout, {
    default: Math.min(MAX_COOKIE_AGE, Math.max(2_592_000, absolute * 2)),
    min: 1,
    max: MAX_COOKIE_AGE,
    unit,
  });
  // "Remember me" that is not longer than an ordinary session would be a choice that changes nothing.
  if (longest <= absolute) {
    throw new ConfigurationError(
      `remember.absoluteTimeout (${longest} s) must be longer than absoluteTimeout (${absolute} s): raise it, or pass remember: false`,
    );
  }
  const idle = checkNumber('remember.idleTimeout', r.idleTimeout, {
    default: Math.min(604_800, longest),
    min: 1,
    max: longest,
    unit,
  });
  return Object.freeze({ absoluteTimeout: longest, idleTimeout: idle });
}

/** What `latchkey/dbsc` needs of a manager and no app should touch: its key ring and its store's binding step. */
export interface ManagerInternals {
  /** The session keys; other modules sign with them under their own label, never a token's form. */
  ring: KeyRing;
  /** The manager's clock (ms since the epoch). */
  now: () => number;
  /**
   * `validateToken`, with `accept` asked before the idle timeout slides: `false` when it refused
   * the live session. A request refused for another reason (a bound session without its bound
   * cookie) must not keep the session alive.
   */
  validate(
    token: string,
    options: GetOptions | undefined,
    accept: (session: Session) => boolean,
  ): Promise<Session | null | false>;
  /**
   * `validate` without waiting: the same answer when the store has the session at hand and no
   * sliding write is due; `undefined` when only `validate` can answer, which must then be called
   * at once, in the same synchronous run: it takes what this call learned (a first-seen token's
   * MAC, the record read) instead of doing it again. `accept` as in `validate`.
   */
  validateNow(
    token: string,
    options: GetOptions | undefined,
    accept: ((session: Session) => boolean) | undefined,
  ): Session | null | false | undefined;
  /** The live session a token names, as `validateToken` finds it, without sliding its idle timeout. */
  peek(token: string, options?: GetOptions): Promise<Session | null>;
  /** The store's compare-and-set of a binding, or `undefined` when the store has none. */
  setBinding:
    | ((id: string, next: SessionBinding | null, expected: SessionBinding | null) => Promise<boolean>)
    | undefined;
}

/**
 * What `validateNow` hands to the `load` that follows it (see `handoff` in `createSessionManager`):
 * the record it read (the token's own), or, when only `get` can answer, a first-seen token's parts
 * (its MAC checked, the stored hash still to compare).
 */
type Handoff = { token: string; options: GetOptions | undefined } & (
  | { parts: TokenParts; record: undefined }
  | { parts: undefined; record: SessionRecord }
);

/** A token's claim: the id of a token proven before, the parts of one to prove, `null` for a forgery. */
type Claim = string | TokenParts | null;
const idOf = (claim: string | TokenParts) => (typeof claim === 'string' ? claim : claim.id);

const internals = new WeakMap<SessionManager, ManagerInternals>();

/** The internals of a manager made by `createSessionManager`; `undefined` for anything else. */
export const internalsOf = (manager: SessionManager): ManagerInternals | undefined => internals.get(manager);

/** A copy (a store may keep it in memory): `User-Agent` and an address from X-Forwarded-For are cut from headers. */
const clip = (value: string | null | undefined, max: number): string | null =>
  typeof value === 'string' && value.length > 0 ? detach(value.slice(0, max)) : null;

/**
 * @example
 * const sessions = createSessionManager({ store: createMemoryStore(), keys: [process.env.SESSION_KEY] });
 * const { token } = await sessions.createSession('user-42', { userAgent, ip });
 * const session = await sessions.validateToken(token); // Session | null
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const {
    store,
    ring,
    idle,
    absolute,
    remember,
    touch,
    freshFor,
    sweepEvery,
    maxPerUser,
    maxDataBytes,
    verifiedMax,
    now,
    onBackgroundError,
    cookie,
  } = readOptions(options);
  const freshMs = freshFor * 1000;
  const idleMs = idle * 1000;
  const touchMs = touch * 1000;
  const absoluteMs = absolute * 1000;
  const rememberIdleMs = remember === null ? idleMs : remember.idleTimeout * 1000;
  const rememberMs = remember === null ? absoluteMs : remember.absoluteTimeout * 1000;
  // "Remember me" is recorded at login (never inferred from the limits), and today's settings bind
  // every session, old ones too: lowering a timeout or turning `remember` off shortens live sessions
  // at once, and never lengthens one.
  const longLived = (s: Session) => remember !== null && s.remembered === true;
  const idleOf = (s: Session) => (longLived(s) ? rememberIdleMs : idleMs);
  const limitOf = (s: Session) => Math.min(s.absoluteExpiresAt, s.createdAt + (longLived(s) ? rememberMs : absoluteMs));
  /** The record without its hash, with the limits today's settings give it. Spelled out: rest-spread is slower here. */
  const toSession = (r: SessionRecord): Session => ({
    id: r.id,
    userId: r.userId,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    expiresAt: r.expiresAt,
    absoluteExpiresAt: limitOf(r),
    authenticatedAt: r.authenticatedAt,
    userAgent: r.userAgent,
    ip: r.ip,
    data: r.data,
    remembered: longLived(r),
    binding: r.binding ?? null, // stores from before device binding leave it out
  });

  const checkUserId = (userId: string) => {
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID) {
      throw new InvalidArgumentError(`userId must be a string of 1 to ${MAX_USER_ID} characters`);
    }
  };
  const checkData = (data: SessionData) => checkSessionData(data, maxDataBytes);

  async function issue(base: Omit<SessionRecord, 'id' | 'secretHash'>): Promise<IssuedSession> {
    const parts = generateTokenParts();
    const record: SessionRecord = { ...base, id: parts.id, secretHash: hashSecret(parts.secret) };
    await store.create(record, maxPerUser);
    return { token: signToken(parts, ring), session: toSession(record) };
  }

  const expired = (record: SessionRecord, t: number) =>
    t >= record.expiresAt || t >= limitOf(record) || t - record.lastSeenAt >= idleOf(record);

  // Authenticity never changes for a token under one key ring, so proving it once is enough; only
  // the session's state (revoked, expired) must be read each time, and it is. Holding recent tokens
  // adds nothing an attacker who can read this process's memory lacks: the signing keys are there.
  // The look-up is a hash-table probe (random per-process seed), not a comparison an attacker can time.
  // Each proven token keeps its id, so a hit reads the store with a string whose hash V8 has
  // already computed, where slicing the id afresh cost each request its hashing again (#18).
  const verified = verifiedMax > 0 ? new LRUCache<string, string>({ max: verifiedMax }) : undefined;

  const getNow = usableGetNow(store);

  /**
   * What a token claims before any store look-up: its id when it was proven before (the id kept
   * with it), its parts when the stored hash must still be compared, `null` when it is forged or
   * malformed. `peek`: a probe does not reorder the list.
   */
  const claimOf = (token: string): Claim => verified?.peek(token) ?? verifyToken(token, ring);

  /** The stored record if it belongs to the token: the secret's hash compared unless proven before. */
  function owned(token: string, claim: string | TokenParts, record: SessionRecord | null): SessionRecord | null {
    if (record === null || typeof claim === 'string') return record;
    // Prevent a timing oracle on the stored hash: constant-time comparison.
    if (!constantTimeEqual(record.secretHash, hashSecret(claim.secret))) return null;
    verified?.set(detach(token), claim.id); // copies: the token is cut from the request's whole Cookie header
    return record;
  }

  /**
   * What `validateNow` learned before it stood aside, for the `validate` of the same request,
   * which the adapters call at once: a first-seen token's claim (its MAC checked), and the record
   * when one was read. Why: without it, a request whose slide was due read the store twice and
   * counted a cache hit twice, and a token's first sight over PostgreSQL or Redis checked its MAC
   * twice (#18). It carries no decision: `validate` still asks `accept` and still checks expiry.
   * One entry; the next `load` takes it, whichever call that is, if the token matches (compared in
   * constant time: a token is a secret) and the options are the same object (a fresh read never
   * takes a cached one). A microtask clears an entry nobody took, so no I/O (a write elsewhere,
   * an invalidation message) can come between the read and its reuse; a write made by other code
   * in the same synchronous run is not seen, as by a read made a moment before it.
   */
  let handoff: Handoff | undefined;
  const clearHandoff = () => {
    handoff = undefined;
  };
  const handOff = (next: Handoff) => {
    handoff = next;
    queueMicrotask(clearHandoff);
  };
  const takeHandoff = (token: string, options: GetOptions | undefined): Handoff | undefined => {
    const taken = handoff;
    if (taken === undefined) return undefined;
    handoff = undefined;
    return taken.options === options && constantTimeEqual(taken.token, token) ? taken : undefined;
  };

  /** The stored record behind a token, if the token is authentic and the session alive. */
  async function load(token: string, options?: GetOptions): Promise<SessionRecord | null> {
    const given = takeHandoff(token, options);
    let record: SessionRecord | null;
    if (given?.record !== undefined) record = given.record;
    else {
      const claim = given === undefined ? claimOf(token) : given.parts;
      if (claim === null) return null;
      const id = idOf(claim);
      // The store's answer at once when it has one (a cache miss over SQLite reads the file at once
      // too), so a miss costs no more than the store alone (#18); otherwise its promise. A handoff
      // without a record means `getNow` just said only `get` can answer.
      const found = given === undefined ? getNow?.(id, options) : undefined;
      record = owned(token, claim, found !== undefined ? found : await store.get(id, options));
    }
    if (record !== null && expired(record, now())) {
      await store.delete(record.id); // T2: an expired session is deleted on sight.
      return null;
    }
    return record;
  }
  /** When `loadNow` last judged a record: read by `validateNow` at once, in the same synchronous run. */
  let judgedAt = 0;

  /**
   * `load` without waiting, when the store answers at once (`getNow`); `undefined` when it cannot,
   * or when the session expired: deleting it is a write, which `load` does. What it learned is
   * handed to that `load`. The time it judged the record at is left in `judgedAt`, for the slide
   * check of the same call (#18: a clock read costs about 0.1 µs here, and the path read it twice).
   */
  function loadNow(token: string, options?: GetOptions): SessionRecord | null | undefined {
    handoff = undefined;
    const claim = claimOf(token);
    if (claim === null) return null; // forged or malformed: no store is asked, so none need answer at once
    const found = getNow?.(idOf(claim), options);
    if (found === undefined) {
      // Only a first sight has work worth handing over (the MAC); a proven token's claim is one probe.
      if (typeof claim !== 'string') handOff({ token, options, parts: claim, record: undefined });
      return undefined;
    }
    const record = owned(token, claim, found);
    if (record === null) return null;
    judgedAt = now();
    if (!expired(record, judgedAt)) return record;
    handOff({ token, options, parts: undefined, record });
    return undefined;
  }

  /** The sliding write is due: at most one store write per touch interval per session. */
  const slideDue = (record: SessionRecord, t: number) => t - record.lastSeenAt >= touchMs;

  /**
   * The sliding write, throttled: at most one store write per touch interval per session. Not an
   * async function: most requests write nothing, and then the session comes back as it is, without
   * a promise of its own (#18: each async layer costs the request path an allocation and a tick).
   */
  function slide(record: SessionRecord, session: Session): Session | Promise<Session> {
    const t = now();
    if (!slideDue(record, t)) return session;
    session.lastSeenAt = t;
    session.expiresAt = Math.min(t + idleOf(record), limitOf(record));
    return store.touch(record.id, session.lastSeenAt, session.expiresAt).then(() => session);
  }

  let timer: NodeJS.Timeout | undefined;
  const manager: SessionManager = {
    cookie,
    freshFor,
    idleTimeout: idle,
    absoluteTimeout: absolute,
    remember,
    isRemembered: longLived,

    async createSession(userId, meta = {}) {
      checkUserId(userId);
      const data = meta.data ?? {};
      checkData(data);
      if (meta.remember !== undefined && typeof meta.remember !== 'boolean') {
        throw new InvalidArgumentError('remember must be true or false');
      }
      if (meta.remember === true && remember === null) {
        throw new InvalidArgumentError('remember: true was passed, but this session manager has remember: false');
      }
      const long = meta.remember === true && remember !== null;
      const t = now();
      const absoluteExpiresAt = t + (long ? remember.absoluteTimeout : absolute) * 1000;
      return issue({
        userId,
        createdAt: t,
        lastSeenAt: t,
        expiresAt: Math.min(t + (long ? rememberIdleMs : idleMs), absoluteExpiresAt),
        remembered: long,
        absoluteExpiresAt,
        authenticatedAt: t,
        userAgent: clip(meta.userAgent, MAX_USER_AGENT),
        ip: clip(meta.ip, MAX_IP),
        data,
        binding: null,
      });
    },

    async validateToken(token, options) {
      const record = await load(token, options);
      return record === null ? null : slide(record, toSession(record)); // a copy: cached records are frozen
    },

    async rotateSession(token, rotateOptions = {}) {
      const record = await load(token, { fresh: true });
      if (record === null) return null;
      // F1: the old id dies first, so there is never a moment with two live tokens.
      if (!(await store.delete(record.id))) return null;
      const t = now();
      return issue({
        ...toSession(record),
        binding: null, // D1: a device key belongs to one session id; the new id registers anew.
        lastSeenAt: t,
        expiresAt: Math.min(t + idleOf(record), limitOf(record)),
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

  internals.set(manager, {
    ring,
    now,
    async peek(token, options) {
      const record = await load(token, options);
      return record === null ? null : toSession(record);
    },
    async validate(token, options, accept) {
      const record = await load(token, options);
      if (record === null) return null;
      const session = toSession(record);
      return accept(session) ? slide(record, session) : false;
    },
    validateNow(token, options, accept) {
      const record = loadNow(token, options);
      if (record == null) return record;
      const t = judgedAt; // the expiry and the slide are judged at one instant
      const session = toSession(record);
      // Refused before anything slides, and at once: a thief's request waits for nothing.
      if (accept !== undefined && !accept(session)) return false;
      if (!slideDue(record, t)) return session;
      // The sliding write is due: only `validate` writes. It gets the record and asks `accept`
      // again: what is accepted is its caller's to say (login and logout ask more than a request).
      handOff({ token, options, parts: undefined, record });
      return undefined;
    },
    setBinding: store.setBinding?.bind(store),
  });
  if (sweepEvery > 0) {
    timer = setInterval(() => {
      manager.deleteExpiredSessions().catch(onBackgroundError);
    }, sweepEvery * 1000);
    timer.unref(); // the sweep never keeps a process alive on its own
  }
  return manager;
}
