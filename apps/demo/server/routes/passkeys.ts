/**
 * Passkeys (latchkey/passkeys), under `/api`:
 *
 *   GET    /api/auth/methods                            → {passkeys}           (whether this server does passkeys)
 *   GET    /api/account/passkeys               session  → {passkeys}
 *   POST   /api/account/passkeys/options       fresh    → {options}           (challenge bound to this session)
 *   POST   /api/account/passkeys  {response, name?} fresh → {passkey}
 *   PATCH  /api/account/passkeys/:id  {name}   session  → {ok}
 *   DELETE /api/account/passkeys/:id           fresh    → {ok}
 *   POST   /api/auth/passkey/options                    → {options}           (+ the flow's cookie)
 *   POST   /api/auth/passkey  {response, remember?}     → {user}              (a session: both factors at once)
 *   POST   /api/auth/reauthenticate/passkey/options  session → {options}
 *   POST   /api/auth/reauthenticate/passkey  {response}  session → {freshUntil}  (step-up, new cookie)
 *
 * Passkeys need a domain name (WebAuthn has no rp id for an IP address): on a server reached at
 * http://127.0.0.1 only, `methods` says `passkeys: false` and the routes below it are not there.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { SessionManager } from 'latchkey';
import type { AccountFlows } from 'latchkey/accounts';
import { type FastifySessions, sendError } from 'latchkey/fastify';
import type { SecondFactorStep } from 'latchkey/http';
import type { Passkeys } from 'latchkey/passkeys';
import type { RateLimit } from 'latchkey/password';
import type { Totp } from 'latchkey/totp';
import { z } from 'zod';
import { avatarUrl } from '../avatar.js';
import type { CurrentUser } from '../current-user.js';
import { logEvent } from '../log.js';
import type { NewDeviceNotices } from '../new-device.js';
import { parse } from '../schemas.js';
import type { Users } from '../users.js';

export interface PasskeyRoutesOptions {
  sessions: SessionManager;
  auth: FastifySessions;
  users: Users;
  current: CurrentUser;
  /** Absent: this server does not offer passkeys. */
  passkeys: Passkeys | undefined;
  notices: NewDeviceNotices;
  /** Counts passkey sign-in requests per client: each writes a challenge or checks a signature. */
  limit: RateLimit;
  /** Mails the owner when a passkey is added. */
  accounts: AccountFlows;
  /** A passkey without user verification is one factor: a two-factor account still owes its code. */
  totp: Totp;
  step: SecondFactorStep;
}

// The authenticator's answer is checked field by field by latchkey/passkeys; here it is only bounded.
const answer = z.record(z.string(), z.unknown());
const bodies = {
  register: z.strictObject({ response: answer, name: z.string().max(64).optional() }),
  signIn: z.strictObject({ response: answer, remember: z.boolean().optional() }),
  proof: z.strictObject({ response: answer }),
  rename: z.strictObject({ name: z.string().min(1).max(64) }),
  id: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,1364}$/) }),
  empty: z.strictObject({}),
};

/**
 * @example
 * await api.register(passkeyRoutes, { sessions, auth, users, current, passkeys, notices, limit });
 */
