/**
 * What the passkey tests share: a `createPasskeys` on an in-memory SQLite store with a clock the
 * test moves, and the ceremonies driven by the software authenticator.
 */
import Database from 'better-sqlite3';
import { createPasskeys, type Passkeys } from '../passkeys/index.js';
import { createSqlitePasskeyStore } from '../passkeys/sqlite.js';
import type { SoftAuthenticator, SoftCredential } from '../passkeys/testing.js';

export const ORIGIN = 'https://app.example.com';
export const RP = 'example.com';
// biome-ignore lint/suspicious/noExplicitAny: answers are read and mutated field by field on purpose
export type Answer = Record<string, any>;

export function setup(overrides: Partial<Parameters<typeof createPasskeys>[0]> = {}) {
  let clock = 1_800_000_000_000;
  const store = createSqlitePasskeyStore(new Database(':memory:'));
  const passkeys = createPasskeys({
    store,
    rpId: RP,
    rpName: 'Acme',
    origins: [ORIGIN],
    now: () => clock,
    ...overrides,
  });
  const tick = (ms: number) => {
    clock += ms;
  };
  return { passkeys, store, tick };
}

/** Registration options for `userId`, bound to `binding`; throws on a refusal. */
export async function regOptions(passkeys: Passkeys, userId = 'u1', binding = 's1') {
  const started = await passkeys.registrationOptions({ id: userId, name: `${userId}@example.org` }, binding);
  if (!started.ok) throw new Error(started.error);
  return started.options;
}

/** Registers a new passkey of `auth` for `userId`, named "Laptop"; the result of `verifyRegistration`. */
export async function register(passkeys: Passkeys, auth: SoftAuthenticator, userId = 'u1', binding = 's1') {
  const answer = auth.register(await regOptions(passkeys, userId, binding));
  return passkeys.verifyRegistration(userId, binding, answer, { name: 'Laptop' });
}

/** The Cookie header a browser would send back for the flow cookie in `headers`. */
export const cookieOf = (headers: { 'set-cookie': string }) => headers['set-cookie'].split(';')[0] as string;

/** A sign-in with `auth` (its answer first passed through `tamper`); the result without its headers. */
export async function signIn(
  passkeys: Passkeys,
  auth: SoftAuthenticator,
  tamper: (a: Answer) => Answer = (a) => a,
  cred?: SoftCredential,
) {
  const { headers, options } = await passkeys.signInOptions();
  const { headers: _, ...result } = await passkeys.verifySignIn(
    cookieOf(headers),
    tamper(auth.authenticate(options, cred)),
  );
  return result;
}
