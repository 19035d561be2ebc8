/**
 * latchkey for Express 5. `createExpressHardening` is one middleware for the HTTP defences
 * (`latchkey/http`'s hardening policy); `createExpressSessions` reads, requires and issues
 * sessions; `sendError`, `notFound` and `errorHandler` answer with JSON codes.
 *
 * @example
 * import { createServer } from 'node:http';
 * import express from 'express';
 * import { createSessionManager } from 'latchkey';
 * import { createExpressHardening, createExpressSessions, errorHandler, getSession, handleClientError, notFound } from 'latchkey/express';
 * import { createServerLimits } from 'latchkey/http';
 *
 * const auth = createExpressSessions(createSessionManager({ store, keys: [process.env.SESSION_KEY] }));
 * const app = express();
 * // First: headers on every answer, CSRF and JSON-only refusals, the CSP report route, no-store under /api.
 * app.use(createExpressHardening({ csrf: { origins: ['https://app.example.org'] }, jsonOnly: true, noStore: ['/api'] }));
 * app.use(express.json());
 * app.use('/api', auth.middleware);
 * app.post('/api/login', async (req, res) => {
 *   const user = await checkPassword(req.body); // yours
 *   if (!user) return sendError(res, 'INVALID_CREDENTIALS');
 *   await auth.login(req, res, user.id);
 *   res.json({ ok: true });
 * });
 * app.get('/api/me', auth.requireSession, (req, res) => res.json({ userId: getSession(req)?.userId }));
 * app.post('/api/password', auth.requireFreshSession, changePassword); // 403 REAUTHENTICATION_REQUIRED unless fresh
 * app.use(notFound, errorHandler);
 * const limits = createServerLimits();
 * limits.apply(createServer(limits.serverOptions, app).on('clientError', handleClientError).listen(3000));
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { DeviceBinding } from '../../dbsc/binding.js';
import { ConfigurationError, StoreUnavailableError } from '../../errors.js';
import { codeForError, type ErrorAnswer, errorAnswer, errorBody, type HttpErrorCode } from '../../http/error-codes.js';
import { createHardening, type HardeningOptions, type HardeningRequest } from '../../http/hardening.js';
import { checkLoginOptions, createSessionFlow, type FlowHeaders, type LoginOptions } from '../../http/session-flow.js';
import type { SessionManager } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';
import { createSessionGuard } from '../guard.js';
import { setFlowHeaders } from '../node-headers.js';
import { RequestSlot } from '../request-slot.js';

export { handleClientError } from '../../http/client-error.js';
export type { LoginOptions } from '../../http/session-flow.js';

/** `undefined`: the session middleware has not run for this request; `null`: it found none. */
const sessions = new RequestSlot<Request, Session | null>('session');
const nonces = new RequestSlot<Request, string>('nonce');

/** The session `middleware` found for this request; `null` when none (or the middleware did not run). */
export function getSession(req: Request): Session | null {
  return sessions.get(req) ?? null;
}

/** This response's CSP nonce, for the `nonce` attribute of script and style tags in HTML. */
export function getNonce(req: Request): string {
  return nonces.get(req) ?? '';
}

/**
 * Writes a JSON error answer: one of latchkey's codes, or an app's own `{ status, code, message }`,
 * with `headers` beside it (`{ 'retry-after': '30' }`). Always `Cache-Control: no-store`.
 */
export function sendError(res: Response, error: HttpErrorCode | ErrorAnswer, headers?: FlowHeaders): void {
  const answer = errorAnswer(error);
  if (headers !== undefined) apply(res, headers);
  res.status(answer.status).set('cache-control', 'no-store').json(errorBody(answer));
}

const apply: (res: Response, headers: FlowHeaders) => void = setFlowHeaders;

/**
 * Express adds a weak ETag (a hash of the body) to every `res.send`. Next to `no-store` it can
 * never be used, and it fingerprints account data in a header that proxies log: drop it there. Done
 * here rather than asking for `app.set('etag', false)`, which an app forgets and which would also
 * take the ETags off the answers that may be cached.
 */
