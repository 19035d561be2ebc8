/**
 * latchkey for Fastify 5. `createFastifyHardening` is one `onRequest` hook for the HTTP defences
 * (`latchkey/http`'s hardening policy); `createFastifySessions` reads, requires and issues
 * sessions; `sendError`, `notFound` and `errorHandler` answer with JSON codes.
 *
 * @example
 * import Fastify from 'fastify';
 * import { createSessionManager } from 'latchkey';
 * import { createFastifyHardening, createFastifySessions, errorHandler, getSession, handleClientError, notFound, sendError } from 'latchkey/fastify';
 * import { createServerLimits } from 'latchkey/http';
 *
 * const auth = createFastifySessions(createSessionManager({ store, keys: [process.env.SESSION_KEY] }));
 * const hardening = createFastifyHardening({ csrf: { origins: ['https://app.example.org'] }, jsonOnly: true, noStore: ['/api'] });
 * const limits = createServerLimits();
 * const app = Fastify({ http: limits.serverOptions, clientErrorHandler: handleClientError, frameworkErrors: hardening.frameworkErrors });
 * limits.apply(app.server);
 * app.setErrorHandler(errorHandler).setNotFoundHandler(notFound);
 * app.addHook('onRequest', hardening); // headers on every answer, CSRF and JSON-only refusals, the CSP report route
 * app.addHook('onRequest', auth.onRequest);
 * app.post('/api/login', async (request, reply) => {
 *   const user = await checkPassword(request.body); // yours
 *   if (!user) return sendError(reply, 'INVALID_CREDENTIALS');
 *   await auth.login(request, reply, user.id);
 *   return { ok: true };
 * });
 * app.get('/api/me', { preHandler: auth.requireSession }, async (request) => ({ userId: getSession(request)?.userId }));
 * app.post('/api/password', { preHandler: auth.requireFreshSession }, changePassword); // 403 unless fresh
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { DeviceBinding } from '../../dbsc/binding.js';
import { ConfigurationError, StoreUnavailableError } from '../../errors.js';
import { codeForError, type ErrorAnswer, errorAnswer, errorBody, type HttpErrorCode } from '../../http/error-codes.js';
import { createHardening, type HardeningOptions, type HardeningRequest } from '../../http/hardening.js';
import {
  type AuthenticateResult,
  checkLoginOptions,
  createSessionFlow,
  type FlowHeaders,
  type LoginOptions,
} from '../../http/session-flow.js';
import type { SessionManager } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';
import { createSessionGuard } from '../guard.js';
import { RequestSlot } from '../request-slot.js';
import { addSetCookie } from '../set-cookie.js';

export { handleClientError } from '../../http/client-error.js';

export type { LoginOptions } from '../../http/session-flow.js';

/** `undefined`: the session hook has not run for this request; `null`: it found none. */
const sessions = new RequestSlot<FastifyRequest, Session | null>('session');
const nonces = new RequestSlot<FastifyRequest, string>('nonce');

/** The session `onRequest` found for this request; `null` when none (or the hook did not run). */
export function getSession(request: FastifyRequest): Session | null {
  return sessions.get(request) ?? null;
}

/** This response's CSP nonce, for the `nonce` attribute of script and style tags in HTML. */
export function getNonce(request: FastifyRequest): string {
  return nonces.get(request) ?? '';
}

/**
 * A flow's headers on the reply. Fastify appends every `Set-Cookie`; ours replaces an earlier one of
 * the same name and keeps the app's own (`addSetCookie`).
 */
function apply(reply: FastifyReply, headers: FlowHeaders): void {
  const cookie = headers['set-cookie'];
  if (cookie === undefined) {
    reply.headers(headers);
    return;
  }
  const earlier = reply.getHeader('set-cookie');
  if (earlier !== undefined) reply.removeHeader('set-cookie');
  for (const name in headers) if (name !== 'set-cookie') reply.header(name, headers[name]);
  reply.header('set-cookie', addSetCookie(earlier, cookie));
}

/**
 * Sends a JSON error answer: one of latchkey's codes, or an app's own `{ status, code, message }`,
 * with `headers` beside it (`{ 'retry-after': '30' }`). Always `Cache-Control: no-store`.
 */
export function sendError(
  reply: FastifyReply,
  error: HttpErrorCode | ErrorAnswer,
  headers?: FlowHeaders,
): FastifyReply {
  const answer = errorAnswer(error);
  if (headers !== undefined) apply(reply, headers);
  return reply.code(answer.status).header('cache-control', 'no-store').send(errorBody(answer));
}

/**
 * Sessions for Fastify, from `createFastifySessions`: an `onRequest` hook that reads the session,
 * two `preHandler` guards, and the login, step-up and logout calls that set or clear the cookie.
 *
 * @example
 * app.addHook('onRequest', auth.onRequest);
 * app.post('/api/logout', async (request, reply) => ({ revoked: await auth.logout(request, reply) }));
 */
