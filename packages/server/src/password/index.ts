/**
 * `latchkey/password`: argon2id hashing (needs the optional peer `@node-rs/argon2`), the password
 * rules, the login throttle, `createPasswordLogin` (all of them in one call for a login route), and a rate limit for registration and other actions.
 */
export {
  type Argon2Parameters,
  createPasswordHasher,
  normalizePassword,
  type PasswordHasher,
  type PasswordVerification,
} from './hash.js';
export {
  createPasswordLogin,
  type PasswordLogin,
  type PasswordLoginError,
  type PasswordLoginOptions,
  type PasswordLoginResult,
} from './login.js';
export {
  commonPasswords,
  createPasswordPolicy,
  type PasswordPolicy,
  type PasswordPolicyOptions,
  type PasswordProblem,
} from './policy.js';
export {
  createRateLimit,
  type RateLimit,
  type RateLimitDecision,
  type RateLimitOptions,
  type RateLimitRule,
} from './rate-limit.js';
export {
  type AttemptOptions,
  clientKey,
  createLoginThrottle,
  type LoginAttemptResult,
  type LoginThrottle,
  type LoginThrottleOptions,
} from './throttle.js';
