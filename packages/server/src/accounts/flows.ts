/**
 * `createAccountFlows`: sign-up with e-mail verification, password reset, e-mail change with undo,
 * and the notices, as functions an app's routes call (no framework here). The app keeps its users
 * and implements `AccountDirectory`; the flows keep every rule: same answers and same work for known
 * and unknown addresses, tokens in URL fragments only, one mail per window per address, every link
 * single-use and short-lived, sessions ended through the app's `endSessions` after a reset or an undo.
 */
import { ConfigurationError } from '../errors.js';
import { checkFunction, checkOptions, checkString, describe } from '../lib/options.js';
import type { Mailer } from '../mail/mailer.js';
import type { OneTimeTokens } from '../one-time/tokens.js';
import { createPasswordHasher, type PasswordHasher } from '../password/hash.js';
import { createPasswordPolicy, type PasswordPolicy } from '../password/policy.js';
import { createRateLimit, type RateLimit } from '../password/rate-limit.js';
import { createFlowContext, UNDO_PURPOSE } from './context.js';
import type { AccountDirectory } from './directory.js';
import { createEmailChange } from './email-change.js';
import { type AccountLinks, checkLinks } from './links.js';
import { type AccountMessages, defaultMessages } from './messages.js';
import { createNotices, type NewDeviceDetails } from './notices.js';
import { createPasswordReset } from './password-reset.js';
import { createSignUp } from './sign-up.js';
import type {
  AccountEvent,
  AccountRequestResult,
  EmailChangeGrant,
  EndSessionsReason,
  ResetPasswordResult,
  VerifyEmailResult,
} from './types.js';

/**
 * The purpose the flows need besides the three every `createOneTimeTokens` knows: the undo link of
 * an e-mail change, 7 days. Pass it to `createOneTimeTokens`.
 *
 * @example
 * const tokens = createOneTimeTokens({ store, purposes: ACCOUNT_PURPOSES });
 */
export const ACCOUNT_PURPOSES = Object.freeze({ [UNDO_PURPOSE]: Object.freeze({ ttl: 604_800 }) });

/**
 * The limits of `createAccountFlows`. Each is a `createRateLimit` (in memory, or on Redis for many instances).
 *
 * @example
 * const limits: AccountLimits = {
 *   client: createRateLimit({ redis, name: 'accounts-client', perClient: { points: 30, duration: 3600 } }),
 *   address: createRateLimit({ redis, name: 'accounts-address', perClient: { points: 1, duration: 600 }, global: { points: 5000, duration: 3600 } }),
 * };
 */
export interface AccountLimits {
  /**
   * Requests of `register` and `requestPasswordReset` from one client address, and of
   * `requestEmailChange` from one account; over it they answer 429. Default
   * `createRateLimit({ name: 'accounts-client', perClient: { points: 30, duration: 3600 } })`.
   */
  client?: RateLimit;
  /**
   * Mails to one address, whatever the flow (sign-up, reset, e-mail change), keyed by a hash of
   * the address without its `+tag` (`ann+1@` counts as `ann@`). Over it nothing is sent and
   * nothing replaced (the link already sent keeps working), and the answer stays the same. Default
   * one per 10 minutes:
   * `createRateLimit({ name: 'accounts-address', perClient: { points: 1, duration: 600 } })`; add a
   * `global` rule to cap all mail together.
   */
  address?: RateLimit;
}

/**
 * Options of `createAccountFlows`. Required: `directory`, `tokens`, `mailer`, `links`, `appName`, `endSessions`.
 *
 * @example
 * const options: AccountFlowsOptions = { directory, tokens, mailer, links, appName: 'Acme', endSessions: (id) => sessions.revokeUserSessions(id) };
 */
export interface AccountFlowsOptions {
  /** The app's users. */
  directory: AccountDirectory;
  /** `createOneTimeTokens({ store, purposes: ACCOUNT_PURPOSES })`: it must know `undo-email-change`. */
  tokens: OneTimeTokens;
  /** Where mails go: a queue (`createMailQueue` from `latchkey/mail`), so a failed send is retried. The flows never wait for it. */
  mailer: Mailer;
  /** The app's pages, each with the token in the URL fragment (checked at start-up). */
  links: AccountLinks;
  /** The app's name, as the mails say it ("Finish signing up to Acme"). One line, at most 100 characters. */
  appName: string;
  /**
   * Ends every session, refresh family and access token of the user; called after a password reset
   * (the route then logs in the device that reset) and after an e-mail change is undone. Wire your
   * revocation here once: `(userId) => sessions.revokeUserSessions(userId)`, plus refresh families and
   * a not-before for access tokens if you issue them.
   */
  endSessions: (userId: string, reason: EndSessionsReason) => Promise<void> | void;
  /** Default `createPasswordHasher()`; pass the login's (`login.hasher`) so both agree. */
  hasher?: PasswordHasher;
  /** The rules for a new password. Default `createPasswordPolicy()`. */
  policy?: PasswordPolicy;
  limits?: AccountLimits;
  /** Mails of your own wording, by name; the rest keep `defaultMessages`. */
  messages?: Partial<AccountMessages>;
  /** Called with each event, for the log; it never gets a token, a password or an address. */
  onEvent?: (event: AccountEvent) => void;
  /** The clock, in ms since the epoch; give the tokens the same one. Default `Date.now`. */
  now?: () => number;
}

