/**
 * `latchkey/one-time`: single-use tokens for the links of an account's life: e-mail verification,
 * password reset, e-mail change, and purposes of the app's own. Stored as hashes, bound to a user
 * and a purpose, short-lived, used atomically, replaced by a newer one. docs/one-time-tokens.md
 * says how to put them in links that leak through neither logs nor `Referer`.
 *
 * Stores: `createMemoryOneTimeStore` here; `latchkey/one-time/sqlite`, `latchkey/one-time/postgres`
 * and `latchkey/one-time/redis`, each its own entry so that importing this one loads no database
 * driver. The store conformance suite: `latchkey/one-time/conformance`.
 *
 * @example
 * import { createOneTimeTokens } from 'latchkey/one-time';
 * import { createSqliteOneTimeStore } from 'latchkey/one-time/sqlite';
 * const oneTime = createOneTimeTokens({ store: createSqliteOneTimeStore(db) });
 */
export { createMemoryOneTimeStore } from './memory.js';
export type { OneTimeTokenData, OneTimeTokenRecord, OneTimeTokenStore } from './store.js';
export {
  createOneTimeTokens,
  DEFAULT_PURPOSES,
  type IssuedOneTimeToken,
  MAX_ONE_TIME_DATA_BYTES,
  MAX_ONE_TIME_TTL,
  type OneTimeTokenGrant,
  type OneTimeTokenPurpose,
  type OneTimeTokens,
  type OneTimeTokensOptions,
} from './tokens.js';
