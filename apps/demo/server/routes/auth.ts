/**
 * Signing in and out, under `/api`:
 *
 *   POST /api/auth/register        {username, password} → 201 {user}   (sets the cookie)
 *   POST /api/auth/login           {username, password} → {user}       (sets the cookie)
 *   POST /api/auth/reauthenticate  {password}  session  → {freshUntil} (step-up, new cookie)
 *   POST /api/auth/logout                               → {ok}         (Clear-Site-Data)
 *   GET  /api/me                               session  → {user, session}
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SessionManager } from 'latchkey';
import { type FastifySessions, getSession, sendError } from 'latchkey/fastify';
import type { PasswordPolicy, RateLimit } from 'latchkey/password';
import { avatarUrl } from '../avatar.js';
import type { CurrentUser } from '../current-user.js';
import type { Devices } from '../devices.js';
import { appErrors } from '../errors.js';
import { logEvent, logPseudonym } from '../log.js';
import type { PasswordAttempts } from '../password-attempts.js';
import { parse, schemas } from '../schemas.js';
import type { User, Users } from '../users.js';

export interface AuthRoutesOptions {
  sessions: SessionManager;
  auth: FastifySessions;
  users: Users;
  current: CurrentUser;
  attempts: PasswordAttempts;
  devices: Devices;
  policy: PasswordPolicy;
  /** Registration limits (finding 5 of the review). */
  registrations: RateLimit;
  /** The key of the usernames' pseudonyms in log lines. */
  logKey: Buffer;
}

const iso = (ms: number) => new Date(ms).toISOString();
const userJson = (user: User) => ({ id: user.id, username: user.username, avatarUrl: avatarUrl(user) });

/**
 * @example
 * await api.register(authRoutes, { sessions, auth, users, current, attempts, devices, policy, registrations, logKey });
 */
export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (api, options) => {
  const { sessions, auth, users, current, attempts, devices, policy, registrations, logKey } = options;

  api.post('/auth/register', async (request, reply) => {
    const body = parse(schemas.register, request.body, reply);
    if (!body) return reply;
    // Finding 5: every attempt counts (taken names too) before any hashing, per client and in all.
    const allowed = await registrations.take(request.ip);
    if (!allowed.allowed) {
      logEvent(request, 'register.throttled', { scope: allowed.scope });
      return sendError(reply.header('retry-after', String(allowed.retryAfter)), 'TOO_MANY_ATTEMPTS');
    }
    const problem = policy.check(body.password, [body.username]);
    if (problem) return sendError(reply, problem);
    const user = await users.create(body.username, body.password);
    if (!user) {
      logEvent(request, 'register.conflict');
      return sendError(reply, appErrors.CONFLICT);
    }
    // The address and the browser the account was made from are known to the throttle.
    await devices.remember(request, user.username);
    await auth.login(request, reply, user.id);
    logEvent(request, 'register', { userId: user.id });
    return reply.code(201).send({ user: userJson(user) });
  });

  api.post('/auth/login', async (request, reply) => {
    const body = parse(schemas.credentials, request.body, reply);
    if (!body) return reply;
    let reason = '';
    const user = await attempts.attempt(request, reply, body.username, async () => {
      const outcome = await users.authenticate(body.username, body.password);
      if (outcome.ok) return outcome.user;
      reason = outcome.reason;
      return false;
    });
    if (!user) {
      // P3: one status and body for unknown user, wrong password and disabled account; the
      // reason goes to the log only. P5: the log line has no password, and no username either
      // (a mistyped password often lands there): a keyed pseudonym instead.
      if (reason) logEvent(request, 'login.failure', { user: logPseudonym(logKey, body.username), reason });
      return reply;
    }
    const session = await auth.login(request, reply, user.id);
    logEvent(request, 'login.success', { userId: user.id, sessionId: session.id });
    return { user: userJson(user) };
  });

  api.post('/auth/reauthenticate', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const body = parse(schemas.reauthenticate, request.body, reply);
    if (!body) return reply;
    if (!(await attempts.confirm(request, reply, me.user, body.password))) {
      logEvent(request, 'reauthenticate.failure', { userId: me.user.id });
      return reply;
    }
    // F1: re-authentication gets a new session id; the old cookie is dead from here on.
    const session = await auth.reauthenticate(request, reply);
    if (!session) return sendError(reply, 'SESSION_REQUIRED');
    logEvent(request, 'reauthenticate.success', { userId: me.user.id, sessionId: session.id });
    return { freshUntil: iso(session.authenticatedAt + sessions.freshFor * 1000) };
  });

  api.post('/auth/logout', async (request, reply) => {
    const session = getSession(request);
    await auth.logout(request, reply);
    if (session) logEvent(request, 'logout', { userId: session.userId, sessionId: session.id });
    return { ok: true };
  });

  api.get('/me', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const { session, user } = me;
    return {
      user: userJson(user),
      session: {
        id: session.id,
        createdAt: iso(session.createdAt),
        expiresAt: iso(session.expiresAt),
        absoluteExpiresAt: iso(session.absoluteExpiresAt),
        fresh: sessions.isFresh(session),
      },
    };
  });
};
