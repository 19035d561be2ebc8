/**
 * Two-factor codes (latchkey/totp), under `/api`:
 *
 *   GET    /api/account/totp                    session → {enabled, pending, recoveryCodesLeft}
 *   POST   /api/account/totp/enrol              fresh   → {secret, uri, qrSvg}   (not a factor until confirmed)
 *   POST   /api/account/totp/confirm  {code}    fresh   → {recoveryCodes}        (shown once; other sessions and API clients end)
 *   POST   /api/account/totp/recovery-codes     fresh   → {recoveryCodes}        (the old ones stop working)
 *   DELETE /api/account/totp                    fresh   → {ok}
 *   POST   /api/auth/second-factor    {code}    the step's cookie → {user}       (the login's second step)
 *   POST   /api/auth/second-factor/remove       a reset's step    → {user}       (every factor lost: removes them, mails a notice)
 *
 * The login (routes/auth.ts) starts the second step for an account with the factor on: a cookie of
 * its own and no session, so nothing but this route answers to it (M2).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionManager } from 'latchkey';
import type { AccountFlows } from 'latchkey/accounts';
import { type FastifySessions, sendError } from 'latchkey/fastify';
import type { SecondFactorStep } from 'latchkey/http';
import type { Totp } from 'latchkey/totp';
import { avatarUrl } from '../avatar.js';
import type { CurrentUser } from '../current-user.js';
import { logEvent } from '../log.js';
import type { NewDeviceNotices } from '../new-device.js';
import { parse, schemas } from '../schemas.js';
import type { UserTokens } from '../user-tokens.js';
import type { Users } from '../users.js';

export interface SecondFactorRoutesOptions {
  sessions: SessionManager;
  auth: FastifySessions;
  /** Absent when the server issues no tokens. */
  userTokens: UserTokens | undefined;
  users: Users;
  current: CurrentUser;
  totp: Totp;
  step: SecondFactorStep;
  notices: NewDeviceNotices;
  /** For the notice when a reset removes the factors. */
  accounts: AccountFlows;
}

/**
 * @example
 * await api.register(secondFactorRoutes, { sessions, auth, userTokens, users, current, totp, step, notices, accounts });
 */
export const secondFactorRoutes: FastifyPluginAsync<SecondFactorRoutesOptions> = async (api, options) => {
  const { sessions, auth, userTokens, users, current, totp, step, notices, accounts } = options;
  const fresh = { preHandler: auth.requireFreshSession };

  api.get('/account/totp', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    return totp.status(me.user.id);
  });

  // Enrolment needs a fresh session (step-up): whoever finds a signed-in browser must not bind the
  // account to their own phone.
  api.post('/account/totp/enrol', fresh, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const started = await totp.enrol(me.user.id, me.user.email);
    if (!started.ok) return sendError(reply, started.error, started.headers);
    return { secret: started.secret, uri: started.uri, qrSvg: await totp.qrCode(started.uri) };
  });

  api.post('/account/totp/confirm', fresh, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const body = parse(schemas.code, request.body, reply);
    if (!body) return reply;
    const done = await totp.confirm(me.user.id, body.code, request.ip);
    if (!done.ok) return sendError(reply, done.error, done.headers);
    // Turning it on is meant to lock out whoever had only the password: what they may already hold
    // (another session, an API client's refresh family) ends now.
    const revoked = await sessions.revokeOtherSessions(me.user.id, me.session.id);
    const grants = userTokens ? await userTokens.revokeAll(me.user.id) : 0;
    logEvent(request, 'totp.enabled', { userId: me.user.id, revoked, grants });
    return { recoveryCodes: done.recoveryCodes };
  });

  api.post('/account/totp/recovery-codes', fresh, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const codes = await totp.regenerateRecoveryCodes(me.user.id);
    if (codes === null) return sendError(reply, 'TOTP_NOT_ENABLED');
    logEvent(request, 'totp.recovery-codes', { userId: me.user.id });
    return { recoveryCodes: codes };
  });

  api.delete('/account/totp', fresh, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    if (!(await totp.disable(me.user.id))) return sendError(reply, 'TOTP_NOT_ENABLED');
    logEvent(request, 'totp.disabled', { userId: me.user.id });
    return { ok: true };
  });

  // The login's second step: the step's cookie names the account; the code proves the factor.
  api.post('/auth/second-factor', async (request: FastifyRequest, reply: FastifyReply) => {
    const body = parse(schemas.code, request.body, reply);
    if (!body) return reply;
    const pending = await step.pending(request.headers.cookie);
    if (!pending) return sendError(reply, 'SESSION_REQUIRED');
    const checked = await totp.verify(pending.userId, body.code, request.ip);
    if (!checked.ok) {
      logEvent(request, 'login.second-factor.failure', { userId: pending.userId, error: checked.error });
      await notices.secondFactorFailed(request, pending.userId);
      return sendError(reply, checked.error, checked.headers);
    }
    // Single use: of two requests with the right code, one logs in; the other finds no step.
    const done = await step.complete(request.headers.cookie);
    const user = done ? users.byId(done.userId) : null;
    if (!done || !user) return sendError(reply, 'SESSION_REQUIRED');
    const session = await auth.login(request, reply, user.id, { remember: done.data.remember === true });
    reply.header('set-cookie', done.headers['set-cookie']); // after the session's: it stays the first
    await notices.signedIn(request, user.id, true);
    logEvent(request, 'login.success', { userId: user.id, sessionId: session.id, factor: checked.method });
    return {
      user: { id: user.id, username: user.username, avatarUrl: avatarUrl(user) },
      ...(checked.method === 'recovery' ? { recoveryCodesLeft: checked.recoveryCodesLeft } : {}),
    };
  });

  // Recovery when every factor is lost (no app, no recovery code): only a step that a password
  // reset began (the mailbox proven) may remove the factors. The owner is told by mail.
  api.post('/auth/second-factor/remove', async (request, reply) => {
    const pending = await step.pending(request.headers.cookie);
    if (!pending || pending.data.afterReset !== true) return sendError(reply, 'SESSION_REQUIRED');
    const done = await step.complete(request.headers.cookie);
    const user = done ? users.byId(done.userId) : null;
    if (!done || !user) return sendError(reply, 'SESSION_REQUIRED');
    await totp.disable(user.id);
    await accounts.notifySecondFactorRemoved(user.id);
    const session = await auth.login(request, reply, user.id);
    reply.header('set-cookie', done.headers['set-cookie']);
    logEvent(request, 'totp.removed-by-reset', { userId: user.id, sessionId: session.id });
    return { user: { id: user.id, username: user.username, avatarUrl: avatarUrl(user) } };
  });
};
