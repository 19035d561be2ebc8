/**
 * Two-factor codes on the reference server over real HTTP (#16, M1, M2): enrolment needs step-up,
 * the login of an account with the factor on gets a pending step that is not a session, the code
 * (or a recovery code) finishes it once, and the token endpoint's password grant is no way around.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createDevInbox } from 'latchkey/mail';
import { createLoginThrottle, createRateLimit } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import {
  createAccessTokens,
  createMemoryRevocations,
  createRefreshTokens,
  generateAccessTokenKey,
} from 'latchkey/tokens';
import { createSqliteRefreshStore } from 'latchkey/tokens/sqlite';
import { createTotp } from 'latchkey/totp';
import { createSqliteTotpStore } from 'latchkey/totp/sqlite';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLink } from '../test/accounts.js';
import { buildApp } from './app.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const ORIGIN = 'http://app.test';
const PASSWORD = 'correct horse battery staple';
const dir = mkdtempSync(join(tmpdir(), 'latchkey-2fa-'));
const db = new Database(join(dir, 'latchkey.db'));
let t = 1_900_000_000_000;
const clock = {
  now: () => t,
  advance(ms: number) {
    t += ms;
  },
};
const sessions = createSessionManager({
  store: createSqliteStore(db),
  keys: [generateSigningKey()],
  sweepInterval: 0,
  now: clock.now,
});
const users = createUsers(db);
const throttle = createLoginThrottle();
// The codes' own throttle, as the server has it: apart from the logins'.
const totp = createTotp({
  store: createSqliteTotpStore(db),
  keys: [generateSigningKey()],
  issuer: 'latchkey notes',
  throttle: createLoginThrottle(),
  now: clock.now,
});
const inbox = createDevInbox();
const mail = () => inbox.list().reverse();
let app: Awaited<ReturnType<typeof buildApp>>;
let base = '';

beforeAll(async () => {
  await users.upsert('ann', PASSWORD, 'ann@example.org');
  const revocations = createMemoryRevocations();
  app = await buildApp({
    sessions,
    users,
    notes: createNotes(db),
    origins: [ORIGIN],
    publicUrl: 'https://notes.test',
    throttle,
    totp,
    devInbox: inbox,
    addressLimit: createRateLimit({ name: 'address', perClient: { points: 10, duration: 600 } }),
    logger: false,
    tokens: {
      access: createAccessTokens({ issuer: 'i', audience: 'a', keys: [await generateAccessTokenKey()], revocations }),
      refresh: createRefreshTokens({ store: createSqliteRefreshStore(db) }),
      revokeSubject: (id: string) => revocations.revokeSubject(id).then(() => undefined),
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const send = (method: string, path: string, body?: unknown, cookie?: string) =>
  fetch(`${base}${path}`, {
    method,
    headers: {
      origin: ORIGIN,
      'sec-fetch-site': 'same-origin',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(cookie ? { cookie } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
// biome-ignore lint/suspicious/noExplicitAny: JSON of several shapes
const json = async (res: Response): Promise<any> => res.json();
const cookies = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0] as string);
const named = (res: Response, name: string) => cookies(res).find((c) => c.startsWith(`${name}=`)) ?? '';
const code = (secret: string) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: clock.now() });
const login = (remember?: boolean) =>
  send('POST', '/api/auth/login', { username: 'ann', password: PASSWORD, ...(remember ? { remember } : {}) });

describe('two-factor codes on the reference server (M1, M2)', () => {
  let secret = '';
  let recoveryCodes: string[] = [];

  it('enrolment needs a fresh session, shows a QR code made here, and turns on with a right code', async () => {
    const session = named(await login(), '__Host-session');
    expect(await json(await send('GET', '/api/account/totp', undefined, session))).toEqual({
      enabled: false,
      pending: false,
      recoveryCodesLeft: 0,
    });
    clock.advance(11 * 60_000); // past freshFor
    const stale = await send('POST', '/api/account/totp/enrol', undefined, session);
    expect(stale.status).toBe(403);
    expect((await json(stale)).error.code).toBe('REAUTHENTICATION_REQUIRED');
    const step = await send('POST', '/api/auth/reauthenticate', { password: PASSWORD }, session);
    const fresh = named(step, '__Host-session');
    const started = await json(await send('POST', '/api/account/totp/enrol', undefined, fresh));
    expect(started.uri).toMatch(/^otpauth:\/\/totp\/latchkey%20notes:ann%40example\.org\?/);
    expect(started.qrSvg).toMatch(/^<svg /);
    secret = started.secret;
    const wrong = await send('POST', '/api/account/totp/confirm', { code: '000000' }, fresh);
    expect([wrong.status, (await json(wrong)).error.code]).toEqual([401, 'CODE_INVALID']);
    const done = await json(await send('POST', '/api/account/totp/confirm', { code: code(secret) }, fresh));
    recoveryCodes = done.recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    expect(await json(await send('GET', '/api/account/totp', undefined, fresh))).toEqual({
      enabled: true,
      pending: false,
      recoveryCodesLeft: 10,
    });
  });

  it('a login now gets a pending step, not a session: no API answers to it', async () => {
    clock.advance(30_000);
    const res = await login(true);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ secondFactor: 'totp' });
    expect(named(res, '__Host-session')).toBe('');
    const pending = named(res, '__Host-second-factor');
    expect(pending).toMatch(/^__Host-second-factor=[\w-]{30,}$/);
    for (const [method, path] of [
      ['GET', '/api/me'],
      ['GET', '/api/sessions'],
      ['GET', '/api/notes'],
      ['GET', '/api/account/totp'],
      ['POST', '/api/account/totp/enrol'],
    ] as const) {
      const answer = await send(method, path, method === 'POST' ? {} : undefined, pending);
      expect(answer.status, path).toBe(401);
    }
    // Even renamed as a session cookie, the reference is no session.
    const renamed = pending.replace('__Host-second-factor', '__Host-session');
    expect((await send('GET', '/api/me', undefined, renamed)).status).toBe(401);
  });

  it('the code finishes the login once; a wrong code does not; the remember-me choice carries over', async () => {
    clock.advance(30_000);
    const pending = named(await login(true), '__Host-second-factor');
    const wrong = await send('POST', '/api/auth/second-factor', { code: '123456' }, pending);
    expect([wrong.status, (await json(wrong)).error.code]).toEqual([401, 'CODE_INVALID']);
    const right = code(secret);
    const done = await send('POST', '/api/auth/second-factor', { code: right }, pending);
    expect(done.status).toBe(200);
    expect((await json(done)).user.username).toBe('ann');
    const session = named(done, '__Host-session');
    expect(done.headers.getSetCookie()[0]).toMatch(/^__Host-session=.*Max-Age=2592000/); // remembered
    expect(named(done, '__Host-second-factor')).toBe('__Host-second-factor=');
    expect((await send('GET', '/api/me', undefined, session)).status).toBe(200);
    // The step is spent, and so is the code.
    expect((await send('POST', '/api/auth/second-factor', { code: right }, pending)).status).toBe(401);
    const again = named(await login(), '__Host-second-factor');
    const replay = await send('POST', '/api/auth/second-factor', { code: right }, again);
    expect((await json(replay)).error.code).toBe('CODE_INVALID');
  });

  it('a recovery code works once in place of the code', async () => {
    const pending = named(await login(), '__Host-second-factor');
    const used = recoveryCodes[0] as string;
    const done = await send('POST', '/api/auth/second-factor', { code: used.toLowerCase() }, pending);
    expect(await json(done)).toMatchObject({ user: { username: 'ann' }, recoveryCodesLeft: 9 });
    const knows = () => mail().filter((m) => m.subject.startsWith('Someone knows')).length;
    expect(knows()).toBe(0); // two wrong codes so far: a typo or two is nothing to mail about
    const next = named(await login(), '__Host-second-factor');
    expect((await json(await send('POST', '/api/auth/second-factor', { code: used }, next))).error.code).toBe(
      'CODE_INVALID',
    );
    await expect.poll(knows).toBe(1); // the third
  });

  it('the password grant of the token endpoint is no way around the second factor', async () => {
    const res = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'password', username: 'ann', password: PASSWORD }),
    });
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe('SECOND_FACTOR_REQUIRED');
  });

  it('without the step cookie, or with bad input, the second-factor route answers 4xx, never 500', async () => {
    expect((await send('POST', '/api/auth/second-factor', { code: '123456' })).status).toBe(401);
    const pending = named(await login(), '__Host-second-factor');
    for (const body of [{}, { code: 123456 }, { code: 'x'.repeat(65) }, { code: '1', extra: true }, []])
      expect((await send('POST', '/api/auth/second-factor', body, pending)).status).toBe(400);
  });

  it('wrong codes are throttled per account: 429 with Retry-After, even for the right code', async () => {
    clock.advance(30_000);
    const pending = named(await login(), '__Host-second-factor');
    let last: Response | undefined;
    let wrong = 0;
    // A known address gets its own count (the throttle's rule for the real user); it too runs out.
    while (wrong < 30 && last?.status !== 429) {
      last = await send('POST', '/api/auth/second-factor', { code: '000000' }, pending);
      wrong++;
    }
    expect(last?.status).toBe(429);
    expect(wrong).toBeLessThanOrEqual(12);
    const right = await send('POST', '/api/auth/second-factor', { code: code(secret) }, pending);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    // The password is known to whoever tries codes: the owner was told, once (the third wrong code
    // of the hour, in the tests above), however many came after.
    const told = () => mail().filter((m) => m.to === 'ann@example.org' && m.subject.startsWith('Someone knows'));
    await expect.poll(() => told().length).toBe(1);
    expect(told()[0]?.text).toContain('then gave wrong two-factor codes');
  });

  it('a password reset is one factor, not two: it ends in the code step; with every factor lost, removal mails a notice', async () => {
    // Bob, with the factor on (enrolled through the library, as the routes above do it).
    const bob = await users.upsert('bob', PASSWORD, 'bob@example.org');
    const started = await totp.enrol(bob.id, 'bob@example.org');
    if (!started.ok) throw new Error(started.error);
    const bobSecret = started.secret;
    expect((await totp.confirm(bob.id, code(bobSecret), '198.51.100.1')).ok).toBe(true);
    const reset = async () => {
      expect((await send('POST', '/api/auth/password-reset', { email: 'bob@example.org' })).status).toBe(202);
      const token = await waitForLink(mail, 'bob@example.org', '/reset');
      return send('POST', '/api/auth/password-reset/confirm', { token, password: PASSWORD });
    };
    const first = await reset();
    expect(await json(first)).toEqual({ secondFactor: 'totp', canRemove: true });
    expect(named(first, '__Host-session')).toBe('');
    // The code (or a recovery code) finishes it like a login.
    clock.advance(30_000);
    const withCode = await send(
      'POST',
      '/api/auth/second-factor',
      { code: code(bobSecret) },
      named(first, '__Host-second-factor'),
    );
    expect(withCode.status).toBe(200);
    // A login's step cannot remove the factors: only a reset's can.
    const loginStep = named(
      await send('POST', '/api/auth/login', { username: 'bob', password: PASSWORD }),
      '__Host-second-factor',
    );
    expect(loginStep).not.toBe('');
    expect((await send('POST', '/api/auth/second-factor/remove', {}, loginStep)).status).toBe(401);
    expect(
      (await json(await send('GET', '/api/account/totp', undefined, named(withCode, '__Host-session')))).enabled,
    ).toBe(true);
    // Everything lost: the reset's step removes the factors, logs in, and tells the owner.
    inbox.clear();
    const lost = await reset();
    const removed = await send('POST', '/api/auth/second-factor/remove', {}, named(lost, '__Host-second-factor'));
    expect(removed.status).toBe(200);
    const session = named(removed, '__Host-session');
    expect((await json(await send('GET', '/api/account/totp', undefined, session))).enabled).toBe(false);
    await expect
      .poll(() => inbox.list().map((m) => m.subject))
      .toContain('Two-factor sign-in was turned off for latchkey notes');
  });

  /** Turns the factor on through the routes (login, enrol, confirm); the secret and the session. */
  const enableOverHttp = async (username: string) => {
    const session = named(await send('POST', '/api/auth/login', { username, password: PASSWORD }), '__Host-session');
    const started = await json(await send('POST', '/api/account/totp/enrol', undefined, session));
    const done = await send('POST', '/api/account/totp/confirm', { code: code(started.secret) }, session);
    expect(done.status).toBe(200);
    clock.advance(30_000);
    return { secret: started.secret as string, session };
  };

  it('step-up of a two-factor account asks for the code too: the password alone does not unlock the factor settings', async () => {
    await users.upsert('dora', PASSWORD, 'dora@example.org');
    const { secret, session } = await enableOverHttp('dora');
    clock.advance(11 * 60_000); // no longer fresh
    expect((await send('DELETE', '/api/account/totp', undefined, session)).status).toBe(403);
    const passwordOnly = await send('POST', '/api/auth/reauthenticate', { password: PASSWORD }, session);
    expect([passwordOnly.status, (await json(passwordOnly)).error.code]).toEqual([401, 'CODE_INVALID']);
    expect((await send('POST', '/api/account/totp/recovery-codes', undefined, session)).status).toBe(403);
    const both = await send('POST', '/api/auth/reauthenticate', { password: PASSWORD, code: code(secret) }, session);
    expect(both.status).toBe(200);
    expect((await send('DELETE', '/api/account/totp', undefined, named(both, '__Host-session'))).status).toBe(200);
  });

  it('login attempts for a made-up name such as "totp:<id>" never throttle anyone\'s codes', async () => {
    const erin = await users.upsert('erin', PASSWORD, 'erin@example.org');
    const { secret } = await enableOverHttp('erin');
    for (let i = 0; i < 12; i++) await send('POST', '/api/auth/login', { username: `totp:${erin.id}`, password: 'x' });
    const pending = named(
      await send('POST', '/api/auth/login', { username: 'erin', password: PASSWORD }),
      '__Host-second-factor',
    );
    expect((await send('POST', '/api/auth/second-factor', { code: code(secret) }, pending)).status).toBe(200);
  });

  it('turning the factor on ends what the password alone had got: other sessions and API refresh tokens', async () => {
    await users.upsert('fay', PASSWORD, 'fay@example.org');
    const token = (body: unknown) =>
      fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const grant = await json(await token({ grant_type: 'password', username: 'fay', password: PASSWORD }));
    const laptop = named(
      await send('POST', '/api/auth/login', { username: 'fay', password: PASSWORD }),
      '__Host-session',
    );
    const { session } = await enableOverHttp('fay');
    expect((await send('GET', '/api/me', undefined, laptop)).status).toBe(401);
    expect((await send('GET', '/api/me', undefined, session)).status).toBe(200); // the one that turned it on
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: grant.refresh_token });
    expect(refreshed.status).toBe(400);
  });

  it('logout also ends a second step left half-way', async () => {
    const pending = named(
      await send('POST', '/api/auth/login', { username: 'erin', password: PASSWORD }),
      '__Host-second-factor',
    );
    expect(pending).not.toBe('');
    await send('POST', '/api/auth/logout', undefined, pending);
    const after = await send('POST', '/api/auth/second-factor', { code: '123456' }, pending);
    expect((await json(after)).error.code).toBe('SESSION_REQUIRED');
  });
});
