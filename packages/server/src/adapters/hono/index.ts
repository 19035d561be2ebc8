/**
 * latchkey for Hono 4. `createHonoHardening` is one middleware for the HTTP defences
 * (`latchkey/http`'s hardening policy); `createHonoSessions` reads, requires and issues sessions
 * (`c.get('session')` or `getSession(c)`; type your app with `SessionEnv`); `sendError`,
 * `notFound` and `errorHandler` answer with JSON codes.
 *
 * @example
 * import { serve } from '@hono/node-server';
 * import { Hono } from 'hono';
 * import { createSessionManager } from 'latchkey';
 * import { createHonoHardening, createHonoSessions, errorHandler, getSession, handleClientError, notFound, sendError, type SessionEnv } from 'latchkey/hono';
 * import { createServerLimits } from 'latchkey/http';
 *
 * const auth = createHonoSessions(createSessionManager({ store, keys: [process.env.SESSION_KEY] }));
 * const app = new Hono<SessionEnv>();
 * app.onError(errorHandler).notFound(notFound);
 * // First: headers on every answer, CSRF and JSON-only refusals, the CSP report route, no-store under /api.
 * app.use(createHonoHardening({ csrf: { origins: ['https://app.example.org'] }, jsonOnly: true, noStore: ['/api'] }));
 * app.use('/api/*', auth.middleware);
 * app.post('/api/login', async (c) => {
 *   const user = await checkPassword(await c.req.json()); // yours
 *   if (!user) return sendError(c, 'INVALID_CREDENTIALS');
 *   await auth.login(c, user.id);
 *   return c.json({ ok: true });
 * });
 * app.get('/api/me', auth.requireSession, (c) => c.json({ userId: getSession(c)?.userId }));
 * app.post('/api/password', auth.requireFreshSession, changePassword); // 403 REAUTHENTICATION_REQUIRED unless fresh
 * const limits = createServerLimits();
 * const server = serve({ fetch: app.fetch, port: 3000, serverOptions: limits.serverOptions });
 * limits.apply(server);
 * server.on('clientError', handleClientError);
 */
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { DeviceBinding } from '../../dbsc/binding.js';
import { StoreUnavailableError } from '../../errors.js';
import { codeForError, type ErrorAnswer, errorAnswer, errorBody, type HttpErrorCode } from '../../http/error-codes.js';
import { createHardening, type HardeningOptions, type HardeningRequest } from '../../http/hardening.js';
import { checkLoginOptions, createSessionFlow, type FlowHeaders, type LoginOptions } from '../../http/session-flow.js';
import type { SessionManager } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';
import { createSessionGuard } from '../guard.js';
import { RequestSlot } from '../request-slot.js';
import { addSetCookie } from '../set-cookie.js';

export { handleClientError } from '../../http/client-error.js';
export type { LoginOptions } from '../../http/session-flow.js';

/**
 * The Hono environment the session middleware fills: `c.get('session')` is the request's session,
 * or `null`. Give it to your app (`new Hono<SessionEnv>()`) so that read is typed.
 *
 * @example
 * const app = new Hono<SessionEnv>();
 * app.get('/api/me', auth.requireSession, (c) => c.json({ userId: c.get('session')?.userId }));
 */
export interface SessionEnv {
  /** `session`: set by `middleware` (and by `login`, `reauthenticate`, `logout`). */
  Variables: { session: Session | null };
}

const nonces = new RequestSlot<Context, string>('nonce');

/** The session the middleware found for this request (`c.get('session')`); `null` when none. */
export function getSession(c: Context): Session | null {
  return (c.get('session') as Session | null | undefined) ?? null;
}

/** This response's CSP nonce, for the `nonce` attribute of script and style tags in HTML. */
export function getNonce(c: Context): string {
  return nonces.get(c) ?? '';
}

/**
 * A JSON error answer: one of latchkey's codes, or an app's own `{ status, code, message }`, with
 * `headers` beside it (`{ 'retry-after': '30' }`). Always `Cache-Control: no-store`.
 */
export function sendError(c: Context, error: HttpErrorCode | ErrorAnswer, headers?: FlowHeaders): Response {
  const answer = errorAnswer(error);
  if (headers !== undefined) apply(c, headers);
  c.header('cache-control', 'no-store');
  return c.json(errorBody(answer), answer.status as ContentfulStatusCode);
}

