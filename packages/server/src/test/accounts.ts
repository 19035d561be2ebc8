/**
 * What the account flow tests share: an AccountDirectory in memory (as an app would write one over
 * its users table), a Mailer that records what it is given (capturing messages, not faking a fault:
 * the SMTP path is tested in latchkey/mail), and flows wired to both with a clock the test moves.
 */

import type { AccountDirectory } from '../accounts/directory.js';
import { ACCOUNT_PURPOSES } from '../accounts/flows.js';
import {
  type AccountEvent,
  type AccountFlows,
  type AccountFlowsOptions,
  createAccountFlows,
} from '../accounts/index.js';
import type { MailMessage } from '../mail/mailer.js';
import { createMemoryOneTimeStore } from '../one-time/memory.js';
import type { OneTimeTokenStore } from '../one-time/store.js';
import { createOneTimeTokens } from '../one-time/tokens.js';
import { createPasswordHasher } from '../password/hash.js';
import { createRateLimit } from '../password/rate-limit.js';
import { manualClock } from './clock.js';

export interface StoredUser {
  id: string;
  email: string;
  emailChangedAt: number | null;
  passwordHash: string;
  username?: string;
}

/** An AccountDirectory over a Map, with the unique address and username an app's table would have. */
export function createMemoryDirectory() {
  const users = new Map<string, StoredUser>();
  let next = 1;
  const copy = (u: StoredUser | undefined) => (u === undefined ? null : { ...u });
  const calls: string[] = [];
  const directory: AccountDirectory = {
    async findByEmail(email) {
      calls.push('findByEmail');
      return copy([...users.values()].find((u) => u.email === email));
    },
    async findById(id) {
      calls.push('findById');
      return copy(users.get(id));
    },
    async create({ email, passwordHash, username }) {
      calls.push('create');
      const taken = [...users.values()].some(
        (u) => u.email === email || (username !== undefined && u.username === username),
      );
      if (taken) return null;
      const id = `user-${next++}`;
      users.set(id, { id, email, emailChangedAt: null, passwordHash, ...(username === undefined ? {} : { username }) });
      return id;
    },
    async setPasswordHash(id, passwordHash) {
      calls.push('setPasswordHash');
      const user = users.get(id);
      if (user) user.passwordHash = passwordHash;
    },
    async setEmail(id, email, changedAt) {
      calls.push('setEmail');
      const user = users.get(id);
      if (user) Object.assign(user, { email, emailChangedAt: changedAt });
    },
  };
  return { directory, users, calls };
}

/** A Mailer that keeps every message it is handed, in order. */
export function recordingMailer() {
  const sent: MailMessage[] = [];
  return {
    sent,
    async send(message: MailMessage) {
      sent.push(message);
    },
  };
}

/** The token in a mail's link (the fragment's `token=`), or a failure naming the mail. */
export function tokenIn(message: MailMessage | undefined): string {
  const token = /#token=([A-Za-z0-9_-]{43})\b/.exec(message?.text ?? '')?.[1];
  if (token === undefined) throw new Error(`no link in the mail "${message?.subject ?? '(none)'}"`);
  return token;
}

export const LINKS = {
  verifyEmail: (token: string) => `https://app.example/verify-email#token=${token}`,
  resetPassword: (token: string) => `https://app.example/reset-password#token=${token}`,
  confirmEmailChange: (token: string) => `https://app.example/confirm-email#token=${token}`,
  undoEmailChange: (token: string) => `https://app.example/undo-email-change#token=${token}`,
};

// The floor parameters of argon2id, the real hash: hashed once per sign-up and reset.
export const hasher = createPasswordHasher();
export const PASSWORD = 'correct horse battery staple';
let limitNames = 0;

/** Limits wide enough never to refuse, unless a test gives its own. */
export const wideLimits = () => ({
  client: createRateLimit({ name: `test-client-${++limitNames}`, perClient: { points: 100_000, duration: 3600 } }),
  address: createRateLimit({ name: `test-address-${++limitNames}`, perClient: { points: 100_000, duration: 3600 } }),
});

/** Flows over a memory directory, the memory one-time store (or `store`), a recording mailer and a manual clock. */
export function setupAccounts(options: Partial<AccountFlowsOptions> & { store?: OneTimeTokenStore } = {}) {
  const { store = createMemoryOneTimeStore(), ...overrides } = options;
  const clock = manualClock();
  const tokens = createOneTimeTokens({ store, purposes: ACCOUNT_PURPOSES, now: clock.now });
  const { directory, users, calls } = createMemoryDirectory();
  const mailer = recordingMailer();
  const ended: { userId: string; reason: string }[] = [];
  const events: AccountEvent[] = [];
  const flows = createAccountFlows({
    directory,
    tokens,
    mailer,
    links: LINKS,
    appName: 'Acme',
    endSessions: (userId, reason) => {
      ended.push({ userId, reason });
    },
    hasher,
    limits: wideLimits(),
    onEvent: (event) => events.push(event),
    now: clock.now,
    ...overrides,
  });
  // The flows hand mail over on the next turn of the event loop, after their answer: these wait
  // for that turn, so that a test reads the mail next. Timing tests use `flows` itself.
  const accounts = Object.fromEntries(
    Object.entries(flows).map(([name, call]) => [
      name,
      async (...args: unknown[]) => {
        try {
          return await (call as (...a: unknown[]) => Promise<unknown>)(...args);
        } finally {
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
    ]),
  ) as unknown as AccountFlows;
  /** Signs up and follows the link: the new account's id. */
  const signUp = async (email: string, password = PASSWORD) => {
    const before = mailer.sent.length;
    const result = await accounts.register({ email, password }, '203.0.113.9');
    if (!result.ok) throw new Error(`sign-up refused: ${result.error}`);
    const verified = await accounts.verifyEmail({ token: tokenIn(mailer.sent[before]), password });
    if (!verified.ok) throw new Error(`the sign-up link did not work: ${verified.error}`);
    return verified.userId;
  };
  return { accounts, flows, tokens, directory, users, calls, mailer, clock, ended, events, signUp };
}
