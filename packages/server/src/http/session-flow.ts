/**
 * The request-level session flow, free of any framework: read the cookie, validate, log in, log
 * out, and the response headers each step needs. Adapters only move these headers in and out.
 */
import {
  type CookieReading,
  createCookieReader,
  serializeExpiredSessionCookie,
  serializeSessionCookie,
} from '../cookie/session-cookie.js';
import type { DeviceBinding } from '../dbsc/binding.js';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { internalsOf, type SessionManager, type SessionMeta } from '../sessions/manager.js';
import type { Session, SessionData } from '../stores/store.js';

/**
 * What an adapter's `login` takes besides the user.
 *
 * @example
 * await auth.login(req, res, user.id, { remember: body.remember === true, data: { plan: 'pro' } });
 */
export interface LoginOptions {
  /** Plain JSON kept with the session on the server (`Session.data`). */
  data?: SessionData | undefined;
  /**
   * The user chose "remember me" at this login: the session and its cookie get the manager's longer
   * `remember` lifetimes. Pass the user's explicit choice only; default `false`.
   */
  remember?: boolean | undefined;
}

/**
 * The adapters' `login` options, checked: an object with `data` and `remember` only. Before 0.x
 * of #15 the fourth argument was the session data itself; passed that way, a `{ mfaPending: true }`
 * would be dropped without a word, so any other key is an error that says where data goes now.
 */
export function checkLoginOptions(options: unknown): LoginOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new InvalidArgumentError("login's options must be an object: { data?, remember? }");
  for (const key of Object.keys(options)) {
    if (key !== 'data' && key !== 'remember')
      throw new InvalidArgumentError(
        `login's options take data and remember only, not "${key.slice(0, 40)}": session data goes in { data: { … } }`,
      );
  }
  return options as LoginOptions;
}

/** Response headers to add; names are lower case. */
export type FlowHeaders = Record<string, string>;

/** What `authenticate` finds: the request's session (or `null`) and the headers to set. */
export interface AuthenticateResult {
  session: Session | null;
  headers: FlowHeaders;
}

/**
 * The session steps of a request, free of any framework, from `createSessionFlow`: each takes the
 * Cookie header and gives the session and the response headers to set. The adapters are built on
 * it; use it to support another framework.
 *
 * @example
 * const { session, headers } = await flow.authenticate(req.headers.cookie, req.method);
 * for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
 */
export interface SessionFlow {
  /** The session manager it was made with. */
  readonly manager: SessionManager;
  /** The device binding (`latchkey/dbsc`) it enforces, if one was given. */
  readonly deviceBinding: DeviceBinding | undefined;
  /**
   * The request's session, or `null`. With a session, the headers say `Cache-Control: no-store`
   * (the answer carries account data, C7); when a cookie was sent but is not a live session, they
   * expire it in the browser (T2). A session bound to a device key (`latchkey/dbsc`) without its
   * live bound cookie is `null` too, and its cookie is left alone: the browser that holds the key
   * renews the bound cookie itself. `path` is the request target, for the binding's `enforce`.
   * Rejects with StoreUnavailableError when the store fails.
   */
  authenticate(cookieHeader: string | undefined, method?: string, path?: string): Promise<AuthenticateResult>;
  /**
   * `authenticate` without waiting: the same answer when it is at hand (the session in the cached
   * store's memory or an in-process SQLite file, no sliding write due, or no live cookie at all),
   * `undefined` when only `authenticate` can give it. An adapter calls this first and, on
   * `undefined`, `authenticate` at once with the same arguments (in the same synchronous run,
   * before any other step of the flow): it reuses what this call read. Most requests pass through
   * without a promise. Throws StoreUnavailableError when the store fails.
   */
  authenticateNow(cookieHeader: string | undefined, method?: string, path?: string): AuthenticateResult | undefined;
  /**
   * Starts a session after the caller verified a credential. Any session the request already
   * carried is revoked first, so a planted or pre-login id never survives a login (F1, S4).
   */
  login(
    cookieHeader: string | undefined,
    userId: string,
    meta?: SessionMeta,
  ): Promise<{ session: Session; headers: FlowHeaders }>;
  /**
   * Step-up: the user just entered their password again. The session gets a new id and token
   * (the old one dies at once, F1) and counts as fresh. `null` when the request has no live session.
   */
  reauthenticate(cookieHeader: string | undefined): Promise<{ session: Session; headers: FlowHeaders } | null>;
  /** Ends the request's session (if any) and tells the browser to forget everything of ours. */
  logout(cookieHeader: string | undefined): Promise<{ revoked: boolean; headers: FlowHeaders }>;
}

