/**
 * Sealing a refresh token's successor under the token's own secret, for the grace window: two
 * concurrent refreshes of one token must both get the same successor, so the store keeps it, but
 * only sealed (AES-256-GCM) under a key derived (HKDF-SHA256, salted with the token id) from the
 * presented secret, which the store never holds. A leaked database therefore reveals no live token.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// RFC 5869: the secret is 256 random bits, so HKDF needs no stretching; the id as salt and a
// fixed label as info keep this key apart from any other use of the secret.
function sealKey(secret: string, id: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'base64url'), id, 'latchkey refresh successor', 32));
}

/**
 * `iv ‖ ciphertext ‖ tag`, base64url. A fresh 96-bit iv per seal; each key seals once.
 * @example
 * const sealed = sealSuccessor(secret, id, nextToken);
 * openSuccessor(secret, id, sealed); // nextToken
 */
export function sealSuccessor(secret: string, id: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(secret, id), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The sealed text, or null when the secret, the id or the sealed bytes are not the ones sealed. */
export function openSuccessor(secret: string, id: string, sealed: string): string | null {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length < 12 + 16) return null;
    const decipher = createDecipheriv('aes-256-gcm', sealKey(secret, id), raw.subarray(0, 12), { authTagLength: 16 });
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
