/**
 * The reference server over real HTTP, attacked. Test names carry the SECURITY-CHECKLIST ids.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createDevInbox } from 'latchkey/mail';
import { createSqliteOneTimeStore } from 'latchkey/one-time/sqlite';
import { createLoginThrottle, createRateLimit } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLink } from '../test/accounts.js';
import { buildApp } from './app.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const ORIGIN = 'http://app.test';
const dir = mkdtempSync(join(tmpdir(), 'latchkey-demo-'));
const db = new Database(join(dir, 'latchkey.db'));
let clock = Date.now();
const sessions = createSessionManager({
  store: createSqliteStore(db),
  keys: [generateSigningKey()],
  sweepInterval: 0,
  now: () => clock,
});
const users = createUsers(db);
const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _enc, done) {
    logLines.push(String(chunk));
    done();
  },
});
const PASSWORD = 'correct horse battery staple';
const throttle = createLoginThrottle();
// The account mails: kept in the dev inbox, read back by the tests (test/accounts.ts).
const inbox = createDevInbox({ max: 1000 });
const mail = () => inbox.list().reverse();
let base = '';
let app: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  await users.upsert('demo', PASSWORD);
  await throttle.remember('demo', '198.18.255.1'); // demo has logged in from HOME before
  app = await buildApp({
    sessions,
    users,
    notes: createNotes(db),
    origins: [ORIGIN],
    // A throttle with the defaults, but each test that attacks it uses its own usernames and addresses.
    throttle,
    // Many registrations from few addresses here; the registration limit has its own test.
    registrations: createRateLimit({ name: 'register', perClient: { points: 1000, duration: 3600 } }),
    devInbox: inbox,
    oneTimeStore: createSqliteOneTimeStore(db),
    publicUrl: 'https://app.test',
    trustedProxies: ['127.0.0.1'],
    logger: { level: 'info', stream: logStream },
  });
  app.get('/boom', async () => {
    throw new Error('a bug');
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

type Headers = Record<string, string>;
/**
 * What a same-origin fetch from the app sends (the browser adds the first two itself), from the
 * users' usual address, reported by the trusted proxy: known to the throttle after a success.
 */
