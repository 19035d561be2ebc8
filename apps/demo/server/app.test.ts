import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createSqliteStore } from 'latchkey/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';
import { createUsers } from './users.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-demo-'));
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
const PASSWORD = 'correct horse battery staple';
let base = '';
let app: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  await users.upsert('demo', PASSWORD);
  app = await buildApp({ sessions, users, logger: { level: 'info', stream: logStream } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
// biome-ignore lint/suspicious/noExplicitAny: test reads JSON of several shapes
const json = async (res: Response): Promise<any> => res.json();
const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

describe('reference server', () => {
  it('logs in with the article paths, serves /api/me, logs out, and rejects the replay', async () => {
    const login = await post('/api/auth/login', { username: 'demo', password: PASSWORD });
    expect(login.status).toBe(200);
    const body = await json(login);
    expect(body).toEqual({ user: { id: expect.any(String), username: 'demo' } });
    const cookie = cookieOf(login);
    expect(cookie).toMatch(/^__Host-session=.{89}$/);
    expect(JSON.stringify(body)).not.toContain(cookie.slice(15));

    const me = await fetch(`${base}/api/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.headers.get('cache-control')).toBe('no-store');
    const meBody = await json(me);
    expect(meBody.user.username).toBe('demo');
    expect(Date.parse(meBody.session.expiresAt)).toBeGreaterThan(Date.now());

    const logout = await fetch(`${base}/api/auth/logout`, { method: 'POST', headers: { cookie } });
    expect(logout.status).toBe(200);
    expect(logout.headers.get('clear-site-data')).toBe('"cache", "cookies", "storage"');
    const replay = await fetch(`${base}/api/me`, { headers: { cookie } });
    expect(replay.status).toBe(401);
    expect((await json(replay)).error.code).toBe('SESSION_REQUIRED');
  });

  it('P3: unknown user and wrong password get the same status and body', async () => {
    const wrong = await post('/api/auth/login', { username: 'demo', password: 'not it' });
    const unknown = await post('/api/auth/login', { username: 'nobody', password: 'not it' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [a, b] = [await wrong.text(), await unknown.text()];
    expect(a).toBe(b);
    expect(JSON.parse(a).error.code).toBe('INVALID_CREDENTIALS');
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('bad input gets a 4xx with a stable code', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [post('/api/auth/login', '{"username": "demo",'), 400, 'INVALID_JSON'],
      [post('/api/auth/login', { username: 'demo' }), 400, 'INVALID_INPUT'],
      [post('/api/auth/login', { username: 42, password: 'x' }), 400, 'INVALID_INPUT'],
      [post('/api/auth/login', { username: 'x'.repeat(65), password: 'x' }), 400, 'INVALID_INPUT'],
      [
        post('/api/auth/login', 'username=demo&password=x', { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [post('/api/auth/login', 'hello', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [post('/api/auth/login', { username: 'demo', password: 'x'.repeat(20_000) }), 413, 'PAYLOAD_TOO_LARGE'],
      [
        post('/api/auth/login', '{"__proto__": {"admin": true}, "username": "demo", "password": "x"}'),
        400,
        'INVALID_JSON',
      ],
      [fetch(`${base}/api/nope`), 404, 'NOT_FOUND'],
      [fetch(`${base}/api/me`, { headers: { cookie: `__Host-session=${'x'.repeat(3000)}` } }), 401, 'SESSION_REQUIRED'],
      [fetch(`${base}/api/me`, { headers: { cookie: `pad=${'y'.repeat(64 * 1024)}` } }), 431, 'HEADERS_TOO_LARGE'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect({ status: res.status, code: (await json(res)).error?.code }).toEqual({ status, code });
    }
  });

  it('P5: authentication events are logged with no secret in any line', async () => {
    const login = await post('/api/auth/login', { username: 'demo', password: PASSWORD });
    const cookie = cookieOf(login);
    await fetch(`${base}/api/me`, { headers: { cookie, authorization: 'Bearer abc.def.ghi' } });
    await post('/api/auth/login', { username: 'demo', password: 'guess-123' });
    const log = logLines.join('');
    expect(log).toContain('"event":"login.success"');
    expect(log).toContain('"event":"login.failure"');
    for (const secret of [PASSWORD, 'guess-123', cookie.slice(15), 'abc.def.ghi']) expect(log).not.toContain(secret);
  });
});
