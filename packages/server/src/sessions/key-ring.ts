/**
 * The signing key ring: HMAC-SHA256 keys, newest first. The newest key signs; every key verifies,
 * so a key can be rotated in without logging anyone out, and retired later by dropping it.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { KeyError } from '../errors.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import { describe } from '../lib/options.js';

/** A key as raw bytes, or as a base64url string of those bytes (never a password). */
export type SigningKey = Uint8Array | string;

/**
 * What `createKeyRing` returns: signs with the newest key and verifies with all of them, so a new
 * key can be rotated in without logging anyone out. The keys themselves are not reachable from it.
 *
 * @example
 * const ring = createKeyRing([process.env.SESSION_KEY]);
 * const mac = ring.sign(payload);
 * ring.verify(payload, mac); // true
 */
export interface KeyRing {
  /** The mac of `payload` under the newest key, base64url (43 characters). */
  sign(payload: string): string;
  /** True when `mac` is the mac of `payload` under any key of the ring. */
  verify(payload: string, mac: string): boolean;
}

/** 32 bytes: the HMAC-SHA256 block of entropy NIST SP 800-107 asks for; shorter keys are refused. */
export const MIN_KEY_BYTES = 32;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
// RFC 4648 §4, padded: what `openssl rand -base64 32` prints.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** How to make a key, quoted by every key error. */
const KEY_HOWTO =
  "generate one with `npx latchkey keygen` (or `node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"`) and pass it in keys, e.g. keys: [process.env.SESSION_KEY]";

/** The bytes of a string key. Messages describe the key, never quote it. */
function decode(key: string, index: number): Uint8Array {
  if (key.trim() === '') {
    throw new KeyError(`signing key #${index} is an empty string (is SESSION_KEY set?): ${KEY_HOWTO}`);
  }
  // Strict base64url only: a passphrase typed as a key would otherwise pass as "bytes".
  const url = Buffer.from(key, 'base64url');
  if (BASE64URL.test(key) && url.toString('base64url') === key) return url;
  // Standard base64 (`openssl rand -base64 32`) names the same bytes as its base64url spelling, so
  // it is accepted when it is canonical: the same rule as above, with + / and = padding.
  const standard = Buffer.from(key, 'base64');
  if (BASE64.test(key) && standard.toString('base64') === key) return standard;
  // Every character may be fine and the key still not one: a passphrase, or a key cut short.
  const hint = /\s/.test(key)
    ? 'holds whitespace: trim the line break or spaces around it'
    : BASE64URL.test(key) || BASE64.test(key.replace(/=+$/, ''))
      ? 'is not the base64url text of a random key (a passphrase, or a key cut short or padded wrong?)'
      : 'is not base64url (A-Z, a-z, 0-9, - and _)';
  throw new KeyError(`signing key #${index} ${hint}: ${KEY_HOWTO}`);
}

/** A key's bytes, checked: the same rules (and messages) for every use of the keys. */
function toBytes(key: SigningKey, index: number): Uint8Array {
  let bytes: Uint8Array;
  if (typeof key === 'string') {
    bytes = decode(key, index);
  } else if (key instanceof Uint8Array) {
    bytes = key;
  } else if (key === undefined || key === null) {
    throw new KeyError(
      `signing key #${index} is ${String(key)} (is SESSION_KEY set? Node reads a .env file only with node --env-file=.env): ${KEY_HOWTO}`,
    );
  } else {
    throw new KeyError(
      `signing key #${index} must be a Uint8Array or a base64url string, not ${describe(key)}: ${KEY_HOWTO}`,
    );
  }
  if (bytes.byteLength < MIN_KEY_BYTES) {
    throw new KeyError(
      `signing key #${index} has ${bytes.byteLength} bytes; at least ${MIN_KEY_BYTES} are required: ${KEY_HOWTO}`,
    );
  }
  return bytes;
}

/**
 * The keys' bytes, newest first, checked as `createKeyRing` checks them (`KeyError` with the fix).
 * For modules that derive keys of their own from the same secret (`latchkey/totp` seals with it).
 */
export function readKeys(keys: readonly (SigningKey | undefined)[]): Uint8Array[] {
  if (typeof keys === 'string' || keys instanceof Uint8Array) {
    throw new KeyError('keys takes a list of keys, newest first: write keys: [process.env.SESSION_KEY]');
  }
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new KeyError(`at least one signing key is required: ${KEY_HOWTO}`);
  }
  return keys.map((key, i) => toBytes(key as SigningKey, i));
}

/**
 * Builds a key ring from keys ordered newest first.
 *
 * @example
 * const ring = createKeyRing([process.env.SESSION_KEY_2026_11, process.env.SESSION_KEY_2026_05]);
 */
export function createKeyRing(keys: readonly (SigningKey | undefined)[]): KeyRing {
  // A KeyObject is built once: HMAC with a pre-built key skips the per-call key import.
  const ring = readKeys(keys).map((bytes) => createSecretKey(bytes));
  const newest = ring[0] as KeyObject;
  const mac = (key: KeyObject, payload: string) => createHmac('sha256', key).update(payload).digest('base64url');
  return {
    sign: (payload) => mac(newest, payload),
    verify(payload, given) {
      for (const key of ring) {
        // Constant-time comparison of the encoded macs: no timing oracle, and no non-canonical
        // base64 spelling of a right mac is accepted.
        if (constantTimeEqual(mac(key, payload), given)) return true;
      }
      return false;
    },
  };
}

/**
 * A fresh random 32-byte key, base64url: what `npx latchkey keygen` prints.
 *
 * @example
 * const key = generateSigningKey(); // store it as SESSION_KEY, outside the code
 */
export function generateSigningKey(): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(MIN_KEY_BYTES))).toString('base64url');
}