/**
 * The account flows, from `createAccountFlows`. Methods that take a request body take it as it
 * came (`unknown`) and check its shape; a malformed body is a `BAD_REQUEST` result.
 *
 * @example
 * app.post('/api/auth/register', async (req, res) => {
 *   const result = await accounts.register(req.body, req.ip);
 *   if (!result.ok) return sendError(res, result.error, result.headers);
 *   res.status(202).json({ status: 'check-your-inbox' }); // the same body for every address
 * });
 */
export interface AccountFlows {
  /**
   * `{ email, password, username? }` from `client`: the same `{ ok: true }` for a new address and a
   * taken one, after the same work; the mail differs. Refusals depend on the request only:
   * `BAD_REQUEST`, `EMAIL_INVALID`, `PASSWORD_TOO_*`, `TOO_MANY_ATTEMPTS` (the client's limit).
   * Resending the mail is registering again (same limits).
   */
  register(input: unknown, client: string): Promise<AccountRequestResult>;
  /**
   * `{ token, password }` from the sign-up link's page: the password must be the one chosen at
   * sign-up (the link proves the mailbox, not who chose the password). Creates the account and
   * resolves to its id (log the user in); `TOKEN_INVALID` for a link that does not work,
   * `INVALID_CREDENTIALS` for another password (the link still works).
   */
  verifyEmail(input: unknown): Promise<VerifyEmailResult>;
  /** `{ email }` from `client`: the same `{ ok: true }` for a known and an unknown address, after the same work. */
  requestPasswordReset(input: unknown, client: string): Promise<AccountRequestResult>;
  /**
   * `{ token, password }`: sets the password, ends every other link and (through `endSessions`)
   * every session; resolves to the user to log in on this device. `TOKEN_INVALID` for a link that
   * does not work; `PASSWORD_TOO_*` leaves the link working.
   */
  resetPassword(input: unknown): Promise<ResetPasswordResult>;
  /** For a password the app changed itself (its change-password route): ends every pending link but the undo, and mails the notice. */
  passwordChanged(userId: string): Promise<void>;
  /**
   * The session's user asks for a new address (require a fresh session first): a confirmation link
   * to it, a notice with an undo link to the old one. The same `{ ok: true }` whether or not the
   * new address has an account. `TOO_MANY_ATTEMPTS` while the last change can still be undone.
   */
  requestEmailChange(userId: string, newEmail: unknown): Promise<AccountRequestResult>;
  /** Uses a confirmation link's token: the account and its new address, or `null`. */
  confirmEmailChange(token: string): Promise<EmailChangeGrant | null>;
  /** Uses an undo link's token: the old address is kept or restored, every session ends, and a link to set a new password is mailed. */
  undoEmailChange(token: string): Promise<EmailChangeGrant | null>;
  /** Mails the user that their account signed in on a new device. */
  notifyNewDevice(userId: string, details?: NewDeviceDetails): Promise<void>;
  /** Mails the user that their second factors were removed (a reset by someone who had none left). */
  notifySecondFactorRemoved(userId: string): Promise<void>;
  /**
   * Mails the user that someone gave the right password and then wrong second-factor codes: the
   * password is known. Rate-limit the calls (once an hour per account is plenty).
   */
  notifySecondFactorFailures(userId: string, details?: NewDeviceDetails): Promise<void>;
  /** Mails the user that a passkey was added (a planted passkey would outlive a password reset). */
  notifyPasskeyAdded(userId: string, details?: NewDeviceDetails & { name?: string }): Promise<void>;
}

const OPTIONS = [
  'directory',
  'tokens',
  'mailer',
  'links',
  'appName',
  'endSessions',
  'hasher',
  'policy',
  'limits',
  'messages',
  'onEvent',
  'now',
];
const DIRECTORY_METHODS = ['findByEmail', 'findById', 'create', 'setPasswordHash', 'setEmail'] as const;
const TOKEN_METHODS = ['issue', 'consume', 'peek', 'revokeUser'] as const;

