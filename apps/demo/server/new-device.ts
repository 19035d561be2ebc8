/**
 * The new-device notice, for every way in with a password: the login form and the token endpoint's
 * password grant. A sign-in from a place the account never used (latchkey/accounts `deviceKey`,
 * or this browser's device cookie) mails the owner, after the sign-in succeeded and its answer is
 * on its way. At most 3 notices an hour per account: someone with the password cycling user agents
 * must not bury the one mail that matters under a hundred others. Wrong second-factor codes after
 * the right password tell the owner too: the code held, but the password is known.
 */
import type { FastifyRequest } from 'fastify';
import { type AccountFlows, deviceKey } from 'latchkey/accounts';
import { createRateLimit, type RateLimit } from 'latchkey/password';
import type { Devices } from './devices.js';
import { logEvent } from './log.js';
import type { SignIns } from './sign-ins.js';

export interface NewDeviceNotices {
  /**
   * Records where this sign-in came from; mails the notice when the place is new and `notify` (a
   * sign-up or reset link proved the mailbox on this device: recorded without a notice).
   */
  signedIn(request: FastifyRequest, userId: string, notify: boolean): Promise<void>;
  /**
   * A wrong code after the right password. The third within an hour mails the owner that the
   * password is known (at most one such mail an hour per account).
   */
  secondFactorFailed(request: FastifyRequest, userId: string): Promise<void>;
}

export interface NewDeviceNoticesOptions {
  signIns: SignIns;
  devices: Devices;
  accounts: AccountFlows;
  /** Notices per account. Default 3 an hour. */
  limit?: RateLimit;
  /** Wrong codes after a right password an account may see before its owner is told. Default 2 an hour. */
  failures?: RateLimit;
}

/**
 * @example
 * const notices = createNewDeviceNotices({ signIns, devices, accounts });
 * await notices.signedIn(request, user.id, true); // after auth.login succeeded
 */
export function createNewDeviceNotices(options: NewDeviceNoticesOptions): NewDeviceNotices {
  const { signIns, devices, accounts } = options;
  const limit =
    options.limit ?? createRateLimit({ name: 'new-device-notice', perClient: { points: 3, duration: 3600 } });
  const failures =
    options.failures ?? createRateLimit({ name: 'second-factor-failures', perClient: { points: 2, duration: 3600 } });
  const failureMails = createRateLimit({
    name: 'second-factor-failure-notice',
    perClient: { points: 1, duration: 3600 },
  });
  return {
    async secondFactorFailed(request, userId) {
      // A mistyped code or two is normal; a third means someone is trying codes with the password.
      if ((await failures.take(`account:${userId}`)).allowed) return;
      if (!(await failureMails.take(`account:${userId}`)).allowed) return;
      logEvent(request, 'login.second-factor.failures-mailed', { userId });
      const userAgent = request.headers['user-agent'];
      void accounts.notifySecondFactorFailures(userId, { userAgent, ip: request.ip }).catch((error: unknown) => {
        request.log.error({ err: error }, 'second-factor failure notice failed');
      });
    },
    async signedIn(request, userId, notify) {
      const userAgent = request.headers['user-agent'];
      const device = devices.current(request);
      const places = [deviceKey({ userAgent, ip: request.ip }), device && `d:${device}`];
      if (signIns.note(userId, places) !== 'new' || !notify) return;
      if (!(await limit.take(`account:${userId}`)).allowed) {
        logEvent(request, 'login.new-device.limited', { userId });
        return;
      }
      logEvent(request, 'login.new-device', { userId });
      void accounts.notifyNewDevice(userId, { userAgent, ip: request.ip }).catch((error: unknown) => {
        request.log.error({ err: error }, 'new-device notice failed');
      });
    },
  };
}
