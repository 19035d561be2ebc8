/**
 * The reference server: the article's routes done the latchkey way. The browser gets one HttpOnly
 * `__Host-session` cookie and nothing else; every request loads the session and the account from
 * the SQLite file.
 *   POST /api/auth/login   {username, password} → {user}      (sets the cookie)
 *   POST /api/auth/logout                       → {ok: true}   (revokes, expires, Clear-Site-Data)
 *   GET  /api/me                                 → {user, session}
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { SessionManager } from 'latchkey';
import { createFastifySessions, errorHandler, getSession, handleClientError, sendError } from 'latchkey/fastify';
import type { Users } from './users.js';

export interface AppOptions {
  sessions: SessionManager;
  users: Users;
  /** pino options, or false for silence in tests. */
  logger?: boolean | Record<string, unknown>;
}

/** Logs never carry credentials: these request and response parts are censored wherever they appear. */
export const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  'password',
  'body.password',
];

const MAX_USERNAME = 64;
const MAX_PASSWORD = 1024;

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { sessions, users } = options;
  const auth = createFastifySessions(sessions);
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : { redact: { paths: REDACT, censor: '[redacted]' }, ...(options.logger === true ? {} : options.logger) },
    clientErrorHandler: handleClientError, // 431/400 with a JSON code instead of an empty reply
    bodyLimit: 16 * 1024,
    trustProxy: false,
  });
  // JSON only: a form or text/plain body (what a cross-site <form> can send) gets 415.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, request, reply) => {
    if ((error as { statusCode?: number }).statusCode === undefined)
      request.log.error({ err: error }, 'request failed');
    return errorHandler(error, request, reply);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 'NOT_FOUND'));
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
    // C7: nothing under /api is stored by a cache: it is all account data.
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  app.get('/', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>latchkey</title></head>' +
          '<body><h1>latchkey reference server</h1><p>POST /api/auth/login, POST /api/auth/logout, GET /api/me.</p></body></html>',
      ),
  );

  await app.register(
    async (api) => {
      api.addHook('onRequest', auth.onRequest);

      api.post('/auth/login', async (request, reply) => {
        const body = request.body as { username?: unknown; password?: unknown } | null | undefined;
        const { username, password } = body ?? {};
        if (
          typeof username !== 'string' ||
          typeof password !== 'string' ||
          username.length === 0 ||
          username.length > MAX_USERNAME ||
          password.length > MAX_PASSWORD
        ) {
          return sendError(reply, 'INVALID_INPUT');
        }
        const user = await users.verifyPassword(username, password);
        if (user === null) {
          // Unknown user and wrong password: one status, one body (P3). Never log the password.
          request.log.info({ event: 'login.failure', username }, 'login failed');
          return sendError(reply, 'INVALID_CREDENTIALS');
        }
        const session = await auth.login(request, reply, user.id);
        request.log.info({ event: 'login.success', userId: user.id, sessionId: session.id }, 'login');
        return { user };
      });

      api.post('/auth/logout', async (request, reply) => {
        const session = getSession(request);
        await auth.logout(request, reply);
        if (session) request.log.info({ event: 'logout', userId: session.userId, sessionId: session.id }, 'logout');
        return { ok: true };
      });

      api.get('/me', { preHandler: auth.requireSession }, async (request, reply) => {
        const session = getSession(request);
        const user = session && users.byId(session.userId);
        if (!session || !user) {
          if (session) await sessions.revokeUserSessions(session.userId); // the account is gone
          return sendError(reply, 'SESSION_REQUIRED');
        }
        return {
          user,
          session: {
            id: session.id,
            createdAt: new Date(session.createdAt).toISOString(),
            expiresAt: new Date(session.expiresAt).toISOString(),
            absoluteExpiresAt: new Date(session.absoluteExpiresAt).toISOString(),
          },
        };
      });
    },
    { prefix: '/api' },
  );
  return app;
}
