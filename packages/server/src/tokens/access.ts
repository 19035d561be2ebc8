/**
 * Short-lived access tokens (JWT) for clients that are not browsers: a CLI, a mobile app, another
 * service. Browsers never get one (the session cookie is theirs). Built on jose.
 *
 * `createAccessTokens` puts together what the issuer needs: the keys (keys.ts), issuing
 * (issue.ts), verifying against its own keys (verify.ts) and the JWKS to publish. A service that
 * only receives tokens uses `createAccessTokenVerifier` (verifier.ts) instead. Revocation by jti or
 * per-user not-before is `AccessTokenRevocations` (revocations.ts).
 */
import type { JWK } from 'jose';
import { ConfigurationError } from '../errors.js';
import { checkFunction, checkNumber, checkOptions, checkString } from '../lib/options.js';
import { checkClockSkew, MAX_ACCESS_TOKEN_LIFETIME, REGISTERED, type VerifiedAccessToken } from './claims.js';
import { createIssue } from './issue.js';
import { type AccessTokenKey, checkAccessTokenKeys, publicJwks } from './keys.js';
import { type AccessTokenRevocations, checkRevocations } from './revocations.js';
import { createVerify } from './verify.js';

/** Options of `createAccessTokens`. Times in seconds. */
export interface AccessTokenOptions {
  issuer: string;
  audience: string;
  /** Newest first: the first signs, all verify. Drop a key once its tokens have expired. */
  keys: readonly AccessTokenKey[];
  /** Seconds; at most 3600. Default 300. */
  lifetime?: number;
  /** Seconds of clock skew tolerated on exp and nbf. Default 30, at most 60. */
  clockSkew?: number;
  /** Claims a caller may add beyond the registered ones. Default none. */
  allowedClaims?: readonly string[];
  /** Checked on verify (fail closed when unavailable); its not-befores shape `iat` on issue. */
  revocations?: AccessTokenRevocations;
  now?: () => number;
}

/** What `createAccessTokens` returns: the issuer's three operations. */
export interface AccessTokens {
  issue(subject: string, claims?: Record<string, unknown>): Promise<{ token: string; jti: string; expiresAt: number }>;
  /** The token's subject and claims, or `null` for anything not valid now. */
  verify(token: string): Promise<VerifiedAccessToken | null>;
  /** The public keys, as a JWKS document for `/.well-known/jwks.json`. */
  jwks(): Promise<{ keys: JWK[] }>;
}

const OPTIONS = ['issuer', 'audience', 'keys', 'lifetime', 'clockSkew', 'allowedClaims', 'revocations', 'now'];

/**
 * The issuer's access tokens: issue, verify with its own keys, publish the public keys.
 * @example
 * const access = createAccessTokens({ issuer: 'https://auth.example', audience: 'api', keys: [await generateAccessTokenKey()] });
 * const { token } = await access.issue(user.id);   // to a CLI or a service, never to a browser
 * const verified = await access.verify(bearer);    // VerifiedAccessToken | null
 */
export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const o = checkOptions('createAccessTokens', options, OPTIONS, {
    algorithm: 'keys',
    secret: 'keys',
    expiresIn: 'lifetime',
  });
  const lifetime = checkNumber('lifetime', o.lifetime, {
    default: 300,
    min: 1,
    max: MAX_ACCESS_TOKEN_LIFETIME,
    integer: true,
    unit: 'seconds',
  });
  const clockSkew = checkClockSkew(o.clockSkew);
  const issuer = checkString('issuer', o.issuer, { expected: 'your issuer URL, e.g. https://auth.example' });
  const audience = checkString('audience', o.audience, { expected: 'the API the tokens are for, e.g. "api"' });
  const keys = checkAccessTokenKeys(o.keys);
  const allowedClaims = new Set(checkClaimNames(o.allowedClaims));
  const revocations = checkRevocations(o.revocations);
  const now = checkFunction('now', o.now, Date.now);
  const settings = { issuer, audience, allowedClaims, revocations, now };

  return {
    issue: createIssue({ ...settings, signer: keys[0] as AccessTokenKey, lifetime }),
    verify: createVerify({ ...settings, keys, clockSkew }),
    jwks: () => publicJwks(keys),
  };
}

function checkClaimNames(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((name) => typeof name === 'string' && name.length > 0))
    throw new ConfigurationError("allowedClaims must be a list of claim names, e.g. ['scope']");
  if (value.some((name) => REGISTERED.has(name)))
    throw new ConfigurationError(
      `allowedClaims lists a claim the issuer sets itself (${[...REGISTERED].join(', ')}): leave it out`,
    );
  return value;
}
