/**
 * Passkeys (WebAuthn): registration from a signed-in session, sign-in with a discoverable
 * credential alone, and step-up. The signatures and the authenticator data are checked by
 * `@simplewebauthn/server` (an optional peer); the rules around them are ours: challenges single-use
 * and bound to who asked for them, the relying party and origins fixed by configuration, counters
 * compared and written atomically, the backup-eligible flag held to what was registered.
 */
import { createHash, randomBytes } from 'node:crypto';
import { expiredFlowCookie, flowCookie, readFlowCookie } from '../cookie/flow-cookie.js';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import type { HttpErrorCode } from '../http/error-codes.js';
import { requireOptional } from '../lib/optional.js';
import { checkFunction, checkNumber, checkOneOf, checkOptions, checkString, describe } from '../lib/options.js';
import type { PasskeyRecord, PasskeyStore } from './store.js';

type SimpleWebAuthn = typeof import('@simplewebauthn/server');

/** Options of `createPasskeys`. */
export interface PasskeysOptions {
  /** Where passkeys and challenges live: `createMemoryPasskeyStore()`, `latchkey/passkeys/sqlite`, or yours. */
  store: PasskeyStore;
  /**
   * The relying party id: the site's domain (`example.com`), which every origin's host must be or
   * end with. Passkeys are bound to it: changing it later strands every passkey registered.
   */
  rpId: string;
  /** The name authenticators show next to the passkey ("Acme"). */
  rpName: string;
  /**
   * Every origin pages that use passkeys are served from (`https://example.com`). Only these are
   * accepted in a response; `http:` only for `localhost`.
   */
  origins: readonly string[];
  /** Seconds a challenge waits for its answer. Default 300; 30 to 600. */
  challengeTtl?: number;
  /**
   * Whether the authenticator must verify the user (PIN, fingerprint, face). Default `'required'`:
   * a passkey then stands for both factors. `'preferred'` makes it a possession factor only.
   */
  userVerification?: 'required' | 'preferred';
  /** Passkeys one account may hold. Default 20. */
  maxPerUser?: number;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** A refusal: the code for `sendError`. */
export interface PasskeyRefusal {
  ok: false;
  error: Extract<
    HttpErrorCode,
    | 'PASSKEY_INVALID'
    | 'PASSKEY_CHALLENGE_EXPIRED'
    | 'PASSKEY_ALREADY_REGISTERED'
    | 'PASSKEY_LIMIT'
    | 'NO_PASSKEY'
    | 'LAST_SIGN_IN_METHOD'
    | 'NOT_FOUND'
    | 'BAD_REQUEST'
  >;
}

/** WebAuthn options as JSON, for `startRegistration` / `startAuthentication` in the browser. */
export interface PasskeyOptionsJSON {
  challenge: string;
  rpId?: string;
  [key: string]: unknown;
}

/** A passkey as the account page shows it: no key material. */
export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  /** It may be synced to the user's other devices (BE), and is now (BS). */
  syncable: boolean;
  backedUp: boolean;
}

/** Headers to send with an answer: the sign-in flow's cookie, and `cache-control: no-store`. */
export type PasskeyFlowHeaders = Record<'set-cookie' | 'cache-control', string>;

/** The cookie that carries a passkey sign-in's flow id from the options to the answer. */
export const PASSKEY_FLOW_COOKIE = '__Host-passkey-flow';

/** A verified passkey sign-in or step-up. */
export interface PasskeyProof {
  ok: true;
  userId: string;
  passkey: PasskeySummary;
  /** The authenticator verified the user: with `userVerification: 'required'` always true. */
  userVerified: boolean;
}

/**
 * Passkeys, from `createPasskeys`. `binding` ties a registration or step-up challenge to who asked
 * for it (pass the session's id): an answer is accepted only with the same binding, once.
 *
 * @example
 * const { options } = await passkeys.registrationOptions({ id: user.id, name: user.email }, session.id);
 * const added = await passkeys.verifyRegistration(user.id, session.id, body.response, { name: 'Laptop' });
 * const started = await passkeys.signInOptions(); // send started.headers: the flow's cookie
 * const proof = await passkeys.verifySignIn(req.headers.cookie, body.response); // proof.userId: log them in
 */
