/**
 * The behaviour every framework adapter must show over a real socket. Each adapter's test builds
 * the same app with `start(sessions, fixture)` and runs this suite against it:
 *
 *   first, on every request: createXHardening({ ...fixture.hardening, isHttps: <fixture.https of
 *     the request's x-test-https header> }); then, in this order:
 *   GET  /bare            → {ok: true}, without the session middleware
 *   GET  /misconfigured   → requireSession, without the session middleware (a wiring bug: 500)
 *   the session middleware, then:
 *   POST /login {userId, remember?, appCookie?} → with appCookie, the app first sets its own
 *                         cookie `app=1` the framework's way; then login(…, {remember}) → {userId}
 *   GET  /me              → requireSession → {userId, sessionId}
 *   POST /logout          → logout → {revoked}
 *   POST /reauthenticate  → reauthenticate → {reauthenticated: true | false}
 *   POST /fresh           → requireFreshSession → {ok: true}
 *   POST /echo, /exempt   → fixture.ran(path) → {ok: true}   (/exempt is in csrfExempt)
 *   GET  /api/data        → {ok: true}                     (/api is in noStore)
 *   GET  /page            → text/html with `<script nonce="${getNonce(request)}"></script>`
 *   GET  /teapot          → sendError(response, fixture.teapot.answer, fixture.teapot.headers)
 *   GET  /fail            → throws new Error(fixture.secret) (errorHandler answers)
 *   anything else         → notFound
 * The server is created with createServerLimits().serverOptions (Node's own Host check off) and
 * handleClientError.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceBinding, type DeviceBinding } from '../dbsc/binding.js';
import { createSoftDeviceKey, readChallengeHeader, readRegistrationHeader } from '../dbsc/testing.js';
import type { ErrorAnswer } from '../http/error-codes.js';
import type { CspViolation } from '../http/headers.js';
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager, type SessionManager } from '../sessions/manager.js';
import { createMemoryStore } from '../stores/memory.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionStore } from '../stores/store.js';
import { MINUTE, manualClock } from './clock.js';
import { cookiePair, type Reply, send, sendRaw } from './http.js';

export interface RunningApp {
  port: number;
  close(): Promise<void>;
}

export interface ContractFixture {
  /** The hardening options every adapter's app uses, `isHttps` aside (see `https`). */
  hardening: {
    csrf: { origins: string[] };
    csrfExempt: string[];
    cspReport: { onReport(violations: CspViolation[]): void };
    jsonOnly: true;
    noStore: string[];
  };
  /** `isHttps` reads this of the request's `x-test-https` header: it stands for a TLS socket. */
  https(header: string | string[] | undefined): boolean;
  /** /echo and /exempt call it with their path, so a test sees whether a handler ran. */
  ran(path: string): void;
  /** What GET /teapot answers, and the headers it passes beside it. */
  teapot: { answer: ErrorAnswer; headers: Record<string, string> };
  /** The message of the error GET /fail throws: it must never reach the client. */
  secret: string;
}

const ORIGIN = 'http://app.test';
/** What a browser sends with a same-origin fetch. */
const SAME = { 'sec-fetch-site': 'same-origin' };
const NONCE = /'nonce-([A-Za-z0-9+/]{22}==)'/;

const setCookie = (maxAge: number) =>
  new RegExp(
    `^__Host-session=[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}; Max-Age=${maxAge}; Path=/; HttpOnly; Secure; SameSite=Strict$`,
  );
/** A login's cookie lives as long as the session's absolute limit (12 h by default). */
const SET_COOKIE = setCookie(43_200);
const EXPIRED =
  /^__Host-session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict$/;

/** What `start` passes to the adapter's `createXSessions` besides the manager. */
export interface ContractSessionsOptions {
  deviceBinding?: DeviceBinding;
}