export const passkeyRoutes: FastifyPluginAsync<PasskeyRoutesOptions> = async (api, options) => {
  const { sessions, auth, users, current, passkeys, notices, limit, accounts, totp, step } = options;
  /** The per-client limit, or a 429 sent. */
  const allowed = async (ip: string, reply: FastifyReply) => {
    const taken = await limit.take(ip);
    if (taken.allowed) return true;
    void sendError(reply, 'TOO_MANY_ATTEMPTS', { 'retry-after': String(taken.retryAfter) });
    return false;
  };
  api.get('/auth/methods', async () => ({ passkeys: passkeys !== undefined }));
  if (!passkeys) return;
  const fresh = { preHandler: auth.requireFreshSession };

  api.get('/account/passkeys', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    return { passkeys: await passkeys.list(me.user.id) };
  });

  // Adding a way in needs a fresh session: whoever finds a signed-in browser must not plant their own passkey.
  api.post('/account/passkeys/options', fresh, async (request, reply) => {
    const me = await current(request, reply);
    if (!me || !parse(bodies.empty, request.body, reply)) return reply;
    const started = await passkeys.registrationOptions(
      { id: me.user.id, name: me.user.email, displayName: me.user.username },
      me.session.id,
    );
    if (!started.ok) return sendError(reply, started.error);
    return { options: started.options };
  });

  api.post('/account/passkeys', fresh, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const body = parse(bodies.register, request.body, reply);
    if (!body) return reply;
    const added = await passkeys.verifyRegistration(me.user.id, me.session.id, body.response, {
      ...(body.name ? { name: body.name } : {}),
    });
    if (!added.ok) {
      logEvent(request, 'passkey.register.failure', { userId: me.user.id, error: added.error });
      return sendError(reply, added.error);
    }
    logEvent(request, 'passkey.registered', { userId: me.user.id });
    // A passkey planted from a borrowed, signed-in browser would outlive a password reset: the owner hears of it.
    void accounts
      .notifyPasskeyAdded(me.user.id, {
        name: added.passkey.name,
        userAgent: request.headers['user-agent'],
        ip: request.ip,
      })
      .catch((error: unknown) => request.log.error({ err: error }, 'passkey notice failed'));
    return { passkey: added.passkey };
  });

  api.patch('/account/passkeys/:id', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const params = parse(bodies.id, request.params, reply);
    const body = params && parse(bodies.rename, request.body, reply);
    if (!params || !body) return reply;
    const renamed = await passkeys.rename(me.user.id, params.id, body.name);
    if (!renamed.ok) return sendError(reply, renamed.error);
    return { ok: true };
  });

  api.delete('/account/passkeys/:id', fresh, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const params = parse(bodies.id, request.params, reply);
    if (!params) return reply;
    // Every account here has a password, so the last passkey may go; an app with passkey-only
    // accounts passes false for those, and latchkey refuses with LAST_SIGN_IN_METHOD.
    const removed = await passkeys.remove(me.user.id, params.id, { otherSignIn: true });
    if (!removed.ok) return sendError(reply, removed.error);
    logEvent(request, 'passkey.removed', { userId: me.user.id });
    return { ok: true };
  });

  // Each call writes a challenge, and it needs no account: limited per client like the answers.
  api.post('/auth/passkey/options', async (request, reply) => {
    if (!parse(bodies.empty, request.body, reply) || !(await allowed(request.ip, reply))) return reply;
    const started = await passkeys.signInOptions();
    reply.headers(started.headers);
    return { options: started.options };
  });

  api.post('/auth/passkey', async (request, reply) => {
    const body = parse(bodies.signIn, request.body, reply);
    if (!body || !(await allowed(request.ip, reply))) return reply;
    const proof = await passkeys.verifySignIn(request.headers.cookie, body.response);
    reply.headers(proof.headers);
    // A disabled or deleted account's passkey signs nobody in (byId is null for those).
    const user = proof.ok ? users.byId(proof.userId) : null;
    if (!proof.ok || !user) {
      logEvent(request, 'login.passkey.failure', { error: proof.ok ? 'account-unavailable' : proof.error });
      return sendError(reply, proof.ok ? 'PASSKEY_INVALID' : proof.error);
    }
    // A passkey with user verification (latchkey/passkeys' default) is both factors. Without it,
    // it is possession only: a two-factor account still owes its code, as after a password.
    if (!proof.userVerified && (await totp.status(user.id)).enabled) {
      const { headers } = await step.begin(user.id, { remember: body.remember === true });
      reply.headers(headers);
      return { secondFactor: 'totp' };
    }
    const session = await auth.login(request, reply, user.id, { remember: body.remember === true });
    await notices.signedIn(request, user.id, true);
    logEvent(request, 'login.success', { userId: user.id, sessionId: session.id, factor: 'passkey' });
    return { user: { id: user.id, username: user.username, avatarUrl: avatarUrl(user) } };
  });

  api.post('/auth/reauthenticate/passkey/options', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me || !parse(bodies.empty, request.body, reply)) return reply;
    const started = await passkeys.stepUpOptions(me.user.id, me.session.id);
    if (!started.ok) return sendError(reply, started.error);
    return { options: started.options };
  });

  api.post('/auth/reauthenticate/passkey', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const body = parse(bodies.proof, request.body, reply);
    if (!body) return reply;
    const proof = await passkeys.verifyStepUp(me.user.id, me.session.id, body.response);
    if (!proof.ok) {
      logEvent(request, 'reauthenticate.passkey.failure', { userId: me.user.id, error: proof.error });
      return sendError(reply, proof.error);
    }
    // As after the password (F1): a new session id; the old cookie is dead from here on.
    const session = await auth.reauthenticate(request, reply);
    if (!session) return sendError(reply, 'SESSION_REQUIRED');
    logEvent(request, 'reauthenticate.success', { userId: me.user.id, sessionId: session.id, factor: 'passkey' });
    return { freshUntil: new Date(session.authenticatedAt + sessions.freshFor * 1000).toISOString() };
  });
};
