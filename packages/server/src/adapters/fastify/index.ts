/**
 * latchkey for Fastify 5. Add `onRequest` as a hook in the scope where sessions matter, read the
 * session with `getSession(request)`, guard routes with `requireSession` as a preHandler.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StoreUnavailableError } from '../../errors.js';
import { CSRF_VARY, type CsrfGuard, type CsrfRequest } from '../../http/csrf.js';
import { codeForError, errorBody, type HttpErrorCode, httpErrors } from '../../http/error-codes.js';
import type { SecurityHeaders } from '../../http/headers.js';

export { handleClientError } from '../../http/client-error.js';

import { createSessionFlow } from '../../http/session-flow.js';
import type { SessionManager } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';

const sessions = new WeakMap<FastifyRequest, Session | null>();

/** The session `onRequest` found for this request; `null` when none. */
export function getSession(request: FastifyRequest): Session | null {
  return sessions.get(request) ?? null;
}

/** Sends a JSON error response with a stable code. */
export function sendError(reply: FastifyReply, code: HttpErrorCode): FastifyReply {
  return reply.code(httpErrors[code].status).header('cache-control', 'no-store').send(errorBody(code));
}

export interface FastifySessions {
  onRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  requireSession(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  login(request: FastifyRequest, reply: FastifyReply, userId: string, data?: Session['data']): Promise<Session>;
  logout(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  /** Step-up after the caller checked the password again: new token, fresh session. `null` if none. */
  reauthenticate(request: FastifyRequest, reply: FastifyReply): Promise<Session | null>;
  /** preHandler: 401 without a session, 403 `REAUTHENTICATION_REQUIRED` unless it is fresh (F3). */
  requireFreshSession(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
}

/**
 * @example
 * const auth = createFastifySessions(sessions);
 * app.addHook('onRequest', auth.onRequest);
 * app.get('/api/me', { preHandler: auth.requireSession }, (request) => ({ userId: getSession(request)?.userId }));
 */
export function createFastifySessions(manager: SessionManager): FastifySessions {
  const flow = createSessionFlow(manager);
  return {
    async onRequest(request, reply) {
      try {
        const { session, headers } = await flow.authenticate(request.headers.cookie, request.method);
        reply.headers(headers);
        sessions.set(request, session);
      } catch (error) {
        // A store that is down means 503 and "not logged in", never "logged in".
        if (error instanceof StoreUnavailableError) return sendError(reply, 'STORE_UNAVAILABLE');
        throw error;
      }
      return undefined;
    },
    async requireSession(request, reply) {
      if (getSession(request) === null) return sendError(reply, 'SESSION_REQUIRED');
      return undefined;
    },
    async login(request, reply, userId, data) {
      const meta = { userAgent: request.headers['user-agent'] ?? null, ip: request.ip, data };
      const { session, headers } = await flow.login(request.headers.cookie, userId, meta);
      reply.headers(headers);
      sessions.set(request, session);
      return session;
    },
    async logout(request, reply) {
      const { revoked, headers } = await flow.logout(request.headers.cookie);
      reply.headers(headers);
      sessions.set(request, null);
      return revoked;
    },
    async reauthenticate(request, reply) {
      const result = await flow.reauthenticate(request.headers.cookie);
      if (result === null) return null;
      reply.headers(result.headers);
      sessions.set(request, result.session);
      return result.session;
    },
    async requireFreshSession(request, reply) {
      const session = getSession(request);
      if (session === null) return sendError(reply, 'SESSION_REQUIRED');
      if (!manager.isFresh(session)) return sendError(reply, 'REAUTHENTICATION_REQUIRED');
      return undefined;
    },
  };
}

const nonces = new WeakMap<FastifyRequest, string>();

/** This response's CSP nonce, for the `nonce` attribute of script and style tags in HTML. */
export function getNonce(request: FastifyRequest): string {
  return nonces.get(request) ?? '';
}

export interface FastifyHardeningOptions {
  headers: SecurityHeaders;
  /** Omit to leave CSRF checks to you. */
  csrf?: CsrfGuard;
  /** Exact paths the CSRF guard skips (CSP reports: browsers send them without credentials). */
  csrfExempt?: readonly string[];
  /** Decides HSTS: only HTTPS responses get it. Default: the socket is TLS. */
  isHttps?: (request: FastifyRequest) => boolean;
}

/** The hardening hook, with the handler for the errors Fastify answers before any hook runs. */
export interface FastifyHardening {
  (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  /**
   * For `Fastify({ frameworkErrors })`: a URL Fastify cannot decode (`/api/me%`) is answered
   * before routing and before any `onRequest` hook, by default with the path echoed in the message
   * and no security header. This answers it with the same headers as every other response and a
   * coded body that echoes nothing.
   */
  frameworkErrors(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply;
}

/**
 * One `onRequest` hook for the root scope: security headers on every response (404s and errors
 * too, since they are set before routing), `Vary: Sec-Fetch-Site, Origin`, and the CSRF guard,
 * which answers 403 `CSRF_REJECTED` before any body is parsed or any handler runs. Pass its
 * `frameworkErrors` to Fastify too, so the answers Fastify gives before routing are covered.
 * @example
 * const hardening = createFastifyHardening({ headers: createSecurityHeaders(), csrf });
 * const app = Fastify({ frameworkErrors: hardening.frameworkErrors });
 * app.addHook('onRequest', hardening);
 */
export function createFastifyHardening(options: FastifyHardeningOptions): FastifyHardening {
  const { headers: policy, csrf } = options;
  const exempt = new Set(options.csrfExempt ?? []);
  const isHttps = options.isHttps ?? ((request: FastifyRequest) => request.protocol === 'https');
  const secure = (request: FastifyRequest, reply: FastifyReply) => {
    const { nonce, headers } = policy.forResponse(isHttps(request));
    nonces.set(request, nonce);
    reply.headers(headers);
    reply.header('vary', CSRF_VARY);
  };
  const hardening = async function hardening(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    secure(request, reply);
    // HTTP/1.1 requires Host. `createServerLimits` turns off Node's own check, whose bare 400 has
    // no header and no code, so the refusal happens here, with both.
    if (request.raw.headers.host === undefined && request.raw.httpVersion === '1.1')
      return sendError(reply, 'BAD_REQUEST');
    if (csrf && !csrf.allows(request.raw as CsrfRequest) && !exempt.has(request.url.split('?', 1)[0] ?? ''))
      return sendError(reply, 'CSRF_REJECTED');
    return undefined;
  };
  return Object.assign(hardening, {
    frameworkErrors(error: unknown, request: FastifyRequest, reply: FastifyReply) {
      secure(request, reply);
      return sendError(reply, codeForError(error));
    },
  });
}

/**
 * For `app.setErrorHandler(errorHandler)`: answers any error with a JSON code (bad JSON 400,
 * store down 503) and never echoes the error's message, which may quote request data.
 */
export function errorHandler(error: unknown, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, codeForError(error));
}
