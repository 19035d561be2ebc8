/**
 * Secrets kept at rest, sealed: AES-256-GCM under a key derived (HKDF-SHA256) from the app's key
 * ring and a purpose, bound to a context (the user's id) as additional data. A copied database,
 * a backup or a read through SQL injection gives nothing without the key, and a sealed value moved
 * to another user's row does not open. Each sealed value names its key (a short id), so keys rotate
 * like the session keys: the newest seals, every key opens.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readKeys, type SigningKey } from '../sessions/key-ring.js';

/**
 * Seals and opens short secrets with the app's keys, from `createSecretBox`.
 *
 * @example
 * const box = createSecretBox([process.env.SESSION_KEY], 'totp');
 * const sealed = box.seal(secret, userId);
 * box.open(sealed, userId); // secret; null for another user, an altered value or an unknown key
 */
export interface SecretBox {
  /** `v1.<key id>.<iv ‖ ciphertext ‖ tag>`; a fresh 96-bit iv every time. */
  seal(plaintext: string, context: string): string;
  /** The sealed text, or null when the value, the context or the key is not the one it was sealed with. */
  open(sealed: string, context: string): string | null;
  /** Whether `sealed` names the newest key: if not, seal it again once opened, so old keys can leave the ring. */
  isNewest(sealed: string): boolean;
}

/**
 * @example
 * const box = createSecretBox([process.env.SESSION_KEY], 'totp');
 */
export function createSecretBox(keys: readonly (SigningKey | undefined)[], purpose: string): SecretBox {
  // Why HKDF with the purpose as salt: the signing keys never encrypt anything themselves, and a key
  // derived for one purpose opens nothing sealed for another.
  const derived = readKeys(keys).map((bytes) => {
    const key = Buffer.from(hkdfSync('sha256', bytes, `latchkey ${purpose}`, 'latchkey secret box v1', 32));
    return { key, id: createHash('sha256').update(key).digest('base64url').slice(0, 8) };
  });
  const newest = derived[0] as { key: Buffer; id: string };
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', newest.key, iv).setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `v1.${newest.id}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
    },
    open(sealed, context) {
      const [version, id, data] = typeof sealed === 'string' ? sealed.split('.') : [];
      const entry = derived.find((d) => d.id === id);
      if (version !== 'v1' || entry === undefined || data === undefined) return null;
      try {
        const raw = Buffer.from(data, 'base64url');
        if (raw.length < 12 + 16) return null;
        const decipher = createDecipheriv('aes-256-gcm', entry.key, raw.subarray(0, 12), { authTagLength: 16 });
        decipher.setAAD(Buffer.from(context, 'utf8')).setAuthTag(raw.subarray(raw.length - 16));
        return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
      } catch {
        return null; // altered, or sealed for another context: fail closed
      }
    },
    isNewest: (sealed) => typeof sealed === 'string' && sealed.startsWith(`v1.${newest.id}.`),
  };
}
