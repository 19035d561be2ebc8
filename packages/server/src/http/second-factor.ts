/**
 * The step between a right password and a second factor (M2: "a pending second-factor state is not
 * a session"). After the password, an account with a second factor gets a short-lived, single-use
 * reference in its own cookie, `__Host-second-factor` (HttpOnly, Secure, SameSite=Strict, 5 min),
 * and nothing else: the session middleware never reads that cookie, so no API answers to it. The
 * reference names a one-time token (`latchkey/one-time`, purpose `second-factor`), stored hashed;
 * only the right code turns it into a session, once.
 */
import { expiredFlowCookie, flowCookie, readFlowCookie } from '../cookie/flow-cookie.js';
import { ConfigurationError } from '../errors.js';
import type { OneTimeTokenData } from '../one-time/store.js';
import type { OneTimeTokens } from '../one-time/tokens.js';
import type { FlowHeaders } from './session-flow.js';

/** The one-time token purpose the step uses; give it to `createOneTimeTokens({ purposes: SECOND_FACTOR_PURPOSES })`. */
export const SECOND_FACTOR_PURPOSE = 'second-factor';

/** Its lifetime: 5 minutes to type a code, at most 15. Pass to `createOneTimeTokens`'s `purposes`. */
export const SECOND_FACTOR_PURPOSES = Object.freeze({ [SECOND_FACTOR_PURPOSE]: Object.freeze({ ttl: 300 }) });

const COOKIE = '__Host-second-factor';

/** Who the pending step is for, and what the login asked for (`{ remember: true }`, say). */
export interface PendingSecondFactor {
  userId: string;
  data: OneTimeTokenData;
}

/**
 * The second-factor step, free of any framework, from `createSecondFactorStep`: each method takes the
 * Cookie header and gives the response headers to set.
 *
 * @example
 * // After a right password, for an account with TOTP:
 * const { headers } = await step.begin(user.id, { remember: body.remember === true });
 * // POST /api/auth/second-factor {code}:
 * const pending = await step.pending(req.headers.cookie); // null: 401
 * if ((await totp.verify(pending.userId, body.code, req.ip)).ok) {
 *   const done = await step.complete(req.headers.cookie); // null: someone else finished it first
 *   if (done) await auth.login(req, res, done.userId, { remember: done.data.remember === true });
 * }
 */
export interface SecondFactorStep {
  /** Starts the step for `userId` (replacing any step the user had): the Set-Cookie to send, and no session. */
  begin(userId: string, data?: OneTimeTokenData): Promise<{ headers: FlowHeaders }>;
  /** The step this request carries, if it is alive; it stays alive (a wrong code may be retried, throttled). */
  pending(cookieHeader: string | undefined): Promise<PendingSecondFactor | null>;
  /** Ends the step for good (call it after the factor was proven): the first caller gets it, any other null. */
  complete(cookieHeader: string | undefined): Promise<(PendingSecondFactor & { headers: FlowHeaders }) | null>;
  /** Forgets the step (the user went back, or logged out): headers that expire the cookie. */
  cancel(cookieHeader: string | undefined): Promise<{ headers: FlowHeaders }>;
}

/**
 * @example
 * const tokens = createOneTimeTokens({ store, purposes: { ...ACCOUNT_PURPOSES, ...SECOND_FACTOR_PURPOSES } });
 * const step = createSecondFactorStep(tokens);
 */
export function createSecondFactorStep(tokens: OneTimeTokens): SecondFactorStep {
  const ttl = tokens.purposes?.[SECOND_FACTOR_PURPOSE]?.ttl;
  if (typeof ttl !== 'number')
    throw new ConfigurationError(
      "createSecondFactorStep: the one-time tokens do not know the 'second-factor' purpose: create them with purposes: { ...SECOND_FACTOR_PURPOSES }",
    );
  if (ttl > 900)
    throw new ConfigurationError(
      `createSecondFactorStep: a second-factor step of ${ttl} s is too long; 300 (5 min) is the default, 900 the most`,
    );
  const expire = expiredFlowCookie(COOKIE);
  const read = (header: string | undefined) => readFlowCookie(header, COOKIE, (v) => v.length > 0 && v.length < 200);
  return {
    async begin(userId, data = {}) {
      const { token } = await tokens.issue(userId, SECOND_FACTOR_PURPOSE, { data });
      return { headers: { 'set-cookie': flowCookie(COOKIE, token, ttl), 'cache-control': 'no-store' } };
    },
    async pending(cookieHeader) {
      const token = read(cookieHeader);
      const grant = token === null ? null : await tokens.peek(token, SECOND_FACTOR_PURPOSE);
      return grant === null ? null : { userId: grant.userId, data: grant.data };
    },
    async complete(cookieHeader) {
      const token = read(cookieHeader);
      const grant = token === null ? null : await tokens.consume(token, SECOND_FACTOR_PURPOSE);
      if (grant === null) return null;
      return { userId: grant.userId, data: grant.data, headers: { 'set-cookie': expire, 'cache-control': 'no-store' } };
    },
    async cancel(cookieHeader) {
      const token = read(cookieHeader);
      if (token !== null) await tokens.consume(token, SECOND_FACTOR_PURPOSE);
      return { headers: { 'set-cookie': expire, 'cache-control': 'no-store' } };
    },
  };
}