/** C7: responses that set the cookie or carry account data are never stored by any cache. */
export const NO_STORE = 'no-store';

/** L2: logout clears the browser's cache, cookies and storage for this origin (W3C Clear-Site-Data). */
export const CLEAR_SITE_DATA = '"cache", "cookies", "storage"';

const NONE: FlowHeaders = Object.freeze({});
const AUTHENTICATED: FlowHeaders = Object.freeze({ 'cache-control': NO_STORE });
const FRESH = Object.freeze({ fresh: true });
/**
 * Unsafe methods change state: they read past any cache, so a revocation is never missed. Three
 * comparisons rather than a Set: a Set probe hashes the method on every request (#18).
 */
const readOptions = (method: string | undefined) =>
  method === undefined || method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? undefined : FRESH;
/**
 * The path login, logout and step-up give the binding: none, which it enforces without asking the
 * app's `enforce`. Why: `''` used to reach `enforce`, and one that covers /api/ only exempted it, so
 * a thief with the session cookie alone could revoke a bound session or rotate it into an unbound
 * one. These steps are the key holder's alone, whatever the route.
 */
const NO_PATH = '';

/**
 * The cookie lives exactly as long as the session can: a remembered session's cookie outlives a
 * browser restart for its longer limit, and a rotated one never outlives the session's own limit.
 */
const cookieFor = (manager: SessionManager, session: Session) => ({
  ...manager.cookie,
  maxAge: Math.max(1, Math.ceil((session.absoluteExpiresAt - session.lastSeenAt) / 1000)),
});

/** Options of `createSessionFlow`. */
export interface SessionFlowOptions {
  /**
   * Device-bound sessions (`createDeviceBinding` from `latchkey/dbsc`, made with the same manager):
   * login and step-up offer the browser to bind a key, and a bound session needs its bound cookie.
   */
  deviceBinding?: DeviceBinding | undefined;
}

/**
 * @example
 * const flow = createSessionFlow(sessions);
 * const { session, headers } = await flow.authenticate(req.headers.cookie);
 */