/**
 * Set-Cookie is added: a cookie the app set before `login` stays, and an earlier one of the same
 * name gives way (`addSetCookie`). Only a step that sets a cookie reads `c.res` (which builds the
 * Response early); the request path sets `Cache-Control` alone.
 */
function apply(c: Context, headers: FlowHeaders): void {
  for (const name in headers) {
    const value = headers[name] as string;
    if (name !== 'set-cookie') {
      c.header(name, value);
      continue;
    }
    const cookies = addSetCookie(c.res.headers.getSetCookie(), value);
    c.header(name, undefined);
    for (const cookie of cookies) c.header(name, cookie, { append: true });
  }
}

/** The Node request under `@hono/node-server`; `undefined` on other runtimes. */
const incomingOf = (c: Context): IncomingMessage | undefined =>
  (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;

/**
 * The Cookie header. Under `@hono/node-server`, from the Node request: reading the fetch
 * `Request`'s headers there builds a `Headers` object for every request.
 */
const cookieOf = (c: Context): string | undefined => {
  const incoming = incomingOf(c);
  return incoming === undefined ? c.req.header('cookie') : incoming.headers.cookie;
};

/** The request headers the policy reads, from a fetch `Headers` (repeated headers arrive joined by ", "). */
function headerRecord(headers: Headers): HardeningRequest['headers'] {
  const record: Record<string, string | undefined> = {};
  for (const name of [
    'host',
    'sec-fetch-site',
    'origin',
    'referer',
    'content-type',
    'content-length',
    'transfer-encoding',
  ])
    record[name] = headers.get(name) ?? undefined;
  return record;
}

async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/**
 * Options of `createHonoHardening`: `HardeningOptions` from `latchkey/http`, with Hono's `Context`
 * as what `isHttps` and `cspReport.onReport` receive. `csrf` is required.
 */
export type HonoHardeningOptions = HardeningOptions<Context>;

/**
 * The first middleware (`app.use(hardening)`): the security headers with a fresh nonce
 * (`getNonce(c)`) and `Vary: Sec-Fetch-Site, Origin` on every answer, no-store under `noStore`; 400
 * for HTTP/1.1 without Host (under `@hono/node-server`), 403 `CSRF_REJECTED` and 415 (`jsonOnly`)
 * before any body is read; `POST <reportPath>` answered 204. Options: `HardeningOptions` in
 * `latchkey/http`. HSTS follows the request URL's scheme unless `isHttps` says otherwise.
 */
export function createHonoHardening(options: HonoHardeningOptions): MiddlewareHandler {
  const hardening = createHardening(options, 'createHonoHardening');
  return async function honoHardening(c, next) {
    const incoming = incomingOf(c);
    const request: HardeningRequest = {
      method: c.req.method,
      url: c.req.path,
      headers: incoming?.headers ?? headerRecord(c.req.raw.headers),
      httpVersion: incoming?.httpVersion,
      https: c.req.url.startsWith('https:'),
    };
    const { nonce, headers, answer } = hardening.check(request, c);
    nonces.set(c, nonce);
    apply(c, headers);
    if (answer === null) return next();
    if (answer !== 'csp-report') return sendError(c, answer);
    const body = c.req.raw.body;
    const refusal = await hardening.receiveReport(request, body === null ? null : chunks(body), c);
    return refusal === null ? c.body(null, 204) : sendError(c, refusal);
  };
}

/** Options of `createHonoSessions`. */
export interface HonoSessionsOptions {
  /**
   * The client address kept with a session (behind a proxy, the one the proxy vouches for).
   * Default: the socket's address under `@hono/node-server`, `null` on other runtimes.
   */
  getClientIp?: (c: Context) => string | null;
  /**
   * Device-bound sessions (`createDeviceBinding` from `latchkey/dbsc`): `middleware` answers its
   * register and refresh paths (give paths it runs on), login and step-up offer registration, and
   * a bound session without its bound cookie reads as no session.
   */
  deviceBinding?: DeviceBinding | undefined;
}

/**
 * Sessions for Hono, from `createHonoSessions`: a middleware that reads the session into
 * `c.get('session')`, two guards, and the login, step-up and logout calls that set or clear the cookie.
 *
 * @example
 * app.use('/api/*', auth.middleware);
 * app.post('/api/logout', async (c) => c.json({ revoked: await auth.logout(c) }));
 */
export interface HonoSessions {
  /** Reads the session into `c.get('session')`; a store that is down answers 503. */
  middleware: MiddlewareHandler<SessionEnv>;
  /** 401 `SESSION_REQUIRED` without a session. */
  requireSession: MiddlewareHandler<SessionEnv>;
  /** 401 without a session, 403 `REAUTHENTICATION_REQUIRED` unless it is fresh (F3). */
  requireFreshSession: MiddlewareHandler<SessionEnv>;
  /**
   * Starts a session after your code checked a credential: any previous one is revoked, a new cookie set.
   * Answer with `c.json`/`c.body`: a raw `Response` returned after it loses its own Set-Cookie to the
   * context's (Hono's rule when a handler replaces `c.res`).
   */
  login(c: Context<SessionEnv>, userId: string, options?: LoginOptions): Promise<Session>;
  /** Step-up after your code checked the password again: new token, fresh session. `null` if none. */
  reauthenticate(c: Context<SessionEnv>): Promise<Session | null>;
  /** Ends the session and clears the cookie and site data. */
  logout(c: Context<SessionEnv>): Promise<boolean>;
}

const socketIp = (c: Context): string | null => incomingOf(c)?.socket?.remoteAddress ?? null;

/**
 * @example
 * const auth = createHonoSessions(sessions);
 * const app = new Hono<SessionEnv>();
 * app.use('/api/*', auth.middleware);
 * app.get('/api/me', auth.requireSession, (c) => c.json({ userId: c.get('session')?.userId }));
 */
export function createHonoSessions(manager: SessionManager, options: HonoSessionsOptions = {}): HonoSessions {
  const flow = createSessionFlow(manager, { deviceBinding: options.deviceBinding });
  const device = flow.deviceBinding;
  const getClientIp = options.getClientIp ?? socketIp;
  const guard = createSessionGuard(
    manager,
    "use sessions.middleware on the route's path first (app.use('/api/*', sessions.middleware))",
  );
  const guarded =
    (fresh: boolean): MiddlewareHandler<SessionEnv> =>
    async (c, next) => {
      // `c.get` is undefined until the middleware set the variable (to a session or null).
      const refusal = guard(c.get('session') as Session | null | undefined, fresh);
      if (refusal !== null) return sendError(c, refusal);
      await next();
      return undefined;
    };
  return {
    async middleware(c, next) {
      try {
        if (device?.owns(c.req.path) === true) {
          const answer = await device.answer({
            method: c.req.method,
            path: c.req.path,
            header: (n) => (n === 'cookie' ? cookieOf(c) : c.req.header(n)), // the Cookie header as the middleware reads it
          });
          if (answer !== null) return c.body(answer.body, answer.status as 200, answer.headers);
        }
        const cookie = cookieOf(c);
        // Most requests: the session is at hand, and the next handler runs without waiting a tick.
        const { session, headers } =
          flow.authenticateNow(cookie, c.req.method, c.req.path) ??
          (await flow.authenticate(cookie, c.req.method, c.req.path));
        apply(c, headers);
        c.set('session', session);
      } catch (error) {
        // A store that is down means 503 and "not logged in", never "logged in".
        if (error instanceof StoreUnavailableError) return sendError(c, 'STORE_UNAVAILABLE');
        throw error;
      }
      await next();
      return undefined;
    },
    requireSession: guarded(false),
    requireFreshSession: guarded(true),
    async login(c, userId, given) {
      const options = checkLoginOptions(given);
      const meta = {
        userAgent: c.req.header('user-agent') ?? null,
        ip: getClientIp(c),
        data: options.data,
        remember: options.remember,
      };
      const { session, headers } = await flow.login(cookieOf(c), userId, meta);
      apply(c, headers);
      c.set('session', session);
      return session;
    },
    async reauthenticate(c) {
      const result = await flow.reauthenticate(cookieOf(c));
      if (result === null) return null;
      apply(c, result.headers);
      c.set('session', result.session);
      return result.session;
    },
    async logout(c) {
      const { revoked, headers } = await flow.logout(cookieOf(c));
      apply(c, headers);
      c.set('session', null);
      return revoked;
    },
  };
}

/** For `app.notFound(notFound)`: a JSON 404 `NOT_FOUND` (with the hardening's security headers). */
export function notFound(c: Context): Response {
  return sendError(c, 'NOT_FOUND');
}

/**
 * For `app.onError(errorHandler)`: answers any error with a JSON code (bad JSON 400, store down
 * 503, anything unexpected 500) and never echoes the error's message, which may quote request data.
 */
export function errorHandler(error: Error, c: Context): Response {
  return sendError(c, codeForError(error));
}
