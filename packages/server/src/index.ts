/**
 * latchkey: server-side sessions for Node web apps. The browser holds one opaque, signed,
 * HttpOnly `__Host-session` cookie; the session lives in a store on the server.
 * Stores: `latchkey/memory`, `latchkey/sqlite`, `latchkey/postgres`, `latchkey/redis`, and
 * `latchkey/cached` in front of any of them (invalidation: `latchkey/redis-invalidation`,
 * `latchkey/postgres-invalidation`). Frameworks: `latchkey/node`, `latchkey/express`,
 * `latchkey/fastify`, `latchkey/hono`. Store tests: `latchkey/conformance`. Access JWTs for
 * non-browser clients: `latchkey/tokens`. Passwords (argon2id, rules, login throttle):
 * `latchkey/password`. HTTP defences (the hardening policy the adapters apply, CSRF guard, security
 * headers, error codes, the session flow under the adapters, trusted proxies): `latchkey/http`.
 */
export {
  type CookieReading,
  createCookieReader,
  type SameSite,
  type SessionCookieOptions,
  serializeExpiredSessionCookie,
  serializeSessionCookie,
} from './cookie/session-cookie.js';
export {
  ConfigurationError,
  DependencyMissingError,
  type ErrorCode,
  errorCodes,
  InvalidArgumentError,
  KeyError,
  LatchkeyError,
  MailDeliveryError,
  SessionDataError,
  StoreUnavailableError,
} from './errors.js';
export {
  createKeyRing,
  generateSigningKey,
  type KeyRing,
  MIN_KEY_BYTES,
  type SigningKey,
} from './sessions/key-ring.js';
export {
  createSessionManager,
  type IssuedSession,
  type SessionManager,
  type SessionManagerOptions,
  type SessionMeta,
} from './sessions/manager.js';
export type { GetOptions, Session, SessionData, SessionRecord, SessionStore } from './stores/store.js';
