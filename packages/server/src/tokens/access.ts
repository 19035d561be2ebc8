/**
 * Short-lived access tokens (JWT) for clients that are not browsers: a CLI, a mobile app, another
 * service. Browsers never get one (the session cookie is theirs). Built on jose.
 *
 * - EdDSA (Ed25519) by default, ES256 on request; `kid` in every header; the newest key signs.
 * - A lifetime over one hour is a configuration error (the article: limit expiry to 1 h).
 * - Claims from an allowlist only: a JWT is readable by anyone who holds it (J7).
 * - Verification trusts nothing in the token to pick its key (J2): `jwk`, `jku`, `x5u`, `x5c`
 *   headers are refused; `kid` must name one of our keys, and the algorithm must be that key's (J1).
 * - iss, aud, typ (`at+jwt`), exp, nbf (with a small skew), iat and jti are all required (J3);
 *   an `iat` in the future beyond the skew is refused too.
 * - Revocation by jti or by a per-user not-before (R4): never by the token's text, so a re-encoded
 *   copy of a revoked token is still revoked. The list is `AccessTokenRevocations`
 *   (./revocations.ts): in memory, or shared with verifiers in other processes (SQLite, Redis).
 */
import { verify as cryptoVerify, KeyObject, randomBytes } from 'node:crypto';
import {
  type CryptoKey,
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { ConfigurationError, InvalidArgumentError, KeyError } from '../errors.js';
import type { AccessTokenRevocations } from './revocations.js';

export type AccessTokenAlg = 'EdDSA' | 'ES256';

export interface AccessTokenKey {
  kid: string;
  alg: AccessTokenAlg;
  privateKey?: CryptoKey;
  publicKey: CryptoKey;
}

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

export interface VerifiedAccessToken {
  subject: string;
  jti: string;
  issuedAt: number;
  expiresAt: number;
  claims: Record<string, unknown>;
}

export interface AccessTokens {
  issue(subject: string, claims?: Record<string, unknown>): Promise<{ token: string; jti: string; expiresAt: number }>;
  /** The token's subject and claims, or `null` for anything not valid now. */
  verify(token: string): Promise<VerifiedAccessToken | null>;
  /** The public keys, as a JWKS document for `/.well-known/jwks.json`. */
  jwks(): Promise<{ keys: JWK[] }>;
}

export const MAX_ACCESS_TOKEN_LIFETIME = 3600;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** The three base64url segments of a compact JWS, or null. */
function split(token: unknown): [string, string, string] | null {
  if (typeof token !== 'string' || token.length > 8192) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return null;
  return parts as [string, string, string];
}

/** A segment's JSON object, or null for anything else. */
function json(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

const keyObjects = new WeakMap<CryptoKey, KeyObject>();
function publicKeyObject(key: AccessTokenKey): KeyObject {
  let object = keyObjects.get(key.publicKey);
  if (!object) {
    object = KeyObject.from(key.publicKey);
    keyObjects.set(key.publicKey, object);
  }
  return object;
}
const TYP = 'at+jwt';
const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);
// Headers that would let a token bring or point at its own key.
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'];
const KID = /^[A-Za-z0-9_-]{1,64}$/;

/** A new key pair with a random kid. */
export async function generateAccessTokenKey(alg: AccessTokenAlg = 'EdDSA'): Promise<AccessTokenKey> {
  const pair = await generateKeyPair(
    alg,
    alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true },
  );
  return { kid: randomBytes(9).toString('base64url'), alg, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/**
 * A key as a private JWK (to keep it in a secret store or a 0600 file) and back. The private part
 * is in the output: never log it or serve it; `jwks()` is what you publish.
 */
export async function exportAccessTokenKey(key: AccessTokenKey): Promise<JWK> {
  if (!key.privateKey) throw new InvalidArgumentError('the key has no private part to export');
  return { ...(await exportJWK(key.privateKey)), kid: key.kid, alg: key.alg };
}

export async function importAccessTokenKey(jwk: JWK): Promise<AccessTokenKey> {
  const alg = jwk.alg as AccessTokenAlg | undefined;
  if ((alg !== 'EdDSA' && alg !== 'ES256') || typeof jwk.kid !== 'string' || !KID.test(jwk.kid) || !jwk.d)
    throw new KeyError('an access token key is a private EdDSA or ES256 JWK with a kid');
  const privateKey = (await importJWK(jwk, alg, { extractable: true })) as CryptoKey;
  const { d: _private, ...pub } = jwk;
  const publicKey = (await importJWK(pub, alg, { extractable: true })) as CryptoKey;
  return { kid: jwk.kid, alg, privateKey, publicKey };
}

export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const lifetime = options.lifetime ?? 300;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_ACCESS_TOKEN_LIFETIME) {
    throw new ConfigurationError(`access token lifetime must be 1 to ${MAX_ACCESS_TOKEN_LIFETIME} seconds`);
  }
  const skew = options.clockSkew ?? 30;
  if (!Number.isFinite(skew) || skew < 0 || skew > 60)
    throw new ConfigurationError('clockSkew must be 0 to 60 seconds');
  if (!options.issuer || !options.audience) throw new ConfigurationError('issuer and audience are required');
  const keys = [...options.keys];
  const signer = keys[0];
  if (signer?.privateKey === undefined)
    throw new ConfigurationError('the newest access token key needs its private key');
  for (const key of keys) {
    if (!KID.test(key.kid) || (key.alg !== 'EdDSA' && key.alg !== 'ES256')) {
      throw new ConfigurationError('each access token key needs a kid of [A-Za-z0-9_-]{1,64} and alg EdDSA or ES256');
    }
  }
  const byKid = new Map(keys.map((k) => [k.kid, k]));
  const allowed = new Set(options.allowedClaims ?? []);
  const now = options.now ?? Date.now;

  return {
    async issue(subject, claims = {}) {
      if (typeof subject !== 'string' || subject.length === 0) throw new InvalidArgumentError('subject is required');
      for (const name of Object.keys(claims)) {
        if (REGISTERED.has(name) || !allowed.has(name))
          throw new InvalidArgumentError(`claim "${name}" is not allowed`);
      }
      const t = now();
      const start = Math.floor(t / 1000);
      // R4 with one-second iat: a token is revoked when iat·1000 < the subject's not-before (ms).
      // In the second of a revocation, the honest iat would be refused: take the next whole second
      // (never past the present second rounded up). nbf and exp keep the real time.
      const notBefore = options.revocations?.notBefore(subject);
      const iat =
        notBefore !== undefined && start * 1000 < notBefore
          ? Math.min(Math.ceil(notBefore / 1000), Math.ceil(t / 1000))
          : start;
      const jti = randomBytes(16).toString('base64url');
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: TYP })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(subject)
        .setIssuedAt(iat)
        .setNotBefore(start)
        .setExpirationTime(start + lifetime)
        .setJti(jti)
        .sign(signer.privateKey as CryptoKey);
      return { token, jti, expiresAt: (start + lifetime) * 1000 };
    },

    async verify(token) {
      const parts = split(token);
      if (parts === null) return null;
      const [head, body, signature] = parts;
      const header = json(head);
      // Keys come from our set only, chosen by a kid we issued; the token cannot supply one.
      if (header === null || FORBIDDEN_HEADERS.some((name) => name in header) || header.crit !== undefined) return null;
      if (header.typ !== TYP) return null;
      const key = typeof header.kid === 'string' ? byKid.get(header.kid) : undefined;
      if (key === undefined || header.alg !== key.alg) return null;
      // The signature over the exact bytes received, with node:crypto and a KeyObject made once:
      // synchronous and several times cheaper than a WebCrypto round trip per token.
      const signed = Buffer.from(`${head}.${body}`);
      const sig = Buffer.from(signature, 'base64url');
      const valid =
        key.alg === 'EdDSA'
          ? sig.length === 64 && cryptoVerify(null, signed, publicKeyObject(key), sig)
          : sig.length === 64 &&
            cryptoVerify('sha256', signed, { key: publicKeyObject(key), dsaEncoding: 'ieee-p1363' }, sig);
      if (!valid) return null;
      const payload = json(body);
      if (payload === null) return null;
      const { iss, aud, sub, jti, iat, exp, nbf } = payload;
      const t = now() / 1000;
      if (iss !== options.issuer) return null;
      if (aud !== options.audience && !(Array.isArray(aud) && aud.includes(options.audience))) return null;
      if (typeof sub !== 'string' || sub.length === 0 || typeof jti !== 'string' || jti.length === 0) return null;
      if (!isTime(iat) || !isTime(exp) || !isTime(nbf)) return null;
      if (exp <= t - skew || nbf > t + skew || issuedInFuture(iat, t, skew)) return null;
      if (exp - iat > MAX_ACCESS_TOKEN_LIFETIME) return null; // J3: nobody may mint long-lived tokens
      // Fail closed: 'unavailable' (a list too old to trust) refuses like 'revoked'.
      if ((options.revocations?.check({ subject: sub, jti, issuedAt: iat * 1000 }) ?? 'valid') !== 'valid') return null;
      const claims: Record<string, unknown> = {};
      for (const name of allowed) if (Object.hasOwn(payload, name)) claims[name] = payload[name];
      return { subject: sub, jti, issuedAt: iat * 1000, expiresAt: exp * 1000, claims };
    },

    async jwks() {
      const out: JWK[] = [];
      for (const key of keys) out.push({ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' });
      return { keys: out };
    },
  };
}