export interface FastifySessions {
  /**
   * `onRequest` hook: reads the session (`getSession(request)`); a store that is down answers 503.
   * A callback hook, not an async one: a session at hand passes on without a promise (#18).
   */
  onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  /** preHandler: 401 `SESSION_REQUIRED` without a session. */
  requireSession(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  /** preHandler: 401 without a session, 403 `REAUTHENTICATION_REQUIRED` unless it is fresh (F3). */
  requireFreshSession(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  /** Starts a session after your code checked a credential: any previous one is revoked, a new cookie set. */
  login(request: FastifyRequest, reply: FastifyReply, userId: string, options?: LoginOptions): Promise<Session>;
  /** Step-up after your code checked the password again: new token, fresh session. `null` if none. */
  reauthenticate(request: FastifyRequest, reply: FastifyReply): Promise<Session | null>;
  /** Ends the session and clears the cookie and site data. */
  logout(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  /**
   * With `deviceBinding`: adds `POST` routes for its register and refresh paths to `app` (the
   * scope whose `onRequest` hook is ours; its prefix, if any, must begin the paths you gave).
   * Fastify runs a scope's hooks only for routes it has, so the paths need routes of their own.
   */
  deviceRoutes(app: FastifyInstance): void;
}

async function answerDevice(device: DeviceBinding, request: FastifyRequest, reply: FastifyReply) {
  const header = (name: string) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const answer = await device.answer({ method: request.method, path: request.url, header });
  if (answer === null) return undefined;
  apply(reply, answer.headers);
  return reply.code(answer.status).send(answer.body);
}

/** Options of `createFastifySessions`. */
export interface FastifySessionsOptions {
  /**
   * Device-bound sessions (`createDeviceBinding` from `latchkey/dbsc`): `onRequest` answers its
   * register and refresh paths (routed or not), login and step-up offer registration, and a bound
   * session without its bound cookie reads as no session.
   */
  deviceBinding?: DeviceBinding | undefined;
}

/**
 * @example
 * const auth = createFastifySessions(sessions);
 * app.addHook('onRequest', auth.onRequest);
 * app.get('/api/me', { preHandler: auth.requireSession }, (request) => ({ userId: getSession(request)?.userId }));
 */
export function createFastifySessions(manager: SessionManager, options: FastifySessionsOptions = {}): FastifySessions {
  const flow = createSessionFlow(manager, { deviceBinding: options.deviceBinding });
  const device = flow.deviceBinding;
  const guard = createSessionGuard(
    manager,
    "add sessions.onRequest as an onRequest hook of the route's scope first (app.addHook('onRequest', sessions.onRequest))",
  );
  // Callback hooks: a refusal is sent and `done` is not called; Fastify waits for the reply.
  const guarded = (fresh: boolean) =>
    function requireSession(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
      const refusal = guard(sessions.get(request), fresh);
      if (refusal === null) done();
      else sendError(reply, refusal);
    };
  const settle = (request: FastifyRequest, reply: FastifyReply, result: AuthenticateResult) => {
    apply(reply, result.headers);
    sessions.set(request, result.session);
  };
  /** The hook's path that waits: a device-binding route, or a session the store must be asked for. `true`: answered. */
  const wait = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (device?.owns(request.url) === true && (await answerDevice(device, request, reply)) !== undefined) return true;
    settle(request, reply, await flow.authenticate(request.headers.cookie, request.method, request.url));
    return false;
  };
  const failed = (error: unknown, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // A store that is down means 503 and "not logged in", never "logged in".
    if (error instanceof StoreUnavailableError) sendError(reply, 'STORE_UNAVAILABLE');
    else done(error as Error);
  };
  return {
    onRequest(request, reply, done) {
      let now: AuthenticateResult | undefined;
      try {
        now =
          device?.owns(request.url) === true
            ? undefined
            : flow.authenticateNow(request.headers.cookie, request.method, request.url);
      } catch (error) {
        failed(error, reply, done);
        return;
      }
      if (now !== undefined) {
        settle(request, reply, now);
        done();
        return;
      }
      wait(request, reply).then(
        (answered) => {
          if (!answered) done();
        },
        (error: unknown) => failed(error, reply, done),
      );
    },
    requireSession: guarded(false),
    requireFreshSession: guarded(true),
    async login(request, reply, userId, given) {
      const options = checkLoginOptions(given);
      const meta = {
        userAgent: request.headers['user-agent'] ?? null,
        ip: request.ip,
        data: options.data,
        remember: options.remember,
      };
      const { session, headers } = await flow.login(request.headers.cookie, userId, meta);
      apply(reply, headers);
      sessions.set(request, session);
      return session;
    },
    async reauthenticate(request, reply) {
      const result = await flow.reauthenticate(request.headers.cookie);
      if (result === null) return null;
      apply(reply, result.headers);
      sessions.set(request, result.session);
      return result.session;
    },
    async logout(request, reply) {
      const { revoked, headers } = await flow.logout(request.headers.cookie);
      apply(reply, headers);
      sessions.set(request, null);
      return revoked;
    },
    deviceRoutes(app) {
      if (device === undefined) {
        throw new ConfigurationError('deviceRoutes needs createFastifySessions(manager, { deviceBinding })');
      }
      // The onRequest hook answers first when it runs in this scope; the handler covers a scope without it.
      const handler = async (request: FastifyRequest, reply: FastifyReply) =>
        (await answerDevice(device, request, reply)) ?? sendError(reply, 'NOT_FOUND');
      // A scope's routes are relative to its prefix; the binding's paths are whole request paths.
      const prefix = app.prefix ?? '';
      for (const path of [device.registerPath, device.refreshPath]) {
        if (!path.startsWith(`${prefix}/`)) {
          throw new ConfigurationError(
            `deviceRoutes: the scope's prefix ${JSON.stringify(prefix)} is not part of the path ${path}: give createDeviceBinding paths under it, or call deviceRoutes on a scope without a prefix`,
          );
        }
        app.post(path.slice(prefix.length), handler);
      }
    },
  };
}

/**
 * Options of `createFastifyHardening`: `HardeningOptions` from `latchkey/http`, with Fastify's
 * `FastifyRequest` as the request that `isHttps` and `cspReport.onReport` receive. `csrf` is required.
 */
export type FastifyHardeningOptions = HardeningOptions<FastifyRequest>;

/** The hardening hook, with the handler for the errors Fastify answers before any hook runs. */
export interface FastifyHardening {
  /** A callback hook: it passes on without a promise unless it receives a CSP report. */
  (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  /**
   * For `Fastify({ frameworkErrors })`: a URL Fastify cannot decode (`/api/me%`) is answered
   * before routing and before any `onRequest` hook, by default with the path echoed in the message
   * and no security header. This answers it with the same headers as every other response and a
   * coded body that echoes nothing.
   */
  frameworkErrors(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply;
}

/**
 * One `onRequest` hook for the root scope: the security headers with a fresh nonce
 * (`getNonce(request)`) and `Vary: Sec-Fetch-Site, Origin` on every answer (404s and errors too,
 * since they are set before routing), no-store under `noStore`; 400 for HTTP/1.1 without Host, 403
 * `CSRF_REJECTED` and 415 (`jsonOnly`) before any body is parsed or handler runs; `POST
 * <reportPath>` answered 204. Options: `HardeningOptions` in `latchkey/http`. HSTS follows
 * `request.protocol` (Fastify's `trustProxy` decides it behind a proxy) unless `isHttps` says
 * otherwise. Pass its `frameworkErrors` to Fastify too, so the answers Fastify gives before
 * routing are covered.
 * @example
 * const hardening = createFastifyHardening({ csrf: { origins: ['https://app.example.org'] } });
 * const app = Fastify({ frameworkErrors: hardening.frameworkErrors });
 * app.addHook('onRequest', hardening);
 */
export function createFastifyHardening(options: FastifyHardeningOptions): FastifyHardening {
  const hardening = createHardening(options, 'createFastifyHardening');
  const describe = (request: FastifyRequest): HardeningRequest => ({
    method: request.method,
    url: request.url,
    headers: request.headers,
    httpVersion: request.raw.httpVersion,
    https: request.protocol === 'https',
  });
  const hook = function fastifyHardening(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void {
    const described = describe(request);
    let checked: ReturnType<typeof hardening.check>;
    try {
      checked = hardening.check(described, request);
    } catch (error) {
      done(error as Error);
      return;
    }
    const { nonce, headers, answer } = checked;
    nonces.set(request, nonce);
    reply.headers(headers);
    if (answer === null) {
      done();
      return;
    }
    // A refusal is sent and `done` is not called: Fastify waits for the reply.
    if (answer !== 'csp-report') {
      sendError(reply, answer);
      return;
    }
    hardening.receiveReport(described, request.raw, request).then(
      (refusal) => (refusal === null ? reply.code(204).send() : sendError(reply, refusal)),
      (error: unknown) => done(error as Error),
    );
  };
  return Object.assign(hook, {
    frameworkErrors(error: unknown, request: FastifyRequest, reply: FastifyReply) {
      const { nonce, headers } = hardening.headersFor(describe(request), request);
      nonces.set(request, nonce);
      reply.headers(headers);
      return sendError(reply, codeForError(error));
    },
  });
}

/** For `app.setNotFoundHandler(notFound)`: a JSON 404 `NOT_FOUND` (with the hook's security headers). */
export function notFound(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, 'NOT_FOUND');
}

/**
 * For `app.setErrorHandler(errorHandler)`: answers any error with a JSON code (bad JSON 400,
 * store down 503, anything unexpected 500) and never echoes the error's message, which may quote
 * request data.
 */
export function errorHandler(error: unknown, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, codeForError(error));
}
