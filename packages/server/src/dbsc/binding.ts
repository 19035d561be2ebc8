/**
 * Device Bound Session Credentials (W3C WebAppSec DBSC draft) on latchkey sessions: the browser
 * keeps a private key no script can read; a session bound to it is valid only with a short-lived
 * bound cookie, which the browser renews by signing a fresh challenge. A thief holding the
 * session cookie (malware reading the cookie store, a leaked HAR file) has no key, so once the
 * bound cookie lapses the stolen session is useless. Browsers without DBSC never register, and
 * their sessions behave as before.
 *
 * The wire, as Chromium does it (../../../../docs/dbsc.md has the whole exchange):
 * 1. login answers `Secure-Session-Registration: (ES256 RS256);path="<register>";challenge="<c>"`;
 * 2. the browser POSTs `<register>` with `Secure-Session-Response: <JWS, typ dbsc+jwt, jwk in
 *    header, {"jti": c}>`; we bind the key and answer the session config and the bound cookie;
 * 3. when the bound cookie nears its end, the browser holds back requests and POSTs `<refresh>`
 *    with `Sec-Secure-Session-Id`; we answer 403 `Secure-Session-Challenge: "<c>";id="<id>"`, it
 *    signs and POSTs again, and we set a new bound cookie.
 */
import { createCookieReader } from '../cookie/session-cookie.js';
import { ConfigurationError } from '../errors.js';
import { errorAnswer, errorBody, type HttpErrorCode } from '../http/error-codes.js';
import { checkFunction, checkNumber, checkOneOf, checkOptions, checkString } from '../lib/options.js';
import { internalsOf, type SessionManager } from '../sessions/manager.js';
import type { Session, SessionBinding } from '../stores/store.js';
import { boundCookieValue, checkBoundCookie, mintChallenge, readChallenge } from './challenge.js';
import {
  claimedChallenge,
  DEVICE_ALGORITHMS,
  type DeviceAlgorithm,
  verifyRefreshProof,
  verifyRegistrationProof,
} from './proof.js';

/** Response headers to add; names are lower case. */
export type DeviceHeaders = Record<string, string>;

/** A request as the device binding sees it: the method, the path, and a header getter. */
export interface DeviceRequest {
  method: string;
  /** The request target as sent (a query string is ignored). */
  path: string;
  /** The value of a request header (lower-case name), or `undefined`. */
  header(name: string): string | undefined;
}

/** An answer the device binding gives on its own endpoints: write it as is. */
export interface DeviceAnswer {
  status: number;
  headers: DeviceHeaders;
  /** JSON text. */
  body: string;
}

/**
 * Options of `createDeviceBinding`. Times are seconds. The paths must be ones your session
 * middleware sees (under its mount point), and they must not be behind `requireSession`.
 */
export interface DeviceBindingOptions {
  /** Where the browser registers its key. Default `/auth/device/register`. */
  registerPath?: string;
  /** Where the browser renews the bound cookie. Default `/auth/device/refresh`. */
  refreshPath?: string;
  /**
   * The bound cookie: `__Host-` prefixed, HttpOnly, Secure, SameSite=Strict, Path=/.
   * `name` default `__Host-bound`; `maxAge` default 600 (10 min), 10 to 3600: how long a stolen
   * copy could still be used, and how often the browser signs a new challenge.
   */
  cookie?: { name?: string; maxAge?: number };
  /** How long a challenge may be answered. Default 60, 5 to 600. */
  challengeTtl?: number;
  /** The algorithms offered to the browser, in order of preference. Default `['ES256', 'RS256']`. */
  algorithms?: readonly DeviceAlgorithm[];
  /**
   * Which requests of a bound session need the bound cookie. Default: every one. Return `false`
   * for the few exact paths that must keep working for a session whose key is gone; exempt
   * (`path !== '/api/health'`) rather than list what is enforced, since routers match paths
   * case-insensitively and with a trailing slash. A target that is not a plain path (`..`, `%`,
   * `//`, absolute form) is always enforced, and so are login, logout and step-up.
   */
  enforce?: (request: { method: string; path: string }) => boolean;
}