/**
 * An `iat` after the present, beyond the skew. `iat` counts whole seconds, and the issuer may
 * round it up to the next one after a revocation (see issue): compare with the present second
 * rounded up, so that token is not refused even with no skew.
 */
const issuedInFuture = (iat: number, nowSeconds: number, skew: number) => iat > Math.ceil(nowSeconds) + skew;

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

/**
 * The verifying half alone, for a service that receives tokens (the downstream API behind the
 * backend-for-frontend): keys come from the issuer's JWKS (fetched, cached, refetched for an
 * unknown kid at most every 30 s), never from the token; the same checks as `verify` above.
 * @example
 * const revocations = createSqliteRevocations(new Database('data/revocations.db'));
 * const verifier = createAccessTokenVerifier({ jwksUrl: new URL('http://127.0.0.1:3000/.well-known/jwks.json'), issuer, audience, revocations });
 * const token = await verifier.verify(bearer); // VerifiedAccessToken | null
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): Pick<AccessTokens, 'verify'> {
  const skew = options.clockSkew ?? 30;
  if (!Number.isFinite(skew) || skew < 0 || skew > 60)
    throw new ConfigurationError('clockSkew must be 0 to 60 seconds');
  if (!options.issuer || !options.audience) throw new ConfigurationError('issuer and audience are required');
  const keySet = createRemoteJWKSet(options.jwksUrl, { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  const now = options.now ?? Date.now;
  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length > 8192) return null;
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        return null;
      }
      if (FORBIDDEN_HEADERS.some((name) => name in header) || header.crit !== undefined) return null;
      if (typeof header.kid !== 'string' || !KID.test(header.kid)) return null;
      if (header.alg !== 'EdDSA' && header.alg !== 'ES256') return null;
      try {
        const { payload } = await jwtVerify(token, keySet, {
          algorithms: ['EdDSA', 'ES256'],
          issuer: options.issuer,
          audience: options.audience,
          typ: TYP,
          clockTolerance: skew,
          currentDate: new Date(now()),
          requiredClaims: ['sub', 'exp', 'iat', 'nbf', 'jti'],
        });
        const { sub, jti, iat, exp } = payload as Required<Pick<JWTPayload, 'sub' | 'jti' | 'iat' | 'exp'>>;
        if (exp - iat > MAX_ACCESS_TOKEN_LIFETIME) return null;
        // jose checks iat only against a maxTokenAge: a token "issued" in the future passes it.
        if (issuedInFuture(iat, now() / 1000, skew)) return null;
        if ((options.revocations?.check({ subject: sub, jti, issuedAt: iat * 1000 }) ?? 'valid') !== 'valid')
          return null;
        const claims: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(payload)) if (!REGISTERED.has(name)) claims[name] = value;
        return { subject: sub, jti, issuedAt: iat * 1000, expiresAt: exp * 1000, claims };
      } catch {
        return null;
      }
    },
  };
}