const HOME = '198.18.255.1';
const browser: Headers = { origin: ORIGIN, 'sec-fetch-site': 'same-origin', 'x-forwarded-for': HOME };
const send = (method: string, path: string, body?: unknown, headers: Headers = {}) =>
  fetch(`${base}${path}`, {
    method,
    headers: { ...browser, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const post = (path: string, body?: unknown, headers?: Headers) => send('POST', path, body, headers);
const get = (path: string, headers?: Headers) => send('GET', path, undefined, headers);
// biome-ignore lint/suspicious/noExplicitAny: test reads JSON of several shapes
const json = async (res: Response): Promise<any> => res.json();
const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
const codeOf = async (res: Response) => ({ status: res.status, code: (await json(res)).error?.code });
/** Each test's own client address (via the trusted proxy), so throttle counts never leak between tests. */
let nextIp = 1;
const fromNewAddress = (): Headers => ({ 'x-forwarded-for': `198.18.${nextIp >> 8}.${nextIp++ & 255}` });

/** Each test account's address. */
const emailOf = (username: string) => `${username}@example.org`;
/** Signs up through the routes: register, the link in the mail, verify. The session cookie. */
async function register(username: string, password = PASSWORD, headers: Headers = {}): Promise<string> {
  const email = emailOf(username);
  const res = await post('/api/auth/register', { email, password, username }, headers);
  expect(res.status).toBe(202);
  const token = await waitForLink(mail, email, '/verify');
  const verified = await post('/api/auth/verify', { token, password }, headers);
  expect(verified.status).toBe(200);
  return cookieOf(verified);
}
async function login(username: string, password = PASSWORD, headers: Headers = {}): Promise<string> {
  const res = await post('/api/auth/login', { username, password }, headers);
  expect(res.status).toBe(200);
  return cookieOf(res);
}
const alive = async (cookie: string) => (await get('/api/me', { cookie })).status === 200;

describe('login, me, logout (R1, L1, L2, C2, C7)', () => {
  it('logs in with the paths of the article, serves /api/me without a token, logs out, and rejects the replay', async () => {
    const res = await post('/api/auth/login', { username: 'demo', password: PASSWORD });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({ user: { id: users.find('demo')?.id, username: 'demo', avatarUrl: '/avatars/demo.svg' } });
    const cookie = cookieOf(res);
    expect(cookie).toMatch(/^__Host-session=.{89}$/);
    const [session, device] = res.headers.getSetCookie();
    expect(session).toMatch(/^__Host-session=.*; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    // A browser without one gets the throttle's device id: random, no account in it, as locked down.
    expect(device).toMatch(/^__Host-device=[\w-]{22}; Path=\/; Max-Age=34560000; HttpOnly; Secure; SameSite=Strict$/);
    expect(res.headers.get('cache-control')).toBe('no-store');

    const me = await get('/api/me', { cookie });
    expect(me.status).toBe(200);
    expect(me.headers.get('cache-control')).toBe('no-store');
    const text = await me.text();
    expect(text).not.toContain(cookie.slice(15));
    expect(text).not.toContain('eyJ');
    expect(JSON.parse(text).user).toEqual({
      id: users.find('demo')?.id,
      username: 'demo',
      avatarUrl: '/avatars/demo.svg',
      email: 'demo@example.com',
    });
    const avatar = await get('/avatars/demo.svg');
    expect(avatar.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
    expect(await avatar.text()).toContain('>DE</text>');

    const logout = await post('/api/auth/logout', undefined, { cookie });
    expect(logout.status).toBe(200);
    expect(logout.headers.get('clear-site-data')).toBe('"cache", "cookies", "storage"');
    expect(logout.headers.get('set-cookie')).toMatch(/^__Host-session=; Max-Age=0;/);
    expect(await codeOf(await get('/api/me', { cookie }))).toEqual({ status: 401, code: 'SESSION_REQUIRED' });
  });

  it('F1: a login replaces the session the request carried; the old cookie is dead', async () => {
    const first = await login('demo');
    const second = await login('demo', PASSWORD, { cookie: first });
    expect(second).not.toBe(first);
    expect(await alive(first)).toBe(false);
    expect(await alive(second)).toBe(true);
  });
});

describe('registration and password rules (P1, P2)', () => {
  it('registers, logs the new user in, and stores an argon2id hash with OWASP parameters', async () => {
    const cookie = await register('newcomer');
    expect(await alive(cookie)).toBe(true);
    const row = db.prepare('SELECT password_hash FROM demo_accounts WHERE username = ?').get('newcomer') as {
      password_hash: string;
    };
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('refuses short, common and username-equal passwords and allows 64+ characters without cutting', async () => {
    const cases: [string, string, string][] = [
      ['shorty', 'seven77', 'PASSWORD_TOO_SHORT'],
      ['commoner', 'Password123', 'PASSWORD_TOO_COMMON'],
      ['selfnamed', 'SelfNamed', 'PASSWORD_TOO_COMMON'],
      ['longer', 'x'.repeat(1025), 'PASSWORD_TOO_LONG'],
    ];
    for (const [username, password, code] of cases)
      expect(await codeOf(await post('/api/auth/register', { email: emailOf(username), password, username }))).toEqual({
        status: 400,
        code,
      });
    const long = `${'long passphrase '.repeat(8)}end`; // 131 characters
    await register('longpass', long);
    expect((await post('/api/auth/login', { username: 'longpass', password: long.slice(0, 72) })).status).toBe(401);
    expect(await alive(await login('longpass', long))).toBe(true);
  });

  it('names the wrong fields in a clear 400, and answers a taken address exactly like a new one', async () => {
    const res = await post('/api/auth/register', { username: 'a b', password: 42, extra: true });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe('INVALID_INPUT');
    expect(body.error.fields.map((f: { path: string }) => f.path).sort()).toEqual([
      '',
      'email',
      'password',
      'username',
    ]);
    expect(JSON.stringify(body)).not.toContain('a b');
    expect(await codeOf(await post('/api/auth/register', { email: 'not an address', password: PASSWORD }))).toEqual({
      status: 400,
      code: 'EMAIL_INVALID',
    });
    // ASVS 6.3.8: the demo account's address and a new one get the same status and bytes; only the mail differs.
    const taken = await post('/api/auth/register', { email: 'DEMO@example.com', password: 'some fine password' });
    const fresh = await post('/api/auth/register', { email: 'fresh-face@example.org', password: 'some fine password' });
    expect(taken.status).toBe(202);
    expect(fresh.status).toBe(202);
    expect(await taken.text()).toBe(await fresh.text());
    expect(taken.headers.get('set-cookie')).toBeNull();
    await waitForLink(mail, 'fresh-face@example.org', '/verify');
    // The owner hears that someone tried, with a reset link in case it was them; no sign-up link.
    await waitForLink(mail, 'demo@example.com', '/reset');
    expect(mail().filter((m) => m.to === 'demo@example.com' && m.text.includes('/verify#'))).toEqual([]);
  });
});

describe('enumeration-safe login and the throttle (P3, P4, P5)', () => {
  it('P3: unknown user, wrong password and a disabled account get the same status, body and similar timing', async () => {
    const cookie = await register('tobedisabled');
    expect((await post('/api/account/disable', { password: PASSWORD }, { cookie })).status).toBe(200);
    const attempt = async (username: string, password: string) => {
      const start = performance.now();
      const res = await post('/api/auth/login', { username, password }, fromNewAddress());
      return {
        ms: performance.now() - start,
        status: res.status,
        body: await res.text(),
        cookie: res.headers.get('set-cookie'),
      };
    };
    const runs = { wrong: [] as number[], unknown: [] as number[], disabled: [] as number[] };
    const bodies = new Set<string>();
    for (let i = 0; i < 5; i++) {
      for (const [kind, username, password] of [
        ['wrong', 'demo', 'not the password'],
        ['unknown', `nobody${i}`, 'not the password'],
        ['disabled', 'tobedisabled', PASSWORD], // the right password of a disabled account
      ] as const) {
        const r = await attempt(username, password);
        expect(r.status).toBe(401);
        expect(r.cookie).toBeNull();
        bodies.add(r.body);
        runs[kind].push(r.ms);
      }
    }
    expect([...bodies]).toEqual([
      JSON.stringify({ error: { code: 'INVALID_CREDENTIALS', message: 'Wrong username or password.' } }),
    ]);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2] ?? 0;
    for (const kind of ['unknown', 'disabled'] as const) {
      const ratio = median(runs[kind]) / median(runs.wrong);
      expect(ratio, kind).toBeGreaterThan(0.5);
      expect(ratio, kind).toBeLessThan(2);
    }
  });

  it('P4: a spray over many addresses slows the account with 429 + Retry-After, the same for a name that does not exist', async () => {
    await register('sprayed', 'the real password 1');
    const spray = async (username: string) => {
      const answers: { status: number; retryAfter: string | null; body: string }[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await post('/api/auth/login', { username, password: `guess number ${i}` }, fromNewAddress());
        answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() });
      }
      return answers;
    };
    const real = await spray('sprayed');
    const ghost = await spray('ghost-account');
    expect(real.map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 401, 429, 429]);
    expect(ghost).toEqual(real); // the throttle does not reveal which accounts exist
    expect(real[6]?.retryAfter).toBe('1');
    expect(JSON.parse(real[6]?.body ?? '{}').error.code).toBe('TOO_MANY_ATTEMPTS');
    // Even the right password waits while the back-off runs on an unknown address.
    const blocked = await post(
      '/api/auth/login',
      { username: 'sprayed', password: 'the real password 1' },
      fromNewAddress(),
    );
    expect(blocked.status).toBe(429);
  });

  it('P4: the real user on an address they used before is not locked out by the spray', async () => {
    const home = fromNewAddress();
    await register('victim', 'victim password 1', home); // known from here
    for (let i = 0; i < 12; i++)
      await post('/api/auth/login', { username: 'victim', password: `guess ${i}` }, fromNewAddress());
    expect((await post('/api/auth/login', { username: 'victim', password: 'x' }, fromNewAddress())).status).toBe(429);
    expect(await alive(await login('victim', 'victim password 1', home))).toBe(true);
  });

  it('P4: X-Forwarded-For counts only from a trusted proxy (this test server trusts 127.0.0.1)', async () => {
    const log = logLines.length;
    await post('/api/auth/login', { username: 'demo', password: 'nope nope' }, { 'x-forwarded-for': '203.0.113.99' });
    expect(logLines.slice(log).join('')).toContain('"ip":"203.0.113.99"');
  });

  it('P5: authentication events are logged with no secret in any line', async () => {
    const cookie = await login('demo');
    await get('/api/me', { cookie, authorization: 'Bearer abc.def.ghi' });
    await post('/api/auth/login', { username: 'demo', password: 'guess-123' }, fromNewAddress());
    await post('/api/auth/logout', undefined, { cookie });
    const log = logLines.join('');
    for (const event of ['login.success', 'login.failure', 'logout', 'register', 'account.disable'])
      expect(log).toContain(`"event":"${event}"`);
    expect(log).toContain('"reason":"unknown-user"');
    for (const secret of [PASSWORD, 'guess-123', 'the real password 1', cookie.slice(15), 'abc.def.ghi'])
      expect(log).not.toContain(secret);
  });
});

describe('CSRF (X1, X2, X3, X5)', () => {
  it('X1: refuses cross-site and same-site unsafe requests before they change anything, and sends Vary', async () => {
    const cookie = await login('demo');
    for (const site of ['cross-site', 'same-site']) {
      const res = await post('/api/auth/logout', undefined, { cookie, 'sec-fetch-site': site });
      expect(await codeOf(res)).toEqual({ status: 403, code: 'CSRF_REJECTED' });
      expect(res.headers.get('clear-site-data')).toBeNull();
    }
    expect(await alive(cookie)).toBe(true);
    expect((await get('/api/me', { cookie })).headers.get('vary')).toContain('Sec-Fetch-Site, Origin');
    expect((await post('/api/auth/logout', undefined, { cookie, 'sec-fetch-site': 'none' })).status).toBe(200);
  });

  it('X2: without fetch metadata, only an exact configured Origin passes; no Origin at all is refused', async () => {
    const cookie = await login('demo');
    const bare = (headers: Headers) =>
      fetch(`${base}/api/sessions/revoke-others`, { method: 'POST', headers: { cookie, ...headers } });
    for (const origin of ['http://app.test.attacker.com', 'https://app.test', 'http://app.test:8080', 'null'])
      expect(await codeOf(await bare({ origin })), origin).toEqual({ status: 403, code: 'CSRF_REJECTED' });
    expect(await codeOf(await bare({}))).toEqual({ status: 403, code: 'CSRF_REJECTED' });
    // The Host header does not decide: a request claiming to come from the host it targets is refused.
    expect((await bare({ origin: base })).status).toBe(403);
    expect((await bare({ origin: ORIGIN })).status).toBe(200);
  });

  it('X3: no state change on GET, and JSON endpoints refuse form and text bodies with 415', async () => {
    const cookie = await login('demo');
    expect((await get('/api/auth/logout', { cookie })).status).toBe(404);
    expect(await alive(cookie)).toBe(true);
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x'])
      expect(await codeOf(await post('/api/auth/login', 'username=demo', { 'content-type': type })), type).toEqual({
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
  });

  it('X5: CORS is off; a hostile Origin is never echoed back', async () => {
    const preflight = await fetch(`${base}/api/auth/login`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const res = await get('/api/me', { origin: 'https://evil.example' });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });
});

describe('security headers (H1–H7)', () => {
  it('sends the same headers on 200, 401, 404, 415 and 500, with a fresh nonce each time and no HSTS over http', async () => {
    const responses = [
      await get('/'),
      await get('/api/me'),
      await get('/nowhere'),
      await post('/api/auth/login', 'x', { 'content-type': 'text/plain' }),
      await get('/boom'),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 415, 500]);
    const nonces = new Set<string>();
    for (const res of responses) {
      const h = Object.fromEntries(res.headers);
      expect(h).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'same-origin',
        'x-xss-protection': '0',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
      });
      expect(h['strict-transport-security']).toBeUndefined();
      expect(h['x-powered-by']).toBeUndefined();
      expect(h['content-type']).toMatch(/; charset=utf-8$/);
      const csp = h['content-security-policy'] ?? '';
      expect(csp).toMatch(/object-src 'none'.*base-uri 'none'.*frame-ancestors 'none'/);
      expect(csp).not.toContain('unsafe-inline');
      nonces.add(/'nonce-([^']+)'/.exec(csp)?.[1] ?? '');
    }
    expect(nonces.size).toBe(5);
    expect(await codeOf(responses[4] as Response)).toEqual({ status: 500, code: 'INTERNAL_ERROR' });
  });

  it('H1: HSTS when the trusted proxy says the client used HTTPS', async () => {
    const res = await get('/', { 'x-forwarded-proto': 'https' });
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });

  it('H2: the page has no inline script or style; its own files carry the response nonce', async () => {
    const res = await get('/');
    const nonce = /'nonce-([^']+)'/.exec(res.headers.get('content-security-policy') ?? '')?.[1];
    const html = await res.text();
    expect(html).toContain(`<script src="/login-page.js" nonce="${nonce}"></script>`);
    expect(html).toContain(`<link rel="stylesheet" href="/login-page.css" nonce="${nonce}">`);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/<style|\son\w+=/);
    const script = await get('/login-page.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain("call('/api/auth/login'");
    expect((await get('/login-page.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('H2: the report endpoint logs violations (without query strings) and parses only report types', async () => {
    const before = logLines.length;
    const res = await fetch(`${base}/api/csp-report`, {
      method: 'POST',
      headers: { 'content-type': 'application/csp-report' },
      body: JSON.stringify({
        'csp-report': {
          'document-uri': `${base}/?secret=1`,
          'blocked-uri': 'https://cdn.evil/x.js',
          'effective-directive': 'script-src-elem',
        },
      }),
    });
    expect(res.status).toBe(204);
    const line = logLines.slice(before).join('');
    expect(line).toContain('"event":"csp.violation"');
    expect(line).toContain('"blocked":"https://cdn.evil/x.js"');
    expect(line).not.toContain('secret=1');
    expect((await post('/api/auth/login', '{}', { 'content-type': 'application/csp-report' })).status).toBe(415);
  });
});

describe('step-up, sessions, password change and disable (F1, F3, R2, R3)', () => {
  it('F3: after the fresh window, the API key is masked and password change needs re-authentication', async () => {
    const cookie = await register('stepper', 'stepper password 1');
    expect((await json(await get('/api/account/api-key', { cookie }))).masked).toBe(true); // not asked to reveal
    const fresh = await json(await get('/api/account/api-key?reveal=1', { cookie }));
    expect(fresh).toEqual({ apiKey: expect.stringMatching(/^lk_live_[\w-]{32}$/), masked: false });
    clock += 11 * 60_000; // past the 10-minute window
    const masked = await json(await get('/api/account/api-key?reveal=1', { cookie }));
    expect(masked.masked).toBe(true);
    expect(masked.apiKey).toBe(`lk_live_••••••••${fresh.apiKey.slice(-4)}`);
    const change = { currentPassword: 'stepper password 1', newPassword: 'stepper password 2' };
    expect(await codeOf(await post('/api/account/password', change, { cookie }))).toEqual({
      status: 403,
      code: 'REAUTHENTICATION_REQUIRED',
    });
    expect((await post('/api/account/api-key/rotate', undefined, { cookie })).status).toBe(403);
    expect(await codeOf(await post('/api/auth/reauthenticate', { password: 'wrong one' }, { cookie }))).toEqual({
      status: 401,
      code: 'INVALID_CREDENTIALS',
    });
    const reauth = await post('/api/auth/reauthenticate', { password: 'stepper password 1' }, { cookie });
    expect(reauth.status).toBe(200);
    const stepped = cookieOf(reauth);
    expect(stepped).not.toBe(cookie);
    expect(await alive(cookie)).toBe(false); // F1: re-authentication rotates the id
    expect((await json(await get('/api/account/api-key?reveal=1', { cookie: stepped }))).apiKey).toBe(fresh.apiKey);
    expect((await post('/api/account/password', change, { cookie: stepped })).status).toBe(200);
  });

  it('R3: a password change needs the current password, ends the other sessions and rotates this one', async () => {
    const mine = await register('changer', 'changer password 1');
    const other = await login('changer', 'changer password 1');
    const wrong = await post(
      '/api/account/password',
      { currentPassword: 'nope', newPassword: 'changer password 2' },
      { cookie: mine },
    );
    expect(await codeOf(wrong)).toEqual({ status: 401, code: 'INVALID_CREDENTIALS' });
    const weak = await post(
      '/api/account/password',
      { currentPassword: 'changer password 1', newPassword: 'password1' },
      { cookie: mine },
    );
    expect(await codeOf(weak)).toEqual({ status: 400, code: 'PASSWORD_TOO_COMMON' });
    const res = await post(
      '/api/account/password',
      { currentPassword: 'changer password 1', newPassword: 'changer password 2' },
      { cookie: mine },
    );
    expect(res.status).toBe(200);
    expect((await json(res)).revokedSessions).toBe(1);
    const rotated = cookieOf(res);
    expect(await alive(other)).toBe(false);
    expect(await alive(mine)).toBe(false);
    expect(await alive(rotated)).toBe(true);
    expect((await post('/api/auth/login', { username: 'changer', password: 'changer password 1' })).status).toBe(401);
    expect(await alive(await login('changer', 'changer password 2'))).toBe(true);
  });

  it('R3: lists the sessions (this one marked), revokes one and all others, never another user’s', async () => {
    const a = await register('lister');
    const b = await login('lister');
    const c = await login('lister');
    const list = (await json(await get('/api/sessions', { cookie: a }))).sessions;
    expect(list).toHaveLength(3);
    expect(list.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    const bId = b.slice(15, 37);
    expect((await send('DELETE', `/api/sessions/${bId}`, undefined, { cookie: a })).status).toBe(200);
    expect(await alive(b)).toBe(false);
    const stranger = await login('demo');
    const strangerId = stranger.slice(15, 37);
    expect(await codeOf(await send('DELETE', `/api/sessions/${strangerId}`, undefined, { cookie: a }))).toEqual({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(await alive(stranger)).toBe(true);
    expect((await send('DELETE', '/api/sessions/not-an-id', undefined, { cookie: a })).status).toBe(400);
    expect(await json(await post('/api/sessions/revoke-others', undefined, { cookie: a }))).toEqual({ revoked: 1 });
    expect(await alive(c)).toBe(false);
    expect(await alive(a)).toBe(true);
  });

  it('R2: disabling an account ends every one of its sessions, and it cannot log in again', async () => {
    const a = await register('leaver', 'leaver password 1');
    const b = await login('leaver', 'leaver password 1');
    expect((await post('/api/account/disable', undefined, { cookie: a })).status).toBe(400); // the password is needed
    expect((await post('/api/account/disable', { password: 'not it at all' }, { cookie: a })).status).toBe(401);
    const res = await post('/api/account/disable', { password: 'leaver password 1' }, { cookie: a });
    expect(res.status).toBe(200);
    expect(res.headers.get('clear-site-data')).toBe('"cache", "cookies", "storage"');
    expect(await alive(a)).toBe(false);
    expect(await alive(b)).toBe(false);
    expect((await post('/api/auth/login', { username: 'leaver', password: 'leaver password 1' })).status).toBe(401);
  });
});

describe('bad input gets a 4xx with a stable code', () => {
  it('answers malformed bodies, headers and paths without a 500', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [post('/api/auth/login', '{"username": "demo",'), 400, 'INVALID_JSON'],
      [post('/api/auth/login', { username: 'demo' }), 400, 'INVALID_INPUT'],
      [post('/api/auth/login', { username: 42, password: 'x' }), 400, 'INVALID_INPUT'],
      [post('/api/auth/login', { username: 'x'.repeat(255), password: 'x' }), 400, 'INVALID_INPUT'],
      [post('/api/auth/login', { username: 'demo', password: 'x'.repeat(20_000) }), 413, 'PAYLOAD_TOO_LARGE'],
      [
        post('/api/auth/login', '{"__proto__": {"admin": true}, "username": "demo", "password": "x"}'),
        400,
        'INVALID_JSON',
      ],
      [post('/api/auth/login', '[]'), 400, 'INVALID_INPUT'],
      [post('/api/auth/login', 'null'), 400, 'INVALID_INPUT'],
      [get('/api/nope'), 404, 'NOT_FOUND'],
      [get('/avatars/..%2f..%2fetc%2fpasswd.svg'), 404, 'NOT_FOUND'],
      [get('/api/me', { cookie: `__Host-session=${'x'.repeat(3000)}` }), 401, 'SESSION_REQUIRED'],
      [get('/api/me', { cookie: `pad=${'y'.repeat(64 * 1024)}` }), 431, 'HEADERS_TOO_LARGE'],
    ];
    for (const [pending, status, code] of cases) expect(await codeOf(await pending)).toEqual({ status, code });
  });
});

describe('notes API (versions and conflicts)', () => {
  const note = (over: Record<string, unknown> = {}) => ({
    title: 'Groceries',
    body: 'eggs, 1.5 kg flour',
    pinned: true,
    priority: 3,
    tags: ['home', 'list'],
    updatedAt: 1_764_400_000_123,
    baseVersion: null,
    ...over,
  });

  it('creates, lists with types intact, updates on the right version, and reports a conflict with the server copy', async () => {
    const cookie = await register('noter');
    const created = await send('PUT', '/api/notes/n-1', note(), { cookie });
    expect(created.status).toBe(200);
    expect((await json(created)).note).toEqual({ ...note(), baseVersion: undefined, id: 'n-1', version: 1 });
    const listed = (await json(await get('/api/notes', { cookie }))).notes;
    expect(listed).toEqual([
      {
        id: 'n-1',
        title: 'Groceries',
        body: 'eggs, 1.5 kg flour',
        pinned: true,
        priority: 3,
        tags: ['home', 'list'],
        updatedAt: 1_764_400_000_123,
        version: 1,
      },
    ]);
    const v2 = await send('PUT', '/api/notes/n-1', note({ title: 'Shopping', baseVersion: 1 }), { cookie });
    expect((await json(v2)).note.version).toBe(2);
    // Another device still on version 1: its write is refused and shown the server's copy.
    const stale = await send('PUT', '/api/notes/n-1', note({ title: 'Mine', baseVersion: 1 }), { cookie });
    expect(stale.status).toBe(409);
    const body = await json(stale);
    expect(body.error.code).toBe('CONFLICT');
    expect(body.current).toMatchObject({ title: 'Shopping', version: 2 });
    // Creating an id that exists is a conflict too, never an overwrite.
    expect((await send('PUT', '/api/notes/n-1', note(), { cookie })).status).toBe(409);
    expect((await send('DELETE', '/api/notes/n-1?baseVersion=1', undefined, { cookie })).status).toBe(409);
    expect((await send('DELETE', '/api/notes/n-1?baseVersion=2', undefined, { cookie })).status).toBe(200);
    expect((await json(await get('/api/notes', { cookie }))).notes).toEqual([]);
  });

  it('keeps each user to their own notes and validates every field', async () => {
    const a = await register('noter-a');
    const b = await register('noter-b');
    await send('PUT', '/api/notes/shared-id', note(), { cookie: a });
    expect((await json(await get('/api/notes', { cookie: b }))).notes).toEqual([]);
    expect((await send('PUT', '/api/notes/shared-id', note({ baseVersion: 1 }), { cookie: b })).status).toBe(409);
    for (const bad of [
      { priority: 9 },
      { priority: 1.5 },
      { pinned: 'yes' },
      { tags: Array(11).fill('t') },
      { title: 'x'.repeat(201) },
      { evil: 1 },
    ])
      expect(
        (await send('PUT', '/api/notes/n-2', note(bad), { cookie: a })).status,
        JSON.stringify(bad).slice(0, 40),
      ).toBe(400);
    expect((await send('PUT', '/api/notes/bad%20id', note(), { cookie: a })).status).toBe(400);
    expect((await send('PUT', '/api/notes/n-3', note())).status).toBe(401);
  });
});
