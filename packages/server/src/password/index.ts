/**
 * `latchkey/password`: argon2id hashing (needs the optional peer `@node-rs/argon2`), the password
 * rules, and the login throttle.
 */
export {
  type Argon2Parameters,
  createPasswordHasher,
  normalizePassword,
  type PasswordHasher,
  type PasswordVerification,
} from './hash.js';
export {
  commonPasswords,
  createPasswordPolicy,
  type PasswordPolicy,
  type PasswordPolicyOptions,
  type PasswordProblem,
} from './policy.js';
export {
  clientKey,
  createLoginThrottle,
  type LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleDecision,
} from './throttle.js';
