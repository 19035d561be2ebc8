/**
 * Password hashing with argon2id (@node-rs/argon2, an optional peer dependency). Hashes run on
 * the native thread pool, never on the event loop. Parameters default to OWASP's minimum
 * (m = 19 MiB, t = 2, p = 1) and can only be raised; `verify` says when a stored hash was made
 * with weaker parameters so the caller can store a new one after a successful login.
 */
import { randomBytes } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { requireOptional } from '../lib/optional.js';
import { checkNumber, checkOptions } from '../lib/options.js';

type Argon2 = typeof import('@node-rs/argon2');

/**
 * Options of `createPasswordHasher`: argon2id's costs. They can be raised, never lowered below
 * OWASP's minimum: under it a stolen table of hashes falls to GPUs in days. A value below the
 * floor throws `ConfigurationError`.
 */
export interface Argon2Parameters {
  /** KiB (not bytes) of memory per hash. Default and minimum 19456 (19 MiB); at most 4 GiB. */
  memoryCost?: number;
  /** Passes over memory. Default and minimum 2; at most 100. */
  timeCost?: number;
  /** Lanes, 1 to 16. Default 1: more lanes make each hash cheaper for an attacker with many cores, not us. */
  parallelism?: number;
}

/** What `PasswordHasher.verify` answers. */
export interface PasswordVerification {
  /** The password matches the stored hash. */
  ok: boolean;
  /** The hash was made with weaker parameters (or another algorithm): store `hash(password)` anew. */
  needsRehash: boolean;
}

/**
 * Hashes and checks passwords with argon2id, from `createPasswordHasher`. Passwords are NFKC
 * normalized first and never truncated. Store the PHC string `hash` returns; after a successful
 * `verify` that says `needsRehash`, store `hash(password)` in its place.
 *
 * @example
 * const passwords = createPasswordHasher();
 * const user = await users.byName(name);
 * const { ok, needsRehash } = user ? await passwords.verify(user.passwordHash, password) : await passwords.verifyDummy(password);
 * if (ok && needsRehash) await users.setHash(user.id, await passwords.hash(password));
 */
export interface PasswordHasher {
  /** The costs new hashes are made with, defaults filled in. */
  readonly parameters: Readonly<Required<Argon2Parameters>>;
  /** A PHC string `$argon2id$v=19$m=…,t=…,p=1$salt$hash`; the library draws a fresh 128-bit salt. */
  hash(password: string): Promise<string>;
  /** Checks a password against a stored hash. A malformed hash is a mismatch, not an exception. */
  verify(storedHash: string, password: string): Promise<PasswordVerification>;
  /**
   * Spends the time of one `verify` on a hash nobody owns, so an unknown username costs as much as
   * a wrong password (P3) and its timing does not reveal which accounts exist.
   */
  verifyDummy(password: string): Promise<PasswordVerification>;
}

const ARGON2ID = 2; // @node-rs/argon2's Algorithm.Argon2id (a const enum, which isolated modules cannot read)
const MIN = { memoryCost: 19_456, timeCost: 2 } as const;

/**
 * Passwords are compared as NFKC (NIST SP 800-63B §5.1.1.2): the same password typed on two
 * keyboards that encode "é" differently is the same password. Never truncated.
 */
export const normalizePassword = (password: string): string => password.normalize('NFKC');

/**
 * @example
 * const passwords = createPasswordHasher();
 * const stored = await passwords.hash('correct horse battery staple');
 * const { ok, needsRehash } = await passwords.verify(stored, attempt);
 */
export function createPasswordHasher(options?: Argon2Parameters): PasswordHasher {
  const o = checkOptions('createPasswordHasher', options, ['memoryCost', 'timeCost', 'parallelism'], {
    memory: 'memoryCost',
    iterations: 'timeCost',
    passes: 'timeCost',
    lanes: 'parallelism',
  });
  const MAX_MEMORY = 4 * 1024 * 1024;
  // A memoryCost in bytes (19 MiB = 19922944) is 1024 times the KiB it meant.
  if (typeof o.memoryCost === 'number' && o.memoryCost > MAX_MEMORY && o.memoryCost % 1024 === 0) {
    const kib = o.memoryCost / 1024;
    if (kib >= MIN.memoryCost && kib <= MAX_MEMORY)
      throw new ConfigurationError(`memoryCost is in KiB; ${o.memoryCost} looks like bytes (use ${kib})`);
  }
  // Why a floor: below OWASP's parameters a stolen hash table falls to a GPU in days.
  const parameters = {
    memoryCost: checkNumber('memoryCost', o.memoryCost, {
      default: MIN.memoryCost,
      min: MIN.memoryCost,
      max: MAX_MEMORY,
      integer: true,
      unit: 'KiB',
    }),
    timeCost: checkNumber('timeCost', o.timeCost, {
      default: MIN.timeCost,
      min: MIN.timeCost,
      max: 100,
      integer: true,
    }),
    parallelism: checkNumber('parallelism', o.parallelism, { default: 1, min: 1, max: 16, integer: true }),
  };
  const { memoryCost, timeCost, parallelism } = parameters;
  // Loaded here, not at import: the rest of latchkey/password works without it.
  const { hash, parseOptions, verify } = requireOptional<Argon2>('@node-rs/argon2', 'latchkey/password hashing');
  const settings = { algorithm: ARGON2ID, memoryCost, timeCost, parallelism };

  const weaker = (stored: string): boolean => {
    if (!stored.startsWith('$argon2id$')) return true;
    const p = parseOptions(stored);
    return p.memoryCost < memoryCost || p.timeCost < timeCost || p.parallelism !== parallelism;
  };
  let dummy: Promise<string> | undefined;
  /** One verify against a hash nobody owns: the time of a real one, never a match. */
  const spendVerify = async (password: string): Promise<PasswordVerification> => {
    dummy ??= hash(randomBytes(32).toString('base64url'), settings);
    await verify(await dummy, normalizePassword(password)).catch(() => false);
    return { ok: false, needsRehash: false };
  };
  const check = async (stored: string, password: string): Promise<PasswordVerification> => {
    try {
      const ok = await verify(stored, normalizePassword(password));
      return { ok, needsRehash: ok && weaker(stored) };
    } catch {
      // Not a PHC string we can read ('' for an SSO-only account, '!…' for a locked one, another
      // algorithm's hash): never a match, but only after the same work, or the quick answer tells
      // an attacker the account exists (P3).
      return spendVerify(password);
    }
  };

  return {
    parameters: Object.freeze(parameters),
    hash: (password) => hash(normalizePassword(password), settings),
    verify: check,
    verifyDummy: spendVerify,
  };
}
