/**
 * latchkey for Hono. `middleware` puts the session in `c.get('session')`; `requireSession`
 * answers 401 without one. Type your app with `SessionEnv`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { StoreUnavailableError } from '../../errors.js';
import { codeForError, errorBody, type HttpErrorCode, httpErrors } from '../../http/error-codes.js';

export { handleClientError } from '../../http/client-error.js';

import { createSessionFlow, type FlowHeaders } from '../../http/session-flow.js';
import type { SessionManager } from '../../sessions/manager.js';
import type { Session } from '../../stores/store.js';

export interface SessionEnv {
  Variables: { session: Session | null };
}

export interface HonoSessionsOptions {
  /** The client address kept with a session. Default: the socket address under @hono/node-server. */
  getClientIp?: (c: Context) => string | null;
}

export interface HonoSessions {
  middleware: MiddlewareHandler<SessionEnv>;
  requireSession: MiddlewareHandler<SessionEnv>;
  login(c: Context<SessionEnv>, userId: string, data?: Session['data']): Promise<Session>;
  logout(c: Context<SessionEnv>): Promise<boolean>;
}

/** A JSON error response with a stable code. */
export function errorResponse(c: Context, code: HttpErrorCode): Response {
  c.header('cache-control', 'no-store');
  return c.json(errorBody(code), httpErrors[code].status);
}

function apply(c: Context, headers: FlowHeaders): void {
  for (const name in headers) c.header(name, headers[name] as string);
}

const socketIp = (c: Context): string | null =>
  (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ??
  null;

/**
 * @example
 * const auth = createHonoSessions(sessions);
 * const app = new Hono<SessionEnv>();
 * app.use('/api/*', auth.middleware);
 * app.get('/api/me', auth.requireSession, (c) => c.json({ userId: c.get('session')?.userId }));
 */
export function createHonoSessions(manager: SessionManager, options: HonoSessionsOptions = {}): HonoSessions {
  const flow = createSessionFlow(manager);
  const getClientIp = options.getClientIp ?? socketIp;
  return {
    async middleware(c, next) {
      try {
        const { session, headers } = await flow.authenticate(c.req.header('cookie'), c.req.method);
        apply(c, headers);
        c.set('session', session);
      } catch (error) {
        // A store that is down means 503 and "not logged in", never "logged in".
        if (error instanceof StoreUnavailableError) return errorResponse(c, 'STORE_UNAVAILABLE');
        throw error;
      }
      await next();
      return undefined;
    },
    async requireSession(c, next) {
      if (!c.get('session')) return errorResponse(c, 'SESSION_REQUIRED');
      await next();
      return undefined;
    },
    async login(c, userId, data) {
      const meta = { userAgent: c.req.header('user-agent') ?? null, ip: getClientIp(c), data };
      const { session, headers } = await flow.login(c.req.header('cookie'), userId, meta);
      apply(c, headers);
      c.set('session', session);
      return session;
    },
    async logout(c) {
      const { revoked, headers } = await flow.logout(c.req.header('cookie'));
      apply(c, headers);
      c.set('session', null);
      return revoked;
    },
  };
}

/** For `app.onError(onError)`: answers any error with a JSON code; a failing store is 503. */
export function onError(error: Error, c: Context): Response {
  return errorResponse(c, codeForError(error));
}
