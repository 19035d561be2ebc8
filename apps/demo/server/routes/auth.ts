/**
 * Signing up, in and out, and the way back in, under `/api`:
 *
 *   POST /api/auth/register        {email, password, username?} → 202 {status}  (mails a link; same answer for every address)
 *   POST /api/auth/verify          {token, password}      → {user}         (the sign-up link and the password chosen at sign-up: creates the account, sets the cookie)
 *   POST /api/auth/password-reset  {email}                → 202 {status}  (mails a link to an account's address)
 *   POST /api/auth/password-reset/confirm {token, password} → {user}       (ends every session; sets the cookie)
 *   POST /api/auth/login           {username, password, remember?} → {user} (username or e-mail address; sets the cookie; remember: 30 days)
 *                                                                  or {secondFactor: 'totp'} (two-factor codes on: no session yet; see second-factor.ts)
 *   POST /api/auth/reauthenticate  {password, code?} session → {freshUntil} (step-up, new cookie; code: two-factor accounts)
 *   POST /api/auth/logout                                 → {ok}           (Clear-Site-Data)
 *   GET  /api/me                               session    → {user, session}
 *
 * Tokens arrive in POST bodies only: the mails' links carry them in the URL fragment, which no
 * server or proxy log and no Referer ever sees; the page reads it and POSTs it.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionManager } from 'latchkey';
import { type AccountFlows, type AccountRequestResult, normalizeEmail } from 'latchkey/accounts';
import { type FastifySessions, getSession, sendError } from 'latchkey/fastify';
import type { SecondFactorStep } from 'latchkey/http';
import type { Totp } from 'latchkey/totp';
import { avatarUrl } from '../avatar.js';
import type { CurrentUser } from '../current-user.js';
import type { Devices } from '../devices.js';
import { logEvent, logPseudonym } from '../log.js';
import type { NewDeviceNotices } from '../new-device.js';
import type { PasswordAttempts } from '../password-attempts.js';
import { parse, schemas } from '../schemas.js';
import { normalizeUsername, type User, type Users } from '../users.js';

export interface AuthRoutesOptions {
  sessions: SessionManager;
  auth: FastifySessions;
  users: Users;
  current: CurrentUser;
  attempts: PasswordAttempts;
  devices: Devices;
  /** Sign-up, verification and password reset (latchkey/accounts). */
  accounts: AccountFlows;
  /** A sign-in from a place the account never used mails a notice. */
  notices: NewDeviceNotices;
  /** Accounts with two-factor codes on get the second step instead of a session. */
  totp: Totp;
  step: SecondFactorStep;
  /** The key of the usernames' pseudonyms in log lines. */
  logKey: Buffer;
}

const iso = (ms: number) => new Date(ms).toISOString();
const userJson = (user: User) => ({ id: user.id, username: user.username, avatarUrl: avatarUrl(user) });

/**
 * The one answer of a sign-up or reset request that was taken: the same bytes whether or not the
 * address has an account (ASVS 6.3.8). Only the mail differs, and only its owner reads it.
 */
export const REQUEST_ACCEPTED = Object.freeze({ status: 'check-your-inbox' });

/** 202 and the one body, or the refusal (which depends on the request only, never on the address). */
export function answerRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  result: AccountRequestResult,
  name: string,
) {
  if (result.ok) return reply.code(202).send(REQUEST_ACCEPTED);
  if (result.error === 'TOO_MANY_ATTEMPTS') logEvent(request, `${name}.throttled`);
  return sendError(reply, result.error, result.headers);
}

/**
 * The throttle's key for a login: an address in its one form (so `Ann@Example.com` and
 * `ann@example.com` share one count), a username in lower case. An account's username and address
 * are counted apart: keying the address by its account would let anyone who locked a username
 * test addresses against it (a 429 would say "this address is that account's").
 */
const loginKey = (login: string) => (login.includes('@') ? (normalizeEmail(login) ?? login) : normalizeUsername(login));

/**
 * @example
 * await api.register(authRoutes, { sessions, auth, users, current, attempts, devices, accounts, notices, totp, step, logKey });
 */
