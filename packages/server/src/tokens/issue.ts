/**
 * Issuing an access token: signed by the newest key with its `kid` and `typ: at+jwt` in the header,
 * every registered claim set by us, the caller's claims from an allowlist only (J7: a JWT is
 * readable by anyone who holds it), and an `iat` that a revocation of the same second does not
 * refuse (R4).
 */
import { randomBytes } from 'node:crypto';
import { type CryptoKey, SignJWT } from 'jose';
import { InvalidArgumentError } from '../errors.js';
import { REGISTERED, TYP } from './claims.js';
import type { AccessTokenKey } from './keys.js';
import type { AccessTokenRevocations } from './revocations.js';

/** What `issue` gives back. `expiresAt` in ms. */
export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresAt: number;
}

export interface IssueSettings {
  issuer: string;
  audience: string;
  /** The key that signs: it has its private key (checked by `checkAccessTokenKeys`). */
  signer: AccessTokenKey;
  /** Seconds, already checked against the bound. */
  lifetime: number;
  allowedClaims: ReadonlySet<string>;
  revocations: AccessTokenRevocations | undefined;
  now: () => number;
}

/** The issuing function of `createAccessTokens`, over checked settings. */
export function createIssue(
  settings: IssueSettings,
): (subject: string, claims?: Record<string, unknown>) => Promise<IssuedAccessToken> {
  const { issuer, audience, signer, lifetime, allowedClaims, revocations, now } = settings;
  return async (subject, claims = {}) => {
    if (typeof subject !== 'string' || subject.length === 0)
      throw new InvalidArgumentError('issue(subject) needs the user id as a non-empty string');
    for (const name of Object.keys(claims)) {
      if (REGISTERED.has(name) || !allowedClaims.has(name))
        throw new InvalidArgumentError(
          REGISTERED.has(name)
            ? `claim "${name}" is set by the issuer; leave it out`
            : `claim "${name}" is not allowed: add it to allowedClaims, or leave it out`,
        );
    }
    const t = now();
    const start = Math.floor(t / 1000);
    // R4 with one-second iat: a token is revoked when iat·1000 < the subject's not-before (ms).
    // In the second of a revocation, the honest iat would be refused: take the next whole second
    // (never past the present second rounded up). nbf and exp keep the real time.
    const notBefore = revocations?.notBefore(subject);
    const iat =
      notBefore !== undefined && start * 1000 < notBefore
        ? Math.min(Math.ceil(notBefore / 1000), Math.ceil(t / 1000))
        : start;
    const jti = randomBytes(16).toString('base64url');
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: TYP })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setNotBefore(start)
      .setExpirationTime(start + lifetime)
      .setJti(jti)
      .sign(signer.privateKey as CryptoKey);
    return { token, jti, expiresAt: (start + lifetime) * 1000 };
  };
}
