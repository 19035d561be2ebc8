/**
 * latchkey for plain node:http. No framework: `createNodeHardening` gives one call for the HTTP
 * defences (`latchkey/http`'s hardening policy) that says whether it answered; `createNodeSessions`
 * reads (`authenticate`), requires and issues sessions; `readJson` reads a body; `sendError`,
 * `notFound` and `errorHandler` answer with JSON codes; `handleClientError` answers the requests
 * Node cannot parse.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { createSessionManager } from 'latchkey';
 * import { createServerLimits } from 'latchkey/http';
 * import { createNodeHardening, createNodeSessions, errorHandler, handleClientError, notFound, readJson, sendError } from 'latchkey/node';
 *
 * const auth = createNodeSessions(createSessionManager({ store, keys: [process.env.SESSION_KEY] }));
 * const hardening = createNodeHardening({ csrf: { origins: ['https://app.example.org'] }, jsonOnly: true, noStore: ['/api'] });
 * const limits = createServerLimits();
 * const server = createServer(limits.serverOptions, async (req, res) => {
 *   try {
 *     if (await hardening(req, res)) return; // refused, or the CSP report route answered
 *     await auth.authenticate(req, res);
 *     if (req.method === 'POST' && req.url === '/api/login') {
 *       const user = await checkPassword(await readJson(req)); // yours
 *       if (!user) return sendError(res, 'INVALID_CREDENTIALS');
 *       await auth.login(req, res, user.id);
 *       return void res.end('{"ok":true}');
 *     }
 *     if (req.url === '/api/me') {
 *       const session = auth.requireSession(req, res); // null: 401 sent
 *       if (session) res.end(JSON.stringify({ userId: session.userId }));
 *       return;
 *     }
 *     notFound(res);
 *   } catch (error) {
 *     errorHandler(error, res);
 *   }
 * });
 * limits.apply(server);
 * server.on('clientError', handleClientError).listen(3000);
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { DeviceBinding } from '../../dbsc/binding.js';
import { codeForError, type ErrorAnswer, errorAnswer, errorBody, type HttpErrorCode } from '../../http/error-codes.js';
import { createHardening, type HardeningOptions, type HardeningRequest } from '../../http/hardening.js';
import {
  type AuthenticateResult,
  checkLoginOptions,
  createSessionFlow,
  type FlowHeaders,
  type LoginOptions,
} from '../../http/session-flow.js';
import { announcedOver, readAtMost } from '../../lib/read-body.js';
import type { SessionManager, SessionMeta } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';
import { createSessionGuard } from '../guard.js';
import { setFlowHeaders } from '../node-headers.js';
import { RequestSlot } from '../request-slot.js';

export { handleClientError } from '../../http/client-error.js';
export type { LoginOptions } from '../../http/session-flow.js';

/** `undefined`: `authenticate` has not run for this request; `null`: it found no session. */
const sessions = new RequestSlot<IncomingMessage, Session | null>('session');
const nonces = new RequestSlot<IncomingMessage, string>('nonce');

/** The session `authenticate` found for this request; `null` when none (or it did not run). */
export function getSession(req: IncomingMessage): Session | null {
  return sessions.get(req) ?? null;
}

/** This response's CSP nonce, for the `nonce` attribute of script and style tags in HTML. */
export function getNonce(req: IncomingMessage): string {
  return nonces.get(req) ?? '';
}

/**
 * Writes a JSON error answer: one of latchkey's codes, or an app's own `{ status, code, message }`,
 * with `headers` beside it (`{ 'retry-after': '30' }`). Always `Cache-Control: no-store`.
 */
export function sendError(res: ServerResponse, error: HttpErrorCode | ErrorAnswer, headers?: FlowHeaders): void {
  const answer = errorAnswer(error);
  if (headers !== undefined) apply(res, headers);
  res.statusCode = answer.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(errorBody(answer)));
}

const apply: (res: ServerResponse, headers: FlowHeaders) => void = setFlowHeaders;

const JSON_LIMIT = 100 * 1024;

/**
 * Prototype poisoning (as Fastify refuses it): such a key in a body is an attack or a bug. Walked
 * with a stack after parsing, not as a JSON.parse reviver: V8 runs revivers recursively, so a
 * deeply nested body that fits the limit overflowed the stack and answered 500.
 */