export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (api, options) => {
  const { sessions, auth, users, current, attempts, devices, accounts, notices, totp, step, logKey } = options;

  /** After a link proved the mailbox: this browser and address are known to the throttle, and logged in. */
  const logInByLink = async (request: FastifyRequest, reply: FastifyReply, userId: string, event: string) => {
    const user = users.byId(userId);
    if (!user) return sendError(reply, 'TOKEN_INVALID');
    await devices.remember(request, user.username);
    const session = await auth.login(request, reply, user.id);
    await notices.signedIn(request, user.id, false); // the mailbox's owner, on this device, just now
    logEvent(request, event, { userId: user.id, sessionId: session.id });
    return { user: userJson(user) };
  };

  // ASVS 6.3.8: one answer for a new address and a taken one, after the same work (the library
  // counts it); the client's limit (finding 5) is counted before the hash.
  api.post('/auth/register', async (request, reply) => {
    const body = parse(schemas.register, request.body, reply);
    if (!body) return reply;
    const input = { ...body, ...(body.username === undefined ? {} : { username: normalizeUsername(body.username) }) };
    return answerRequest(request, reply, await accounts.register(input, request.ip), 'register');
  });

  // The link proves the mailbox; the password typed again proves it is the person who chose it
  // (anyone may sign up with someone else's address). A wrong one keeps the link working.
  api.post('/auth/verify', async (request, reply) => {
    const body = parse(schemas.verify, request.body, reply);
    if (!body) return reply;
    const verified = await accounts.verifyEmail(body);
    if (!verified.ok) return sendError(reply, verified.error, verified.headers);
    return logInByLink(request, reply, verified.userId, 'register');
  });

  api.post('/auth/password-reset', async (request, reply) => {
    const body = parse(schemas.email, request.body, reply);
    if (!body) return reply;
    return answerRequest(request, reply, await accounts.requestPasswordReset(body, request.ip), 'password-reset');
  });

  // The flow ends every session, refresh family and access token of the account (endSessions),
  // then this device is logged in: whoever reset proved the mailbox and chose the password.
  api.post('/auth/password-reset/confirm', async (request, reply) => {
    const body = parse(schemas.resetPassword, request.body, reply);
    if (!body) return reply;
    const result = await accounts.resetPassword(body);
    if (!result.ok) return sendError(reply, result.error, result.headers);
    // The mailbox is one factor, not two: an account with two-factor codes still needs a code or a
    // recovery code, or (everything lost) removes its factors, which mails a notice.
    if ((await totp.status(result.userId)).enabled) {
      const { headers } = await step.begin(result.userId, { afterReset: true });
      reply.headers(headers);
      logEvent(request, 'password.reset.second-factor', { userId: result.userId });
      return { secondFactor: 'totp', canRemove: true };
    }
    return logInByLink(request, reply, result.userId, 'password.reset');
  });

  api.post('/auth/login', async (request, reply) => {
    const body = parse(schemas.credentials, request.body, reply);
    if (!body) return reply;
    let reason = '';
    const user = await attempts.attempt(request, reply, loginKey(body.username), async () => {
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
    // Remember me lengthens this session only (library default: 30 days, 7 idle); step-up is unchanged.
    // A second factor: the password was right, but no session yet; only the code's route answers
    // to the step's cookie (M2). The remember-me choice waits in the step.
    if ((await totp.status(user.id)).enabled) {
      const { headers } = await step.begin(user.id, { remember: body.remember === true });
      reply.headers(headers);
      logEvent(request, 'login.second-factor', { userId: user.id });
      return { secondFactor: 'totp' };
    }
    const session = await auth.login(request, reply, user.id, { remember: body.remember === true });
    await notices.signedIn(request, user.id, true);
    logEvent(request, 'login.success', { userId: user.id, sessionId: session.id, remembered: body.remember === true });
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
    // A fresh session unlocks the factor settings (turn it off, new recovery codes) and the
    // address: for a two-factor account the password alone is one factor, so the code is asked too.
    if ((await totp.status(me.user.id)).enabled) {
      const checked = await totp.verify(me.user.id, body.code, request.ip);
      if (!checked.ok) {
        logEvent(request, 'reauthenticate.second-factor.failure', { userId: me.user.id, error: checked.error });
        return sendError(reply, checked.error, checked.headers);
      }
    }
    // F1: re-authentication gets a new session id; the old cookie is dead from here on.
    const session = await auth.reauthenticate(request, reply);
    if (!session) return sendError(reply, 'SESSION_REQUIRED');
    logEvent(request, 'reauthenticate.success', { userId: me.user.id, sessionId: session.id });
    return { freshUntil: iso(session.authenticatedAt + sessions.freshFor * 1000) };
  });

  api.post('/auth/logout', async (request, reply) => {
    const session = getSession(request);
    await step.cancel(request.headers.cookie); // a second step left half-way ends too
    await auth.logout(request, reply);
    if (session) logEvent(request, 'logout', { userId: session.userId, sessionId: session.id });
    return { ok: true };
  });

  api.get('/me', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const { session, user } = me;
    return {
      // The address only here, for the account page: a login's answer does not need it.
      user: { ...userJson(user), email: user.email },
      session: {
        id: session.id,
        createdAt: iso(session.createdAt),
        expiresAt: iso(session.expiresAt),
        absoluteExpiresAt: iso(session.absoluteExpiresAt),
        remembered: sessions.isRemembered(session),
        fresh: sessions.isFresh(session),
      },
    };
  });
};
