/**
 * The token endpoint and the JWKS, for non-browser clients (a CLI, a mobile app, a service):
 *
 *   GET  /.well-known/jwks.json                               → the access-token public keys
 *   POST /oauth/token  {grant_type: password|refresh_token, …} → access + refresh token
 *
 * The endpoint takes credentials in the body, not a cookie, so there is no ambient authority for a
 * CSRF to ride: it is exempt from the guard (see app.ts). Browsers never call it; the web app uses
 * the session.
 */
import type { FastifyPluginAsync } from 'fastify';
import { sendError } from 'latchkey/fastify';
import type { AccessTokens, RefreshTokens } from 'latchkey/tokens';
import type { Totp } from 'latchkey/totp';
import { appErrors } from '../errors.js';
import type { NewDeviceNotices } from '../new-device.js';
import type { PasswordAttempts } from '../password-attempts.js';
import { parse, schemas } from '../schemas.js';
import type { Users } from '../users.js';

export interface TokenRoutesOptions {
  access: AccessTokens;
  refresh: RefreshTokens;
  users: Users;
  attempts: PasswordAttempts;
  /** A password grant from a place the account never used mails a notice, as a login does. */
  notices: NewDeviceNotices;
  /** An account with a second factor cannot get tokens with its password alone. */
  totp: Totp;
}

/**
 * @example
 * await app.register(tokenRoutes, { access, refresh, users, attempts, notices, totp });
 */
export const tokenRoutes: FastifyPluginAsync<TokenRoutesOptions> = async (
  app,
  { access, refresh, users, attempts, notices, totp },
) => {
  app.get('/.well-known/jwks.json', async (_request, reply) =>
    // Cached 5 min: a new key must be published (as the second key) that long before it signs.
    reply.header('cache-control', 'public, max-age=300').send(await access.jwks()),
  );

  app.post('/oauth/token', async (request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const body = parse(schemas.token, request.body, reply);
    if (!body) return reply;
    let userId: string;
    let refreshToken: string;
    if (body.grant_type === 'password') {
      let reason = '';
      const user = await attempts.attempt(
        request,
        reply,
        body.username,
        async () => {
          const outcome = await users.authenticate(body.username, body.password);
          if (outcome.ok) return outcome.user;
          reason = outcome.reason;
          return false;
        },
        false, // a token client: no device cookie
      );
      if (!user) {
        if (reason) request.log.info({ event: 'token.password.failure', reason, ip: request.ip }, 'token');
        return reply;
      }
      // The password grant has no room for a second factor: it must not be a way around one.
      if ((await totp.status(user.id)).enabled) {
        request.log.info({ event: 'token.password.second-factor', userId: user.id }, 'token');
        return sendError(reply, appErrors.SECOND_FACTOR_REQUIRED);
      }
      userId = user.id;
      refreshToken = (await refresh.issue(userId)).token;
      await notices.signedIn(request, userId, true);
    } else {
      const result = await refresh.rotate(body.refresh_token);
      if (!result.ok) {
        request.log.info({ event: 'token.refresh.failure', reason: result.reason, ip: request.ip }, 'token');
        return sendError(reply, appErrors.INVALID_GRANT);
      }
      if (!users.byId(result.userId)) {
        await refresh.revokeFamily(result.familyId); // the account is gone or disabled
        return sendError(reply, appErrors.INVALID_GRANT);
      }
      userId = result.userId;
      refreshToken = result.token;
    }
    const issued = await access.issue(userId);
    request.log.info({ event: `token.${body.grant_type}`, userId, jti: issued.jti, ip: request.ip }, 'token');
    return {
      access_token: issued.token,
      token_type: 'Bearer',
      expires_in: Math.round((issued.expiresAt - Date.now()) / 1000),
      refresh_token: refreshToken,
    };
  });
};