function dropEtagWhenNoStore(res: Response): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: unknown[]) {
    const cacheControl = this.getHeader('cache-control');
    if (typeof cacheControl === 'string' && cacheControl.includes('no-store')) this.removeHeader('etag');
    return (writeHead as (...a: unknown[]) => Response).apply(this, args);
  } as Response['writeHead'];
}

/**
 * Options of `createExpressHardening`: `HardeningOptions` from `latchkey/http`, with Express's
 * `Request` as the request that `isHttps` and `cspReport.onReport` receive. `csrf` is required.
 */
export type ExpressHardeningOptions = HardeningOptions<Request>;

/**
 * The first middleware: the security headers with a fresh nonce (`getNonce(req)`) and
 * `Vary: Sec-Fetch-Site, Origin` on every answer, no-store under `noStore`, no `X-Powered-By`; 400
 * for HTTP/1.1 without Host, 403 `CSRF_REJECTED` and 415 (`jsonOnly`) before any body is parsed;
 * `POST <reportPath>` answered 204. Options: `HardeningOptions` in `latchkey/http`. HSTS follows
 * `req.secure` (set Express's `trust proxy` behind a proxy) unless `isHttps` says otherwise.
 */
export function createExpressHardening(options: ExpressHardeningOptions): RequestHandler {
  const hardening = createHardening(options, 'createExpressHardening');
  return async function expressHardening(req: Request, res: Response, next: NextFunction) {
    // originalUrl: the whole path even when mounted under a prefix.
    const request: HardeningRequest = {
      method: req.method,
      url: req.originalUrl,
      headers: req.headers,
      httpVersion: req.httpVersion,
      https: req.secure,
    };
    const { nonce, headers, answer } = hardening.check(request, req);
    nonces.set(req, nonce);
    res.removeHeader('x-powered-by');
    apply(res, headers);
    dropEtagWhenNoStore(res);
    if (answer === null) return next();
    if (answer !== 'csp-report') return sendError(res, answer);
    const refusal = await hardening.receiveReport(request, req, req);
    if (refusal === null) res.status(204).end();
    else sendError(res, refusal);
  };
}

/**
 * Sessions for Express, from `createExpressSessions`: one middleware that reads the session, two
 * guards, and the login, step-up and logout calls that set or clear the cookie.
 *
 * @example
 * app.use('/api', auth.middleware);
 * app.post('/api/logout', async (req, res) => res.json({ revoked: await auth.logout(req, res) }));
 */
export interface ExpressSessions {
  /** Reads the session for the routes after it (`getSession(req)`); a store that is down answers 503. */
  middleware: RequestHandler;
  /** 401 `SESSION_REQUIRED` without a session. */
  requireSession: RequestHandler;
  /** 401 without a session, 403 `REAUTHENTICATION_REQUIRED` unless it is fresh (F3). */
  requireFreshSession: RequestHandler;
  /** Starts a session after your code checked a credential: any previous one is revoked, a new cookie set. */
  login(req: Request, res: Response, userId: string, options?: LoginOptions): Promise<Session>;
  /** Step-up after your code checked the password again: new token, fresh session. `null` if none. */
  reauthenticate(req: Request, res: Response): Promise<Session | null>;
  /** Ends the session and clears the cookie and site data. */
  logout(req: Request, res: Response): Promise<boolean>;
}

/** Options of `createExpressSessions`. */
export interface ExpressSessionsOptions {
  /**
   * Device-bound sessions (`createDeviceBinding` from `latchkey/dbsc`): `middleware` answers its
   * register and refresh paths (give paths it sees, under its mount point), login and step-up offer
   * registration, and a bound session without its bound cookie reads as no session.
   */
  deviceBinding?: DeviceBinding | undefined;
}