/**
 * DBSC for one session manager, from `createDeviceBinding`: pass it to an adapter
 * (`createExpressSessions(manager, { deviceBinding })`), which then offers registration at each
 * login and step-up, answers the two endpoints, and refuses a bound session without its cookie.
 */
export interface DeviceBinding {
  /** The session manager it works with. */
  readonly manager: SessionManager;
  readonly registerPath: string;
  readonly refreshPath: string;
  /** The bound cookie's name. */
  readonly cookieName: string;
  /** The header that asks the browser to bind this (new or rotated) session to a key. */
  registrationHeaders(session: Session): DeviceHeaders;
  /**
   * True when this request may use this session: it is unbound, the route is not enforced, or the
   * request carries a live bound cookie for this session and key.
   */
  allows(session: Session, cookieHeader: string | undefined, method: string, path: string): boolean;
  /** True when `path` (a request target; the query is ignored) is `registerPath` or `refreshPath`. */
  owns(path: string): boolean;
  /**
   * Answers a request to `registerPath` or `refreshPath`; `null` for any other path. Rejects with
   * StoreUnavailableError when the store fails (answer 503).
   */
  answer(request: DeviceRequest): Promise<DeviceAnswer | null>;
}

/**
 * How far ahead of this instance's clock a challenge's issue time may be: instances behind a load
 * balancer disagree by a little, and a login on one is registered on another.
 */
const CLOCK_SKEW_MS = 5000;
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const FRESH = Object.freeze({ fresh: true });
const NO_STORE = 'no-store';

const json = (status: number, body: unknown, headers: DeviceHeaders = {}): DeviceAnswer => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': NO_STORE, ...headers },
  body: JSON.stringify(body),
});
const refuse = (code: HttpErrorCode, headers?: DeviceHeaders) =>
  json(errorAnswer(code).status, errorBody(code), headers);

/**
 * @example
 * const deviceBinding = createDeviceBinding(sessions, { registerPath: '/api/auth/device/register', refreshPath: '/api/auth/device/refresh' });
 * const auth = createExpressSessions(sessions, { deviceBinding });
 */