/** An object with these methods, or a ConfigurationError that names the first one missing. */
function checkMethods<T>(name: string, value: unknown, methods: readonly string[], fix: string): T {
  if (value === null || typeof value !== 'object')
    throw new ConfigurationError(`${name} is required: ${fix}; got ${describe(value)}`);
  const missing = methods.find((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing !== undefined) throw new ConfigurationError(`${name}.${missing} must be a function: ${fix}`);
  return value as T;
}

function checkTokens(value: unknown): OneTimeTokens {
  const fix = 'pass createOneTimeTokens({ store, purposes: ACCOUNT_PURPOSES }) from latchkey/one-time';
  const tokens = checkMethods<OneTimeTokens>('tokens', value, TOKEN_METHODS, fix);
  for (const purpose of ['verify-email', 'reset-password', 'change-email', UNDO_PURPOSE]) {
    if (typeof tokens.purposes?.[purpose]?.ttl !== 'number')
      throw new ConfigurationError(`tokens has no purpose '${purpose}': ${fix}`);
  }
  return tokens;
}

function checkLimits(value: unknown): Required<AccountLimits> {
  const limits = checkOptions<AccountLimits>('limits', value as AccountLimits | undefined, ['client', 'address'], {
    perClient: 'client',
    perAddress: 'address',
    ip: 'client',
    email: 'address',
  });
  const fix = "a createRateLimit({ name, perClient: { points, duration } }) from 'latchkey/password'";
  return {
    client:
      limits.client === undefined
        ? createRateLimit({ name: 'accounts-client', perClient: { points: 30, duration: 3600 } })
        : checkMethods<RateLimit>('limits.client', limits.client, ['take'], fix),
    address:
      limits.address === undefined
        ? createRateLimit({ name: 'accounts-address', perClient: { points: 1, duration: 600 } })
        : checkMethods<RateLimit>('limits.address', limits.address, ['take'], fix),
  };
}

function checkMessages(value: unknown): AccountMessages {
  const names = Object.keys(defaultMessages);
  const given = checkOptions<Partial<AccountMessages>>(
    'messages',
    value as Partial<AccountMessages> | undefined,
    names,
  );
  const messages: Record<string, unknown> = { ...defaultMessages };
  for (const [name, build] of Object.entries(given)) messages[name] = checkFunction(`messages.${name}`, build);
  return Object.freeze(messages) as unknown as AccountMessages;
}

/**
 * The account flows over the app's directory, one-time tokens and mailer. Everything is checked
 * here, once: a missing piece, a link that would put its token anywhere but the fragment, or tokens
 * without the undo purpose throw `ConfigurationError` with the fix.
 *
 * @example
 * const tokens = createOneTimeTokens({ store: createSqliteOneTimeStore(db), purposes: ACCOUNT_PURPOSES });
 * const accounts = createAccountFlows({
 *   directory, // the app's users: findByEmail, findById, create, setPasswordHash, setEmail
 *   tokens,
 *   mailer: createMailQueue(createSmtpMailer({ url: process.env.LATCHKEY_SMTP_URL, from: 'no-reply@acme.example', fromName: 'Acme' })),
 *   appName: 'Acme',
 *   links: {
 *     verifyEmail: (t) => `https://acme.example/verify-email#token=${t}`,
 *     resetPassword: (t) => `https://acme.example/reset-password#token=${t}`,
 *     confirmEmailChange: (t) => `https://acme.example/confirm-email#token=${t}`,
 *     undoEmailChange: (t) => `https://acme.example/undo-email-change#token=${t}`,
 *   },
 *   endSessions: (userId) => sessions.revokeUserSessions(userId),
 *   hasher: login.hasher,
 * });
 */
export function createAccountFlows(options: AccountFlowsOptions): AccountFlows {
  if (options === undefined)
    throw new ConfigurationError(
      'createAccountFlows needs options: { directory, tokens, mailer, links, appName, endSessions } (docs/accounts.md)',
    );
  const o = checkOptions('createAccountFlows', options, OPTIONS, {
    users: 'directory',
    oneTime: 'tokens',
    onPasswordChanged: 'endSessions',
    revokeSessions: 'endSessions',
  });
  const directory = checkMethods<AccountDirectory>(
    'directory',
    o.directory,
    DIRECTORY_METHODS,
    `the app's users: { ${DIRECTORY_METHODS.join(', ')} } (AccountDirectory)`,
  );
  const tokens = checkTokens(o.tokens);
  const mailer = checkMethods<Mailer>('mailer', o.mailer, ['send'], "a Mailer from 'latchkey/mail' (createMailQueue)");
  const links = checkLinks(o.links);
  const appName = checkString('appName', o.appName, {
    pattern: /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u,
    expected: "the app's name on one line (it goes in mail subjects)",
    maxLength: 100,
  });
  const endSessions = checkFunction<AccountFlowsOptions['endSessions']>('endSessions', o.endSessions);
  const limits = checkLimits(o.limits);
  const context = createFlowContext({
    directory,
    tokens,
    mailer,
    links,
    appName,
    endSessions,
    hasher:
      o.hasher === undefined
        ? createPasswordHasher()
        : checkMethods('hasher', o.hasher, ['hash', 'verify'], 'a PasswordHasher (createPasswordHasher)'),
    policy:
      o.policy === undefined
        ? createPasswordPolicy()
        : checkMethods('policy', o.policy, ['check'], 'a PasswordPolicy (createPasswordPolicy)'),
    messages: checkMessages(o.messages),
    onEvent: checkFunction('onEvent', o.onEvent, () => {}),
    now: checkFunction('now', o.now, Date.now),
    clientLimit: limits.client,
    addressLimit: limits.address,
    undoWindow: (tokens.purposes[UNDO_PURPOSE]?.ttl ?? 0) * 1000,
  });

  return Object.freeze({
    ...createSignUp(context),
    ...createPasswordReset(context),
    ...createEmailChange(context),
    ...createNotices(context),
  });
}
