/**
 * TOTP (RFC 6238) as a second factor: enrolment with a confirming code, verification with no
 * replay, throttled attempts, and ten single-use recovery codes. Codes are what every
 * authenticator app makes by default (6 digits, SHA-1, 30 s), computed by `otpauth`; the rules
 * around them are ours.
 */
import { Secret, TOTP } from 'otpauth';
import { ConfigurationError } from '../errors.js';
import type { HttpErrorCode } from '../http/error-codes.js';
import { requireOptional } from '../lib/optional.js';
import { checkFunction, checkNumber, checkOptions, checkString } from '../lib/options.js';
import { createLoginThrottle, type LoginThrottle } from '../password/throttle.js';
import type { SigningKey } from '../sessions/key-ring.js';
import { createRecoveryHashers, generateRecoveryCodes, normalizeRecoveryCode } from './recovery-codes.js';
import { createSecretBox } from './secret-box.js';
import type { TotpStore } from './store.js';

/** Options of `createTotp`. */
export interface TotpOptions {
  /** Where enrolments live: `createMemoryTotpStore()`, `latchkey/totp/sqlite`, or yours. */
  store: TotpStore;
  /** The app's keys (as for sessions): secrets are sealed under a key derived from the newest. */
  keys: readonly (SigningKey | undefined)[];
  /** The name the authenticator app shows ("Acme"). One line, at most 100 characters. */
  issuer: string;
  /**
   * Counts code attempts per account like password attempts. Default `createLoginThrottle()` in
   * memory. Give it a throttle of its own (on Redis, another `prefix` than the login's): in one
   * throttle, a login name could be chosen to match a code key and throttle someone's codes.
   */
  throttle?: LoginThrottle;
  /** Time steps accepted either side of now, for clock drift. Default 1 (±30 s); at most 2. */
  window?: number;
  /** Seconds an enrolment waits for its confirming code. Default 600. */
  enrolmentTtl?: number;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** A refusal: the code for `sendError` and the headers to send with it (Retry-After on 429). */
export interface TotpRefusal {
  ok: false;
  error: Extract<
    HttpErrorCode,
    'CODE_INVALID' | 'TOO_MANY_ATTEMPTS' | 'TOTP_NOT_ENABLED' | 'TOTP_ALREADY_ENABLED' | 'ENROLMENT_EXPIRED'
  >;
  headers: Record<string, string>;
}

/** What a started enrolment gives the user: the secret as text, and the `otpauth://` URI for a QR code. */
export interface TotpEnrolment {
  ok: true;
  /** Base32, for typing into the app by hand. Show it once, on the enrolment page only. */
  secret: string;
  /** `otpauth://totp/Issuer:account?secret=…`: put it in a QR code (`qrCode(uri)`), never in a URL or a log. */
  uri: string;
}

/**
 * TOTP second factors, from `createTotp`. Every method that checks a code counts the attempt first
 * (the login throttle, keyed by account), and a code is accepted once: its time step is spent.
 *
 * @example
 * const started = await totp.enrol(user.id, user.email); // show started.uri as a QR code
 * const done = await totp.confirm(user.id, body.code, req.ip); // done.recoveryCodes: show once
 * const second = await totp.verify(user.id, body.code, req.ip); // at login, after the password
 */
export interface Totp {
  /** Starts (or restarts) an enrolment: a new secret, not a factor until `confirm`. */
  enrol(userId: string, accountName: string): Promise<TotpEnrolment | TotpRefusal>;
  /** The first code from the app: turns the factor on and returns ten recovery codes, shown once. */
  confirm(userId: string, code: unknown, client: string): Promise<{ ok: true; recoveryCodes: string[] } | TotpRefusal>;
  /** A code from the app or a recovery code (each good once). */
  verify(
    userId: string,
    code: unknown,
    client: string,
  ): Promise<{ ok: true; method: 'totp' | 'recovery'; recoveryCodesLeft: number } | TotpRefusal>;
  /** Whether the user has the factor on, an enrolment waiting, and how many recovery codes are left. */
  status(userId: string): Promise<{ enabled: boolean; pending: boolean; recoveryCodesLeft: number }>;
  /** Ten new recovery codes (the old ones stop working), shown once; null when the factor is off. */
  regenerateRecoveryCodes(userId: string): Promise<string[] | null>;
  /** Turns the factor off (and forgets the secret); true if there was one. */
  disable(userId: string): Promise<boolean>;
  /** An SVG QR code of `uri`, made here (the `qrcode` package, an optional peer): no third-party service sees the secret. */
  qrCode(uri: string): Promise<string>;
}

const NO_HEADERS = Object.freeze({}) as Record<string, string>;
const refuse = (error: TotpRefusal['error'], headers = NO_HEADERS): TotpRefusal => ({ ok: false, error, headers });
const PERIOD = 30;
const SIX_DIGITS = /^\d{6}$/;

/**
 * @example
 * const totp = createTotp({ store: createSqliteTotpStore(db), keys: [process.env.SESSION_KEY], issuer: 'Acme', throttle });
 */
export function createTotp(options: TotpOptions): Totp {
  const o = checkOptions('createTotp', options, [
    'store',
    'keys',
    'issuer',
    'throttle',
    'window',
    'enrolmentTtl',
    'now',
  ]);
  const store = o.store;
  if (store === null || typeof store !== 'object' || typeof (store as TotpStore).useStep !== 'function')
    throw new ConfigurationError(
      'createTotp: store must be a TotpStore (createMemoryTotpStore(), createSqliteTotpStore(db))',
    );
  const box = createSecretBox(o.keys, 'totp');
  const hashers = createRecoveryHashers(o.keys);
  const newestHash = hashers[0] as (userId: string, normalized: string) => string;
  const issuer = checkString('issuer', o.issuer, {
    pattern: /^[^\r\n:]+$/,
    expected: 'one line without ":"',
    maxLength: 100,
  });
  const window = checkNumber('window', o.window, { default: 1, min: 0, max: 2, integer: true });
  const ttl = checkNumber('enrolmentTtl', o.enrolmentTtl, { default: 600, min: 60, max: 86_400, unit: 'seconds' });
  const now = checkFunction<() => number>('now', o.now, Date.now);
  const throttle = o.throttle ?? createLoginThrottle();

  /** The time step a code is for, if it is right for the secret within the window; else null. */
  const stepOf = (secret: string, code: string): number | null => {
    const timestamp = now();
    const delta = TOTP.validate({ token: code, secret: Secret.fromBase32(secret), period: PERIOD, timestamp, window });
    return delta === null ? null : TOTP.counter({ period: PERIOD, timestamp }) + delta;
  };
  /** Runs `check` under the throttle for this account's codes. */
  const attempt = async <T>(userId: string, client: string, check: () => Promise<T | false>) => {
    const result = await throttle.attempt(`totp:${userId}`, client, check);
    if (result.ok) return result;
    return result.reason === 'throttled'
      ? refuse('TOO_MANY_ATTEMPTS', { 'retry-after': String(result.retryAfter) })
      : refuse('CODE_INVALID');
  };
  const newCodes = (userId: string) => {
    const codes = generateRecoveryCodes();
    return { codes, hashes: codes.map((c) => newestHash(userId, normalizeRecoveryCode(c) as string)) };
  };
  /** Uses a recovery code, made under any key of the ring. */
  const useRecovery = async (userId: string, normalized: string) => {
    for (const hash of hashers) if (await store.useRecoveryCode(userId, hash(userId, normalized))) return true;
    return false;
  };

  return {
    async enrol(userId, accountName) {
      const existing = await store.get(userId);
      if (existing?.confirmedAt != null) return refuse('TOTP_ALREADY_ENABLED');
      const secret = new Secret({ size: 20 }).base32; // 160 bits, RFC 4226's recommendation
      const label = String(accountName)
        .replace(/[\r\n:]/g, ' ')
        .slice(0, 200);
      const uri = new TOTP({ issuer, label, secret, period: PERIOD }).toString();
      const written = await store.put({
        userId,
        sealedSecret: box.seal(secret, userId),
        createdAt: now(),
        confirmedAt: null,
        lastStep: 0,
        recoveryHashes: [],
      });
      // A confirmation landed since the read above: the factor is on, and stays as it is.
      if (!written) return refuse('TOTP_ALREADY_ENABLED');
      return { ok: true, secret, uri };
    },

    async confirm(userId, code, client) {
      const record = await store.get(userId);
      if (record === null) return refuse('TOTP_NOT_ENABLED');
      if (record.confirmedAt !== null) return refuse('TOTP_ALREADY_ENABLED');
      if (now() - record.createdAt > ttl * 1000) return refuse('ENROLMENT_EXPIRED');
      const secret = box.open(record.sealedSecret, userId);
      const { codes, hashes } = newCodes(userId);
      const result = await attempt(userId, client, async () => {
        const step = secret === null || typeof code !== 'string' ? null : stepOf(secret, code.replace(/\s/g, ''));
        // Written only onto the secret the code was checked against: a re-enrolment in between wins.
        return step !== null && (await store.confirm(userId, record.sealedSecret, now(), step, hashes));
      });
      return result.ok ? { ok: true, recoveryCodes: codes } : result;
    },

    async verify(userId, code, client) {
      const record = await store.get(userId);
      if (record === null || record.confirmedAt === null) return refuse('TOTP_NOT_ENABLED');
      const typed = typeof code === 'string' ? code.replace(/\s/g, '') : '';
      const result = await attempt(userId, client, async () => {
        if (SIX_DIGITS.test(typed)) {
          const secret = box.open(record.sealedSecret, userId);
          const step = secret === null ? null : stepOf(secret, typed);
          // A code is good once: its step must be later than the last one accepted (RFC 6238 §5.2).
          if (step === null || !(await store.useStep(userId, step))) return false;
          // Sealed under an older key: seal it under the newest now, so the old key can be retired.
          if (secret !== null && !box.isNewest(record.sealedSecret))
            await store.reseal(userId, record.sealedSecret, box.seal(secret, userId));
          return 'totp' as const;
        }
        const recovery = normalizeRecoveryCode(typed);
        return recovery !== null && (await useRecovery(userId, recovery)) && ('recovery' as const);
      });
      if (!result.ok) return result;
      const left = (await store.get(userId))?.recoveryHashes.length ?? 0;
      return { ok: true, method: result.value, recoveryCodesLeft: left };
    },

    async status(userId) {
      const record = await store.get(userId);
      return {
        enabled: record?.confirmedAt != null,
        pending: record !== null && record.confirmedAt === null,
        recoveryCodesLeft: record?.confirmedAt == null ? 0 : record.recoveryHashes.length,
      };
    },

    async regenerateRecoveryCodes(userId) {
      const { codes, hashes } = newCodes(userId);
      return (await store.setRecoveryCodes(userId, hashes)) ? codes : null;
    },

    disable: (userId) => store.delete(userId),

    async qrCode(uri) {
      const qrcode = requireOptional<typeof import('qrcode')>('qrcode', 'latchkey/totp QR codes');
      return qrcode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    },
  };
}