export function createDeviceBinding(manager: SessionManager, options: DeviceBindingOptions = {}): DeviceBinding {
  const inner = internalsOf(manager);
  if (inner === undefined) {
    throw new ConfigurationError('createDeviceBinding needs a session manager from createSessionManager');
  }
  if (inner.setBinding === undefined) {
    throw new ConfigurationError(
      'createDeviceBinding: this session store has no setBinding, so it cannot keep device keys; use a latchkey store (memory, sqlite, postgres, redis, cached) or add setBinding and run latchkey/conformance',
    );
  }
  const o = checkOptions('createDeviceBinding', options, [
    'registerPath',
    'refreshPath',
    'cookie',
    'challengeTtl',
    'algorithms',
    'enforce',
  ]);
  const path = (name: string, value: unknown, fallback: string) =>
    checkString(name, value, {
      default: fallback,
      pattern: PATH,
      expected: 'an absolute path such as /auth/device/register',
      maxLength: 200,
    });
  const registerPath = path('registerPath', o.registerPath, '/auth/device/register');
  const refreshPath = path('refreshPath', o.refreshPath, '/auth/device/refresh');
  if (registerPath === refreshPath) throw new ConfigurationError('registerPath and refreshPath must differ');
  const c = checkOptions('createDeviceBinding: cookie', o.cookie, ['name', 'maxAge']);
  const cookieName = checkString('cookie.name', c.name, {
    default: '__Host-bound',
    pattern: /^__Host-[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/,
    expected: 'a cookie name starting with __Host-',
    maxLength: 64,
  });
  if (cookieName === manager.cookie.name)
    throw new ConfigurationError('cookie.name must differ from the session cookie');
  const maxAge = checkNumber('cookie.maxAge', c.maxAge, {
    default: 600,
    min: 10,
    max: 3600,
    integer: true,
    unit: 'seconds',
  });
  const ttlMs = 1000 * checkNumber('challengeTtl', o.challengeTtl, { default: 60, min: 5, max: 600, unit: 'seconds' });
  const algorithms = readAlgorithms(o.algorithms);
  const enforce = checkFunction<(r: { method: string; path: string }) => boolean>('enforce', o.enforce, () => true);
  const { ring, now } = inner;
  const setBinding: NonNullable<typeof inner.setBinding> = inner.setBinding;
  const peek = inner.peek;
  const readSession = createCookieReader(manager.cookie.name);
  const readBound = createCookieReader(cookieName);
  const offer = `(${algorithms.join(' ')})`;
  // The bound cookie goes where the session cookie goes: with a Lax session cookie, a cross-site
  // top-level navigation must carry both, or a bound session would read as logged out on landing.
  const COOKIE_ATTRIBUTES = `Path=/; Secure; HttpOnly; SameSite=${manager.cookie.sameSite === 'lax' ? 'Lax' : 'Strict'}`;

  const boundCookie = (session: Session, binding: SessionBinding) => {
    const expires = Math.floor(now() / 1000) + maxAge;
    const value = boundCookieValue(ring, session.id, binding.thumbprint, expires);
    return `${cookieName}=${value}; Max-Age=${maxAge}; ${COOKIE_ATTRIBUTES}`;
  };
  /** What the browser keeps: which cookie to keep alive, and where to renew it. The scope is this origin. */
  const config = (session: Session, binding: SessionBinding) =>
    json(
      200,
      {
        session_identifier: session.id,
        refresh_url: refreshPath,
        scope: { include_site: false, scope_specification: [] },
        credentials: [{ type: 'cookie', name: cookieName, attributes: COOKIE_ATTRIBUTES }],
      },
      { 'set-cookie': boundCookie(session, binding) },
    );
  const challengeHeader = (session: Session) => ({
    'secure-session-challenge': `"${mintChallenge(ring, 'refresh', session.id, now())}";id="${session.id}"`,
  });

  async function sessionOf(request: DeviceRequest): Promise<Session | null> {
    const reading = readSession(request.header('cookie'));
    // Read, never slid: a thief can call these paths with the session cookie alone, and the key
    // holder's own requests keep the session alive.
    return reading.kind === 'value' ? peek(reading.value, FRESH) : null;
  }

  async function register(request: DeviceRequest): Promise<DeviceAnswer> {
    const session = await sessionOf(request);
    if (session === null) return refuse('SESSION_REQUIRED');
    // One key per session id, for its whole life: a second registration could swap a thief's key in.
    if (session.binding != null) return refuse('DEVICE_PROOF_INVALID');
    const response = request.header('secure-session-response');
    // The cheap check first: an HMAC over the claimed challenge, before any signature with a key
    // the sender chose (an RSA key of their making costs far more to check).
    const issued = readChallenge(ring, 'register', session.id, claimedChallenge(response));
    if (issued === null) return refuse('DEVICE_PROOF_INVALID');
    const t = now();
    if (t - issued > ttlMs || issued > t + CLOCK_SKEW_MS) return refuse('DEVICE_CHALLENGE_EXPIRED');
    const proof = await verifyRegistrationProof(response, algorithms);
    if (proof === null || proof.challenge !== claimedChallenge(response)) return refuse('DEVICE_PROOF_INVALID');
    // A key not seen before: one already bound to another of this user's sessions is refused, so a
    // captured registration cannot be replayed to tie a second session to the same device key.
    for (const other of await manager.listUserSessions(session.userId)) {
      if (other.binding?.thumbprint === proof.thumbprint) return refuse('DEVICE_PROOF_INVALID');
    }
    const binding: SessionBinding = {
      publicKey: proof.publicKey,
      algorithm: proof.algorithm,
      thumbprint: proof.thumbprint,
      boundAt: t,
      provenAt: issued,
    };
    // Compare-and-set from unbound: of two racing registrations, one key wins and the other is refused.
    if (!(await setBinding(session.id, binding, null))) return refuse('DEVICE_PROOF_INVALID');
    return config(session, binding);
  }

  async function refresh(request: DeviceRequest): Promise<DeviceAnswer> {
    const id = request.header('sec-secure-session-id');
    const session = await sessionOf(request);
    // The session is gone, rotated or was never bound: tell the browser to drop its DBSC session.
    if (session === null || session.binding == null || id !== session.id) {
      return json(200, { session_identifier: typeof id === 'string' ? id.slice(0, 64) : '', continue: false });
    }
    const binding = session.binding;
    const response = request.header('secure-session-response');
    if (response === undefined) return json(403, {}, challengeHeader(session));
    // The cheap check first, as at registration: the challenge's HMAC, then the signature.
    const claimed = claimedChallenge(response);
    const issued = readChallenge(ring, 'refresh', session.id, claimed);
    if (issued === null || (await verifyRefreshProof(response, binding)) !== claimed) {
      return refuse('DEVICE_PROOF_INVALID');
    }
    const t = now();
    // Single use: a challenge issued at or before the last one answered is spent.
    if (issued <= binding.provenAt || t - issued > ttlMs || issued > t + CLOCK_SKEW_MS) {
      return refuse('DEVICE_CHALLENGE_EXPIRED', challengeHeader(session));
    }
    const next: SessionBinding = { ...binding, provenAt: issued };
    if (!(await setBinding(session.id, next, binding))) {
      return refuse('DEVICE_CHALLENGE_EXPIRED', challengeHeader(session));
    }
    return config(session, next);
  }

  return {
    manager,
    registerPath,
    refreshPath,
    cookieName,
    registrationHeaders: (session) => ({
      'secure-session-registration': `${offer};path="${registerPath}";challenge="${mintChallenge(ring, 'register', session.id, now())}"`,
    }),
    allows(session, cookieHeader, method, requestPath) {
      const binding = session.binding;
      if (binding == null) return true;
      // Why plainPath: `enforce` judged the raw target while the router resolved it (/public/../me
      // ran /me; http://host/api/me ran /api/me), so a thief walked around the bound cookie.
      const judged = plainPath(requestPath);
      if (judged !== null && !enforce({ method, path: judged })) return true;
      const reading = readBound(cookieHeader);
      return checkBoundCookie(
        ring,
        session.id,
        binding.thumbprint,
        reading.kind === 'value' ? reading.value : null,
        now(),
      );
    },
    owns(target) {
      const p = pathOf(target);
      return p === registerPath || p === refreshPath;
    },
    async answer(request) {
      const p = pathOf(request.path);
      if (p !== registerPath && p !== refreshPath) return null;
      if (request.method !== 'POST') return refuse('METHOD_NOT_ALLOWED', { allow: 'POST' });
      return p === registerPath ? register(request) : refresh(request);
    },
  };
}

const pathOf = (target: string) => {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
};

/**
 * The path `enforce` may judge, or `null` when the target is not a plain absolute path: an
 * absolute-form URL, `//`, a `.` or `..` segment, a percent escape, a backslash. Routers resolve
 * those in ways of their own (`new URL` drops `..` and `%2e%2e`, Express routes `http://h/x` as
 * `/x`, find-my-way decodes escapes), so what `enforce` saw would not be the route that runs: such
 * a request needs the bound cookie whatever `enforce` says. So does `''`: no request path at all
 * (the session flow's login, logout and step-up, which are the key holder's alone on every route).
 */
function plainPath(target: string): string | null {
  const p = pathOf(target);
  if (!p.startsWith('/') || p.startsWith('//') || /[%\\]/.test(p) || /\/\.\.?(?:\/|$)/.test(p)) return null;
  return p;
}

function readAlgorithms(value: unknown): DeviceAlgorithm[] {
  if (value === undefined) return [...DEVICE_ALGORITHMS];
  if (!Array.isArray(value) || value.length === 0) {
    throw new ConfigurationError("algorithms must be a non-empty array of 'ES256' and 'RS256'");
  }
  const list = value.map((a, i) => {
    if (a === undefined) throw new ConfigurationError(`algorithms[${i}] is undefined: use 'ES256' or 'RS256'`);
    return checkOneOf(`algorithms[${i}]`, a, DEVICE_ALGORITHMS, 'ES256');
  });
  return [...new Set(list)];
}
