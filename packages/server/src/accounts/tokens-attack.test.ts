/**
 * Attacks on the links of the account flows: reused, expired, tampered, truncated and
 * other-purpose tokens, a token for another user, a reset link after a newer one or after a
 * password change, and concurrent use of one link. Each must fail closed and change nothing.
 */
import { describe, expect, it } from 'vitest';
import { hasher, PASSWORD, setupAccounts, tokenIn } from '../test/accounts.js';
import { HOUR, MINUTE } from '../test/clock.js';

const CLIENT = '198.51.100.7';
const NEW_PASSWORD = 'a brand new passphrase';

/** One link of each kind, for one account: sign-up (of a second address), reset, confirm, undo. */
async function allLinks() {
  const setup = setupAccounts();
  const { accounts, mailer, signUp } = setup;
  const id = await signUp('ann@example.com');
  await accounts.register({ email: 'bob@example.com', password: PASSWORD }, CLIENT);
  const verify = tokenIn(mailer.sent.at(-1));
  await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
  const reset = tokenIn(mailer.sent.at(-1));
  await accounts.requestEmailChange(id, 'ann@new.example');
  const confirm = tokenIn(mailer.sent.at(-2));
  const undo = tokenIn(mailer.sent.at(-1));
  const use = {
    verify: async (t: string) => (await accounts.verifyEmail({ token: t, password: PASSWORD })).ok,
    reset: async (t: string) => (await accounts.resetPassword({ token: t, password: NEW_PASSWORD })).ok,
    confirm: async (t: string) => (await accounts.confirmEmailChange(t)) !== null,
    undo: async (t: string) => (await accounts.undoEmailChange(t)) !== null,
  };
  return { ...setup, id, links: { verify, reset, confirm, undo }, use };
}

