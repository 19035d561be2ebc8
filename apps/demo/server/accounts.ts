/**
 * The account lifecycle of the reference server (issue #15): `latchkey/accounts` wired to the
 * demo's users table, its one-time token store and its mail. Sign-up with e-mail verification,
 * password reset and e-mail change are the library's flows; this file decides where the links
 * point, where mail goes, what "end every session" means here, and what goes to the log.
 *
 * Mail goes either through a real transport (SMTP in production) behind a retrying queue, so an
 * answer never waits for the mail server, or, in development, into a dev inbox that the
 * `/dev/mail` page shows and the console prints.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { SessionManager } from 'latchkey';
import { ACCOUNT_PURPOSES, type AccountFlows, type AccountLinks, createAccountFlows } from 'latchkey/accounts';
import { SECOND_FACTOR_PURPOSES } from 'latchkey/http';
import { createDevInbox, createMailQueue, type DevInbox, type Mailer, type MailQueue } from 'latchkey/mail';
import {
  createMemoryOneTimeStore,
  createOneTimeTokens,
  type OneTimeTokenStore,
  type OneTimeTokens,
} from 'latchkey/one-time';
import type { PasswordPolicy, RateLimit } from 'latchkey/password';
import type { UserTokens } from './user-tokens.js';
import type { Users } from './users.js';

/** The app's name in mail subjects. */
export const APP_NAME = 'latchkey notes';

/** The web app's pages that take a link's token from the fragment and POST it (docs/reference-app.md). */
export const LINK_PAGES = {
  verifyEmail: '/verify',
  resetPassword: '/reset',
  confirmEmailChange: '/confirm-email',
  undoEmailChange: '/undo-email-change',
} as const;

/** Where the account mails go: a transport behind a queue (`mailer`), or a dev inbox (`devInbox`). */
export interface MailOptions {
  /** A real transport (`createSmtpMailer`): put behind a retrying queue whose failures are logged. */
  mailer?: Mailer;
  /** Development only: mail kept in memory, shown at `GET /dev/mail`. Default when `mailer` is absent. */
  devInbox?: DevInbox;
}

export interface AppAccountsOptions extends MailOptions {
  users: Users;
  sessions: SessionManager;
  /** Absent when the server issues no tokens. */
  userTokens: UserTokens | undefined;
  /** Where the one-time tokens are kept. Default: in memory (tests); the server passes its SQLite file. */
  oneTimeStore?: OneTimeTokenStore;
  /** The origin links point to, `https://notes.example` (http only on localhost). */
  publicUrl: string;
  policy: PasswordPolicy;
  /** Sign-up and reset requests per client address (the registration limit). */
  clientLimit: RateLimit;
  /** Mails per address; default one per 10 minutes. */
  addressLimit?: RateLimit;
  log: FastifyBaseLogger;
}

export interface AppAccounts {
  flows: AccountFlows;
  /** The links' tokens: `deleteExpired()` hourly. */
  tokens: OneTimeTokens;
  /** The dev inbox, when mail goes there. */
  devInbox: DevInbox | undefined;
  /** The queue in front of the transport, when there is one. */
  queue: MailQueue | undefined;
}

/**
 * @example
 * const accounts = createAppAccounts({ users, sessions, userTokens, publicUrl: 'http://localhost:3000', policy, clientLimit, log: app.log });
 * const result = await accounts.flows.register(request.body, request.ip);
 */
export function createAppAccounts(options: AppAccountsOptions): AppAccounts {
  const { users, sessions, userTokens, log } = options;
  if (options.mailer && options.devInbox) throw new Error('give mailer or devInbox, not both');
  // Each failed attempt is one warning line: the error's code and message (server, step and reply
  // code), never the recipient, the subject or the body (the body holds the link).
  const queue = options.mailer
    ? createMailQueue(options.mailer, {
        onError: (error, { attempt, willRetry }) =>
          log.warn(
            {
              event: 'mail.failed',
              code: (error as { code?: string }).code,
              reason: (error as Error).message,
              attempt,
              willRetry,
            },
            'mail not sent',
          ),
      })
    : undefined;
  const devInbox = queue ? undefined : (options.devInbox ?? createDevInbox({ max: 1000 }));
  const base = new URL(options.publicUrl).origin;
  const links = Object.fromEntries(
    Object.entries(LINK_PAGES).map(([name, path]) => [name, (token: string) => `${base}${path}#token=${token}`]),
  ) as unknown as AccountLinks;
  const tokens = createOneTimeTokens({
    store: options.oneTimeStore ?? createMemoryOneTimeStore(),
    purposes: { ...ACCOUNT_PURPOSES, ...SECOND_FACTOR_PURPOSES },
  });
  const flows = createAccountFlows({
    directory: users.directory,
    tokens,
    mailer: queue ?? (devInbox as DevInbox),
    links,
    appName: APP_NAME,
    // A reset or an undone e-mail change: every session, refresh family and access token of the
    // account ends (the path of password change and disable). The reset route then logs in the
    // device that reset.
    endSessions: async (userId) => {
      await sessions.revokeUserSessions(userId);
      await userTokens?.revokeAll(userId);
    },
    hasher: users.hasher,
    policy: options.policy,
    limits: { client: options.clientLimit, ...(options.addressLimit ? { address: options.addressLimit } : {}) },
    // Ids and kinds only: the library never puts a token, a password or an address in an event.
    onEvent: (event) =>
      log.info({ ...event, type: undefined, event: `accounts.${event.type}` }, `accounts ${event.type}`),
  });
  return { flows, tokens, devInbox, queue };
}
