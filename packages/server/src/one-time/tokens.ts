/**
 * One-time tokens: the secret in an e-mail verification, password reset or e-mail change link.
 * A token is 256 bits from the CSPRNG, base64url (43 characters), handed to the caller once; the
 * store keeps SHA-256(token) and what it grants (a user, a purpose, a little data sealed with a key
 * derived from the token, an expiry).
 *
 * - Single use: `consume` deletes and returns in one atomic step, so of two concurrent uses exactly
 *   one succeeds.
 * - Bound to a purpose: a reset token is not a verification token, and asking for the wrong
 *   purpose neither answers nor burns it.
 * - The latest wins: issuing a token deletes the user's earlier one of the same purpose, so an old
 *   mail left in an inbox stops working when a newer one is sent.
 * - Short-lived: `reset-password` 30 minutes, `verify-email` and `change-email` 24 hours by default
 *   and at most (ASVS 6.4.x); a purpose of the app's own lives up to 7 days.
 * - `revokeUser` ends them all; call it when the password changes.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { checkFunction, checkNumber, checkOptions, describe, didYouMean } from '../lib/options.js';
import { checkOneTimeStore } from './check-store.js';
import type { OneTimeTokenData, OneTimeTokenRecord, OneTimeTokenStore } from './store.js';

/** How long tokens of one purpose live, in seconds. */
export interface OneTimeTokenPurpose {
  ttl: number;
}

/** Options of `createOneTimeTokens`. */
export interface OneTimeTokensOptions {
  store: OneTimeTokenStore;
  /**
   * Purposes and their lifetimes, merged over `DEFAULT_PURPOSES`: `{ 'reset-password': { ttl: 900 } }`
   * shortens one, `{ invite: { ttl: 172_800 } }` adds one. Names: lowercase letters, digits and `-`.
   */
  purposes?: Record<string, OneTimeTokenPurpose>;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** What `issue` returns: the token, to put in a link and nowhere else, and when it ends (ms). */
export interface IssuedOneTimeToken {
  /** 43 base64url characters. Send it to the user once; never log it, never store it. */
  token: string;
  expiresAt: number;
}

/** What a valid token grants, from `consume` or `peek`. */
export interface OneTimeTokenGrant {
  userId: string;
  /** The data given to `issue`, or `{}`. */
  data: OneTimeTokenData;
  createdAt: number;
  expiresAt: number;
}

/** What `createOneTimeTokens` returns. Expected failures (unknown, used, expired, other purpose) resolve to `null`. */
export interface OneTimeTokens {
  /** Every purpose and its lifetime in seconds, defaults included, to tell users how long a link works. */
  readonly purposes: Readonly<Record<string, Readonly<OneTimeTokenPurpose>>>;
  /** A new token for the user and purpose; the user's earlier token of that purpose stops working. */
  issue(userId: string, purpose: string, options?: { data?: OneTimeTokenData }): Promise<IssuedOneTimeToken>;
  /** Uses the token up: what it grants, once; `null` for any token that is not live and of this purpose. */
  consume(token: string, purpose: string): Promise<OneTimeTokenGrant | null>;
  /** What `consume` would answer, without using the token (a page that shows a form before the POST). */
  peek(token: string, purpose: string): Promise<OneTimeTokenGrant | null>;
  /** Deletes the user's tokens, of one purpose or all; resolves to how many. Call it when the password changes. */
  revokeUser(userId: string, purpose?: string): Promise<number>;
  /** Deletes the expired tokens; resolves to how many. Run it from time to time (an hourly job). */
  deleteExpired(): Promise<number>;
}

/**
 * The purposes every `createOneTimeTokens` knows, with their default and longest lifetimes in
 * seconds. A reset link is short because it is as good as the password: whoever reads the mail
 * (a shared inbox, a mail left open, a forwarded message) owns the account while it lives.
 * Verification links grant less and wait longer for the user to open the mail.
 *
 * @example
 * const minutes = DEFAULT_PURPOSES['reset-password'].ttl / 60; // 30
 */
export const DEFAULT_PURPOSES = {
  'verify-email': { ttl: 86_400, max: 86_400 },
  'reset-password': { ttl: 1800, max: 1800 },
  'change-email': { ttl: 86_400, max: 86_400 },
} as const satisfies Record<string, { ttl: number; max: number }>;

/** The longest lifetime of a purpose of the app's own, in seconds (7 days: an "undo this change" link). */
export const MAX_ONE_TIME_TTL = 7 * 86_400;

/** Most bytes of JSON `issue` keeps as `data`: a reference (an address, an id), not a document. */
export const MAX_ONE_TIME_DATA_BYTES = 1024;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const PURPOSE = /^[a-z0-9][a-z0-9-]{0,39}$/;
const MAX_USER_ID = 255;
const MAX_DEPTH = 32;

// The store keeps a hash only: a leaked row, backup or Redis dump cannot be used as a link.
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');

// Why data is sealed: it may be personal or secret (the address of a pending e-mail change, the
// password hash of a pending sign-up), and the store is the place assumed to leak, which is why it
// keeps only the token's hash. The key comes from the token, which the store never sees: a leaked
// row, backup or Redis dump tells nothing, and a row's data opens only with its own token.
const dataKey = (token: string) => Buffer.from(hkdfSync('sha256', token, '', 'latchkey/one-time data', 32));
const GCM = { authTagLength: 16 } as const;

/** `data` as stored: `{}` when there is none, else `{ sealed }` (AES-256-GCM: 12 bytes of IV, the text, the tag). */
function seal(token: string, data: OneTimeTokenData): OneTimeTokenData {
  if (Object.keys(data).length === 0) return {};
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey(token), iv, GCM);
  const text = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  return { sealed: Buffer.concat([iv, text, cipher.getAuthTag()]).toString('base64url') };
}