export interface Passkeys {
  /** Options for `navigator.credentials.create`: a resident key, the user's passkeys excluded. */
  registrationOptions(
    user: { id: string; name: string; displayName?: string },
    binding: string,
  ): Promise<{ ok: true; options: PasskeyOptionsJSON } | PasskeyRefusal>;
  /** Checks the browser's answer and stores the passkey. The challenge is spent whatever the outcome. */
  verifyRegistration(
    userId: string,
    binding: string,
    response: unknown,
    options?: { name?: string },
  ): Promise<{ ok: true; passkey: PasskeySummary } | PasskeyRefusal>;
  /**
   * Options for a sign-in with any passkey of this site (discoverable; conditional UI), and the
   * headers to send with them: `__Host-passkey-flow` (HttpOnly, Secure, SameSite=Strict, as long
   * as the challenge) binds the challenge to this browser.
   */
  signInOptions(): Promise<{ ok: true; options: PasskeyOptionsJSON; headers: PasskeyFlowHeaders }>;
  /** Checks a sign-in answer against the challenge of the flow in `cookieHeader`; the user it proves, and headers that expire the flow's cookie. */
  verifySignIn(
    cookieHeader: string | undefined,
    response: unknown,
  ): Promise<(PasskeyProof | PasskeyRefusal) & { headers: PasskeyFlowHeaders }>;
  /** Options for proving again, with one of this user's passkeys, that the user is here. */
  stepUpOptions(userId: string, binding: string): Promise<{ ok: true; options: PasskeyOptionsJSON } | PasskeyRefusal>;
  /** Checks a step-up answer: it must come from one of `userId`'s passkeys. */
  verifyStepUp(userId: string, binding: string, response: unknown): Promise<PasskeyProof | PasskeyRefusal>;
  /** The user's passkeys, oldest first. */
  list(userId: string): Promise<PasskeySummary[]>;
  /** Renames one. A name is 1 to 64 characters on one line (else `BAD_REQUEST`). */
  rename(userId: string, id: string, name: unknown): Promise<{ ok: true } | PasskeyRefusal>;
  /**
   * Removes one. `otherSignIn` says whether the account can sign in without passkeys (a password):
   * without it, the last passkey is refused with `LAST_SIGN_IN_METHOD`.
   */
  remove(userId: string, id: string, options: { otherSignIn: boolean }): Promise<{ ok: true } | PasskeyRefusal>;
  /** Removes every passkey of the user (account deletion, recovery); how many there were. */
  removeAll(userId: string): Promise<number>;
}

const refuse = (error: PasskeyRefusal['error']): PasskeyRefusal => ({ ok: false, error });
const EXPIRE_FLOW: PasskeyFlowHeaders = Object.freeze({
  'set-cookie': expiredFlowCookie(PASSKEY_FLOW_COOKIE),
  'cache-control': 'no-store',
});

/** The flow id in a Cookie header, if there is one of a sane size. */
const flowFrom = (header: string | undefined) =>
  readFlowCookie(header, PASSKEY_FLOW_COOKIE, (v) => /^[A-Za-z0-9_-]{16,64}$/.test(v));
const MAX_ID = 1364; // base64url of the 1,023 bytes WebAuthn allows a credential id
// One visible line: no controls, no format characters (bidi overrides, zero-width), no line or paragraph separators.
const NAME = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,64}$/u;
/** AuthenticatorTransport values (WebAuthn L3): only these are stored and sent back as hints. */
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/**
 * The challenge's key in the store: a digest, so a stolen store holds no live flow id or session id.
 * The parts are JSON-encoded: no (user, binding) pair can be spelled as another.
 */
const challengeKey = (purpose: string, ...parts: string[]) =>
  `${purpose}:${createHash('sha256').update(JSON.stringify(parts)).digest('base64url')}`;

/** A binding is the caller's session id (or similar): a missing one would be shared by every caller. */
function checkBinding(where: string, binding: unknown): string {
  if (typeof binding === 'string' && binding.length > 0 && binding.length <= 512) return binding;
  throw new InvalidArgumentError(
    `${where}: binding must be the session's id (a non-empty string), got ${describe(binding)}`,
  );
}

/**
 * The answer's client data, if it is from a top-level page: an answer made in a cross-origin iframe
 * (`crossOrigin: true`, a `topOrigin`) is refused, as frame-ancestors refuses the page itself.
 */
