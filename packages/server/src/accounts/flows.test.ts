/**
 * The account flows end to end, over the memory one-time store, a directory in memory and a mailer
 * that records what it is handed: each mail's link is followed as the user would. The attacks on
 * links are in tokens-attack.test.ts; what known and unknown addresses reveal, in enumeration.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { createMemoryOneTimeStore } from '../one-time/memory.js';
import { createOneTimeTokens } from '../one-time/tokens.js';
import {
  createMemoryDirectory,
  hasher,
  LINKS,
  PASSWORD,
  recordingMailer,
  setupAccounts,
  tokenIn,
} from '../test/accounts.js';
import { HOUR } from '../test/clock.js';
import { ACCOUNT_PURPOSES, createAccountFlows } from './flows.js';

const CLIENT = '198.51.100.7';
const NEW_PASSWORD = 'a brand new passphrase';

describe('sign-up', () => {
  it('register mails a link to the address; following it creates the account, with the hash of the password', async () => {
    const { accounts, mailer, users } = setupAccounts();
    expect(await accounts.register({ email: ' Ann@Example.COM ', password: PASSWORD }, CLIENT)).toEqual({ ok: true });
    expect(users.size).toBe(0); // nothing in the directory until the address is proved
    expect(mailer.sent).toHaveLength(1);
    const [mail] = mailer.sent;
    expect(mail?.to).toBe('ann@example.com');
    expect(mail?.subject).toBe('Finish signing up to Acme');
    expect(mail?.text).toMatch(/^https:\/\/app\.example\/verify-email#token=[A-Za-z0-9_-]{43}$/m);
    expect(mail?.text).toContain('24 hours');
    expect(mail?.text).not.toContain(PASSWORD);

    const verified = await accounts.verifyEmail({ token: tokenIn(mail), password: PASSWORD });
    expect(verified).toEqual({ ok: true, userId: 'user-1' });
    const user = users.get('user-1');
    expect(user).toMatchObject({ email: 'ann@example.com', emailChangedAt: null });
    expect(await hasher.verify(user?.passwordHash ?? '', PASSWORD)).toEqual({ ok: true, needsRehash: false });
  });

  it('a username is passed to create; taken by the time the link is followed, the link fails', async () => {
    const { accounts, mailer, users } = setupAccounts();
    await accounts.register({ email: 'ann@example.com', password: PASSWORD, username: 'ann' }, CLIENT);
    await accounts.register({ email: 'bob@example.com', password: PASSWORD, username: 'ann' }, CLIENT);
    const verify = (i: number) => accounts.verifyEmail({ token: tokenIn(mailer.sent[i]), password: PASSWORD });
    expect(await verify(0)).toEqual({ ok: true, userId: 'user-1' });
    expect(users.get('user-1')?.username).toBe('ann');
    expect(await verify(1)).toMatchObject({ ok: false, error: 'TOKEN_INVALID' });
    expect(users.size).toBe(1);
  });

  it('A1: signing up again for a pending address replaces the first link: only the newest works', async () => {
    const { accounts, mailer, users } = setupAccounts();
    await accounts.register({ email: 'ann@example.com', password: 'the first passphrase' }, CLIENT);
    await accounts.register({ email: 'ANN@example.com', password: PASSWORD }, CLIENT);
    const verify = (i: number, password: string) => accounts.verifyEmail({ token: tokenIn(mailer.sent[i]), password });
    expect(await verify(0, 'the first passphrase')).toMatchObject({ ok: false, error: 'TOKEN_INVALID' });
    expect(await verify(1, PASSWORD)).toEqual({ ok: true, userId: 'user-1' });
    expect((await hasher.verify(users.get('user-1')?.passwordHash ?? '', PASSWORD)).ok).toBe(true);
  });

  it('an address that has an account: its owner is told, with a reset link that works; nothing else changes', async () => {
    const { accounts, mailer, users, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    const hashBefore = users.get(id)?.passwordHash;
    expect(await accounts.register({ email: 'Ann@example.com', password: 'an attacker password' }, CLIENT)).toEqual({
      ok: true,
    });
    const mail = mailer.sent.at(-1);
    expect(mail?.to).toBe('ann@example.com');
    expect(mail?.subject).toBe('Someone tried to sign up to Acme with your address');
    expect(mail?.text).toContain('Nothing was changed');
    expect(mail?.text).toMatch(/^https:\/\/app\.example\/reset-password#token=/m);
    expect(users.size).toBe(1);
    expect(users.get(id)?.passwordHash).toBe(hashBefore);
    expect(await accounts.resetPassword({ token: tokenIn(mail), password: NEW_PASSWORD })).toEqual({
      ok: true,
      userId: id,
    });
  });

  it('register refuses what the request alone shows wrong, before any store, hash or mail', async () => {
    const { accounts, mailer, calls } = setupAccounts();
    const cases: [unknown, string][] = [
      [null, 'BAD_REQUEST'],
      ['ann@example.com', 'BAD_REQUEST'],
      [{ email: 'ann@example.com' }, 'BAD_REQUEST'],
      [{ email: ['ann@example.com'], password: PASSWORD }, 'BAD_REQUEST'],
      [{ email: 'ann@example.com', password: PASSWORD, username: '' }, 'BAD_REQUEST'],
      [{ email: 'ann@example.com', password: PASSWORD, username: 'a\r\nb' }, 'BAD_REQUEST'],
      [{ email: 'ann@example.com', password: PASSWORD, username: 'x'.repeat(101) }, 'BAD_REQUEST'],
      [{ email: 'ann@example', password: PASSWORD }, 'EMAIL_INVALID'],
      [{ email: 'ann@example.com\r\nBcc: all@example.com', password: PASSWORD }, 'EMAIL_INVALID'],
      [{ email: 'ann@example.com', password: 'short' }, 'PASSWORD_TOO_SHORT'],
      [{ email: 'ann@example.com', password: 'x'.repeat(5000) }, 'PASSWORD_TOO_LONG'],
      [{ email: 'ann@example.com', password: 'password123' }, 'PASSWORD_TOO_COMMON'],
      [{ email: 'annabelle@example.com', password: 'Annabelle' }, 'PASSWORD_TOO_COMMON'], // the local part
      [{ email: 'ann@example.com', password: 'ann@example.com' }, 'PASSWORD_TOO_COMMON'],
      [{ email: 'ann@example.com', password: 'mightyduck', username: 'MightyDuck' }, 'PASSWORD_TOO_COMMON'],
    ];
    for (const [input, error] of cases)
      expect(await accounts.register(input, CLIENT)).toEqual({ ok: false, error, headers: {} });
    expect(mailer.sent).toEqual([]);
    expect(calls).toEqual([]);
    await expect(accounts.register({ email: 'ann@example.com', password: PASSWORD }, '')).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it('non-ASCII addresses sign up and are found again in any spelling', async () => {
    const { accounts, mailer, signUp } = setupAccounts();
    const id = await signUp('Zoë@Bücher.example');
    expect(mailer.sent[0]?.to).toBe('zoë@xn--bcher-kva.example');
    await accounts.requestPasswordReset({ email: 'ZOE\u0308@xn--BCHER-kva.example' }, CLIENT);
    expect(mailer.sent.at(-1)?.subject).toBe('Reset your Acme password');
    expect((await accounts.resetPassword({ token: tokenIn(mailer.sent.at(-1)), password: NEW_PASSWORD })).ok).toBe(
      true,
    );
    expect(id).toBe('user-1');
  });
});

describe('password reset', () => {
  it('A3: a reset sets the password, ends every session, kills the other links, mails a notice, and names the user to log in', async () => {
    const { accounts, mailer, users, ended, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestEmailChange(id, 'ann@new.example'); // a pending change and its undo
    const [confirm, undo] = mailer.sent.slice(-2);
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const resetMail = mailer.sent.at(-1);
    expect(resetMail?.to).toBe('ann@example.com');
    expect(resetMail?.text).toMatch(/^https:\/\/app\.example\/reset-password#token=[A-Za-z0-9_-]{43}$/m);
    expect(resetMail?.text).toContain('30 minutes');

    expect(await accounts.resetPassword({ token: tokenIn(resetMail), password: NEW_PASSWORD })).toEqual({
      ok: true,
      userId: id,
    });
    const hash = users.get(id)?.passwordHash ?? '';
    expect((await hasher.verify(hash, NEW_PASSWORD)).ok).toBe(true);
    expect((await hasher.verify(hash, PASSWORD)).ok).toBe(false);
    expect(ended).toEqual([{ userId: id, reason: 'password-reset' }]);
    const notice = mailer.sent.at(-1);
    expect(notice).toMatchObject({ to: 'ann@example.com', subject: 'Your Acme password was changed' });
    expect(notice?.text).not.toMatch(/token=/);
    // The pending change was asked under the old password: dead. The undo link stays (the way back).
    expect(await accounts.confirmEmailChange(tokenIn(confirm))).toBeNull();
    expect(await accounts.undoEmailChange(tokenIn(undo))).toEqual({ userId: id, email: 'ann@example.com' });
  });

  it('a password the rules refuse leaves the link working', async () => {
    const { accounts, mailer, users, ended, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const token = tokenIn(mailer.sent.at(-1));
    expect(await accounts.resetPassword({ token, password: 'short' })).toEqual({
      ok: false,
      error: 'PASSWORD_TOO_SHORT',
      headers: {},
    });
    expect(await accounts.resetPassword({ token, password: 'ann@example.com' })).toMatchObject({
      error: 'PASSWORD_TOO_COMMON',
    });
    expect(await accounts.resetPassword({ token, password: 'x'.repeat(5000) })).toMatchObject({
      error: 'PASSWORD_TOO_LONG',
    });
    expect(await accounts.resetPassword({ token })).toMatchObject({ error: 'BAD_REQUEST' });
    expect(ended).toEqual([]);
    expect(await accounts.resetPassword({ token, password: NEW_PASSWORD })).toEqual({ ok: true, userId: id });
    expect((await hasher.verify(users.get(id)?.passwordHash ?? '', NEW_PASSWORD)).ok).toBe(true);
  });

  it('passwordChanged (the app changed it itself) ends pending links but the undo, and mails the notice', async () => {
    const { accounts, mailer, ended, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const reset = tokenIn(mailer.sent.at(-1));
    await accounts.requestEmailChange(id, 'ann@new.example');
    const [confirm, undo] = mailer.sent.slice(-2);
    await accounts.passwordChanged(id);
    expect(mailer.sent.at(-1)).toMatchObject({ to: 'ann@example.com', subject: 'Your Acme password was changed' });
    expect(ended).toEqual([]); // the app's own route chooses which sessions end
    expect(await accounts.resetPassword({ token: reset, password: NEW_PASSWORD })).toMatchObject({
      error: 'TOKEN_INVALID',
    });
    expect(await accounts.confirmEmailChange(tokenIn(confirm))).toBeNull();
    expect(await accounts.undoEmailChange(tokenIn(undo))).not.toBeNull();
    await accounts.passwordChanged('nobody'); // an unknown id: nothing to do
  });
});

describe('e-mail change', () => {
  it('the new address gets a confirmation link, the old one a notice with an undo link; confirming changes it', async () => {
    const { accounts, mailer, users, clock, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const resetToOld = tokenIn(mailer.sent.at(-1));
    expect(await accounts.requestEmailChange(id, ' Ann@New.Example ')).toEqual({ ok: true });
    const [confirm, notice] = mailer.sent.slice(-2);
    expect(confirm).toMatchObject({ to: 'ann@new.example', subject: 'Confirm your new Acme address' });
    expect(confirm?.text).toMatch(/^https:\/\/app\.example\/confirm-email#token=/m);
    expect(notice?.to).toBe('ann@example.com');
    expect(notice?.text).toContain('to ann@new.example');
    expect(notice?.text).toMatch(/^https:\/\/app\.example\/undo-email-change#token=/m);
    expect(notice?.text).toContain('7 days');
    expect(users.get(id)?.email).toBe('ann@example.com'); // not before the new address is proved

    clock.advance(HOUR);
    expect(await accounts.confirmEmailChange(tokenIn(confirm))).toEqual({ userId: id, email: 'ann@new.example' });
    expect(users.get(id)).toMatchObject({ email: 'ann@new.example', emailChangedAt: clock.now() });
    // A reset link sent to the old address no longer fits the account.
    expect(await accounts.resetPassword({ token: resetToOld, password: NEW_PASSWORD })).toMatchObject({
      error: 'TOKEN_INVALID',
    });
  });

  it('undo after the change: the old address is back, every session ends, and a link to set a new password arrives', async () => {
    const { accounts, mailer, users, ended, clock, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestEmailChange(id, 'mallory@evil.example');
    const [confirm, notice] = mailer.sent.slice(-2);
    await accounts.confirmEmailChange(tokenIn(confirm));
    clock.advance(6 * 24 * HOUR); // within the 7 days

    expect(await accounts.undoEmailChange(tokenIn(notice))).toEqual({ userId: id, email: 'ann@example.com' });
    expect(users.get(id)).toMatchObject({ email: 'ann@example.com', emailChangedAt: clock.now() });
    expect(ended).toEqual([{ userId: id, reason: 'email-change-undone' }]);
    const mail = mailer.sent.at(-1);
    expect(mail).toMatchObject({ to: 'ann@example.com', subject: 'Set a new Acme password' });
    expect(await accounts.resetPassword({ token: tokenIn(mail), password: NEW_PASSWORD })).toEqual({
      ok: true,
      userId: id,
    });
  });

  it('undo before the confirmation: the pending change dies, sessions end', async () => {
    const { accounts, mailer, users, ended, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestEmailChange(id, 'mallory@evil.example');
    const [confirm, notice] = mailer.sent.slice(-2);
    expect(await accounts.undoEmailChange(tokenIn(notice))).toEqual({ userId: id, email: 'ann@example.com' });
    expect(users.get(id)).toMatchObject({ email: 'ann@example.com', emailChangedAt: null });
    expect(ended).toEqual([{ userId: id, reason: 'email-change-undone' }]);
    expect(await accounts.confirmEmailChange(tokenIn(confirm))).toBeNull();
  });

  it('another change while the last can be undone is refused, so its undo link cannot be replaced; after 7 days it is allowed', async () => {
    const { accounts, mailer, clock, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestEmailChange(id, 'mallory@evil.example');
    const [confirm, undo] = mailer.sent.slice(-2);
    await accounts.confirmEmailChange(tokenIn(confirm));
    clock.advance(24 * HOUR);
    const sent = mailer.sent.length;
    expect(await accounts.requestEmailChange(id, 'mallory@other.example')).toEqual({
      ok: false,
      error: 'TOO_MANY_ATTEMPTS',
      headers: { 'retry-after': String(6 * 24 * 3600) },
    });
    expect(mailer.sent).toHaveLength(sent);
    // A reset through the new address does not end the old address's way back either.
    await accounts.requestPasswordReset({ email: 'mallory@evil.example' }, CLIENT);
    await accounts.resetPassword({ token: tokenIn(mailer.sent.at(-1)), password: 'mallory owns this now' });
    clock.advance(5 * 24 * HOUR);
    expect(await accounts.undoEmailChange(tokenIn(undo))).toEqual({ userId: id, email: 'ann@example.com' });
    clock.advance(7 * 24 * HOUR);
    expect(await accounts.requestEmailChange(id, 'ann@new.example')).toEqual({ ok: true });
  });

  it('a new address that has an account: the same answer; that address is told, with no link', async () => {
    const { accounts, mailer, users, signUp } = setupAccounts();
    const ann = await signUp('ann@example.com');
    await signUp('bob@example.com');
    expect(await accounts.requestEmailChange(ann, 'bob@example.com')).toEqual({ ok: true });
    const [toBob, notice] = mailer.sent.slice(-2);
    expect(toBob).toMatchObject({
      to: 'bob@example.com',
      subject: 'Someone tried to move another Acme account to your address',
    });
    expect(toBob?.text).not.toMatch(/token=/);
    expect(notice?.to).toBe('ann@example.com');
    expect(users.get(ann)?.email).toBe('ann@example.com');
  });

  it('the same address, a malformed one, an unknown user', async () => {
    const { accounts, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    expect(await accounts.requestEmailChange(id, 'ANN@example.com')).toMatchObject({ error: 'BAD_REQUEST' });
    expect(await accounts.requestEmailChange(id, 42)).toMatchObject({ error: 'BAD_REQUEST' });
    expect(await accounts.requestEmailChange(id, 'a@b.c\r\nBcc: x@y.z')).toMatchObject({ error: 'EMAIL_INVALID' });
    await expect(accounts.requestEmailChange('nobody', 'x@example.com')).rejects.toThrow(InvalidArgumentError);
    await expect(accounts.requestEmailChange('', 'x@example.com')).rejects.toThrow(/session's user id/);
    // A directory that forgets emailChangedAt would leave the undo link replaceable: refused, with the fix.
    const { accounts: forgetful, directory } = setupAccounts();
    const ann = await directory.create({ email: 'ann@example.com', passwordHash: 'x' });
    const original = directory.findById.bind(directory);
    directory.findById = async (userId) => {
      const found = await original(userId);
      return found && ({ id: found.id, email: found.email } as never);
    };
    await expect(forgetful.requestEmailChange(ann ?? '', 'ann@new.example')).rejects.toThrow(
      /directory\.findById must give emailChangedAt/,
    );
  });
});

describe('notices', () => {
  it('a new device is named in fixed words: the user agent cannot write into the mail', async () => {
    const { accounts, mailer, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.notifyNewDevice(id, {
      userAgent:
        'Mozilla/5.0 (Windows NT 10.0; Win64) Gecko/20100101 Firefox/128.0 YOUR ACCOUNT IS LOCKED: visit evil.example',
      ip: '203.0.113.5',
      at: Date.UTC(2026, 11, 1, 14, 3),
    });
    const mail = mailer.sent.at(-1);
    expect(mail).toMatchObject({ to: 'ann@example.com', subject: 'New sign-in to Acme' });
    expect(mail?.text).toContain('Device: Firefox on Windows');
    expect(mail?.text).toContain('Address: 203.0.113.5');
    expect(mail?.text).toContain('Time: Tue, 01 Dec 2026 14:03:00 GMT');
    expect(mail?.text).not.toMatch(/LOCKED|evil/);

    await accounts.notifyNewDevice(id, { userAgent: 'evil.example\r\nBcc: x', ip: '1.2.3.4\r\nBcc: x@y.z' });
    expect(mailer.sent.at(-1)?.text).toContain('Device: an unknown device\nAddress: unknown');
    const count = mailer.sent.length;
    await accounts.notifyNewDevice('nobody', {});
    expect(mailer.sent).toHaveLength(count);
  });

  it('right password, wrong codes: the owner learns the password is known, with the device in fixed words', async () => {
    const { accounts, mailer, signUp } = setupAccounts();
    const id = await signUp('bo@example.com');
    await accounts.notifySecondFactorFailures(id, {
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36 CALL +1-555 NOW',
      ip: '198.51.100.7',
      at: Date.UTC(2026, 11, 1, 9, 0),
    });
    const mail = mailer.sent.at(-1);
    expect(mail).toMatchObject({ to: 'bo@example.com', subject: 'Someone knows your Acme password' });
    expect(mail?.text).toContain('then gave wrong two-factor codes');
    expect(mail?.text).toContain('Device: Chrome on Linux');
    expect(mail?.text).toContain('Address: 198.51.100.7');
    expect(mail?.text).not.toMatch(/CALL|555/);
    const count = mailer.sent.length;
    await accounts.notifySecondFactorFailures('nobody');
    expect(mailer.sent).toHaveLength(count);
  });

  it('a passkey added is mailed with its name made safe: one line, no quotes, short', async () => {
    const { accounts, mailer, signUp } = setupAccounts();
    const id = await signUp('cy@example.com');
    await accounts.notifyPasskeyAdded(id, { name: 'Laptop"\r\nBcc: x@evil.example\u202E', ip: '192.0.2.4' });
    const mail = mailer.sent.at(-1);
    expect(mail).toMatchObject({ to: 'cy@example.com', subject: 'A passkey was added to your Acme account' });
    expect(mail?.text).toMatch(/a passkey named "Laptop {3}Bcc: x@evil.example " was added/);
    expect(mail?.text).toContain('Address: 192.0.2.4');
  });
});

describe('mail and events', () => {
  it('a mailer that rejects or throws changes no answer; the failure is an event without the token', async () => {
    const failures: [() => Promise<void>, string][] = [
      [
        async () => {
          throw Object.assign(new Error('550 rejected https://app.example/reset-password#token=leaked'), {
            code: 'EENVELOPE',
          });
        },
        'EENVELOPE',
      ],
      [
        () => {
          throw new TypeError('boom #token=leaked');
        },
        'TypeError',
      ],
    ];
    for (const [send, reason] of failures) {
      const { accounts, events, directory } = setupAccounts({ mailer: { send } });
      const id = await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
      expect(await accounts.register({ email: 'new@example.com', password: PASSWORD }, CLIENT)).toEqual({ ok: true });
      expect(await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT)).toEqual({ ok: true });
      await new Promise((resolve) => setImmediate(resolve));
      const failed = events.filter((e) => e.type === 'mail-failed');
      expect(failed).toEqual([
        { type: 'mail-failed', flow: 'register', mail: 'verifyEmail', reason },
        { type: 'mail-failed', flow: 'reset', mail: 'resetPassword', userId: id, reason },
      ]);
      expect(JSON.stringify(events)).not.toMatch(/leaked|token|example\.com/);
    }
  });

  it('a message builder of the app that throws changes no answer either: it is a mail-failed event', async () => {
    const { accounts, events, directory, mailer } = setupAccounts({
      messages: {
        resetPassword: () => {
          throw new Error('template bug');
        },
      },
    });
    const id = await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
    expect(await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT)).toEqual({ ok: true });
    expect(mailer.sent).toEqual([]);
    expect(events).toContainEqual({
      type: 'mail-failed',
      flow: 'reset',
      mail: 'resetPassword',
      userId: id,
      reason: 'Error',
    });
  });

  it('events hold ids and kinds only: no token, password, hash or address', async () => {
    const { accounts, mailer, events, users, signUp } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    await accounts.requestPasswordReset({ email: 'ghost@example.com' }, CLIENT);
    await accounts.resetPassword({ token: tokenIn(mailer.sent.at(-1)), password: NEW_PASSWORD });
    await accounts.requestEmailChange(id, 'ann@new.example');
    await accounts.confirmEmailChange(tokenIn(mailer.sent.at(-2)));
    await accounts.verifyEmail({ token: 'x'.repeat(43), password: PASSWORD });
    expect(events.map((e) => e.type)).toEqual([
      'sign-up-mailed',
      'signed-up',
      'reset-mailed',
      'reset-unknown-address',
      'password-reset',
      'email-change-mailed',
      'email-changed',
      'token-refused',
    ]);
    const log = JSON.stringify(events);
    for (const mail of mailer.sent) expect(log).not.toContain(/#token=([\w-]{43})/.exec(mail.text)?.[1] ?? '\0');
    for (const secret of [PASSWORD, NEW_PASSWORD, users.get(id)?.passwordHash ?? '\0', 'example.com', 'ghost'])
      expect(log).not.toContain(secret);
  });
});

describe('createAccountFlows', () => {
  const valid = () => {
    const { directory } = createMemoryDirectory();
    return {
      directory,
      tokens: createOneTimeTokens({ store: createMemoryOneTimeStore(), purposes: ACCOUNT_PURPOSES }),
      mailer: recordingMailer(),
      links: LINKS,
      appName: 'Acme',
      endSessions: () => {},
      hasher,
    };
  };

  it('a link that puts its token anywhere but the fragment, or over plain http, is refused at start-up', () => {
    const bad: [Partial<typeof LINKS>, RegExp][] = [
      [
        { resetPassword: (t) => `https://app.example/reset?token=${t}` },
        /links\.resetPassword must put the token in the URL fragment/,
      ],
      [
        { verifyEmail: (t) => `https://app.example/verify/${t}` },
        /links\.verifyEmail must put the token in the URL fragment/,
      ],
      [{ verifyEmail: (t) => `https://app.example/verify/${t}#token=${t}` }, /fragment, and only there/],
      [{ verifyEmail: () => 'https://app.example/verify' }, /fragment/],
      [
        { undoEmailChange: (t) => `http://app.example/undo#token=${t}` },
        /must be an https URL \(http only on localhost\)/,
      ],
      [{ confirmEmailChange: (t) => `/confirm#token=${t}` }, /must return an absolute URL/],
    ];
    for (const [link, message] of bad) {
      const error = (() => {
        try {
          createAccountFlows({ ...valid(), links: { ...LINKS, ...link } });
        } catch (e) {
          return e as Error;
        }
        throw new Error('accepted');
      })();
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toMatch(message);
    }
    // http on loopback is development: accepted.
    expect(() =>
      createAccountFlows({ ...valid(), links: { ...LINKS, verifyEmail: (t) => `http://localhost:5173/v#token=${t}` } }),
    ).not.toThrow();
  });

  it('each missing or wrong piece names its fix', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { tokens: createOneTimeTokens({ store: createMemoryOneTimeStore() }) },
        /tokens has no purpose 'undo-email-change': pass createOneTimeTokens\(\{ store, purposes: ACCOUNT_PURPOSES \}\)/,
      ],
      [{ endSessions: undefined }, /endSessions must be a function/],
      [{ directory: { findByEmail() {} } }, /directory\.findById must be a function/],
      [{ mailer: {} }, /mailer\.send must be a function/],
      [{ appName: 'Acme\r\nBcc: x' }, /appName must be the app's name on one line/],
      [{ appName: undefined }, /appName is required/],
      [{ messages: { resetPasword: () => ({}) } }, /did you mean "resetPassword"/],
      [{ limits: { perAddress: {} } }, /did you mean "address"/],
      [{ onPasswordChanged: () => {} }, /unknown option "onPasswordChanged"; did you mean "endSessions"/],
    ];
    for (const [change, message] of cases) {
      expect(() => createAccountFlows({ ...valid(), ...change } as never)).toThrow(ConfigurationError);
      expect(() => createAccountFlows({ ...valid(), ...change } as never)).toThrow(message);
    }
    expect(() => createAccountFlows(undefined as never)).toThrow(/needs options/);
  });
});
