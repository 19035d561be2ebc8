/**
 * The verifying half alone, for a service that receives tokens (the downstream API behind the
 * backend-for-frontend): keys come from the issuer's JWKS over HTTP (jose's remote key set:
 * fetched, cached 10 min, refetched for an unknown kid at most every 30 s), never from the token.
 * The claim rules are the issuer's own (claims.ts).
 */
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { ConfigurationError } from '../errors.js';
import { checkFunction, checkOptions, checkString } from '../lib/options.js';
import type { AccessTokens } from './access.js';
import { acceptable, checkClockSkew, REGISTERED, TYP, trustedHeader } from './claims.js';
import { KID } from './keys.js';
import { type AccessTokenRevocations, checkRevocations } from './revocations.js';

/** Options of `createAccessTokenVerifier`. */
export interface AccessTokenVerifierOptions {
  /** Where the issuer publishes its keys, e.g. `https://auth.example/.well-known/jwks.json`. */
  jwksUrl: URL;
  issuer: string;
  audience: string;
  /** Seconds of clock skew tolerated on exp, nbf and iat. Default 30, at most 60. */
  clockSkew?: number;
  /**
   * The issuer's revocation list, read here: a shared backend (`createSqliteRevocations`,
   * `createRedisRevocations`), since the issuer's memory is out of reach. Without it, a revoked
   * token is accepted until it expires (≤ its lifetime). While the list is stale, every token is
   * refused (`revocations.available()` tells a 503 from a 401).
   */
  revocations?: AccessTokenRevocations;
  now?: () => number;
}

const OPTIONS = ['jwksUrl', 'issuer', 'audience', 'clockSkew', 'revocations', 'now'];

/**
 * @example
 * const revocations = createSqliteRevocations(new Database('data/revocations.db'));
 * const verifier = createAccessTokenVerifier({ jwksUrl: new URL('http://127.0.0.1:3000/.well-known/jwks.json'), issuer, audience, revocations });
 * const token = await verifier.verify(bearer); // VerifiedAccessToken | null
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): Pick<AccessTokens, 'verify'> {
  const o = checkOptions('createAccessTokenVerifier', options, OPTIONS, { jwks: 'jwksUrl', url: 'jwksUrl' });
  if (!(o.jwksUrl instanceof URL))
    throw new ConfigurationError("jwksUrl must be a URL object: new URL('https://auth.example/.well-known/jwks.json')");
  const skew = checkClockSkew(o.clockSkew);
  const issuer = checkString('issuer', o.issuer, { expected: "the issuer's URL, as its tokens name it" });
  const audience = checkString('audience', o.audience, { expected: "this service's name, as the tokens name it" });
  const revocations = checkRevocations(o.revocations);
  const now = checkFunction('now', o.now, Date.now);
  const keySet = createRemoteJWKSet(o.jwksUrl, { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length > 8192) return null;
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        return null;
      }
      // Before any fetch: a token must not make us fetch keys for a kid or alg we would refuse.
      if (!trustedHeader(header) || typeof header.kid !== 'string' || !KID.test(header.kid)) return null;
      if (header.alg !== 'EdDSA' && header.alg !== 'ES256') return null;
      try {
        const { payload } = await jwtVerify(token, keySet, {
          algorithms: ['EdDSA', 'ES256'],
          issuer,
          audience,
          typ: TYP,
          clockTolerance: skew,
          currentDate: new Date(now()),
          requiredClaims: ['sub', 'exp', 'iat', 'nbf', 'jti'],
        });
        const { sub, jti, iat, exp } = payload as Required<Pick<JWTPayload, 'sub' | 'jti' | 'iat' | 'exp'>>;
        // jose checks iat only against a maxTokenAge: a token "issued" in the future passes it.
        if (!acceptable({ sub, jti, iat, exp }, now() / 1000, skew, revocations)) return null;
        const claims: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(payload)) if (!REGISTERED.has(name)) claims[name] = value;
        return { subject: sub, jti, issuedAt: iat * 1000, expiresAt: exp * 1000, claims };
      } catch {
        return null;
      }
    },
  };
}