function refusePoison(body: unknown): unknown {
  const stack = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, inner] of Object.entries(value)) {
      if (
        key === '__proto__' ||
        (key === 'constructor' && typeof inner === 'object' && inner !== null && 'prototype' in inner)
      )
        throw new SyntaxError('a JSON body with a __proto__ or constructor.prototype key');
      stack.push(inner);
    }
  }
  return body;
}

/**
 * The request's JSON body, for node:http, which has no body parser: at most `limit` bytes (default
 * 100 KiB, as express.json). Throws what `errorHandler` answers: 413 `PAYLOAD_TOO_LARGE` past the
 * limit (the rest is left unread), 400 `INVALID_JSON` for anything but JSON, and for a
 * `__proto__` or `constructor.prototype` key. Pair it with the hardening's `jsonOnly`, which
 * refuses other content types first.
 * @example
 * const { username, password } = (await readJson(req)) as { username?: unknown; password?: unknown };
 */
export async function readJson(req: IncomingMessage, options: { limit?: number } = {}): Promise<unknown> {
  const limit = options.limit ?? JSON_LIMIT;
  const text = announcedOver(req.headers['content-length'], limit) ? null : await readAtMost(req, limit);
  if (text === null) throw Object.assign(new Error(`request body over ${limit} bytes`), { statusCode: 413 });
  return refusePoison(JSON.parse(text));
}

/**
 * Options of `createNodeHardening`: `HardeningOptions` from `latchkey/http`, with node:http's
 * `IncomingMessage` as the request that `isHttps` and `cspReport.onReport` receive. `csrf` is required.
 */
export type NodeHardeningOptions = HardeningOptions<IncomingMessage>;

/**
 * Call it first for every request: it sets the security headers with a fresh nonce
 * (`getNonce(req)`) and `Vary: Sec-Fetch-Site, Origin`, no-store under `noStore`, and resolves to
 * `true` when it answered the request itself: 400 for HTTP/1.1 without Host, 403 `CSRF_REJECTED`,
 * 415 (`jsonOnly`), or the CSP report route (`POST <reportPath>`, 204). Options: `HardeningOptions`
 * in `latchkey/http`. HSTS follows the socket (TLS or not) unless `isHttps` says otherwise (behind
 * a proxy: `createTrustedProxies(...).isHttps`).
 */
export function createNodeHardening(
  options: NodeHardeningOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const hardening = createHardening(options, 'createNodeHardening');
  return async function nodeHardening(req, res) {
    const request: HardeningRequest = {
      method: req.method,
      url: req.url ?? '/',
      headers: req.headers,
      httpVersion: req.httpVersion,
      https: (req.socket as TLSSocket).encrypted === true,
    };
    const { nonce, headers, answer } = hardening.check(request, req);
    nonces.set(req, nonce);
    apply(res, headers);
    if (answer === null) return false;
    if (answer !== 'csp-report') {
      sendError(res, answer);
      return true;
    }
    const refusal = await hardening.receiveReport(request, req, req);
    if (refusal !== null) sendError(res, refusal);
    else {
      res.statusCode = 204;
      res.end();
    }
    return true;
  };
}

/** Puts what `authenticate` found on the response and the request. */
function settle(req: IncomingMessage, res: ServerResponse, result: AuthenticateResult): Session | null {
  apply(res, result.headers);
  sessions.set(req, result.session);
  return result.session;
}

/**
 * Sessions for plain node:http, from `createNodeSessions`. Without middleware, call `authenticate`
 * at the top of the handler; the guards and `getSession(req)` read what it found.
 *
 * @example
 * const auth = createNodeSessions(sessions);
 * await auth.authenticate(req, res);
 * const session = auth.requireFreshSession(req, res); // null: 401 or 403 already sent
 * if (session) await changePassword(session.userId, await readJson(req));
 */