/** A token with one character changed. */
const tamper = (token: string, at = 10) =>
  `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;

describe('account links under attack', () => {
  it('A1: tampered, truncated, extended, empty and non-string tokens fail, and do not burn the real one', async () => {
    const { links, use, users, ended, id } = await allLinks();
    const hashBefore = users.get(id)?.passwordHash;
    for (const kind of ['verify', 'reset', 'confirm', 'undo'] as const) {
      const token = links[kind];
      for (const forged of [
        tamper(token),
        tamper(token, 0),
        tamper(token, 42),
        token.slice(0, 42),
        token.slice(1),
        `${token}A`,
        `${token}\r\n`,
        ` ${token}`,
        token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(),
        '',
        'A'.repeat(43),
        'A'.repeat(100_000),
      ])
        expect(await use[kind](forged)).toBe(false);
      // Not strings at all, as a JSON body may hold.
      expect(await use[kind](42 as never)).toBe(false);
      expect(await use[kind]({ token } as never)).toBe(false);
    }
    expect(users.get(id)?.passwordHash).toBe(hashBefore);
    expect(ended).toEqual([]);
    // Every real link still works.
    expect(await use.verify(links.verify)).toBe(true);
    expect(await use.confirm(links.confirm)).toBe(true);
  });

  it('A1: a token used for another purpose fails and stays usable for its own', async () => {
    const { links, use } = await allLinks();
    const kinds = ['verify', 'reset', 'confirm', 'undo'] as const;
    for (const kind of kinds)
      for (const other of kinds) if (other !== kind) expect(await use[other](links[kind])).toBe(false);
    expect(await use.verify(links.verify)).toBe(true);
    expect(await use.reset(links.reset)).toBe(true);
  });

  it('A1: every link works once', async () => {
    const { links, use } = await allLinks();
    expect(await use.verify(links.verify)).toBe(true);
    expect(await use.verify(links.verify)).toBe(false);
    expect(await use.confirm(links.confirm)).toBe(true);
    expect(await use.confirm(links.confirm)).toBe(false);
    expect(await use.undo(links.undo)).toBe(true);
    expect(await use.undo(links.undo)).toBe(false);
    // The undo sent a new reset link, and with it ended the one requested before.
    expect(await use.reset(links.reset)).toBe(false);
  });

  it('A1: links expire: reset after 30 minutes, sign-up and confirmation after 24 hours, undo after 7 days', async () => {
    const { links, use, clock, tokens } = await allLinks();
    const alive = async (token: string, purpose: string) => (await tokens.peek(token, purpose)) !== null;
    clock.advance(30 * MINUTE - 1);
    expect(await alive(links.reset, 'reset-password')).toBe(true);
    clock.advance(1);
    expect(await use.reset(links.reset)).toBe(false);
    clock.advance(24 * HOUR - 30 * MINUTE - 1);
    expect(await alive(links.verify, 'verify-email')).toBe(true);
    expect(await alive(links.confirm, 'change-email')).toBe(true);
    clock.advance(1);
    expect(await use.verify(links.verify)).toBe(false);
    expect(await use.confirm(links.confirm)).toBe(false);
    clock.advance(6 * 24 * HOUR - 1);
    expect(await alive(links.undo, 'undo-email-change')).toBe(true);
    clock.advance(1);
    expect(await use.undo(links.undo)).toBe(false);
  });

  it("A1: a link works only for the account it was sent for: Bob's reset link sets Bob's password, never Ann's", async () => {
    const { accounts, mailer, users, signUp } = setupAccounts();
    const ann = await signUp('ann@example.com');
    const bob = await signUp('bob@example.com');
    const annHash = users.get(ann)?.passwordHash;
    await accounts.requestPasswordReset({ email: 'bob@example.com' }, CLIENT);
    // Extra fields cannot redirect it.
    const result = await accounts.resetPassword({
      token: tokenIn(mailer.sent.at(-1)),
      password: NEW_PASSWORD,
      userId: ann,
      email: 'ann@example.com',
    });
    expect(result).toEqual({ ok: true, userId: bob });
    expect(users.get(ann)?.passwordHash).toBe(annHash);
    expect((await hasher.verify(users.get(bob)?.passwordHash ?? '', NEW_PASSWORD)).ok).toBe(true);
  });

  it('A1: a reset link fails once a newer one was sent, and once the password changed', async () => {
    const { accounts, mailer, signUp, clock } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const first = tokenIn(mailer.sent.at(-1));
    clock.advance(MINUTE);
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const second = tokenIn(mailer.sent.at(-1));
    expect(await accounts.resetPassword({ token: first, password: NEW_PASSWORD })).toMatchObject({
      error: 'TOKEN_INVALID',
    });
    // Changed by the app's own route: the pending link dies.
    await accounts.passwordChanged(id);
    expect(await accounts.resetPassword({ token: second, password: NEW_PASSWORD })).toMatchObject({
      error: 'TOKEN_INVALID',
    });
    // Changed by another reset link: the link that was sent before it dies too.
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const third = tokenIn(mailer.sent.at(-1));
    await accounts.register({ email: 'ann@example.com', password: PASSWORD }, CLIENT); // "already registered" carries a reset link
    const fourth = tokenIn(mailer.sent.at(-1));
    expect(await accounts.resetPassword({ token: third, password: NEW_PASSWORD })).toMatchObject({
      error: 'TOKEN_INVALID',
    });
    expect(await accounts.resetPassword({ token: fourth, password: NEW_PASSWORD })).toEqual({ ok: true, userId: id });
    expect(await accounts.resetPassword({ token: fourth, password: 'yet another passphrase' })).toMatchObject({
      error: 'TOKEN_INVALID',
    });
  });

  it('a confirmation link is stale once the address changed otherwise, or the new address was taken meanwhile', async () => {
    const { accounts, mailer, users, signUp } = setupAccounts();
    const ann = await signUp('ann@example.com');
    await accounts.requestEmailChange(ann, 'ann@new.example');
    const [confirm, undo] = mailer.sent.slice(-2);
    await accounts.undoEmailChange(tokenIn(undo)); // back to where it was; the pending change dies
    expect(await accounts.confirmEmailChange(tokenIn(confirm))).toBeNull();

    const bob = await signUp('bob@example.com');
    await accounts.requestEmailChange(bob, 'shared@example.com');
    const bobConfirm = tokenIn(mailer.sent.at(-2));
    await signUp('shared@example.com'); // someone proved it first
    expect(await accounts.confirmEmailChange(bobConfirm)).toBeNull();
    expect(users.get(bob)?.email).toBe('bob@example.com');
  });

  it('an undo does not take an address that another account proved since', async () => {
    const { accounts, mailer, users, ended, signUp } = setupAccounts();
    const ann = await signUp('ann@example.com');
    await accounts.requestEmailChange(ann, 'ann@new.example');
    const [confirm, undo] = mailer.sent.slice(-2);
    await accounts.confirmEmailChange(tokenIn(confirm));
    const other = await signUp('ann@example.com'); // the old address, proved by its mailbox for a new account
    expect(await accounts.undoEmailChange(tokenIn(undo))).toBeNull();
    expect(users.get(ann)?.email).toBe('ann@new.example');
    expect(users.get(other)?.email).toBe('ann@example.com');
    expect(ended).toEqual([]);
  });

  it('A1: of concurrent uses of one link, exactly one wins', async () => {
    const { accounts, mailer, calls, users, ended, signUp } = setupAccounts();
    // Sign-up: one account, created once.
    await accounts.register({ email: 'ann@example.com', password: PASSWORD }, CLIENT);
    const verify = tokenIn(mailer.sent.at(-1));
    const verified = await Promise.all(
      Array.from({ length: 10 }, () => accounts.verifyEmail({ token: verify, password: PASSWORD })),
    );
    expect(verified.filter((v) => v.ok)).toEqual([{ ok: true, userId: 'user-1' }]);
    expect(calls.filter((c) => c === 'create')).toHaveLength(1);
    expect(users.size).toBe(1);

    // Reset: one password set, one end of sessions.
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const reset = tokenIn(mailer.sent.at(-1));
    const passwords = Array.from({ length: 10 }, (_, i) => `concurrent passphrase ${i}`);
    const results = await Promise.all(passwords.map((password) => accounts.resetPassword({ token: reset, password })));
    const winners = results.filter((r) => r.ok);
    expect(winners).toEqual([{ ok: true, userId: 'user-1' }]);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.error === 'TOKEN_INVALID')).toBe(true);
    expect(calls.filter((c) => c === 'setPasswordHash')).toHaveLength(1);
    expect(ended).toHaveLength(1);
    const hash = users.get('user-1')?.passwordHash ?? '';
    const matches = await Promise.all(passwords.map(async (p) => (await hasher.verify(hash, p)).ok));
    expect(matches.filter(Boolean)).toHaveLength(1);

    await signUp('bob@example.com');
    await accounts.requestEmailChange('user-2', 'bob@new.example');
    const [confirm, undo] = mailer.sent.slice(-2);
    const confirmed = await Promise.all(
      Array.from({ length: 10 }, () => accounts.confirmEmailChange(tokenIn(confirm))),
    );
    expect(confirmed.filter((c) => c !== null)).toHaveLength(1);
    const undone = await Promise.all(Array.from({ length: 10 }, () => accounts.undoEmailChange(tokenIn(undo))));
    expect(undone.filter((u) => u !== null)).toHaveLength(1);
    expect(ended).toHaveLength(2);
  });
});
