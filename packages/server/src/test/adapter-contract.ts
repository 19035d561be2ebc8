/**
 * The behaviour every framework adapter must show over a real socket. Each adapter's test builds
 * an app with the same four routes and runs this suite against it:
 *   GET /bare → {ok:true}; POST /login {userId} → {userId}; GET /me → {userId, sessionId} or 401;
 *   POST /logout → {revoked}.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager, type SessionManager } from '../sessions/manager.js';
import { createSqliteStore } from '../stores/sqlite.js';
import { cookiePair, send, sendRaw } from './http.js';

export interface RunningApp {
  port: number;
  close(): Promise<void>;
}

const SET_COOKIE =
  /^__Host-session=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Strict$/;
const EXPIRED =
  /^__Host-session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict$/;

export function runAdapterContract(name: string, start: (sessions: SessionManager) => Promise<RunningApp>): void {
  describe(`${name} adapter over a real socket`, () => {
    const dir = mkdtempSync(join(tmpdir(), `latchkey-${name}-`));
    const db = new Database(join(dir, 'sessions.db'));
    const sessions = createSessionManager({
      store: createSqliteStore(db),
      keys: [generateSigningKey()],
      sweepInterval: 0,
    });
    let app: RunningApp;
    let base: string;
    beforeAll(async () => {
      app = await start(sessions);
      base = `http://127.0.0.1:${app.port}`;
    });
    afterAll(async () => {
      await app.close();
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const login = async (userId: string, cookie?: string) => {
      const reply = await send(`${base}/login`, {
        method: 'POST',
        body: { userId },
        headers: cookie ? { cookie } : {},
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

      const out = await send(`${base}/logout`, { method: 'POST', headers: { cookie } });
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
        headers: { 'content-type': 'application/json' },
      });
      expect(reply.status).toBe(400);
      expect(reply.json.error.code).toBe('INVALID_JSON');
    });

    // Last: it closes the store for good.
    it('a store that is down means 503 and not logged in, and the process lives on', async () => {
      const { cookie } = await login('heidi');
      db.close();
      const reply = await me(cookie);
      expect(reply.status).toBe(503);
      expect(reply.json.error.code).toBe('STORE_UNAVAILABLE');
      expect(reply.text).not.toContain(cookie.split('=')[1]);
      const again = await send(`${base}/login`, { method: 'POST', body: { userId: 'ivan' } });
      expect(again.status).toBe(503);
      expect(again.setCookie).toEqual([]);
      expect((await send(`${base}/bare`)).status).toBe(200);
    });
  });
}
