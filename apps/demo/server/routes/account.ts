/**
 * The account's sensitive operations, under `/api`. Changing anything needs a fresh session
 * (step-up), and the two that cannot be undone need the password again as well.
 *
 *   POST /api/account/email        {email}                        fresh → 202 {status} (a link to the new address, a notice with an undo link to the old)
 *   POST /api/account/email/confirm {token}                       → {email}  (the link sent to the new address)
 *   POST /api/account/email/undo   {token}                        → {email}  (the old address's link: ends every session, mails a reset link)
 *   POST /api/account/password     {currentPassword, newPassword} fresh → {revokedSessions}
 *   GET  /api/account/api-key[?reveal=1]                          session → {apiKey, masked} (whole: reveal + fresh)
 *   POST /api/account/api-key/rotate                              fresh → {apiKey}
 *   POST /api/account/disable      {password}                     fresh → {ok}  (ends every session)
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SessionManager } from 'latchkey';
import type { AccountFlows } from 'latchkey/accounts';
import { type FastifySessions, sendError } from 'latchkey/fastify';
import type { PasswordPolicy } from 'latchkey/password';
import type { CurrentUser } from '../current-user.js';
import { logEvent } from '../log.js';
import type { PasswordAttempts } from '../password-attempts.js';
import { parse, schemas } from '../schemas.js';
import type { UserTokens } from '../user-tokens.js';
import { maskApiKey, type Users } from '../users.js';
import { answerRequest } from './auth.js';

export interface AccountRoutesOptions {
  sessions: SessionManager;
  auth: FastifySessions;
  users: Users;
  current: CurrentUser;
  attempts: PasswordAttempts;
  policy: PasswordPolicy;
  /** Absent when the server issues no tokens. */
  userTokens: UserTokens | undefined;
  /** E-mail change and the password-changed notice (latchkey/accounts). */
  accounts: AccountFlows;
}

/**
 * @example
 * await api.register(accountRoutes, { sessions, auth, users, current, attempts, policy, userTokens, accounts });
 */
export const accountRoutes: FastifyPluginAsync<AccountRoutesOptions> = async (api, options) => {
  const { sessions, auth, users, current, attempts, policy, userTokens, accounts } = options;

  // A fresh session only: whoever walks up to a signed-in browser must not move the account's
  // mail (and with it every reset link) elsewhere. The old address gets an undo link for 7 days.
  api.post('/account/email', { preHandler: auth.requireFreshSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const body = parse(schemas.email, request.body, reply);
    if (!body) return reply;
    const result = await accounts.requestEmailChange(me.user.id, body.email);
    if (result.ok) logEvent(request, 'email.change-requested', { userId: me.user.id });
    return answerRequest(request, reply, result, 'email.change');
  });

  // The links need no session: they may be opened in another browser. The token is the proof.
  api.post('/account/email/confirm', async (request, reply) => {
    const body = parse(schemas.linkToken, request.body, reply);
    if (!body) return reply;
    const grant = await accounts.confirmEmailChange(body.token);
    if (!grant) return sendError(reply, 'TOKEN_INVALID');
    logEvent(request, 'email.changed', { userId: grant.userId });
    return { email: grant.email };
  });

  api.post('/account/email/undo', async (request, reply) => {
    const body = parse(schemas.linkToken, request.body, reply);
    if (!body) return reply;
    const grant = await accounts.undoEmailChange(body.token);
    if (!grant) return sendError(reply, 'TOKEN_INVALID');
    // Every session of the account ended (endSessions); a link to set a new password went to the old address.
    logEvent(request, 'email.change-undone', { userId: grant.userId });
    return { email: grant.email };
  });

  api.post('/account/password', { preHandler: auth.requireFreshSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const body = parse(schemas.changePassword, request.body, reply);
    if (!body) return reply;
    // P2: the current password is needed even in a fresh session (a walk-up attacker).
    // P4: through the same attempt rule as login (finding 2: it was an unthrottled oracle).
    if (!(await attempts.confirm(request, reply, me.user, body.currentPassword))) return reply;
    const problem = policy.check(body.newPassword, [me.user.username]);
    if (problem) return sendError(reply, problem);
    await users.setPassword(me.user.id, body.newPassword);
    // R3: every other session ends; this one gets a new id (a privilege change, F1).
    const revokedSessions = await sessions.revokeOtherSessions(me.user.id, me.session.id);
    await userTokens?.revokeAll(me.user.id);
    await auth.reauthenticate(request, reply);
    // Pending reset and e-mail links die with the old password; the owner's inbox hears of it.
    await accounts.passwordChanged(me.user.id);
    logEvent(request, 'password.change', { userId: me.user.id, revokedSessions });
    return { revokedSessions };
  });

  api.get('/account/api-key', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const key = users.apiKey(me.user.id) ?? '';
    // F3: the whole key only when asked for (?reveal=1) by a fresh session; otherwise enough
    // to recognise it.
    const reveal = (request.query as { reveal?: string }).reveal === '1';
    if (!reveal || !sessions.isFresh(me.session)) return { apiKey: maskApiKey(key), masked: true };
    logEvent(request, 'api-key.reveal', { userId: me.user.id });
    return { apiKey: key, masked: false };
  });

  api.post('/account/api-key/rotate', { preHandler: auth.requireFreshSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const apiKey = users.rotateApiKey(me.user.id);
    logEvent(request, 'api-key.rotate', { userId: me.user.id });
    return { apiKey, masked: false };
  });

  api.post('/account/disable', { preHandler: auth.requireFreshSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const body = parse(schemas.reauthenticate, request.body, reply);
    if (!body) return reply;
    // Destructive and final: the password again, through the attempt rule.
    if (!(await attempts.confirm(request, reply, me.user, body.password))) return reply;
    users.disable(me.user.id);
    // R2: a disabled account has no live session anywhere, caches included.
    const revoked = await sessions.revokeUserSessions(me.user.id);
    await userTokens?.revokeAll(me.user.id);
    await auth.logout(request, reply);
    logEvent(request, 'account.disable', { userId: me.user.id, revoked });
    return { ok: true };
  });
};
