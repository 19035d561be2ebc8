/**
 * Recovery codes: ten random codes shown once, kept as SHA-256 hashes, each good once.
 * `XXXXX-XXXXX` from 30 symbols without look-alikes (no 0/O, 1/I/L, U): 49 random bits each,
 * typed back case-insensitively, with or without the dash and spaces.
 * Why a fast hash and no salt: each code is 49 random bits and is guessed only through a throttled
 * route; a slow hash would not make an offline guess of a random value that size harder in any way
 * that matters, and a plain digest lets the store find and delete a code in one atomic step.
 */
import { createHash, randomInt } from 'node:crypto';

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

/** What the store keeps of a code: SHA-256 of its normalized form, base64url. */
export const hashRecoveryCode = (normalized: string): string =>
  createHash('sha256').update(`latchkey recovery ${normalized}`).digest('base64url');
