/**
 * `latchkey/totp`: TOTP (RFC 6238) as a second factor, with its secret sealed at rest under a key
 * from the app's key ring, each code accepted once, attempts throttled like passwords, and ten
 * single-use recovery codes. Stores: `createMemoryTotpStore` here, `latchkey/totp/sqlite`, or your
 * own that passes `latchkey/totp/conformance`.
 *
 * @example
 * import { createTotp } from 'latchkey/totp';
 * import { createSqliteTotpStore } from 'latchkey/totp/sqlite';
 * const totp = createTotp({ store: createSqliteTotpStore(db), keys: [process.env.SESSION_KEY], issuer: 'Acme' });
 */
export {
  generateRecoveryCodes,
  normalizeRecoveryCode,
  RECOVERY_CODE_COUNT,
} from './recovery-codes.js';
export { createSecretBox, type SecretBox } from './secret-box.js';
export { createMemoryTotpStore, type TotpRecord, type TotpStore } from './store.js';
export { createTotp, type Totp, type TotpEnrolment, type TotpOptions, type TotpRefusal } from './totp.js';