/** The data `seal` stored with this token; `null` for anything else (altered, or not sealed by us): fail closed. */
function unseal(token: string, stored: OneTimeTokenData): OneTimeTokenData | null {
  const { sealed } = stored;
  if (typeof sealed !== 'string') return Object.keys(stored).length === 0 ? {} : null;
  try {
    const bytes = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', dataKey(token), bytes.subarray(0, 12), GCM);
    decipher.setAuthTag(bytes.subarray(-16));
    const text = Buffer.concat([decipher.update(bytes.subarray(12, -16)), decipher.final()]);
    return JSON.parse(text.toString('utf8')) as OneTimeTokenData;
  } catch {
    return null;
  }
}

/** A purpose name as it may be shown: only a well-formed name, never a value that may be a token. */
const shown = (value: unknown) =>
  typeof value === 'string' && PURPOSE.test(value)
    ? `'${value}'`
    : typeof value === 'string'
      ? '(a string that is not a purpose name)'
      : describe(value);

function checkPurposes(value: unknown): Record<string, OneTimeTokenPurpose> {
  const purposes: Record<string, OneTimeTokenPurpose> = {};
  for (const [name, spec] of Object.entries(DEFAULT_PURPOSES)) purposes[name] = { ttl: spec.ttl };
  if (value === undefined) return purposes;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigurationError(
      `purposes must be an object of { ttl } by purpose name, e.g. { 'reset-password': { ttl: 900 } }; got ${describe(value)}`,
    );
  }
  for (const [name, spec] of Object.entries(value)) {
    if (!PURPOSE.test(name)) {
      throw new ConfigurationError(
        `purposes: ${shown(name)} is not a purpose name; use 1 to 40 lowercase letters, digits and -, e.g. 'verify-email'`,
      );
    }
    const where = `purposes['${name}']`;
    const known = Object.hasOwn(DEFAULT_PURPOSES, name)
      ? DEFAULT_PURPOSES[name as keyof typeof DEFAULT_PURPOSES]
      : null;
    const o = checkOptions<{ ttl?: unknown }>(where, spec as { ttl?: unknown }, ['ttl'], {
      maxAge: 'ttl',
      expiresIn: 'ttl',
      lifetime: 'ttl',
    });
    const ttl = checkNumber(`${where}.ttl`, o.ttl, {
      default: known?.ttl,
      min: 1,
      max: known?.max ?? MAX_ONE_TIME_TTL,
      integer: true,
      unit: 'seconds',
    });
    purposes[name] = { ttl };
  }
  return purposes;
}

/** A copy of `data` as stored, if it is a small plain-JSON object; InvalidArgumentError otherwise. */
function checkData(data: unknown): OneTimeTokenData {
  if (data === undefined) return {};
  const plain = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
    if (typeof v === 'number') return Number.isFinite(v);
    if (typeof v !== 'object' || depth > MAX_DEPTH) return false; // a cycle ends here too
    if (Array.isArray(v)) return v.every((item) => plain(item, depth + 1));
    const proto = Object.getPrototypeOf(v);
    return (proto === Object.prototype || proto === null) && Object.values(v).every((item) => plain(item, depth + 1));
  };
  if (data === null || typeof data !== 'object' || Array.isArray(data) || !plain(data, 0)) {
    // The value is never quoted: data may hold an address or another personal detail.
    throw new InvalidArgumentError(
      `issue: data must be a plain JSON object (objects, arrays, strings, finite numbers, booleans, null; no Map, Date or undefined), not ${describe(data)} or an object holding one`,
    );
  }
  const json = JSON.stringify(data);
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_ONE_TIME_DATA_BYTES) {
    throw new InvalidArgumentError(
      `issue: data is ${bytes} bytes of JSON, over ${MAX_ONE_TIME_DATA_BYTES}: keep a reference (an address, an id) and the rest in your own tables`,
    );
  }
  return JSON.parse(json) as OneTimeTokenData;
}

