/**
 * The user's own sessions and API-client grants, under `/api` (all need a session):
 *
 *   GET    /api/sessions                → {sessions, grants}
 *   DELETE /api/sessions/:id            → {ok}
 *   DELETE /api/grants/:id              → {ok}       (one API client's refresh family)
 *   POST   /api/sessions/revoke-others  → {revoked}  (other sessions and every grant)
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SessionManager } from 'latchkey';
import { type FastifySessions, sendError } from 'latchkey/fastify';
import type { CurrentUser } from '../current-user.js';
import { logEvent } from '../log.js';
import { parse, schemas } from '../schemas.js';
import type { UserTokens } from '../user-tokens.js';

export interface SessionRoutesOptions {
  sessions: SessionManager;
  auth: FastifySessions;
  current: CurrentUser;
  /** Absent when the server issues no tokens: no grants to list or end. */
  userTokens: UserTokens | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * @example
 * await api.register(sessionRoutes, { sessions, auth, current, userTokens });
 */
export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (api, options) => {
  const { sessions, auth, current, userTokens } = options;

  api.get('/sessions', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const list = await sessions.listUserSessions(me.user.id);
    return {
      sessions: list.map((s) => ({
        id: s.id,
        current: s.id === me.session.id,
        userAgent: s.userAgent,
        ip: s.ip,
        createdAt: iso(s.createdAt),
        lastSeenAt: iso(s.lastSeenAt),
        expiresAt: iso(s.expiresAt),
        absoluteExpiresAt: iso(s.absoluteExpiresAt),
        remembered: sessions.isRemembered(s),
        // latchkey/dbsc: this browser proved it holds a key bound to the session.
        deviceBound: s.binding != null,
      })),
      // Finding 6: API clients signed in with the token endpoint, beside the browser sessions.
      grants: (userTokens ? await userTokens.listGrants(me.user.id) : []).map((g) => ({
        id: g.id,
        createdAt: iso(g.createdAt),
        lastUsedAt: iso(g.lastUsedAt),
        expiresAt: iso(g.expiresAt),
      })),
    };
  });

  api.delete('/grants/:id', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const params = parse(schemas.grantId, request.params, reply);
    if (!params) return reply;
    // Only the user's own grants: another user's id is "not found", never revoked.
    const ended = await userTokens?.revokeGrant(params.id, me.user.id);
    if (!ended) return sendError(reply, 'NOT_FOUND');
    logEvent(request, 'grant.revoke', { userId: me.user.id, grantId: params.id });
    return { ok: true };
  });

  api.delete('/sessions/:id', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const params = parse(schemas.sessionId, request.params, reply);
    if (!params) return reply;
    // Only the user's own sessions: another user's id is "not found", never revoked.
    const mine = (await sessions.listUserSessions(me.user.id)).some((s) => s.id === params.id);
    if (!mine) return sendError(reply, 'NOT_FOUND');
    if (params.id === me.session.id) await auth.logout(request, reply);
    else await sessions.revokeSession(params.id);
    logEvent(request, 'session.revoke', { userId: me.user.id, sessionId: params.id });
    return { ok: true };
  });

  api.post('/sessions/revoke-others', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const revoked = await sessions.revokeOtherSessions(me.user.id, me.session.id);
    // Finding 6: "log out everywhere else" also ends API clients: refresh families and the
    // access tokens already out.
    const grants = userTokens ? await userTokens.revokeAll(me.user.id) : 0;
    logEvent(request, 'session.revoke-others', { userId: me.user.id, revoked, grants });
    return { revoked: revoked + grants };
  });
};