export interface NodeSessions {
  /** The request's live session or `null` (`getSession(req)` later); expires a dead cookie on `res`. Rejects only when the store fails. */
  authenticate(req: IncomingMessage, res: ServerResponse): Promise<Session | null>;
  /** After `authenticate`: the session, or `null` after answering 401 `SESSION_REQUIRED`. */
  requireSession(req: IncomingMessage, res: ServerResponse): Session | null;
  /** After `authenticate`: the session if fresh, or `null` after answering 401 or 403 `REAUTHENTICATION_REQUIRED` (F3). */
  requireFreshSession(req: IncomingMessage, res: ServerResponse): Session | null;
  /** Starts a session for `userId` (after your code checked a credential) and sets the cookie. */
  login(req: IncomingMessage, res: ServerResponse, userId: string, options?: LoginOptions): Promise<Session>;
  /** Step-up after your code checked the password again: new token, fresh session. `null` if none. */
  reauthenticate(req: IncomingMessage, res: ServerResponse): Promise<Session | null>;
  /** Ends the request's session and clears the cookie and site data. */
  logout(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /**
   * With `deviceBinding`: answers its register and refresh paths and resolves to `true`; `false`
   * for any other request. Call it before `authenticate` (`if (await auth.answerDevice(req, res)) return;`).
   */
  answerDevice(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

/** Options of `createNodeSessions`. */
export interface NodeSessionsOptions {
  /**
   * Device-bound sessions (`createDeviceBinding` from `latchkey/dbsc`): `answerDevice` answers its
   * register and refresh paths, login and step-up offer registration, and a bound session without
   * its bound cookie reads as no session.
   */
  deviceBinding?: DeviceBinding | undefined;
}

/** Device info kept with a session. Behind a proxy, pass the client address the proxy vouches for. */
export function requestMeta(req: IncomingMessage): SessionMeta {
  return { userAgent: req.headers['user-agent'] ?? null, ip: req.socket.remoteAddress ?? null };
}

/**
 * @example
 * const auth = createNodeSessions(sessions);
 * await auth.authenticate(req, res);
 * const session = auth.requireSession(req, res);
 * if (session) res.end(`hello ${session.userId}`);
 */
export function createNodeSessions(manager: SessionManager, options: NodeSessionsOptions = {}): NodeSessions {
  const flow = createSessionFlow(manager, { deviceBinding: options.deviceBinding });
  const device = flow.deviceBinding;
  const guard = createSessionGuard(manager, 'await sessions.authenticate(req, res) first');
  const guarded = (fresh: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const session = sessions.get(req);
    const refusal = guard(session, fresh);
    if (refusal === null) return session ?? null;
    sendError(res, refusal);
    return null;
  };
  return {
    async answerDevice(req, res) {
      const path = req.url ?? '';
      if (device?.owns(path) !== true) return false;
      const header = (name: string) => {
        const value = req.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const answer = await device.answer({ method: req.method ?? 'GET', path, header });
      if (answer === null) return false;
      apply(res, answer.headers);
      res.statusCode = answer.status;
      res.end(answer.body);
      return true;
    },
    authenticate(req, res) {
      // Most requests: the session is at hand, and the promise is already settled. Never a throw:
      // a failure (the store, headers already sent) rejects, as from an async function.
      try {
        const now = flow.authenticateNow(req.headers.cookie, req.method, req.url);
        if (now !== undefined) return Promise.resolve(settle(req, res, now));
      } catch (error) {
        return Promise.reject(error);
      }
      return flow.authenticate(req.headers.cookie, req.method, req.url).then((result) => settle(req, res, result));
    },
    requireSession: guarded(false),
    requireFreshSession: guarded(true),
    async login(req, res, userId, given) {
      const options = checkLoginOptions(given);
      const { session, headers } = await flow.login(req.headers.cookie, userId, {
        ...requestMeta(req),
        data: options.data,
        remember: options.remember,
      });
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

/** After every route: a JSON 404 `NOT_FOUND` (with the hardening's security headers). */
export function notFound(res: ServerResponse): void {
  sendError(res, 'NOT_FOUND');
}

/**
 * In the request handler's `catch`: answers a thrown error with its code (bad JSON 400, store down
 * 503 and never "logged in", anything unexpected 500) and never echoes its message. When the
 * answer had already started, the connection is cut instead: a half-sent body must not look whole.
 */
export function errorHandler(error: unknown, res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else sendError(res, codeForError(error));
}