export function createSessionFlow(manager: SessionManager, options: SessionFlowOptions = {}): SessionFlow {
  const read = createCookieReader(manager.cookie.name);
  const expire = serializeExpiredSessionCookie(manager.cookie);
  const token = (reading: CookieReading) => (reading.kind === 'value' ? reading.value : null);
  const binding = options?.deviceBinding;
  if (binding !== undefined && binding.manager !== manager) {
    throw new ConfigurationError(
      'deviceBinding was made for another session manager: pass this one to createDeviceBinding',
    );
  }
  const validateBound = binding === undefined ? undefined : internalsOf(manager)?.validate;
  if (binding !== undefined && validateBound === undefined) {
    throw new ConfigurationError('deviceBinding needs a session manager from createSessionManager');
  }
  /** A bound session used without its bound cookie is a thief's (or a browser that lost its key). */
  const stolen = (session: Session, cookieHeader: string | undefined, method: string, path: string) =>
    binding !== undefined && !binding.allows(session, cookieHeader, method, path);
  /**
   * The token's live session, if this request may act for it: without a binding, any live session;
   * with one, only with its bound cookie. A thief's request is refused before the idle timeout
   * slides, so login, logout and step-up with a copied cookie keep nothing alive.
   */
  const ownSession = async (value: string, cookieHeader: string | undefined): Promise<Session | null> => {
    if (validateBound === undefined) return manager.validateToken(value, FRESH);
    const found = await validateBound(value, FRESH, (s) => !stolen(s, cookieHeader, 'POST', NO_PATH));
    return found === false ? null : found;
  };
  const validateNow = internalsOf(manager)?.validateNow;
  /** A request's session, if its cookie named a live one that it may use. */
  const acceptFor =
    (cookieHeader: string | undefined, method: string | undefined, path: string | undefined) => (s: Session) =>
      !stolen(s, cookieHeader, method ?? 'GET', path ?? '');
  const answer = (session: Session | null | false): AuthenticateResult => {
    // D1: not "logged in" without the bound cookie; the cookie stays (the key holder renews the
    // bound one), and the refused request did not slide the session's idle timeout.
    if (session === false) return { session: null, headers: AUTHENTICATED };
    if (session !== null) return { session, headers: AUTHENTICATED };
    return { session: null, headers: { 'set-cookie': expire, 'cache-control': NO_STORE } };
  };
  /** The new session's headers: the cookie, and the offer to bind a device key. */
  const issuedHeaders = (session: Session, cookie: string): FlowHeaders =>
    binding === undefined
      ? { 'set-cookie': cookie, 'cache-control': NO_STORE }
      : { 'set-cookie': cookie, 'cache-control': NO_STORE, ...binding.registrationHeaders(session) };

  return {
    manager,
    deviceBinding: binding,

    authenticateNow(cookieHeader, method, path) {
      const reading = read(cookieHeader);
      if (reading.kind === 'none') return { session: null, headers: NONE };
      const value = token(reading);
      if (value === null || validateNow === undefined) return value === null ? answer(null) : undefined;
      const accept = binding === undefined ? undefined : acceptFor(cookieHeader, method, path);
      const session = validateNow(value, readOptions(method), accept);
      return session === undefined ? undefined : answer(session);
    },

    async authenticate(cookieHeader, method, path) {
      const reading = read(cookieHeader);
      if (reading.kind === 'none') return { session: null, headers: NONE };
      const value = token(reading);
      const options = readOptions(method);
      const session =
        value === null
          ? null
          : validateBound === undefined
            ? await manager.validateToken(value, options)
            : await validateBound(value, options, acceptFor(cookieHeader, method, path));
      return answer(session);
    },

    async login(cookieHeader, userId, meta) {
      const previous = token(read(cookieHeader));
      if (previous !== null) {
        // A stolen bound session is not the thief's to end: only the key holder's logins revoke it.
        const old = await ownSession(previous, cookieHeader);
        if (old !== null) await manager.revokeSession(old.id);
      }
      const issued = await manager.createSession(userId, meta);
      const cookie = serializeSessionCookie(issued.token, cookieFor(manager, issued.session));
      return { session: issued.session, headers: issuedHeaders(issued.session, cookie) };
    },

    async reauthenticate(cookieHeader) {
      const value = token(read(cookieHeader));
      if (value === null) return null;
      if (binding !== undefined && (await ownSession(value, cookieHeader)) === null) return null;
      const issued = await manager.rotateSession(value, { reauthenticated: true });
      if (issued === null) return null;
      const cookie = serializeSessionCookie(issued.token, cookieFor(manager, issued.session));
      return { session: issued.session, headers: issuedHeaders(issued.session, cookie) };
    },

    async logout(cookieHeader) {
      const value = token(read(cookieHeader));
      const session = value === null ? null : await ownSession(value, cookieHeader);
      const revoked = session !== null && (await manager.revokeSession(session.id));
      return {
        revoked,
        headers: { 'set-cookie': expire, 'cache-control': NO_STORE, 'clear-site-data': CLEAR_SITE_DATA },
      };
    },
  };
}
