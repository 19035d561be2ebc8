/**
 * Verifying an access token against our own key set: the issuer's `verify`. Nothing in the token
 * picks its key (J2): `kid` must name one of ours, and the algorithm must be that key's (J1). Then
 * iss, aud, typ, exp, nbf (with the skew), iat and jti are all required (J3), and revocation is
 * checked by jti and per-user not-before (R4), never by the token's text.
 *
 * Written by hand over node:crypto rather than with jose's `jwtVerify`: the signature is checked
 * synchronously with a KeyObject made once per key, several times cheaper than a WebCrypto round
 * trip per token, on a path every API call takes. The rules are the remote verifier's
 * (verifier.ts, on jose), shared through claims.ts.
 */
import { verify as cryptoVerify, KeyObject } from 'node:crypto';
import type { CryptoKey } from 'jose';
import { acceptable, TYP, trustedHeader, type VerifiedAccessToken } from './claims.js';
import type { AccessTokenKey } from './keys.js';
import type { AccessTokenRevocations } from './revocations.js';

export interface VerifySettings {
  issuer: string;
  audience: string;
  keys: readonly AccessTokenKey[];
  /** Seconds. */
  clockSkew: number;
  allowedClaims: ReadonlySet<string>;
  revocations: AccessTokenRevocations | undefined;
  now: () => number;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** The three base64url segments of a compact JWS (RFC 7515 §7.1), or null. */
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

/** The verifying function of `createAccessTokens`: the token's subject and claims, or null. */
export function createVerify(settings: VerifySettings): (token: string) => Promise<VerifiedAccessToken | null> {
  const { issuer, audience, clockSkew: skew, allowedClaims, revocations, now } = settings;
  const byKid = new Map(settings.keys.map((k) => [k.kid, k]));
  return async (token) => {
    const parts = split(token);
    if (parts === null) return null;
    const [head, body, signature] = parts;
    const header = json(head);
    // Keys come from our set only, chosen by a kid we issued; the token cannot supply one.
    if (header === null || !trustedHeader(header) || header.typ !== TYP) return null;
    const key = typeof header.kid === 'string' ? byKid.get(header.kid) : undefined;
    if (key === undefined || header.alg !== key.alg) return null;
    // The signature over the exact bytes received. Both algorithms make 64-byte signatures
    // (ES256 in the JWS form, r ‖ s: RFC 7518 §3.4, hence ieee-p1363).
    const signed = Buffer.from(`${head}.${body}`);
    const sig = Buffer.from(signature, 'base64url');
    const valid =
      sig.length === 64 &&
      (key.alg === 'EdDSA'
        ? cryptoVerify(null, signed, publicKeyObject(key), sig)
        : cryptoVerify('sha256', signed, { key: publicKeyObject(key), dsaEncoding: 'ieee-p1363' }, sig));
    if (!valid) return null;
    const payload = json(body);
    if (payload === null) return null;
    const { iss, aud, sub, jti, iat, exp, nbf } = payload;
    const t = now() / 1000;
    if (iss !== issuer) return null;
    if (aud !== audience && !(Array.isArray(aud) && aud.includes(audience))) return null;
    if (typeof sub !== 'string' || sub.length === 0 || typeof jti !== 'string' || jti.length === 0) return null;
    if (!isTime(iat) || !isTime(exp) || !isTime(nbf)) return null;
    if (exp <= t - skew || nbf > t + skew) return null;
    if (!acceptable({ sub, jti, iat, exp }, t, skew, revocations)) return null;
    const claims: Record<string, unknown> = {};
    for (const name of allowedClaims) if (Object.hasOwn(payload, name)) claims[name] = payload[name];
    return { subject: sub, jti, issuedAt: iat * 1000, expiresAt: exp * 1000, claims };
  };
}
