/**
 * The session token, `<id>.<secret>.<mac>`, as DESIGN.md fixes it:
 * - id: 16 random bytes (128 bits), base64url; the store's key, so it is public to the store;
 * - secret: 16 random bytes (128 bits), base64url; the store keeps only SHA-256(secret), so a
 *   leaked store row cannot be replayed as a cookie;
 * - mac: HMAC-SHA256 over `id.secret` with the key ring, so a forged cookie is rejected before any
 *   store lookup.
 * The token carries no meaning and no personal data.
 */
import { hash, randomBytes } from 'node:crypto';
import { detach } from '../lib/detach.js';
import type { KeyRing } from './key-ring.js';

export const ID_BYTES = 16;
export const SECRET_BYTES = 16;
/** Length of the id part of a token: 16 bytes in base64url. */
export const ID_CHARS = 22;

export interface TokenParts {
  id: string;
  secret: string;
}

// 16 bytes → 22 base64url characters; a 32-byte HMAC → 43. Anything else is not ours.
const TOKEN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;

/** Fresh id and secret from the CSPRNG (one call for both). */
export function generateTokenParts(): TokenParts {
  const bytes = randomBytes(ID_BYTES + SECRET_BYTES);
  return {
    id: bytes.subarray(0, ID_BYTES).toString('base64url'),
    secret: bytes.subarray(ID_BYTES).toString('base64url'),
  };
}

export function signToken(parts: TokenParts, ring: KeyRing): string {
  const payload = `${parts.id}.${parts.secret}`;
  return `${payload}.${ring.sign(payload)}`;
}

/** The id and secret of a well-formed token whose mac verifies; `null` for anything else. */
export function verifyToken(token: string, ring: KeyRing): TokenParts | null {
  if (typeof token !== 'string' || token.length !== 89 || !TOKEN.test(token)) return null;
  if (!ring.verify(token.slice(0, 45), token.slice(46))) return null;
  // The id goes into the store and into what outlives the request (the session, the caches): a
  // copy, where a slice would be a view onto the whole Cookie header the token was cut from.
  return { id: detach(token.slice(0, 22)), secret: token.slice(23, 45) };
}

/** SHA-256 of the secret's text, base64url: the only form of the secret a store ever holds. */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'base64url');
}
