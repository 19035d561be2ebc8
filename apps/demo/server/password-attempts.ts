/**
 * P4: every route that checks a password (login, step-up, password change, account removal, the
 * token endpoint's password grant) goes through the one attempt rule of the login throttle: the
 * attempt is counted before the check runs, so a burst gets no more checks than a sequence.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from 'latchkey/fastify';
import type { LoginThrottle } from 'latchkey/password';
import type { Devices } from './devices.js';
import { logEvent, logPseudonym } from './log.js';
import type { User, Users } from './users.js';

export interface PasswordAttempts {
  /**
   * Runs `check` under the throttle for `username`. Resolves to what it returned, or to
   * `undefined` after answering 429 (with Retry-After) or 401 itself. `browser: false` for a token
   * client (a CLI): no device cookie.
   */
  attempt<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    username: string,
    check: () => Promise<T | false>,
    browser?: boolean,
  ): Promise<T | undefined>;
  /** The signed-in user's own password again (step-up, password change, disable). */
  confirm(request: FastifyRequest, reply: FastifyReply, user: User, password: string): Promise<boolean>;
}

export interface PasswordAttemptsOptions {
  throttle: LoginThrottle;
  users: Users;
  devices: Devices;
  /** The key of the usernames' pseudonyms in log lines. */
  logKey: Buffer;
}

/**
 * @example
 * const user = await attempts.attempt(request, reply, body.username, async () => {
 *   const outcome = await users.authenticate(body.username, body.password);
 *   return outcome.ok ? outcome.user : false;
 * });
 * if (!user) return reply; // 401 or 429 already sent
 */
export function createPasswordAttempts({
  throttle,
  users,
  devices,
  logKey,
}: PasswordAttemptsOptions): PasswordAttempts {
  const throttledLogged = new Map<string, { at: number; suppressed: number }>();
  const attempt: PasswordAttempts['attempt'] = async (request, reply, username, check, browser = true) => {
    const device = browser ? devices.of(request) : undefined;
    const result = await throttle.attempt(username, request.ip, check, { device });
    if (result.ok) {
      // A browser that got in is known from now on; a token client (a CLI) gets no cookie.
      if (browser) await devices.know(request, username, device);
      return result.value;
    }
    if (result.reason === 'throttled') {
      // At most one line a minute per name: an attacker hammering 429s must not flood the log.
      const user = logPseudonym(logKey, username);
      const now = Date.now();
      const last = throttledLogged.get(user);
      if (last === undefined || now - last.at >= 60_000) {
        if (throttledLogged.size >= 10_000) throttledLogged.clear();
        logEvent(request, 'password.throttled', { user, scope: result.scope, suppressed: last?.suppressed ?? 0 });
        throttledLogged.set(user, { at: now, suppressed: 0 });
      } else last.suppressed++;
      void sendError(reply.header('retry-after', String(result.retryAfter)), 'TOO_MANY_ATTEMPTS');
    } else void sendError(reply, 'INVALID_CREDENTIALS');
    return undefined;
  };
  return {
    attempt,
    confirm: async (request, reply, user, password) =>
      (await attempt(
        request,
        reply,
        user.username,
        async () => (await users.checkPassword(user.id, password)) || false,
      )) === true,
  };
}
