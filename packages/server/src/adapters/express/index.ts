/**
 * latchkey for Express 5. Mount `middleware` where sessions matter (an `/api` router, say), read
 * the session with `getSession(req)`, guard routes with `requireSession`.
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { StoreUnavailableError } from '../../errors.js';
import { codeForError, errorBody, type HttpErrorCode, httpErrors } from '../../http/error-codes.js';

export { handleClientError } from '../../http/client-error.js';

import { createSessionFlow, type FlowHeaders } from '../../http/session-flow.js';
import type { SessionManager } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';

const sessions = new WeakMap<Request, Session | null>();

/** The session `middleware` found for this request; `null` when none (or the middleware did not run). */
export function getSession(req: Request): Session | null {
  return sessions.get(req) ?? null;
}

export interface ExpressSessions {
  middleware: RequestHandler;
  requireSession: RequestHandler;
  login(req: Request, res: Response, userId: string, data?: Session['data']): Promise<Session>;
  logout(req: Request, res: Response): Promise<boolean>;
}

function apply(res: Response, headers: FlowHeaders): void {
  for (const name in headers) res.setHeader(name, headers[name] as string);
}

/** Writes a JSON error response with a stable code. */
export function sendError(res: Response, code: HttpErrorCode): void {
  res.status(httpErrors[code].status).set('cache-control', 'no-store').json(errorBody(code));
}

/**
 * @example
 * const auth = createExpressSessions(sessions);
 * app.use('/api', auth.middleware);
 * app.get('/api/me', auth.requireSession, (req, res) => res.json({ userId: getSession(req)?.userId }));
 */
export function createExpressSessions(manager: SessionManager): ExpressSessions {
  const flow = createSessionFlow(manager);
  return {
    async middleware(req: Request, res: Response, next: NextFunction) {
      try {
        const { session, headers } = await flow.authenticate(req.headers.cookie, req.method);
        apply(res, headers);
        sessions.set(req, session);
      } catch (error) {
        // A store that is down means 503 and "not logged in", never "logged in".
        if (error instanceof StoreUnavailableError) return sendError(res, 'STORE_UNAVAILABLE');
        return next(error);
      }
      next();
    },
    requireSession(req: Request, res: Response, next: NextFunction) {
      if (getSession(req) === null) return sendError(res, 'SESSION_REQUIRED');
      next();
    },
    async login(req, res, userId, data) {
      const meta = { userAgent: req.get('user-agent') ?? null, ip: req.ip ?? null, data };
      const { session, headers } = await flow.login(req.headers.cookie, userId, meta);
      apply(res, headers);
      sessions.set(req, session);
      return session;
    },
    async logout(req, res) {
      const { revoked, headers } = await flow.logout(req.headers.cookie);
      apply(res, headers);
      sessions.set(req, null);
      return revoked;
    },
  };
}

/**
 * Last in the chain: answers any error with a JSON code (bad JSON 400, store down 503) and never
 * echoes the error's message, which may quote request data.
 */
export const errorHandler: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error);
  sendError(res, codeForError(error));
};
