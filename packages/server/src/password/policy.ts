/**
 * Password rules per OWASP ASVS 5 §6.2 and NIST SP 800-63B: a length floor (8, or more if you
 * choose), at least 64 characters allowed, no composition rules (they make passwords predictable,
 * not strong), no truncation, and a check against a list of common passwords. The shipped list is
 * the zxcvbn frequency list's 17,950 entries of 8+ characters (scripts/common-passwords.ts).
 */
import { readFileSync } from 'node:fs';
import { ConfigurationError } from '../errors.js';
import { checkNumber, checkOptions } from '../lib/options.js';
import { normalizePassword } from './hash.js';

/**
 * What `PasswordPolicy.check` finds wrong with a password. Each is also an HTTP error code (400)
 * that the adapters' `sendError` takes, so the answer can be the problem itself.
 */
export type PasswordProblem = 'PASSWORD_TOO_SHORT' | 'PASSWORD_TOO_LONG' | 'PASSWORD_TOO_COMMON';

/** Options of `createPasswordPolicy`. Lengths count Unicode code points after NFKC normalization. */
export interface PasswordPolicyOptions {
  /** Fewest characters (Unicode code points after NFKC), 8 to 64. Default 8; ASVS recommends 15. */
  minLength?: number;
  /** Most characters accepted; longer is refused, never cut. Default 1024, at least 64, at most 4096. */
  maxLength?: number;
  /** Passwords to refuse, compared case-insensitively. Default: the shipped list. */
  commonPasswords?: Iterable<string>;
}

/**
 * The rules a new password must meet (at sign-up, on a change), from `createPasswordPolicy`: a
 * length range and a list of common passwords, no composition rules.
 *
 * @example
 * const problem = policy.check(password, [username, email]);
 * if (problem) return sendError(res, problem); // 400 PASSWORD_TOO_SHORT, _TOO_LONG or _TOO_COMMON
 */
export interface PasswordPolicy {
  /** Fewest characters accepted, as configured. */
  readonly minLength: number;
  /** Most characters accepted, as configured. */
  readonly maxLength: number;
  /**
   * `null` when the password is acceptable, or what is wrong with it. `context` holds words tied
   * to the account (username, email); a password equal to one of them is too common.
   */
  check(password: string, context?: readonly string[]): PasswordProblem | null;
}

let shipped: ReadonlySet<string> | undefined;

/** The list shipped with latchkey, read once on first use. */
export function commonPasswords(): ReadonlySet<string> {
  shipped ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter(Boolean),
  );
  return shipped;
}

/**
 * @example
 * const policy = createPasswordPolicy({ minLength: 12 });
 * policy.check('password123');      // 'PASSWORD_TOO_COMMON'
 * policy.check('tall tree by the river'); // null
 */
export function createPasswordPolicy(options?: PasswordPolicyOptions): PasswordPolicy {
  const o = checkOptions('createPasswordPolicy', options, ['minLength', 'maxLength', 'commonPasswords'], {
    min: 'minLength',
    max: 'maxLength',
  });
  const minLength = checkNumber('minLength', o.minLength, {
    default: 8,
    min: 8,
    max: 64,
    integer: true,
    unit: 'characters',
  });
  const maxLength = checkNumber('maxLength', o.maxLength, {
    default: 1024,
    min: 64,
    max: 4096,
    integer: true,
    unit: 'characters',
  });
  const given = o.commonPasswords;
  if (given !== undefined && (typeof given !== 'object' || given === null || !(Symbol.iterator in given)))
    throw new ConfigurationError('commonPasswords must be an iterable of strings (an array or a Set)');
  const list = given ? new Set([...given].map((p) => String(p).toLowerCase())) : commonPasswords();

  return {
    minLength,
    maxLength,
    check(password, context = []) {
      const normalized = normalizePassword(password);
      let length = 0;
      for (const _ of normalized) length++; // code points, so an emoji counts once
      if (length < minLength) return 'PASSWORD_TOO_SHORT';
      if (length > maxLength) return 'PASSWORD_TOO_LONG';
      const lower = normalized.toLowerCase();
      if (list.has(lower)) return 'PASSWORD_TOO_COMMON';
      for (const word of context)
        if (word.length > 0 && lower === word.normalize('NFKC').toLowerCase()) return 'PASSWORD_TOO_COMMON';
      return null;
    },
  };
}
