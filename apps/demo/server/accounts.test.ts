/**
 * The account lifecycle of the reference server (#15) over real HTTP and a real SMTP server in
 * process (smtp-server): sign-up that reveals nothing, verification, password reset that ends every
 * session, e-mail change with its undo, the notices, bad links and bad addresses, a mail server
 * that is down, and the dev inbox page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { normalizeEmail } from 'latchkey/accounts';
import { createDevInbox, createSmtpMailer } from 'latchkey/mail';
import { createSqliteOneTimeStore } from 'latchkey/one-time/sqlite';
import { createLoginThrottle, createRateLimit } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import {
  createAccessTokens,
  createMemoryRevocations,
  createRefreshTokens,
  generateAccessTokenKey,
} from 'latchkey/tokens';
import { createSqliteRefreshStore } from 'latchkey/tokens/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, startSmtpServer, type TestSmtpServer } from '../../../packages/server/src/test/smtp.js';
import { linkToken, type MailLike, waitForLink } from '../test/accounts.js';
import { buildApp } from './app.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const ORIGIN = 'http://app.test';
const PUBLIC = 'https://notes.test';
const PASSWORD = 'correct horse battery staple';
const dir = mkdtempSync(join(tmpdir(), 'latchkey-accounts-'));
const db = new Database(join(dir, 'latchkey.db'));
const sessions = createSessionManager({ store: createSqliteStore(db), keys: [generateSigningKey()], sweepInterval: 0 });
const users = createUsers(db);
const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _enc, done) {
    logLines.push(String(chunk));
    done();
  },
});
let smtp: TestSmtpServer;
let app: Awaited<ReturnType<typeof buildApp>>;
let base = '';

beforeAll(async () => {
  await users.upsert('demo', PASSWORD);
  smtp = await startSmtpServer();
  app = await buildApp({
    sessions,
    users,
    notes: createNotes(db),
    origins: [ORIGIN],
    publicUrl: PUBLIC,
    throttle: createLoginThrottle(),
    registrations: createRateLimit({ name: 'register', perClient: { points: 1000, duration: 3600 } }),
    // Two mails per address per window here (a sign-up, then a reset), not one: the limit itself is tested below.
    addressLimit: createRateLimit({ name: 'accounts-address', perClient: { points: 2, duration: 600 } }),
    mailer: createSmtpMailer({ url: smtp.url, from: 'no-reply@notes.test' }),
    oneTimeStore: createSqliteOneTimeStore(db),
    trustedProxies: ['127.0.0.1'],
    logger: { level: 'info', stream: logStream },
    // The token endpoint's password grant is a way in too: it mails the new-device notice.
    tokens: await (async () => {
      const revocations = createMemoryRevocations();
      return {
        access: createAccessTokens({
          issuer: 'latchkey-demo',
          audience: 'latchkey-demo-downstream',
          keys: [await generateAccessTokenKey()],
          revocations,
        }),
        refresh: createRefreshTokens({ store: createSqliteRefreshStore(db) }),
        revokeSubject: (id: string) => revocations.revokeSubject(id).then(() => undefined),
      };
    })(),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app.close();
  await smtp.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

type Headers = Record<string, string>;
let nextIp = 1;
/** Each test's own client address (via the trusted proxy), so no limit is shared between tests. */
const fromNewAddress = (): Headers => ({ 'x-forwarded-for': `198.51.${nextIp >> 8}.${nextIp++ & 255}` });
const send = (method: string, path: string, body?: unknown, headers: Headers = {}) =>
  fetch(`${base}${path}`, {
    method,
    headers: {
      origin: ORIGIN,
      'sec-fetch-site': 'same-origin',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const post = (path: string, body?: unknown, headers?: Headers) => send('POST', path, body, headers);
// biome-ignore lint/suspicious/noExplicitAny: test reads JSON of several shapes
const json = async (res: Response): Promise<any> => res.json();
const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
const codeOf = async (res: Response) => ({ status: res.status, code: (await json(res)).error?.code });
const alive = async (cookie: string) => (await send('GET', '/api/me', undefined, { cookie })).status === 200;

/** What arrived at the SMTP server, oldest first, as the helpers read it. */
const mail = (): MailLike[] => smtp.received.map((m) => ({ to: m.envelope.to[0] ?? '', text: m.text }));
const mailTo = (to: string) => smtp.received.filter((m) => m.envelope.to.includes(to));
const link = (to: string, page: string) => waitForLink(mail, to, page);

async function signUp(email: string, password = PASSWORD, username?: string): Promise<string> {
  const headers = fromNewAddress();
  const res = await post('/api/auth/register', { email, password, ...(username ? { username } : {}) }, headers);
  expect(res.status).toBe(202);
  const token = await link(normalizeEmail(email) ?? email, '/verify');
  const verified = await post('/api/auth/verify', { token, password }, headers);
  expect(verified.status).toBe(200);
  return cookieOf(verified);
}
const login = async (username: string, password = PASSWORD) => {
  const res = await post('/api/auth/login', { username, password }, fromNewAddress());
  return { status: res.status, cookie: cookieOf(res) };
};

describe('sign-up that reveals nothing (#15 3)', () => {
  it('answers a known and an unknown address with the same 202 and bytes; only the mail differs', async () => {
    const known = await post('/api/auth/register', { email: 'demo@example.com', password: PASSWORD }, fromNewAddress());
    const unknown = await post(
      '/api/auth/register',
      { email: 'ann@example.org', password: PASSWORD },
      fromNewAddress(),
    );
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    const [a, b] = [await known.text(), await unknown.text()];
    expect(a).toBe(b);
    expect(JSON.parse(a)).toEqual({ status: 'check-your-inbox' });
    expect(known.headers.get('set-cookie')).toBeNull();
    expect(unknown.headers.get('set-cookie')).toBeNull();

    // Through the real SMTP server: "finish signing up" to the new address, a notice with a reset
    // link (never a sign-up link) to the owner of the taken one.
    const verify = await link('ann@example.org', '/verify');
    await link('demo@example.com', '/reset');
    const [toAnn] = mailTo('ann@example.org');
    expect(toAnn?.headers.subject).toBe('Finish signing up to latchkey notes');
    expect(toAnn?.headers.from).toContain('no-reply@notes.test');
    expect(toAnn?.text).toContain(`${PUBLIC}/verify#token=${verify}`);
    expect(mailTo('demo@example.com').map((m) => m.headers.subject)).toEqual([
      'Someone tried to sign up to latchkey notes with your address',
    ]);
    expect(linkToken(mail(), 'demo@example.com', '/verify')).toBeUndefined();

    // Nothing was created before the link was followed; following it creates the account and logs in.
    expect(users.find('ann@example.org')).toBeNull();
    // The link and the password chosen at sign-up: another password is refused, and the link still works.
    expect(await codeOf(await post('/api/auth/verify', { token: verify, password: 'not the one chosen' }))).toEqual({
      status: 401,
      code: 'INVALID_CREDENTIALS',
    });
    const verified = await post('/api/auth/verify', { token: verify, password: PASSWORD });
    expect(verified.status).toBe(200);
    const me = await json(await send('GET', '/api/me', undefined, { cookie: cookieOf(verified) }));
    expect(me.user).toMatchObject({ username: 'ann', email: 'ann@example.org' });
    // The link works once.
    expect(await codeOf(await post('/api/auth/verify', { token: verify, password: PASSWORD }))).toEqual({
      status: 400,
      code: 'TOKEN_INVALID',
    });
  });

  it('logs in by address (any case) or username; a username asked for is kept, one taken meanwhile is replaced', async () => {
    await signUp('Bea@Example.org', PASSWORD, 'bea');
    expect((await login('bea@example.org')).status).toBe(200);
    expect((await login('BEA@EXAMPLE.ORG')).status).toBe(200);
    expect((await login('bea')).status).toBe(200);
    expect((await login('bea@example.org', 'not the password')).status).toBe(401);
    // "demo" is taken: the sign-up still goes through, under a name made from the address.
    const cookie = await signUp('someone@example.org', PASSWORD, 'demo');
    const me = await json(await send('GET', '/api/me', undefined, { cookie }));
    expect(me.user.username).toBe('someone');
  });

  it('refuses tampered, truncated, other-purpose and unknown tokens alike, and bad addresses before any mail', async () => {
    const email = 'cleo@example.org';
    await post('/api/auth/register', { email, password: PASSWORD }, fromNewAddress());
    const token = await link(email, '/verify');
    const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [tampered, token.slice(0, 20), 'x'.repeat(43), ''])
      expect(await codeOf(await post('/api/auth/verify', { token: bad, password: PASSWORD }))).toEqual({
        status: 400,
        code: 'TOKEN_INVALID',
      });
    // A sign-up token is not a reset token.
    expect(
      await codeOf(await post('/api/auth/password-reset/confirm', { token, password: 'a new passphrase 1' })),
    ).toEqual({ status: 400, code: 'TOKEN_INVALID' });
    // …and it still works after all that.
    expect((await post('/api/auth/verify', { token, password: PASSWORD })).status).toBe(200);

    const before = smtp.received.length;
    for (const address of [
      'a@example.org\r\nBcc: x@evil.example',
      `${'a'.repeat(65)}@example.org`,
      'Ann <a@b.example>',
    ])
      expect(
        await codeOf(await post('/api/auth/register', { email: address, password: PASSWORD }, fromNewAddress())),
      ).toEqual({ status: 400, code: 'EMAIL_INVALID' });
    // Non-ASCII addresses are addresses: kept in one form (punycode domain), sent with SMTPUTF8
    // (nodemailer puts the domain back in Unicode on the envelope).
    expect(
      (await post('/api/auth/register', { email: 'zoë@bücher.example', password: PASSWORD }, fromNewAddress())).status,
    ).toBe(202);
    await link('zoë@bücher.example', '/verify');
    expect(smtp.received.length).toBe(before + 1);
  });
});

describe('password reset (#15 4)', () => {
  it('answers known and unknown addresses alike, ends every old session, and logs in the device that reset', async () => {
    const email = 'dana@example.org';
    const first = await signUp(email, 'dana first password');
    const second = (await login(email, 'dana first password')).cookie;
    expect(await alive(first)).toBe(true);
    expect(await alive(second)).toBe(true);

    const known = await post('/api/auth/password-reset', { email: 'DANA@example.org' }, fromNewAddress());
    const unknown = await post('/api/auth/password-reset', { email: 'nobody@example.org' }, fromNewAddress());
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(await known.text()).toBe(await unknown.text());
    const token = await link(email, '/reset');
    expect(mailTo('nobody@example.org')).toEqual([]);

    // The password rules apply, and a refused password leaves the link working.
    expect(await codeOf(await post('/api/auth/password-reset/confirm', { token, password: 'short' }))).toEqual({
      status: 400,
      code: 'PASSWORD_TOO_SHORT',
    });
    const reset = await post('/api/auth/password-reset/confirm', { token, password: 'dana second password' });
    expect(reset.status).toBe(200);
    const mine = cookieOf(reset);
    expect(await alive(mine)).toBe(true);
    expect(await alive(first)).toBe(false);
    expect(await alive(second)).toBe(false);
    expect((await login(email, 'dana first password')).status).toBe(401);
    expect((await login(email, 'dana second password')).status).toBe(200);
    expect(
      await codeOf(await post('/api/auth/password-reset/confirm', { token, password: 'dana third password' })),
    ).toEqual({ status: 400, code: 'TOKEN_INVALID' });
    // The owner is told.
    await expect
      .poll(() => mailTo(email).map((m) => m.headers.subject))
      .toContain('Your latchkey notes password was changed');
  });

  it('one mail per address per window; a password change ends a pending link and sends the notice', async () => {
    const email = 'eve@example.org';
    const cookie = await signUp(email, 'eve first password');
    // The address's mails for the window are spent (its sign-up, then this link): the next request
    // sends nothing and replaces nothing, and answers the same.
    await post('/api/auth/password-reset', { email }, fromNewAddress());
    const firstLink = await link(email, '/reset');
    await post('/api/auth/password-reset', { email }, fromNewAddress());
    await new Promise((r) => setTimeout(r, 200));
    expect(mailTo(email).filter((m) => m.headers.subject?.startsWith('Reset'))).toHaveLength(1);

    const change = await post(
      '/api/account/password',
      { currentPassword: 'eve first password', newPassword: 'eve second password' },
      { cookie },
    );
    expect(change.status).toBe(200);
    expect(
      await codeOf(
        await post('/api/auth/password-reset/confirm', { token: firstLink, password: 'eve third password' }),
      ),
    ).toEqual({ status: 400, code: 'TOKEN_INVALID' });
    await expect
      .poll(() => mailTo(email).map((m) => m.headers.subject))
      .toContain('Your latchkey notes password was changed');
  });
});

describe('e-mail change (#15 5)', () => {
  it('needs a fresh session, confirms at the new address, and the old address can undo it (every session ends)', async () => {
    const old = 'fay@example.org';
    const cookie = await signUp(old, 'fay first password');
    expect((await post('/api/account/email', { email: 'fay@new.example' })).status).toBe(401);
    const asked = await post('/api/account/email', { email: 'Fay@New.example' }, { cookie });
    expect(asked.status).toBe(202);
    expect(await json(asked)).toEqual({ status: 'check-your-inbox' });
    const confirm = await link('fay@new.example', '/confirm-email');
    const undo = await link(old, '/undo-email-change');

    const confirmed = await post('/api/account/email/confirm', { token: confirm });
    expect(await json(confirmed)).toEqual({ email: 'fay@new.example' });
    expect((await json(await send('GET', '/api/me', undefined, { cookie }))).user.email).toBe('fay@new.example');
    expect((await login('fay@new.example', 'fay first password')).status).toBe(200);
    // While the change can be undone, another is refused.
    expect((await post('/api/account/email', { email: 'fay@third.example' }, { cookie })).status).toBe(429);

    // "It was not me": the old address comes back, every session and the password end (whoever
    // changed it knew the password), and a link to set a new one goes to the old address.
    const undone = await post('/api/account/email/undo', { token: undo });
    expect(await json(undone)).toEqual({ email: old });
    expect(await alive(cookie)).toBe(false);
    expect((await login(old, 'fay first password')).status).toBe(401);
    expect((await login('fay@new.example', 'fay first password')).status).toBe(401);
    const reset = await post('/api/auth/password-reset/confirm', {
      token: await link(old, '/reset'),
      password: 'fay second password',
    });
    expect(reset.status).toBe(200);
    expect((await login(old, 'fay second password')).status).toBe(200);
  });
});

describe('remember me and the new-device notice (#15 6, 7)', () => {
  const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
  const maxAge = (res: Response) => /; Max-Age=(\d+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];

  it('"keep me signed in" lengthens that session only, its cookie too, and the sessions list says so', async () => {
    await signUp('rowan@example.org', PASSWORD, 'rowan');
    const remembered = await post('/api/auth/login', { username: 'rowan', password: PASSWORD, remember: true });
    expect(remembered.status).toBe(200);
    expect(maxAge(remembered)).toBe(String(30 * 86_400));
    const ordinary = await post('/api/auth/login', { username: 'rowan', password: PASSWORD });
    expect(maxAge(ordinary)).toBe(String(12 * 3600));
    const me = await json(await send('GET', '/api/me', undefined, { cookie: cookieOf(remembered) }));
    expect(me.session.remembered).toBe(true);
    const days = (Date.parse(me.session.absoluteExpiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    const list = await json(await send('GET', '/api/sessions', undefined, { cookie: cookieOf(ordinary) }));
    const byId = (cookie: string) => list.sessions.find((s: { id: string }) => cookie.includes(`=${s.id}.`));
    expect(byId(cookieOf(remembered))?.remembered).toBe(true);
    expect(byId(cookieOf(ordinary))?.remembered).toBe(false);
    // Only a boolean is a choice: anything else is a bad request, not a silent "yes".
    const odd = await post('/api/auth/login', { username: 'rowan', password: PASSWORD, remember: 'yes' });
    expect(await codeOf(odd)).toEqual({ status: 400, code: 'INVALID_INPUT' });
  });

  it('a sign-in from a new browser and network mails the owner once; the same place again mails nothing', async () => {
    const email = 'wren@example.org';
    await signUp(email, PASSWORD, 'wren'); // the first place: recorded, no notice
    const before = mailTo(email).length;
    const from = (ip: string, userAgent = 'node') => ({ 'x-forwarded-for': ip, 'user-agent': userAgent });
    expect((await post('/api/auth/login', { username: 'wren', password: PASSWORD }, from('198.51.0.77'))).status).toBe(
      200,
    );
    const away = await post('/api/auth/login', { username: 'wren', password: PASSWORD }, from('203.0.113.9', FIREFOX));
    expect(away.status).toBe(200);
    await expect.poll(() => mailTo(email).length).toBe(before + 1);
    const notice = mailTo(email).at(-1);
    expect(notice?.headers.subject).toBe('New sign-in to latchkey notes');
    expect(notice?.text).toContain('Device: Firefox on Windows');
    expect(notice?.text).toContain('Address: 203.0.113.9');
    // The same browser on the same network (another address in it), and a wrong password from a
    // new place: no mail.
    await post('/api/auth/login', { username: 'wren', password: PASSWORD }, from('203.0.113.200', FIREFOX));
    await post('/api/auth/login', { username: 'wren', password: 'wrong password here' }, from('192.0.2.1', FIREFOX));
    await new Promise((r) => setTimeout(r, 300));
    expect(mailTo(email).length).toBe(before + 1);
    expect(logLines.some((line) => line.includes('"login.new-device"'))).toBe(true);
  });

  it('the password grant of the token endpoint mails the notice too, from a new place only', async () => {
    const email = 'grant@example.org';
    await signUp(email, PASSWORD, 'granted');
    const before = mailTo(email).length;
    const grant = (ip: string) =>
      fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, 'user-agent': 'curl/8.5.0' },
        body: JSON.stringify({ grant_type: 'password', username: 'granted', password: PASSWORD }),
      });
    expect((await grant('203.0.113.66')).status).toBe(200);
    await expect.poll(() => mailTo(email).length).toBe(before + 1);
    expect(mailTo(email).at(-1)?.text).toContain('Device: curl');
    expect((await grant('203.0.113.67')).status).toBe(200); // the same place: nothing more
    await new Promise((r) => setTimeout(r, 300));
    expect(mailTo(email).length).toBe(before + 1);
  });

  it('someone with the password cycling user agents gets at most 3 notices an hour to the owner', async () => {
    const email = 'flood@example.org';
    await signUp(email, PASSWORD, 'flooded');
    const before = mailTo(email).length;
    const agents = ['Firefox/1 Windows', 'Chrome/1 Linux', 'Safari/1 Macintosh', 'Firefox/1 Android', 'Chrome/1 CrOS'];
    for (const [i, userAgent] of agents.entries()) {
      const res = await post(
        '/api/auth/login',
        { username: 'flooded', password: PASSWORD },
        { 'x-forwarded-for': `192.0.${i + 10}.77`, 'user-agent': userAgent },
      );
      expect(res.status).toBe(200);
    }
    await expect.poll(() => mailTo(email).length).toBe(before + 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(mailTo(email).length).toBe(before + 3);
    expect(logLines.filter((line) => line.includes('"login.new-device.limited"')).length).toBeGreaterThanOrEqual(2);
  });
});

describe('mail that cannot go out, and the dev inbox', () => {
  it('a mail server that is down: the API answers 202 as before, and the failure is logged without the link', async () => {
    const dead = await closedPort();
    const dbDown = new Database(':memory:');
    const down = await buildApp({
      sessions: createSessionManager({
        store: createSqliteStore(dbDown),
        keys: [generateSigningKey()],
        sweepInterval: 0,
      }),
      users: createUsers(dbDown),
      notes: createNotes(dbDown),
      origins: [ORIGIN],
      publicUrl: PUBLIC,
      mailer: createSmtpMailer({ url: `smtp://127.0.0.1:${dead}`, from: 'no-reply@notes.test' }),
      logger: { level: 'info', stream: logStream },
    });
    const start = logLines.length;
    const res = await down.inject({
      method: 'POST',
      url: '/api/auth/register',
      headers: { origin: ORIGIN, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'gus@example.org', password: PASSWORD }),
    });
    expect(res.statusCode).toBe(202);
    expect(res.body).toBe(JSON.stringify({ status: 'check-your-inbox' }));
    await expect.poll(() => logLines.slice(start).join('')).toContain('"event":"mail.failed"');
    const logged = logLines.slice(start).join('');
    expect(logged).not.toContain('#token=');
    expect(logged).not.toContain('gus@example.org');
    await down.close();
    dbDown.close();
  });

  it('serves the dev inbox escaped and without script, only outside production, and never with a mailer', async () => {
    expect((await send('GET', '/dev/mail')).status).toBe(404); // this server has an SMTP mailer
    const inbox = createDevInbox();
    const dbDev = new Database(':memory:');
    const dev = await buildApp({
      sessions: createSessionManager({
        store: createSqliteStore(dbDev),
        keys: [generateSigningKey()],
        sweepInterval: 0,
      }),
      users: createUsers(dbDev),
      notes: createNotes(dbDev),
      origins: ['http://localhost:3000'],
      devInbox: inbox,
      logger: false,
    });
    await inbox.send({
      to: 'hal@example.org',
      subject: '<script>alert(1)</script>',
      text: 'Open http://localhost:3000/verify#token=abc or https://evil.example/x "<b>',
    });
    const page = await dev.inject({ method: 'GET', url: '/dev/mail' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-security-policy']).toBeDefined();
    expect(page.body).not.toMatch(/<script|<style|style=|<b>/i);
    expect(page.body).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page.body).toContain('<a href="http://localhost:3000/verify#token=abc" rel="noreferrer">');
    expect(page.body).not.toContain('href="https://evil.example');
    const listed = JSON.parse((await dev.inject({ method: 'GET', url: '/dev/mail.json?to=hal@example.org' })).body);
    expect(listed).toHaveLength(1);

    const was = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect((await dev.inject({ method: 'GET', url: '/dev/mail' })).statusCode).toBe(404);
      expect((await dev.inject({ method: 'GET', url: '/dev/mail.json' })).statusCode).toBe(404);
      await expect(
        buildApp({
          sessions: createSessionManager({
            store: createSqliteStore(dbDev),
            keys: [generateSigningKey()],
            sweepInterval: 0,
          }),
          users: createUsers(dbDev),
          notes: createNotes(dbDev),
          origins: ['http://localhost:3000'],
          logger: false,
        }),
      ).rejects.toThrow(/LATCHKEY_SMTP_URL/);
    } finally {
      process.env.NODE_ENV = was;
    }
    await dev.close();
    dbDev.close();
  });
});

describe('accounts from before addresses', () => {
  it('the users table is migrated in place: old rows get <username>@example.com and log in by either', async () => {
    const old = new Database(':memory:');
    // The table as it was before #15, with an account in it.
    old.exec(`CREATE TABLE demo_accounts (
      id TEXT PRIMARY KEY NOT NULL, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
      api_key TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL)`);
    const hash = await users.hasher.hash('an old password here');
    old
      .prepare('INSERT INTO demo_accounts (id, username, password_hash, api_key, created_at) VALUES (?, ?, ?, ?, ?)')
      .run('old-1', 'oldtimer', hash, 'lk_live_x', 1);
    const migrated = createUsers(old, { hasher: users.hasher });
    expect(migrated.find('oldtimer')).toEqual({ id: 'old-1', username: 'oldtimer', email: 'oldtimer@example.com' });
    expect((await migrated.authenticate('oldtimer', 'an old password here')).ok).toBe(true);
    expect((await migrated.authenticate('OldTimer@example.com', 'an old password here')).ok).toBe(true);
    expect(await migrated.directory.findByEmail('oldtimer@example.com')).toEqual({
      id: 'old-1',
      email: 'oldtimer@example.com',
      emailChangedAt: null,
    });
    // Opening it again changes nothing; the address is unique.
    createUsers(old, { hasher: users.hasher });
    expect(
      await migrated.directory.create({ email: 'oldtimer@example.com', passwordHash: hash, username: 'other' }),
    ).toBeNull();
    old.close();
  });
});