export function runAdapterContract(
  name: string,
  start: (sessions: SessionManager, fixture: ContractFixture, options?: ContractSessionsOptions) => Promise<RunningApp>,
): void {
  // Both paths of the session hook: SQLite answers at once (`getNow`), so most requests pass
  // without a promise; hidden behind a promise, it stands for PostgreSQL and Redis.
  describe.each([
    ['', (store: SessionStore) => store],
    [', a store that answers only by promise', ({ getNow: _, ...waiting }: SessionStore): SessionStore => waiting],
  ])(`${name} adapter over a real socket%s`, (_shape, shape) => {
    const dir = mkdtempSync(join(tmpdir(), `latchkey-${name}-`));
    const db = new Database(join(dir, 'sessions.db'));
    const clock = manualClock(Date.now());
    const sessions = createSessionManager({
      store: shape(createSqliteStore(db)),
      keys: [generateSigningKey()],
      sweepInterval: 0,
      now: clock.now,
    });
    const ran: string[] = [];
    const reports: CspViolation[][] = [];
    const fixture: ContractFixture = {
      hardening: {
        csrf: { origins: [ORIGIN] },
        csrfExempt: ['/exempt'],
        cspReport: { onReport: (violations) => reports.push(violations) },
        jsonOnly: true,
        noStore: ['/api'],
      },
      https: (header) => header === '1',
      ran: (path) => ran.push(path),
      teapot: {
        answer: { status: 418, code: 'TEAPOT', message: 'I am a teapot.' },
        // no-store stays: an error answer is never cached, whatever the caller passes.
        headers: { 'retry-after': '7', 'cache-control': 'public, max-age=60' },
      },
      secret: 'a-secret-in-an-error-message',
    };
    let app: RunningApp;
    let base: string;
    beforeAll(async () => {
      app = await start(sessions, fixture);
      base = `http://127.0.0.1:${app.port}`;
    });
    afterAll(async () => {
      await app.close();
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const login = async (userId: string, cookie?: string, remember?: boolean) => {
      const reply = await send(`${base}/login`, {
        method: 'POST',
        body: remember === undefined ? { userId } : { userId, remember },
        headers: cookie ? { ...SAME, cookie } : SAME,
      });
      expect(reply.status).toBe(200);
      return { reply, cookie: cookiePair(reply.setCookie[0]) };
    };
    const me = (cookie: string | string[]) => send(`${base}/me`, { headers: { cookie } });
    const expectRejected = async (cookie: string | string[]) => {
      const reply = await me(cookie);
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual({ error: { code: 'SESSION_REQUIRED', message: expect.any(String) } });
    };

    it('login → authenticated request → logout → rejected', async () => {
      const { reply, cookie } = await login('alice');
      expect(reply.json).toEqual({ userId: 'alice' });
      expect(reply.setCookie).toHaveLength(1);
      expect(reply.setCookie[0]).toMatch(SET_COOKIE);
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.text).not.toContain(cookie.split('=')[1]);

      const ok = await me(cookie);
      expect(ok.status).toBe(200);
      expect(ok.json.userId).toBe('alice');
      expect(ok.setCookie).toEqual([]); // no per-request Set-Cookie

      const out = await send(`${base}/logout`, { method: 'POST', headers: { ...SAME, cookie } });
      expect(out.status).toBe(200);
      expect(out.json).toEqual({ revoked: true });
      expect(out.setCookie[0]).toMatch(EXPIRED);
      expect(out.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
      expect(out.headers['cache-control']).toBe('no-store');

      // R1: the captured cookie is useless after logout, and the 401 expires it in the browser.
      const replay = await me(cookie);
      expect(replay.status).toBe(401);
      expect(replay.setCookie[0]).toMatch(EXPIRED);
    });

    it('without a cookie: 401 with a code and no Set-Cookie', async () => {
      const reply = await me([]);
      expect(reply.status).toBe(401);
      expect(reply.json.error.code).toBe('SESSION_REQUIRED');
      expect(reply.setCookie).toEqual([]);
      expect((await send(`${base}/bare`)).json).toEqual({ ok: true });
    });

    it('F1: the session a request carried before login is dead after it', async () => {
      const before = await login('bob');
      const after = await login('bob', before.cookie);
      expect(after.cookie).not.toBe(before.cookie);
      await expectRejected(before.cookie);
      expect((await me(after.cookie)).status).toBe(200);
    });

    it('S4: a cookie value the server never issued is not adopted', async () => {
      const planted =
        '__Host-session=AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      const { cookie } = await login('carol', planted);
      expect(cookie).not.toBe(planted);
      await expectRejected(planted);
    });

    it('S3: tampered cookies are rejected', async () => {
      const { cookie } = await login('dave');
      const value = cookie.slice('__Host-session='.length);
      for (const i of [0, 10, 21, 22, 23, 40, 45, 46, 60, 88]) {
        const c = value[i] === 'A' ? 'B' : 'A';
        await expectRejected(`__Host-session=${value.slice(0, i)}${c}${value.slice(i + 1)}`);
      }
      expect((await me(cookie)).status).toBe(200);
    });

    it('C5: two session cookies or a look-alike name are not authenticated', async () => {
      const { cookie } = await login('erin');
      const value = cookie.slice('__Host-session='.length);
      await expectRejected(`${cookie}; ${cookie}`);
      await expectRejected([cookie, cookie]);
      await expectRejected(`__HOST-session=${value}`);
      await expectRejected(`__host-session=${value}; ${cookie}`);
      expect((await me(`a=1; ${cookie}; b=2`)).status).toBe(200);
    });

    it('hostile cookie headers get a 4xx with a code, never a 500', async () => {
      const { cookie } = await login('frank');
      const value = cookie.slice('__Host-session='.length);
      // A 64 KiB Cookie header: over Node's header limit, answered 431 with a code.
      const huge = await send(`${base}/me`, { headers: { cookie: `${cookie}; pad=${'x'.repeat(64 * 1024)}` } });
      expect(huge.status).toBe(431);
      expect(huge.json.error.code).toBe('HEADERS_TOO_LARGE');
      // 200 cookies without ours, then with ours among them.
      const many = Array.from({ length: 200 }, (_, i) => `c${i}=v${i}`);
      await expectRejected(many.join('; '));
      expect((await me([...many, cookie].join('; '))).status).toBe(200);
      // Truncated values.
      for (const n of [0, 1, 22, 23, 45, 46, 88]) await expectRejected(`__Host-session=${value.slice(0, n)}`);
      // Junk.
      for (const junk of [
        ';;;',
        '=',
        '__Host-session',
        '__Host-session=',
        '__Host-session="a.b.c"',
        `__Host-session=${value}%41`,
      ]) {
        await expectRejected(junk);
      }
    });

    it('non-ASCII bytes in the Cookie header get a 4xx with a code', async () => {
      const { cookie } = await login('grace');
      for (const bytes of [
        Buffer.from([0xc3, 0xa9, 0xe2, 0x9c, 0x93]),
        Buffer.from([0xff, 0xfe, 0x80]),
        Buffer.from('ü', 'latin1'),
      ]) {
        const raw = Buffer.concat([
          Buffer.from(`GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: ${cookie.slice(0, 40)}`),
          bytes,
          Buffer.from(`${cookie.slice(40)}\r\n\r\n`),
        ]);
        const reply = await sendRaw(app.port, raw);
        expect(reply.status).toBeGreaterThanOrEqual(400);
        expect(reply.status).toBeLessThan(500);
        expect(reply.text).toMatch(/"code":"(SESSION_REQUIRED|BAD_REQUEST)"/);
      }
      // A NUL byte is refused by Node's parser itself: still a coded 400, not a 500.
      const nul = await sendRaw(app.port, Buffer.from(`GET /me HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\0\r\n\r\n`));
      expect(nul.status).toBe(400);
      expect(nul.text).toContain('"code":"BAD_REQUEST"');
    });

    it('a body that is not JSON gets 400 INVALID_JSON', async () => {
      const reply = await send(`${base}/login`, {
        method: 'POST',
        body: '{"userId": ',
        headers: { ...SAME, 'content-type': 'application/json' },
      });
      expect(reply.status).toBe(400);
      expect(reply.json.error.code).toBe('INVALID_JSON');
    });

    const post = (path: string, headers: Record<string, string>, body?: unknown) =>
      send(`${base}${path}`, { method: 'POST', headers, body });
    /** The security headers every answer carries; returns its CSP nonce. */
    const expectHardened = (reply: Reply): string => {
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['x-frame-options']).toBe('DENY');
      expect(reply.headers['referrer-policy']).toBe('same-origin');
      expect(reply.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(reply.headers.vary).toContain('Sec-Fetch-Site, Origin');
      expect(reply.headers['x-powered-by']).toBeUndefined();
      const csp = String(reply.headers['content-security-policy']);
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain('report-uri /api/csp-report');
      const nonce = NONCE.exec(csp)?.[1] ?? '';
      expect(Buffer.from(nonce, 'base64')).toHaveLength(16);
      return nonce;
    };

    it('H1–H7, X1: every answer carries the headers and Vary, with a fresh nonce: 200, 401, 403, 404, 415, 418, 500', async () => {
      const answers: [number, Reply][] = [
        [200, await send(`${base}/bare`)],
        [401, await me([])],
        [403, await post('/echo', {}, {})],
        [404, await send(`${base}/nowhere`)],
        [415, await post('/echo', { ...SAME, 'content-type': 'text/plain' }, 'x')],
        [418, await send(`${base}/teapot`)],
        [500, await send(`${base}/fail`)],
      ];
      const nonces = new Set<string>();
      for (const [status, reply] of answers) {
        expect(reply.status).toBe(status);
        nonces.add(expectHardened(reply));
        expect(reply.headers['strict-transport-security']).toBeUndefined(); // plain http
      }
      expect(nonces.size).toBe(answers.length);
      expect((await send(`${base}/nowhere`)).json).toEqual({
        error: { code: 'NOT_FOUND', message: 'No such resource.' },
      });
      const failed = await send(`${base}/fail`);
      expect(failed.json.error.code).toBe('INTERNAL_ERROR');
      expect(failed.text).not.toContain(fixture.secret);
    });

    it('H1: HSTS only on answers that went out over HTTPS (isHttps), errors included', async () => {
      for (const path of ['/bare', '/nowhere', '/me']) {
        const reply = await send(`${base}${path}`, { headers: { 'x-test-https': '1' } });
        expect(reply.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
        expectHardened(reply);
      }
    });

    it('sendError answers with an app’s own ErrorAnswer and extra headers, always no-store', async () => {
      const reply = await send(`${base}/teapot`);
      expect(reply.status).toBe(418);
      expect(reply.json).toEqual({ error: { code: 'TEAPOT', message: 'I am a teapot.' } });
      expect(reply.headers['retry-after']).toBe('7');
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
    });

    it('X1, X2: the CSRF guard refuses before the handler runs (and before the body is parsed)', async () => {
      const before = ran.length;
      for (const headers of [
        {} as Record<string, string>,
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
        { 'sec-fetch-site': 'cross-site', origin: ORIGIN },
        { origin: `${ORIGIN}.attacker.example` },
        { origin: 'http://attacker.example', referer: `${ORIGIN}/` },
      ]) {
        const reply = await post('/echo', headers, '{"not json');
        expect(reply.status, JSON.stringify(headers)).toBe(403);
        expect(reply.json.error.code).toBe('CSRF_REJECTED');
      }
      const login = await post('/login', { 'sec-fetch-site': 'cross-site' }, { userId: 'mallory' });
      expect(login.status).toBe(403);
      expect(login.setCookie).toEqual([]);
      expect(ran.length).toBe(before); // no handler ran
      expect((await post('/echo', SAME, {})).status).toBe(200);
      expect((await post('/echo', { 'sec-fetch-site': 'none' }, {})).status).toBe(200);
      expect((await post('/echo', { origin: ORIGIN }, {})).status).toBe(200);
      expect((await post('/echo', { referer: `${ORIGIN}/notes?x=1` }, {})).status).toBe(200);
      expect(ran.slice(before)).toEqual(['/echo', '/echo', '/echo', '/echo']);
    });

    it('exempt paths are exact: /exempt passes cross-site, /exempt/x does not', async () => {
      const before = ran.length;
      expect((await post('/exempt', { 'sec-fetch-site': 'cross-site' }, {})).status).toBe(200);
      expect((await post('/exempt?next=1', { 'sec-fetch-site': 'cross-site' }, {})).status).toBe(200);
      expect((await post('/exempt/x', { 'sec-fetch-site': 'cross-site' }, {})).json.error.code).toBe('CSRF_REJECTED');
      expect((await post('/exemptx', { 'sec-fetch-site': 'cross-site' }, {})).json.error.code).toBe('CSRF_REJECTED');
      expect(ran.slice(before)).toEqual(['/exempt', '/exempt']);
    });

    it('X1: only POST to the CSP report path skips the guard: PUT, PATCH, DELETE there are refused cross-site', async () => {
      // The exemption is for browsers' report POSTs; another method on that path goes to the app's
      // router (an `/api/:id` route, say), so it gets the guard like any other unsafe request.
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        const reply = await send(`${base}/api/csp-report`, {
          method,
          // Node's client sends a DELETE body without a length unless told.
          headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/csp-report', 'content-length': '2' },
          body: '{}',
        });
        expect(reply.status, method).toBe(403);
        expect(reply.json.error.code).toBe('CSRF_REJECTED');
      }
    });

    it('H2: the hook answers the CSP report route: 204, violations to onReport, no CSRF refusal', async () => {
      const report = (body: string, type: string) =>
        post('/api/csp-report', { 'sec-fetch-site': 'cross-site', 'content-type': type }, body);
      const legacy = JSON.stringify({
        'csp-report': {
          'document-uri': `${ORIGIN}/notes?token=secret`,
          'blocked-uri': 'https://cdn.evil.example/x.js',
          'effective-directive': 'script-src-elem',
          disposition: 'enforce',
        },
      });
      const before = reports.length;
      const first = await report(legacy, 'application/csp-report');
      expect(first.status).toBe(204);
      expect(first.text).toBe('');
      expectHardened(first);
      const modern = [{ type: 'csp-violation', body: { effectiveDirective: 'style-src-attr', blockedURL: 'inline' } }];
      expect((await report(JSON.stringify(modern), 'application/reports+json')).status).toBe(204);
      expect(reports.slice(before)).toEqual([
        [
          {
            directive: 'script-src-elem',
            blocked: 'https://cdn.evil.example/x.js',
            document: `${ORIGIN}/notes`,
            disposition: 'enforce',
          },
        ],
        [{ directive: 'style-src-attr', blocked: 'inline', document: '', disposition: '' }],
      ]);
      // Only report types, at most 16 KiB, JSON: the rest is refused and nothing reaches onReport.
      expect((await report(legacy, 'text/plain')).json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect((await report('{"csp-report": ', 'application/csp-report')).json.error.code).toBe('INVALID_JSON');
      const big = JSON.stringify({ 'csp-report': { 'blocked-uri': 'x'.repeat(17 * 1024) } });
      expect((await report(big, 'application/csp-report')).status).toBe(413);
      // Chunked, so no Content-Length announces it: reading stops past 16 KiB.
      const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
      const chunked = await sendRaw(
        app.port,
        Buffer.from(
          'POST /api/csp-report HTTP/1.1\r\nHost: x\r\nContent-Type: application/csp-report\r\n' +
            `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk(big.slice(0, 9000))}${chunk(big.slice(9000))}0\r\n\r\n`,
        ),
      );
      expect(chunked.status).toBe(413);
      expect(chunked.text).toContain('"code":"PAYLOAD_TOO_LARGE"');
      expect(reports.length).toBe(before + 2);
      // Only POST: any other method is the app's (here: the JSON 404).
      expect((await send(`${base}/api/csp-report`)).status).toBe(404);
    });

    it('X3: with jsonOnly, a body that is not JSON gets 415 before the handler runs', async () => {
      const before = ran.length;
      for (const type of [
        'text/plain',
        'text/plain; charset=utf-8',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/csp-report',
        'application/jsonx',
      ]) {
        const reply = await post('/echo', { ...SAME, 'content-type': type }, '{}');
        expect(reply.status, type).toBe(415);
        expect(reply.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
      for (const type of ['application/json', 'application/json; charset=utf-8'])
        expect((await post('/echo', { ...SAME, 'content-type': type }, '{}')).status).toBe(200);
      expect((await post('/echo', SAME)).status).toBe(200); // no body, no type: nothing to refuse
      expect(ran.length - before).toBe(3);
    });

    it('C7: no-store on authenticated answers and under the noStore prefixes, without an ETag', async () => {
      const { cookie } = await login('judy');
      const mine = await me(cookie);
      expect(mine.status).toBe(200);
      expect(mine.headers['cache-control']).toBe('no-store');
      expect(mine.headers.etag).toBeUndefined();
      const api = await send(`${base}/api/data`);
      expect(api.json).toEqual({ ok: true });
      expect(api.headers['cache-control']).toBe('no-store');
      expect(api.headers.etag).toBeUndefined();
      // Spelled as a lenient router still routes it (Express ignores case; Fastify and Hono decode):
      // whatever answers, it is no-store.
      for (const path of ['/API/data', '/%61pi/data', '/Api/%64ata'])
        expect((await send(`${base}${path}`)).headers['cache-control'], path).toBe('no-store');
      // Outside /api, only a session makes an answer no-store.
      expect(String((await send(`${base}/page`)).headers['cache-control'])).not.toContain('no-store');
      expect((await send(`${base}/page`, { headers: { cookie } })).headers['cache-control']).toBe('no-store');
    });

    it('C7: no-store under the prefixes whatever form the request target takes (absolute-form, dot segments)', async () => {
      // RFC 9112 §3.2.2: servers accept `GET http://host/path`; Express and Fastify route it by its
      // path, so the prefix must match there too. Dot segments are resolved by WHATWG URL routers.
      for (const target of ['http://app.test/api/data', 'https://app.test/api/data', '/x/../api/data', '/api/./data']) {
        const reply = await sendRaw(
          app.port,
          Buffer.from(`GET ${target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`),
        );
        const [head = ''] = reply.text.split('\r\n\r\n');
        expect(head, target).toMatch(/^cache-control: no-store\r?$/im);
        expect(head, target).not.toMatch(/^etag:/im);
      }
    });

    it('getNonce gives the nonce of the same answer’s CSP', async () => {
      const page = await send(`${base}/page`);
      const nonce = expectHardened(page);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toBe(`<script nonce="${nonce}"></script>`);
    });

    it('F3: requireFreshSession wants a recent password; reauthenticate rotates the cookie and makes it fresh', async () => {
      const { cookie } = await login('kim');
      expect((await post('/fresh', { ...SAME, cookie })).status).toBe(200); // fresh from the login
      clock.advance(11 * MINUTE); // past freshFor (10 min), inside the idle timeout
      const stale = await post('/fresh', { ...SAME, cookie });
      expect(stale.status).toBe(403);
      expect(stale.json.error.code).toBe('REAUTHENTICATION_REQUIRED');
      expect((await post('/fresh', SAME)).json.error.code).toBe('SESSION_REQUIRED');
      const step = await post('/reauthenticate', { ...SAME, cookie });
      expect(step.json).toEqual({ reauthenticated: true });
      // The rotated cookie lives as long as the session still may: 12 h less the 11 min gone.
      expect(step.setCookie[0]).toMatch(setCookie(43_200 - 11 * 60));
      expect(step.headers['cache-control']).toBe('no-store');
      const fresh = cookiePair(step.setCookie[0]);
      expect(fresh).not.toBe(cookie);
      await expectRejected(cookie); // F1: the old id is dead at once
      expect((await post('/fresh', { ...SAME, cookie: fresh })).json).toEqual({ ok: true });
      expect((await post('/reauthenticate', SAME)).json).toEqual({ reauthenticated: false });
    });

    it('remember me: login({ remember: true }) gives the longer limits, to the session and its cookie', async () => {
      const remembered = await login('rory', undefined, true);
      expect(remembered.reply.setCookie[0]).toMatch(setCookie(30 * 24 * 3600));
      const ordinary = await login('oona', undefined, false);
      expect(ordinary.reply.setCookie[0]).toMatch(SET_COOKIE);
      clock.advance(2 * 60 * MINUTE); // two idle hours: past the ordinary 30 min, inside the remembered 7 days
      expect((await me(remembered.cookie)).json).toMatchObject({ userId: 'rory' });
      await expectRejected(ordinary.cookie);
      // Step-up is not relaxed for a remembered session: its password entry is two hours old.
      expect((await post('/fresh', { ...SAME, cookie: remembered.cookie })).status).toBe(403);
    });

    it('requireSession without the session middleware: 500 to the client, a ConfigurationError to the developer', async () => {
      const warnings: Error[] = [];
      const listen = (warning: Error) => warnings.push(warning);
      process.on('warning', listen);
      try {
        for (let i = 0; i < 2; i++) {
          const reply = await send(`${base}/misconfigured`);
          expect(reply.status).toBe(500);
          expect(reply.json.error.code).toBe('INTERNAL_ERROR');
          expectHardened(reply);
        }
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings).toHaveLength(1); // once, not once per request
        expect(warnings[0]?.name).toBe('ConfigurationError');
        expect((warnings[0] as Error & { code?: string }).code).toBe('CONFIG_INVALID');
        expect(warnings[0]?.message).toMatch(/^requireSession ran before the latchkey session middleware: /);
      } finally {
        process.off('warning', listen);
      }
    });

    it('HTTP/1.1 without Host: 400 BAD_REQUEST with the headers, never a bare answer', async () => {
      const reply = await sendRaw(app.port, Buffer.from('GET /bare HTTP/1.1\r\nConnection: close\r\n\r\n'));
      expect(reply.status).toBe(400);
      expect(reply.text).toMatch(/content-security-policy: default-src 'self'/i);
      expect(reply.text).toContain('"code":"BAD_REQUEST"');
      // HTTP/1.0 needs no Host.
      expect((await sendRaw(app.port, Buffer.from('GET /bare HTTP/1.0\r\n\r\n'))).status).toBe(200);
    });

    describe('device-bound sessions (latchkey/dbsc)', () => {
      const bound = createSessionManager({
        store: createMemoryStore(),
        keys: [generateSigningKey()],
        sweepInterval: 0,
      });
      const deviceBinding = createDeviceBinding(bound, {
        registerPath: '/device/register',
        refreshPath: '/device/refresh',
      });
      let dbscApp: RunningApp;
      let dbsc: string;
      beforeAll(async () => {
        dbscApp = await start(bound, fixture, { deviceBinding });
        dbsc = `http://127.0.0.1:${dbscApp.port}`;
      });
      afterAll(() => dbscApp.close());

      it('login offers registration; the registered key makes the bound cookie necessary; refresh renews it', async () => {
        const login = await send(`${dbsc}/login`, { method: 'POST', body: { userId: 'dora' }, headers: SAME });
        const session = cookiePair(login.setCookie[0]);
        const offer = readRegistrationHeader(login.headers['secure-session-registration'] as string);
        expect(offer.algorithms).toEqual(['ES256', 'RS256']);
        expect(offer.path).toBe('/device/register');
        // Before registration the session works as any other.
        expect((await send(`${dbsc}/me`, { headers: { cookie: session } })).status).toBe(200);
        const device = await createSoftDeviceKey();
        const registered = await send(`${dbsc}/device/register`, {
          method: 'POST',
          headers: { ...SAME, cookie: session, 'secure-session-response': await device.register(offer.challenge) },
        });
        expect(registered.status).toBe(200);
        expect(registered.headers['cache-control']).toBe('no-store');
        expect(registered.json).toMatchObject({
          refresh_url: '/device/refresh',
          credentials: [
            { type: 'cookie', name: '__Host-bound', attributes: 'Path=/; Secure; HttpOnly; SameSite=Strict' },
          ],
        });
        const sessionId = registered.json.session_identifier as string;
        expect(registered.setCookie[0]).toMatch(
          /^__Host-bound=\d+\.[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; Secure; HttpOnly; SameSite=Strict$/,
        );
        const boundCookie = cookiePair(registered.setCookie[0]);
        expect((await send(`${dbsc}/me`, { headers: { cookie: `${session}; ${boundCookie}` } })).json).toMatchObject({
          userId: 'dora',
          sessionId,
        });
        // The session cookie alone (a thief's copy) is not logged in, and the cookie is not expired.
        const alone = await send(`${dbsc}/me`, { headers: { cookie: session } });
        expect(alone.status).toBe(401);
        expect(alone.setCookie).toEqual([]);
        // Refresh: a challenge first, then the signed answer earns a new bound cookie.
        const ask = await send(`${dbsc}/device/refresh`, {
          method: 'POST',
          headers: { ...SAME, cookie: session, 'sec-secure-session-id': sessionId },
        });
        expect(ask.status).toBe(403);
        const { challenge, id } = readChallengeHeader(ask.headers['secure-session-challenge'] as string);
        expect(id).toBe(sessionId);
        const proof = await device.refresh(challenge);
        const renewed = await send(`${dbsc}/device/refresh`, {
          method: 'POST',
          headers: { ...SAME, cookie: session, 'sec-secure-session-id': sessionId, 'secure-session-response': proof },
        });
        expect(renewed.status).toBe(200);
        const next = cookiePair(renewed.setCookie[0]);
        expect((await send(`${dbsc}/me`, { headers: { cookie: `${session}; ${next}` } })).status).toBe(200);
        // The same proof again: the challenge is spent.
        const replay = await send(`${dbsc}/device/refresh`, {
          method: 'POST',
          headers: { ...SAME, cookie: session, 'sec-secure-session-id': sessionId, 'secure-session-response': proof },
        });
        expect(replay.status).toBe(403);
        expect(replay.json.error.code).toBe('DEVICE_CHALLENGE_EXPIRED');
        expect(replay.setCookie).toEqual([]);
        // Logout with both cookies ends the session and its binding.
        const out = await send(`${dbsc}/logout`, {
          method: 'POST',
          headers: { ...SAME, cookie: `${session}; ${next}` },
        });
        expect(out.json).toEqual({ revoked: true });
        const after = await send(`${dbsc}/device/refresh`, {
          method: 'POST',
          headers: { ...SAME, cookie: session, 'sec-secure-session-id': sessionId },
        });
        expect(after.json).toEqual({ session_identifier: sessionId, continue: false });
      });
    });

    it("login keeps a cookie the app set before it, and a dead session cookie's expiry gives way to the new one", async () => {
      const reply = await send(`${base}/login`, {
        method: 'POST',
        body: { userId: 'olga', appCookie: true },
        headers: { ...SAME, cookie: '__Host-session=forged.value.here' },
      });
      expect(reply.status).toBe(200);
      expect(reply.setCookie.filter((c) => c.startsWith('app=1'))).toHaveLength(1);
      const ours = reply.setCookie.filter((c) => c.startsWith('__Host-session='));
      // One per name: the dead cookie's expiry gives way to the new session's cookie, not beside it
      // (browsers keep the last, but a client or proxy that keeps the first would log the user out).
      expect(ours).toHaveLength(1);
      expect(ours.at(-1)).toMatch(SET_COOKIE);
      expect((await me(cookiePair(ours.at(-1)))).json.userId).toBe('olga');
    });

    // Last: it closes the store for good.
    it('a store that is down means 503 and not logged in, and the process lives on', async () => {
      const { cookie } = await login('heidi');
      db.close();
      const reply = await me(cookie);
      expect(reply.status).toBe(503);
      expect(reply.json.error.code).toBe('STORE_UNAVAILABLE');
      expect(reply.text).not.toContain(cookie.split('=')[1]);
      const again = await send(`${base}/login`, { method: 'POST', body: { userId: 'ivan' }, headers: SAME });
      expect(again.status).toBe(503);
      expect(again.setCookie).toEqual([]);
      expect((await send(`${base}/bare`)).status).toBe(200);
    });
  });
}