/** The `data` of `issue`'s options; anything but `{ data? }` is a bug in the caller. */
function checkIssueOptions(options: unknown): unknown {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`issue: the third argument must be { data }, not ${describe(options)}`);
  }
  if (Object.keys(options).some((key) => key !== 'data')) {
    throw new InvalidArgumentError('issue: the third argument takes data and nothing else: { data: { … } }');
  }
  return (options as { data?: unknown }).data;
}

function checkUserId(where: string, userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID) {
    throw new InvalidArgumentError(`${where}: userId must be a string of 1 to ${MAX_USER_ID} characters`);
  }
  return userId;
}

const grant = (record: OneTimeTokenRecord, data: OneTimeTokenData): OneTimeTokenGrant => ({
  userId: record.userId,
  data,
  createdAt: record.createdAt,
  expiresAt: record.expiresAt,
});

/**
 * One-time tokens over a store. Purposes are checked once, here; a token is checked on each use,
 * and a malformed one (not 43 base64url characters, not a string) answers `null` without a store call.
 *
 * @example
 * const oneTime = createOneTimeTokens({ store: createSqliteOneTimeStore(db) });
 * const { token } = await oneTime.issue(user.id, 'reset-password');
 * await mailer.sendMail({ to: user.email, text: `https://app.example/reset#token=${token}` }); // in the fragment: no log, no Referer
 * // later, from the page's POST { token, password }:
 * const grant = await oneTime.consume(body.token, 'reset-password'); // { userId, … } once, then null
 * if (grant) { await setPassword(grant.userId, body.password); await oneTime.revokeUser(grant.userId); }
 */
export function createOneTimeTokens(options: OneTimeTokensOptions): OneTimeTokens {
  const o = checkOptions('createOneTimeTokens', options, ['store', 'purposes', 'now'], {
    ttl: 'purposes',
    clock: 'now',
  });
  const store = checkOneTimeStore('createOneTimeTokens: store', o.store);
  const purposes = checkPurposes(o.purposes);
  const now = checkFunction('now', o.now, Date.now);
  const names = Object.keys(purposes);

  /** The lifetime of a purpose in ms; an unknown purpose is a bug in the caller, not a bad link. */
  const ttlOf = (where: string, purpose: unknown): number => {
    const known = typeof purpose === 'string' && Object.hasOwn(purposes, purpose) ? purposes[purpose] : undefined;
    if (known !== undefined) return known.ttl * 1000;
    const guess = typeof purpose === 'string' && PURPOSE.test(purpose) ? didYouMean(purpose, names) : undefined;
    throw new InvalidArgumentError(
      `${where}: unknown purpose ${shown(purpose)}${guess === undefined ? '.' : `; did you mean '${guess}'?`} The purposes are ${names.join(', ')}; add others with createOneTimeTokens({ purposes })`,
    );
  };

  const find = async (where: string, token: unknown, purpose: string, use: boolean) => {
    ttlOf(where, purpose);
    // Not a token we could have issued: answer as for any unknown token, without a store call.
    if (typeof token !== 'string' || !TOKEN.test(token)) return null;
    // The look-up is by SHA-256(token), so its timing tells nothing about any stored token: no
    // secret is compared byte by byte. A wrong token can never burn a right one.
    const t = now();
    const hash = hashToken(token);
    const record = use ? await store.take(hash, purpose, t) : await store.get(hash, purpose, t);
    // Checked again here, so that a store of one's own that forgets a condition still fails closed.
    if (record === null || record.purpose !== purpose || record.expiresAt <= t || record.tokenHash !== hash)
      return null;
    const data = unseal(token, record.data);
    return data === null ? null : grant(record, data);
  };

  return {
    purposes: Object.freeze(Object.fromEntries(names.map((n) => [n, Object.freeze({ ...purposes[n] })]))) as Readonly<
      Record<string, Readonly<OneTimeTokenPurpose>>
    >,

    async issue(userId, purpose, issueOptions) {
      checkUserId('issue', userId);
      const ttl = ttlOf('issue', purpose);
      const stored = checkData(checkIssueOptions(issueOptions));
      const token = randomBytes(32).toString('base64url');
      const createdAt = now();
      const record: OneTimeTokenRecord = {
        tokenHash: hashToken(token),
        userId,
        purpose,
        data: seal(token, stored),
        createdAt,
        expiresAt: createdAt + ttl,
      };
      await store.insert(record);
      return { token, expiresAt: record.expiresAt };
    },
    consume: (token, purpose) => find('consume', token, purpose, true),
    peek: (token, purpose) => find('peek', token, purpose, false),
    async revokeUser(userId, purpose) {
      checkUserId('revokeUser', userId);
      if (purpose !== undefined) ttlOf('revokeUser', purpose);
      return store.deleteUser(userId, purpose);
    },
    deleteExpired: () => store.deleteExpired(now()),
  };
}
