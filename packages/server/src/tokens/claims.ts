/**
 * What a valid access token is, in one place for the issuer and both verifiers (ours and
 * `createAccessTokenVerifier`), so they cannot drift apart: the header rules (J1, J2), the claims
 * every token carries (J3), the lifetime bound, and what a verifier returns.
 */
import { checkNumber } from '../lib/options.js';
import type { AccessTokenRevocations } from './revocations.js';

/** The longest lifetime an access token may have, in seconds (the article (docs/article.md): limit expiry to 1 h). */
export const MAX_ACCESS_TOKEN_LIFETIME = 3600;

/** RFC 9068 §2.1: access tokens are typed `at+jwt`, so no other JWT of ours passes for one. */
export const TYP = 'at+jwt';

/** Claims the issuer sets itself; a caller may never supply them. */
export const REGISTERED: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

// Headers that would let a token bring or point at its own key (J2): the key is always ours.
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'];

/** What both verifiers return for a token that is valid now. Times in ms. */
export interface VerifiedAccessToken {
  subject: string;
  jti: string;
  issuedAt: number;
  expiresAt: number;
  claims: Record<string, unknown>;
}

/**
 * False for a header that carries or points at a key, or that asks for extensions (`crit`) we do
 * not implement (RFC 7515 §4.1.11: a verifier must refuse what it does not understand).
 */
export function trustedHeader(header: Record<string, unknown>): boolean {
  return !FORBIDDEN_HEADERS.some((name) => name in header) && header.crit === undefined;
}

/** The `clockSkew` option: seconds tolerated on exp, nbf and iat. Default 30, at most 60. */
export function checkClockSkew(value: unknown): number {
  return checkNumber('clockSkew', value, { default: 30, min: 0, max: 60, unit: 'seconds' });
}

/**
 * An `iat` after the present, beyond the skew. `iat` counts whole seconds, and the issuer may round
 * it up to the next one after a revocation (see issue.ts): compare with the present second rounded
 * up, so that token is not refused even with no skew.
 */
export const issuedInFuture = (iat: number, nowSeconds: number, skew: number): boolean =>
  iat > Math.ceil(nowSeconds) + skew;

/**
 * The last checks both verifiers make, after the signature and the standard claims: a lifetime
 * within the bound (J3: nobody, not even a holder of our key, mints long-lived tokens), an `iat`
 * not in the future, and not revoked. Fail closed: a revocation list too old to trust
 * (`'unavailable'`) refuses like `'revoked'`.
 */
export function acceptable(
  claims: { sub: string; jti: string; iat: number; exp: number },
  nowSeconds: number,
  skew: number,
  revocations: AccessTokenRevocations | undefined,
): boolean {
  if (claims.exp - claims.iat > MAX_ACCESS_TOKEN_LIFETIME) return false;
  if (issuedInFuture(claims.iat, nowSeconds, skew)) return false;
  const status = revocations?.check({ subject: claims.sub, jti: claims.jti, issuedAt: claims.iat * 1000 }) ?? 'valid';
  return status === 'valid';
}