function topLevel(response: unknown): boolean {
  const encoded = (response as { response?: { clientDataJSON?: unknown } }).response?.clientDataJSON;
  if (typeof encoded !== 'string' || encoded.length > 4096) return false;
  try {
    const data = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Record<string, unknown>;
    return data !== null && typeof data === 'object' && data.crossOrigin !== true && data.topOrigin === undefined;
  } catch {
    return false;
  }
}

const summary = (r: PasskeyRecord): PasskeySummary => ({
  id: r.id,
  name: r.name,
  createdAt: r.createdAt,
  lastUsedAt: r.lastUsedAt,
  syncable: r.backupEligible,
  backedUp: r.backedUp,
});

/** The response's credential id, if it is shaped like a WebAuthn answer at all. */
function credentialIdOf(response: unknown): string | null {
  if (response === null || typeof response !== 'object') return null;
  const r = response as { id?: unknown; rawId?: unknown; type?: unknown; response?: unknown };
  if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > MAX_ID || r.rawId !== r.id) return null;
  if (r.type !== 'public-key' || r.response === null || typeof r.response !== 'object') return null;
  return r.id;
}

function checkOrigins(rpId: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new ConfigurationError(
      `origins must be a non-empty array of the site's origins, e.g. ['https://${rpId}']; got ${describe(value)}`,
    );
  return value.map((o) => {
    let url: URL | undefined;
    try {
      url = typeof o === 'string' ? new URL(o) : undefined;
    } catch {}
    if (url === undefined || url.origin !== o)
      throw new ConfigurationError(
        `origins must hold origins only (scheme, host, port; no path), e.g. 'https://${rpId}'`,
      );
    // A passkey is only as safe as the channel: http is for a developer's own machine.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && url.hostname === 'localhost'))
      throw new ConfigurationError(`origins must be https (http only for localhost): ${url.origin} is not`);
    if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`))
      throw new ConfigurationError(`rpId '${rpId}' must be ${url.hostname} or a domain it ends with`);
    return url.origin;
  });
}

/**
 * @example
 * import { createPasskeys } from 'latchkey/passkeys';
 * import { createSqlitePasskeyStore } from 'latchkey/passkeys/sqlite';
 * const passkeys = createPasskeys({ store: createSqlitePasskeyStore(db), rpId: 'example.com', rpName: 'Acme', origins: ['https://example.com'] });
 */
export function createPasskeys(options: PasskeysOptions): Passkeys {
  const o = checkOptions('createPasskeys', options, [
    'store',
    'rpId',
    'rpName',
    'origins',
    'challengeTtl',
    'userVerification',
    'maxPerUser',
    'now',
  ]);
  const store = o.store;
  if (store === null || typeof store !== 'object' || typeof (store as PasskeyStore).takeChallenge !== 'function')
    throw new ConfigurationError(
      'createPasskeys: store must be a PasskeyStore (createMemoryPasskeyStore(), createSqlitePasskeyStore(db))',
    );
  const rpId = checkString('rpId', o.rpId, {
    pattern: /^(localhost|([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})$/,
    expected: "the site's domain in lower case, without scheme or port (e.g. 'example.com' or 'localhost')",
    maxLength: 253,
  });
  const rpName = checkString('rpName', o.rpName, {
    pattern: /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u,
    expected: 'one line of visible text',
    maxLength: 100,
  });
  const origins = checkOrigins(rpId, o.origins);
  const ttl = checkNumber('challengeTtl', o.challengeTtl, { default: 300, min: 30, max: 600, unit: 'seconds' });
  const verification = checkOneOf('userVerification', o.userVerification, ['required', 'preferred'], 'required');
  const maxPerUser = checkNumber('maxPerUser', o.maxPerUser, { default: 20, min: 1, max: 100, integer: true });
  const now = checkFunction<() => number>('now', o.now, Date.now);
  // Loaded here, so a missing package stops start-up with the command that installs it.
  const webauthn = requireOptional<SimpleWebAuthn>('@simplewebauthn/server', 'latchkey/passkeys');
  const requireUV = verification === 'required';

  /** The WebAuthn user handle: opaque and stable per account, never the user's name or address. */
  const userHandle = (userId: string) =>
    createHash('sha256').update(`latchkey passkey user\0${rpId}\0${userId}`).digest();

  /** 32 random bytes, stored (as base64url, what comes back in clientDataJSON) under `key`. */
  const newChallenge = async (key: string) => {
    const challenge = randomBytes(32);
    await store.putChallenge(key, challenge.toString('base64url'), now() + ttl * 1000);
    return new Uint8Array(challenge);
  };

  /** Verifies an assertion against a stored passkey and records the use; the shared half of sign-in and step-up. */
  const verifyAssertion = async (
    key: string,
    response: unknown,
    owner: string | null,
  ): Promise<PasskeyProof | PasskeyRefusal> => {
    // Taken before anything else is checked: a challenge answers once, right or wrong.
    const challenge = await store.takeChallenge(key, now());
    if (challenge === null) return refuse('PASSKEY_CHALLENGE_EXPIRED');
    const id = credentialIdOf(response);
    const record = id === null ? null : await store.get(id);
    // An unknown credential and another user's are the same answer: the response names no account.
    if (record === null || (owner !== null && record.userId !== owner)) return refuse('PASSKEY_INVALID');
    // The user handle names the account the authenticator holds the key for: it must be this one,
    // and a discoverable sign-in must carry it (WebAuthn §7.2 step 6).
    const handle = (response as { response: { userHandle?: unknown } }).response.userHandle;
    if ((handle !== undefined || owner === null) && handle !== userHandle(record.userId).toString('base64url'))
      return refuse('PASSKEY_INVALID');
    if (!topLevel(response)) return refuse('PASSKEY_INVALID');
    let info: Awaited<ReturnType<SimpleWebAuthn['verifyAuthenticationResponse']>>['authenticationInfo'];
    try {
      const result = await webauthn.verifyAuthenticationResponse({
        response: response as Parameters<SimpleWebAuthn['verifyAuthenticationResponse']>[0]['response'],
        expectedChallenge: challenge,
        expectedOrigin: origins,
        expectedRPID: rpId,
        requireUserVerification: requireUV,
        credential: {
          id: record.id,
          publicKey: new Uint8Array(Buffer.from(record.publicKey, 'base64url')),
          counter: record.counter,
          transports: record.transports,
        },
      });
      if (!result.verified) return refuse('PASSKEY_INVALID');
      info = result.authenticationInfo;
    } catch {
      // A bad signature, origin, rp id, flag or a counter that did not move forward (a cloned authenticator).
      return refuse('PASSKEY_INVALID');
    }
    // BE is fixed for the life of a credential (WebAuthn §6.1.3): a change means it is not the one registered.
    if ((info.credentialDeviceType === 'multiDevice') !== record.backupEligible) return refuse('PASSKEY_INVALID');
    const used = await store.recordUse(record.id, {
      previousCounter: record.counter,
      counter: info.newCounter,
      backedUp: info.credentialBackedUp,
      at: now(),
    });
    // Another use landed first with a counter we did not check against: refuse rather than go backwards.
    if (!used) return refuse('PASSKEY_INVALID');
    return {
      ok: true,
      userId: record.userId,
      passkey: summary({ ...record, backedUp: info.credentialBackedUp, lastUsedAt: now() }),
      userVerified: info.userVerified,
    };
  };

  return {
    async registrationOptions(user, binding) {
      const userId = checkString('user.id', user?.id, { maxLength: 256 });
      checkBinding('registrationOptions', binding);
      const existing = await store.list(userId);
      if (existing.length >= maxPerUser) return refuse('PASSKEY_LIMIT');
      const challenge = await newChallenge(challengeKey('register', userId, binding));
      const options = await webauthn.generateRegistrationOptions({
        rpName,
        rpID: rpId,
        userID: new Uint8Array(userHandle(userId)),
        userName: String(user.name).slice(0, 256),
        userDisplayName: String(user.displayName ?? user.name).slice(0, 256),
        challenge,
        timeout: ttl * 1000,
        attestationType: 'none',
        excludeCredentials: existing.map((r) => ({ id: r.id, transports: r.transports })),
        // A discoverable credential: the passkey alone can sign in, with no name typed first.
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: verification },
      });
      return { ok: true, options: options as unknown as PasskeyOptionsJSON };
    },

    async verifyRegistration(userId, binding, response, extra) {
      const key = challengeKey('register', userId, checkBinding('verifyRegistration', binding));
      const challenge = await store.takeChallenge(key, now());
      if (challenge === null) return refuse('PASSKEY_CHALLENGE_EXPIRED');
      if (credentialIdOf(response) === null || !topLevel(response)) return refuse('PASSKEY_INVALID');
      const name = typeof extra?.name === 'string' && NAME.test(extra.name.trim()) ? extra.name.trim() : 'Passkey';
      let info: NonNullable<Awaited<ReturnType<SimpleWebAuthn['verifyRegistrationResponse']>>['registrationInfo']>;
      try {
        const result = await webauthn.verifyRegistrationResponse({
          response: response as Parameters<SimpleWebAuthn['verifyRegistrationResponse']>[0]['response'],
          expectedChallenge: challenge,
          expectedOrigin: origins,
          expectedRPID: rpId,
          requireUserVerification: requireUV,
        });
        if (!result.verified) return refuse('PASSKEY_INVALID');
        info = result.registrationInfo;
      } catch {
        return refuse('PASSKEY_INVALID');
      }
      // The id the answer names must be the one inside the signed authenticator data.
      if (info.credential.id !== credentialIdOf(response) || info.credential.id.length > MAX_ID)
        return refuse('PASSKEY_INVALID');
      const at = now();
      const record: PasskeyRecord = {
        id: info.credential.id,
        userId,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        // The browser's hints, unchecked by the verifier: known values only, or a string here is a 500.
        transports: [...new Set(Array.isArray(info.credential.transports) ? info.credential.transports : [])].filter(
          (t) => typeof t === 'string' && TRANSPORTS.has(t),
        ),
        backupEligible: info.credentialDeviceType === 'multiDevice',
        backedUp: info.credentialBackedUp,
        name,
        createdAt: at,
        lastUsedAt: null,
      };
      // A credential id is one account's: registering it again (to anyone) is refused, never moved.
      // The limit is counted in the same atomic step, so racing registrations cannot pass it.
      if (!(await store.add(record, maxPerUser)))
        return refuse((await store.get(record.id)) === null ? 'PASSKEY_LIMIT' : 'PASSKEY_ALREADY_REGISTERED');
      return { ok: true, passkey: summary(record) };
    },

    async signInOptions() {
      const flow = randomBytes(16).toString('base64url');
      const challenge = await newChallenge(challengeKey('sign-in', flow));
      const options = await webauthn.generateAuthenticationOptions({
        rpID: rpId,
        challenge,
        timeout: ttl * 1000,
        userVerification: verification,
      });
      return {
        ok: true,
        options: options as unknown as PasskeyOptionsJSON,
        // SameSite=Strict: a cross-site page cannot finish a sign-in this browser began.
        headers: { 'set-cookie': flowCookie(PASSKEY_FLOW_COOKIE, flow, ttl), 'cache-control': 'no-store' },
      };
    },

    async verifySignIn(cookieHeader, response) {
      const flow = flowFrom(cookieHeader);
      const result =
        flow === null
          ? refuse('PASSKEY_CHALLENGE_EXPIRED')
          : await verifyAssertion(challengeKey('sign-in', flow), response, null);
      return { ...result, headers: EXPIRE_FLOW };
    },

    async stepUpOptions(userId, binding) {
      checkBinding('stepUpOptions', binding);
      const existing = await store.list(userId);
      if (existing.length === 0) return refuse('NO_PASSKEY');
      const challenge = await newChallenge(challengeKey('step-up', userId, binding));
      const options = await webauthn.generateAuthenticationOptions({
        rpID: rpId,
        challenge,
        timeout: ttl * 1000,
        userVerification: verification,
        allowCredentials: existing.map((r) => ({ id: r.id, transports: r.transports })),
      });
      return { ok: true, options: options as unknown as PasskeyOptionsJSON };
    },

    verifyStepUp: (userId, binding, response) =>
      verifyAssertion(challengeKey('step-up', userId, checkBinding('verifyStepUp', binding)), response, userId),

    list: async (userId) => (await store.list(userId)).map(summary),

    async rename(userId, id, name) {
      const trimmed = typeof name === 'string' ? name.trim() : '';
      if (!NAME.test(trimmed)) return refuse('BAD_REQUEST');
      return (await store.rename(userId, String(id), trimmed)) ? { ok: true } : refuse('NOT_FOUND');
    },

    async remove(userId, id, { otherSignIn }) {
      if (await store.delete(userId, String(id), otherSignIn !== true)) return { ok: true };
      const still = (await store.list(userId)).some((r) => r.id === id);
      return refuse(still ? 'LAST_SIGN_IN_METHOD' : 'NOT_FOUND');
    },

    removeAll: (userId) => store.deleteAll(userId),
  };
}
