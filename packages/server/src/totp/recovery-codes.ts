/**
 * Recovery codes: ten random codes shown once, kept as keyed hashes, each good once.
 * `XXXXX-XXXXX` from 30 symbols without look-alikes (no 0/O, 1/I/L, U): 49 random bits each,
 * typed back case-insensitively, with or without the dash and spaces.
 * Why HMAC under a key from the key ring, with the user's id: 49 bits fall to an offline search in
 * hours (ASVS 6.5.2 asks for a salted slow hash under 112 bits); keyed, a copied database gives
 * nothing to search against without the key, and a code is bound to its account. A deterministic
 * hash still lets the store find and delete a code in one atomic step.
 */
import { createHmac, hkdfSync, randomInt } from 'node:crypto';
import { readKeys, type SigningKey } from '../sessions/key-ring.js';

const SYMBOLS = 'ABCDEFGHJKMNPQRSTVWXYZ23456789';

/** How many codes a set has. */
export const RECOVERY_CODE_COUNT = 10;

/** A new set of codes, as the user sees them (`K7M2Q-9XRTB`). */
export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const chars = Array.from({ length: 10 }, () => SYMBOLS[randomInt(SYMBOLS.length)]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** A code as typed, in its one form, or null when it cannot be one (wrong length or symbols). */
export function normalizeRecoveryCode(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > 40) return null;
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  return code.length === 10 && [...code].every((c) => SYMBOLS.includes(c)) ? code : null;
}

/**
 * What the store keeps of a code: HMAC-SHA256 of the user id and the normalized code under a key
 * derived from the app's keys, one hasher per key, newest first (codes made under an older key are
 * still found while it stays in the ring).
 */
export function createRecoveryHashers(keys: readonly (SigningKey | undefined)[]) {
  return readKeys(keys).map((bytes) => {
    const key = Buffer.from(hkdfSync('sha256', bytes, 'latchkey totp-recovery', 'latchkey recovery codes v1', 32));
    return (userId: string, normalized: string) =>
      createHmac('sha256', key).update(`${userId}\u0000${normalized}`).digest('base64url');
  });
}