const headerOf = (req: { headers: Record<string, string | string[] | undefined> }) => (name: string) => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * @example
 * const auth = createExpressSessions(sessions);
 * app.use('/api', auth.middleware);
 * app.get('/api/me', auth.requireSession, (req, res) => res.json({ userId: getSession(req)?.userId }));
 */
export function createExpressSessions(manager: SessionManager, options: ExpressSessionsOptions = {}): ExpressSessions {
  const flow = createSessionFlow(manager, { deviceBinding: options.deviceBinding });
  const device = flow.deviceBinding;
  // The binding's paths are whole request paths; mounted under a prefix they must start with it,
  // or the browser POSTs where this middleware never runs (a 404, and no binding, without a word).
  let checkedMount = false;
  const checkMount = (mount: string) => {
    checkedMount = true;
    const outside = [device?.registerPath, device?.refreshPath].filter(
      (path) => mount !== '' && path !== undefined && !path.startsWith(`${mount}/`),
    );
    if (outside.length > 0)
      process.emitWarning(
        new ConfigurationError(
          `deviceBinding's ${outside.join(' and ')} ${outside.length > 1 ? 'are' : 'is'} outside ${mount}, where sessions.middleware is mounted: give createDeviceBinding whole paths under it (${mount}/auth/device/register)`,
        ),
      );
  };
  const guard = createSessionGuard(manager, 'mount sessions.middleware before it (app.use(sessions.middleware))');
  const guarded = (fresh: boolean): RequestHandler =>
    function requireSession(req, res, next) {
      const refusal = guard(sessions.get(req), fresh);
      if (refusal !== null) return sendError(res, refusal);
      next();
    };
  return {
    async middleware(req: Request, res: Response, next: NextFunction) {
      if (device !== undefined && !checkedMount) checkMount(req.baseUrl);
      try {
        // originalUrl: the whole path even when mounted under a prefix.
        if (device?.owns(req.originalUrl) === true) {
          const answer = await device.answer({ method: req.method, path: req.originalUrl, header: headerOf(req) });
          if (answer !== null) {
            apply(res, answer.headers);
            res.status(answer.status).end(answer.body);
            return;
          }
        }
        // Most requests: the session is at hand, and `next` runs without waiting a tick.
        const { session, headers } =
          flow.authenticateNow(req.headers.cookie, req.method, req.originalUrl) ??
          (await flow.authenticate(req.headers.cookie, req.method, req.originalUrl));
        apply(res, headers);
        sessions.set(req, session);
      } catch (error) {
        // A store that is down means 503 and "not logged in", never "logged in".
        if (error instanceof StoreUnavailableError) return sendError(res, 'STORE_UNAVAILABLE');
        return next(error);
      }
      next();
    },
    requireSession: guarded(false),
    requireFreshSession: guarded(true),
    async login(req, res, userId, given) {
      const options = checkLoginOptions(given);
      const meta = {
        userAgent: req.get('user-agent') ?? null,
        ip: req.ip ?? null,
        data: options.data,
        remember: options.remember,
      };
      const { session, headers } = await flow.login(req.headers.cookie, userId, meta);
      apply(res, headers);
      sessions.set(req, session);
      return session;
    },
    async reauthenticate(req, res) {
      const result = await flow.reauthenticate(req.headers.cookie);
      if (result === null) return null;
      apply(res, result.headers);
      sessions.set(req, result.session);
      return result.session;
    },
    async logout(req, res) {
      const { revoked, headers } = await flow.logout(req.headers.cookie);
      apply(res, headers);
      sessions.set(req, null);
      return revoked;
    },
  };
}

/** After every route: a JSON 404 `NOT_FOUND` (with the security headers the hardening set). */
export const notFound: RequestHandler = (_req, res) => sendError(res, 'NOT_FOUND');

/**
 * Last in the chain: answers any error with a JSON code (bad JSON 400, store down 503, anything
 * unexpected 500) and never echoes the error's message, which may quote request data.
 */
export const errorHandler: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error);
  sendError(res, codeForError(error));
};
