/**
 * What the account flows share, built once by `createAccountFlows` from its checked options: the
 * pieces, and the steps every flow takes the same way (count a client, count an address, hand a
 * mail over, issue a decoy token, report an event). Internal: not an export of `latchkey/accounts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { Mailer } from '../mail/mailer.js';
import type { OneTimeTokens } from '../one-time/tokens.js';
import type { PasswordHasher } from '../password/hash.js';
import type { PasswordPolicy } from '../password/policy.js';
import type { RateLimit } from '../password/rate-limit.js';
import type { AccountDirectory } from './directory.js';
import type { AccountLinks } from './links.js';
import { type AccountMessages, describeDuration, type MailContent } from './messages.js';
import type {
  AccountEvent,
  AccountFlowError,
  AccountFlowName,
  AccountRefusal,
  AccountRequestResult,
  EndSessionsReason,
} from './types.js';

export const UNDO_PURPOSE = 'undo-email-change';

/** Longer than any password policy allows (4096 code points at most): refused before any work. */
export const MAX_PASSWORD = 4096;

/** The one answer to an accepted request, whatever happened behind it. */
export const ACCEPTED: AccountRequestResult = Object.freeze({ ok: true as const });

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A refusal with no headers. */
export const refuse = (error: AccountFlowError): AccountRefusal => ({ ok: false, error, headers: NO_HEADERS });

/** SHA-256 of a value, base64url: keys that name an address without holding it. */
export const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/** The client address a flow is given; anything but a non-empty string is a bug in the route. */
export function checkClient(where: string, client: unknown): string {
  if (typeof client !== 'string' || client === '')
    throw new InvalidArgumentError(`${where} needs the client address as a string (req.ip, c.req.ip)`);
  return client;
}

/** The fields of a request body, or `{}` for a body that is not an object (its fields then fail their checks). */
export const fieldsOf = (input: unknown): Record<string, unknown> =>
  input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {};

export interface FlowContext {
  directory: AccountDirectory;
  tokens: OneTimeTokens;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  links: AccountLinks;
  messages: AccountMessages;
  appName: string;
  now: () => number;
  endSessions: (userId: string, reason: EndSessionsReason) => Promise<void> | void;
  /** How long an undo link lives, in ms; also how long after a change another one is refused. */
  undoWindow: number;
  /** Reports an event; a logger that throws changes nothing (else a throw on one path would tell it apart). */
  emit(event: AccountEvent): void;
  /** Counts a request from a client; `null` when allowed, else the refusal to answer (429). */
  limitClient(flow: AccountFlowName, client: string): Promise<AccountRefusal | null>;
  /** Counts a mail to an address; `false` when this address already had its mail for the window. */
  allowAddress(flow: AccountFlowName, email: string): Promise<boolean>;
  /**
   * Builds a mail and hands it to the mailer on the next turn of the event loop (after the answer),
   * without waiting for it. A failure, in the app's own message or link builders too, becomes a
   * `mail-failed` event: it must not change the answer (a throw on the path that mails alone would
   * tell a known address from an unknown one).
   */
  deliver(
    flow: AccountFlowName,
    mail: keyof AccountMessages,
    to: string,
    build: () => MailContent,
    userId?: string,
  ): void;
  /** Issues a token nobody will ever get: the same store work as a real link, where there is none to send. */
  decoy(): Promise<void>;
  /** Whether a user id is the decoy's (never a real account's). */
  isDecoy(userId: string): boolean;
  /** How long tokens of a purpose live, in words, for a mail. */
  validFor(purpose: string): string;
  /** Deletes the user's pending links, except the undo of an e-mail change (it outlives a password change). */
  revokeLinks(userId: string): Promise<void>;
}

export interface ContextParts
  extends Omit<
    FlowContext,
    'emit' | 'limitClient' | 'allowAddress' | 'deliver' | 'decoy' | 'isDecoy' | 'validFor' | 'revokeLinks'
  > {
  mailer: Mailer;
  onEvent: (event: AccountEvent) => void;
  clientLimit: RateLimit;
  addressLimit: RateLimit;
}

/** The mailer error's code or name, as a short word: its message may quote the mail. */
function reasonOf(error: unknown): string {
  const e = (error ?? {}) as { code?: unknown; name?: unknown };
  const value = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : '';
  return value.replace(/[^\w.-]/g, '').slice(0, 60) || 'Error';
}

/**
 * The mailbox an address reaches, for counting mails: without its `+tag`. `ann+1@`, `ann+2@` …
 * all reach `ann@` at most providers (RFC 5233 subaddresses): counted apart, each would have its
 * own window, and a flood of sign-ups for tags would fill one inbox. The address itself is kept.
 */
function mailboxOf(email: string): string {
  const at = email.lastIndexOf('@');
  const plus = email.indexOf('+');
  return plus > 0 && plus < at ? `${email.slice(0, plus)}${email.slice(at)}` : email;
}

/** The shared steps over the checked parts. */
export function createFlowContext(parts: ContextParts): FlowContext {
  const { mailer, onEvent, clientLimit, addressLimit, tokens, ...rest } = parts;
  // One decoy user per process: each decoy token replaces the last, so they never pile up in the store.
  const decoyId = `decoy:${randomBytes(16).toString('base64url')}`;
  const revocable = Object.keys(tokens.purposes).filter((purpose) => purpose !== UNDO_PURPOSE);
  const emit = (event: AccountEvent) => {
    try {
      onEvent(event);
    } catch {
      // See FlowContext.emit.
    }
  };

  return {
    ...rest,
    tokens,
    emit,
    async limitClient(flow, client) {
      const decision = await clientLimit.take(client);
      if (decision.allowed) return null;
      emit({ type: 'client-limited', flow, client });
      return { ok: false, error: 'TOO_MANY_ATTEMPTS', headers: { 'retry-after': String(decision.retryAfter) } };
    },
    async allowAddress(flow, email) {
      // Keyed by a hash: the limit's store (Redis, say) never holds the address.
      const decision = await addressLimit.take(`address-${digest(mailboxOf(email))}`);
      if (!decision.allowed) emit({ type: 'address-limited', flow });
      return decision.allowed;
    },
    deliver(flow, mail, to, build, userId) {
      const failed = (error: unknown) =>
        emit({ type: 'mail-failed', flow, mail, ...(userId ? { userId } : {}), reason: reasonOf(error) });
      // Why not awaited: the answer must take as long whether or not a mail goes out (no account,
      // no mail), and a slow SMTP server must not slow it either. A queue (latchkey/mail) retries.
      // Why not even started now: building the mail and a mailer's synchronous work before its first
      // await (nodemailer builds the message and opens a socket) would still run inside the answer,
      // on the paths that mail only. On the next turn of the event loop the answer has gone out.
      setImmediate(() => {
        try {
          const { subject, text, html } = build();
          Promise.resolve(mailer.send({ to, subject, text, ...(html === undefined ? {} : { html }) })).catch(failed);
        } catch (error) {
          failed(error);
        }
      });
    },
    async decoy() {
      await tokens.issue(decoyId, 'reset-password');
    },
    isDecoy: (userId) => userId === decoyId,
    validFor: (purpose) => describeDuration(tokens.purposes[purpose]?.ttl ?? 0),
    async revokeLinks(userId) {
      // The undo link is how the old address takes the account back: a password change by whoever
      // holds the account now must not be able to end it.
      for (const purpose of revocable) await tokens.revokeUser(userId, purpose);
    },
  };
}
