/**
 * The signed-in user of a request: the session the latchkey hook loaded and the account it belongs
 * to, read fresh from the database on every request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Session, SessionManager } from 'latchkey';
import { getSession, sendError } from 'latchkey/fastify';
import type { User, Users } from './users.js';

export interface Me {
  session: Session;
  user: User;
}

/** Resolves to the session and its account, or answers 401 and resolves to `undefined`. */
export type CurrentUser = (request: FastifyRequest, reply: FastifyReply) => Promise<Me | undefined>;

/**
 * @example
 * const current = createCurrentUser(sessions, users);
 * api.get('/me', { preHandler: auth.requireSession }, async (request, reply) => {
 *   const me = await current(request, reply);
 *   if (!me) return reply;
 *   return { user: me.user };
 * });
 */
export function createCurrentUser(sessions: SessionManager, users: Users): CurrentUser {
  return async (request, reply) => {
    const session = getSession(request);
    const user = session && users.byId(session.userId);
    if (session && user) return { session, user };
    // The account is gone or disabled: none of its sessions may live on.
    if (session) await sessions.revokeUserSessions(session.userId);
    void sendError(reply, 'SESSION_REQUIRED');
    return undefined;
  };
}
