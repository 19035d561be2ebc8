/**
 * `latchkey/passkeys`: passkeys (WebAuthn) for registration from a signed-in session, sign-in with
 * the passkey alone (discoverable credentials, autofill), and step-up. Needs `@simplewebauthn/server`
 * (an optional peer). Stores: `createMemoryPasskeyStore` here, `latchkey/passkeys/sqlite`, or your
 * own that passes `latchkey/passkeys/conformance`. The browser half is `@latchkey/client/passkeys`.
 *
 * @example
 * import { createPasskeys } from 'latchkey/passkeys';
 * import { createSqlitePasskeyStore } from 'latchkey/passkeys/sqlite';
 * const passkeys = createPasskeys({ store: createSqlitePasskeyStore(db), rpId: 'example.com', rpName: 'Acme', origins: ['https://example.com'] });
 */
export {
  createPasskeys,
  PASSKEY_FLOW_COOKIE,
  type PasskeyFlowHeaders,
  type PasskeyOptionsJSON,
  type PasskeyProof,
  type PasskeyRefusal,
  type PasskeySummary,
  type Passkeys,
  type PasskeysOptions,
} from './passkeys.js';
export { createMemoryPasskeyStore, type PasskeyRecord, type PasskeyStore, type PasskeyUse } from './store.js';
