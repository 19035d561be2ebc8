/**
 * latchkey for plain node:http. No framework: a request's session in one call, login and logout
 * that write their own headers, and a `clientError` handler that answers oversized or broken
 * requests with a JSON code instead of an empty 4xx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { codeForError, errorBody, type HttpErrorCode, httpErrors } from '../../http/error-codes.js';

export { handleClientError } from '../../http/client-error.js';

import { createSessionFlow, type FlowHeaders } from '../../http/session-flow.js';
import type { SessionManager, SessionMeta } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';

export interface NodeSessions {
  /** The request's live session or `null`; expires a dead cookie on `res`. Rejects only when the store fails. */
  authenticate(req: IncomingMessage, res: ServerResponse): Promise<Session | null>;
  /** Starts a session for `userId` (after the caller checked a credential) and sets the cookie. */
  login(req: IncomingMessage, res: ServerResponse, userId: string, data?: Session['data']): Promise<Session>;
  /** Ends the request's session and clears the cookie and site data. */
  logout(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

function apply(res: ServerResponse, headers: FlowHeaders): void {
  for (const name in headers) res.setHeader(name, headers[name] as string);
}

/** Device info kept with a session. Behind a proxy, pass the client address the proxy vouches for. */
export function requestMeta(req: IncomingMessage): SessionMeta {
  return { userAgent: req.headers['user-agent'] ?? null, ip: req.socket.remoteAddress ?? null };
}

/**
 * @example
 * const auth = createNodeSessions(sessions);
 * http.createServer(async (req, res) => {
 *   const session = await auth.authenticate(req, res);
 *   if (!session) return sendError(res, 'SESSION_REQUIRED');
 *   res.end(`hello ${session.userId}`);
 * }).on('clientError', handleClientError);
 */
export function createNodeSessions(manager: SessionManager): NodeSessions {
  const flow = createSessionFlow(manager);
  return {
    async authenticate(req, res) {
      const { session, headers } = await flow.authenticate(req.headers.cookie, req.method);
      apply(res, headers);
      return session;
    },
    async login(req, res, userId, data) {
      const { session, headers } = await flow.login(req.headers.cookie, userId, { ...requestMeta(req), data });
      apply(res, headers);
      return session;
    },
    async logout(req, res) {
      const { revoked, headers } = await flow.logout(req.headers.cookie);
      apply(res, headers);
      return revoked;
    },
  };
}

/** Writes a JSON error response with a stable code. */
export function sendError(res: ServerResponse, code: HttpErrorCode): void {
  const body = JSON.stringify(errorBody(code));
  res.statusCode = httpErrors[code].status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

/** Answers a thrown error with its code: a failing store is 503, never "logged in"; the rest 500. */
export function sendFailure(res: ServerResponse, error: unknown): void {
  sendError(res, codeForError(error));
}
