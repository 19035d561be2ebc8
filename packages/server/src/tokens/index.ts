/**
 * `latchkey/tokens`: tokens for non-browser clients. Short-lived access JWTs (jose), their
 * verification against our key set or a remote JWKS, their revocation (in memory or shared with
 * other processes through a log), and rotating refresh tokens with reuse detection. Browsers never
 * receive any of these: the backend-for-frontend mints one per call.
 *
 * Stores: `latchkey/tokens/sqlite`, `latchkey/tokens/postgres`, `latchkey/tokens/redis`; the
 * refresh-store conformance suite: `latchkey/tokens/conformance`.
 */
export { type AccessTokenOptions, type AccessTokens, createAccessTokens } from './access.js';
export { MAX_ACCESS_TOKEN_LIFETIME, type VerifiedAccessToken } from './claims.js';
export {
  type AccessTokenAlg,
  type AccessTokenKey,
  exportAccessTokenKey,
  generateAccessTokenKey,
  importAccessTokenKey,
} from './keys.js';
export {
  createRefreshTokens,
  type RefreshEvent,
  type RefreshFamilySummary,
  type RefreshResult,
  type RefreshTokens,
  type RefreshTokensOptions,
} from './refresh.js';
export { createMemoryRefreshStore } from './refresh-memory.js';
export type { RefreshFamily, RefreshRecord, RefreshStore } from './refresh-store.js';
export {
  type AccessTokenRevocations,
  createMemoryRevocations,
  createSharedRevocations,
  REVOCATION_RETENTION,
  type RevocationEntry,
  type RevocationLog,
  type RevocationStatus,
  type SharedRevocationsOptions,
} from './revocations.js';
export { type AccessTokenVerifierOptions, createAccessTokenVerifier } from './verifier.js';
