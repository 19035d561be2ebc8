/**
 * The outside security review's findings (issue #13), each reproduced the way the reviewer did it:
 * over real sockets, against the reference server running as its own process. Every test here
 * failed on the code before its fix (docs/security.md lists each finding, its fix and its test).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devMail, waitForLink } from '../test/accounts.js';
import { freePort, type ServerProcess, startServerProcess } from '../test/server-process.js';

const PASSWORD = 'review demo password 1';
/** The throttle's defaults: 5 free failures, then one attempt per back-off; 2 checks in flight per account. */
const FREE = 5;
const IN_FLIGHT = 2;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over a given keep-alive agent (node:http, so sockets can be opened before the burst). */
function send(
  base: string,
  method: string,
  path: string,
  options: {
    body?: unknown;
    cookie?: string;
    agent?: Agent;
    headers?: Record<string, string>;
    /** The client's own address (any of 127.0.0.0/8): the server sees another client. */
    from?: string;
  } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        ...(options.agent ? { agent: options.agent } : {}),
        ...(options.from ? { localAddress: options.from, agent: false } : {}),
        headers: {
          origin: base,
          'sec-fetch-site': 'same-origin',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(options.cookie ? { cookie: `__Host-session=${options.cookie}` } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const cookieOf = (answer: Answer) =>
  /__Host-session=([^;]+)/.exec(String(answer.headers['set-cookie'] ?? ''))?.[1] ?? '';

/** Writes raw bytes on a new connection and reads until the server closes it. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c) => {
      out += c;
    });
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

const headerOf = (response: string, name: string) =>
  new RegExp(`^${name}: *(.*)$`, 'im').exec(response.split('\r\n\r\n')[0] ?? '')?.[1]?.trim();

/** A keep-alive agent with `count` sockets already open, so a burst arrives in the same instant. */
async function warmAgent(base: string, count: number): Promise<Agent> {
  const agent = new Agent({ keepAlive: true, maxSockets: count });
  await Promise.all(Array.from({ length: count }, () => send(base, 'GET', '/api/me', { agent })));
  return agent;
}

/** Passwords checked: a 401 (wrong) or a 200 (right); a 429 checked nothing. */
const checked = (by: Record<number, number>) => (by[401] ?? 0) + (by[200] ?? 0);

const tally = (answers: Answer[]) => {
  const by: Record<number, number> = {};
  for (const a of answers) by[a.status] = (by[a.status] ?? 0) + 1;
  return by;
};

/** Signs up through the routes and the dev inbox: register, the mailed link, verify. The verify answer. */
async function signUpFrom(base: string, username: string, from?: string): Promise<Answer> {
  const email = `${username}@example.org`;
  const res = await send(base, 'POST', '/api/auth/register', {
    body: { email, password: PASSWORD, username },
    ...(from ? { from } : {}),
  });
  if (res.status !== 202) throw new Error(`register ${username}: ${res.status} ${res.body}`);
  const token = await waitForLink(devMail(base, email), email, '/verify');
  const verified = await send(base, 'POST', '/api/auth/verify', {
    body: { token, password: PASSWORD },
    ...(from ? { from } : {}),
  });
  if (verified.status !== 200) throw new Error(`verify ${username}: ${verified.status} ${verified.body}`);
  return verified;
}
const register = async (base: string, username: string) => cookieOf(await signUpFrom(base, username));

describe('the reference server under the review (one process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-review-'));
  let server: ServerProcess;
  let base = '';
  const logs: string[] = [];

  beforeAll(async () => {
    server = await startServerProcess({
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_DEMO_PASSWORD: PASSWORD,
      LOG_LEVEL: 'info',
    });
    base = server.base;
    server.child.stdout?.on('data', (chunk) => logs.push(String(chunk)));
  }, 60_000);
  afterAll(async () => {
    await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('P4 (finding 1): 60 concurrent wrong guesses over warmed sockets check at most the allowance plus the in-flight cap', async () => {
    await register(base, 'burst-victim');
    const agent = await warmAgent(base, 60);
    const guesses = Array.from({ length: 60 }, (_, i) =>
      send(base, 'POST', '/api/auth/login', {
        agent,
        body: { username: 'burst-victim', password: i === 59 ? PASSWORD : `wrong guess ${i}` },
      }),
    );
    const answers = await Promise.all(guesses);
    agent.destroy();
    const by = tally(answers);
    // Every 401 or 200 is one password checked; a 429 checked nothing. The right password, last in
    // the burst, is found only if it is among the checks a sequence of guesses would get anyway.
    expect(checked(by)).toBeLessThanOrEqual(FREE + IN_FLIGHT);
    expect(checked(by) + (by[429] ?? 0)).toBe(60);
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(a.body).error.code).toBe('TOO_MANY_ATTEMPTS');
    }
  });

  it('P4 (finding 1): the password grant of /oauth/token counts the same way', async () => {
    await register(base, 'grant-victim');
    const agent = await warmAgent(base, 40);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        send(base, 'POST', '/oauth/token', {
          agent,
          body: { grant_type: 'password', username: 'grant-victim', password: i === 39 ? PASSWORD : `nope ${i}` },
        }),
      ),
    );
    agent.destroy();
    const by = tally(answers);
    expect(checked(by)).toBeLessThanOrEqual(FREE + IN_FLIGHT);
    expect(by[429] ?? 0).toBeGreaterThanOrEqual(40 - FREE - IN_FLIGHT);
  });

  it('P4 (finding 2): password change, step-up and account disable ask the same throttle as login', async () => {
    const cookie = await register(base, 'oracle-victim');
    // The account's allowance is spent on the password-change route alone…
    const change = [];
    for (let i = 0; i < 12; i++)
      change.push(
        await send(base, 'POST', '/api/account/password', {
          cookie,
          body: { currentPassword: `wrong ${i}`, newPassword: 'a brand new passphrase 9' },
        }),
      );
    const by = tally(change);
    expect(by[401] ?? 0).toBeLessThanOrEqual(FREE + 1);
    expect(by[429] ?? 0).toBeGreaterThanOrEqual(12 - FREE - 1);
    // …so the right password is not believed on any route until the back-off ends.
    const right = await send(base, 'POST', '/api/account/password', {
      cookie,
      body: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase 9' },
    });
    expect(right.status).toBe(429);
    const step = await send(base, 'POST', '/api/auth/reauthenticate', { cookie, body: { password: PASSWORD } });
    expect(step.status).toBe(429);
    const disable = await send(base, 'POST', '/api/account/disable', { cookie, body: { password: PASSWORD } });
    expect(disable.status).toBe(429);
    const login = await send(base, 'POST', '/api/auth/login', {
      body: { username: 'oracle-victim', password: PASSWORD },
    });
    expect(login.status).toBe(429);
  });

  it('P4 (found attacking the fix): a spray cannot keep the user out of their own browser on a new network', async () => {
    // Signed up (and logged in by the mailed link) from 127.0.0.2: that browser has its device id.
    const made = await signUpFrom(base, 'device-victim', '127.0.0.2');
    const device = /__Host-device=([\w-]{22});/.exec(String(made.headers['set-cookie']))?.[1] ?? '';
    expect(device).toHaveLength(22);
    // The attacker, elsewhere, spends the account's allowance and asks again and again.
    for (let i = 0; i < 12; i++)
      await send(base, 'POST', '/api/auth/login', {
        from: '127.0.0.9',
        body: { username: 'device-victim', password: `guess ${i}` },
      });
    const login = (from: string, cookie?: string) =>
      send(base, 'POST', '/api/auth/login', {
        from,
        body: { username: 'device-victim', password: PASSWORD },
        ...(cookie ? { headers: { cookie } } : {}),
      });
    // The victim's browser on an address it never used: its device id has its own count.
    expect((await login('127.0.0.7', `__Host-device=${device}`)).status).toBe(200);
    // Another browser there (or a made-up id) shares the sprayed count.
    expect((await login('127.0.0.8')).status).toBe(429);
    expect((await login('127.0.0.8', `__Host-device=${'x'.repeat(22)}`)).status).toBe(429);
  });

  it('finding 5: 30 parallel registrations from one address create at most the per-address allowance', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        send(base, 'POST', '/api/auth/register', {
          from: '127.0.0.3', // its own client address: the sign-ups above came from 127.0.0.1
          body: { email: `flood-${i}-${randomBytes(3).toString('hex')}@example.org`, password: PASSWORD },
        }),
      ),
    );
    const by = tally(answers);
    expect(by[202] ?? 0).toBeLessThanOrEqual(10);
    expect(by[429] ?? 0).toBeGreaterThanOrEqual(20);
    for (const a of answers.filter((x) => x.status === 429))
      expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('finding 6: revoke-others ends refresh-token families; the Sessions list shows grants and each can be revoked', async () => {
    const login = await send(base, 'POST', '/api/auth/login', { body: { username: 'demo', password: PASSWORD } });
    expect(login.status).toBe(200);
    const cookie = cookieOf(login);
    const grant = async () => {
      const res = await send(base, 'POST', '/oauth/token', {
        body: { grant_type: 'password', username: 'demo', password: PASSWORD },
      });
      expect(res.status).toBe(200);
      return JSON.parse(res.body) as { access_token: string; refresh_token: string };
    };
    const first = await grant();
    const second = await grant();
    const listed = JSON.parse((await send(base, 'GET', '/api/sessions', { cookie })).body) as {
      grants: { id: string; createdAt: string; lastUsedAt: string; expiresAt: string }[];
    };
    expect(listed.grants).toHaveLength(2);
    // One grant revoked from the Sessions page: its refresh token stops working, the other does not.
    const del = await send(base, 'DELETE', `/api/grants/${listed.grants[0]?.id}`, { cookie });
    expect(del.status).toBe(200);
    const refresh = (token: string) =>
      send(base, 'POST', '/oauth/token', { body: { grant_type: 'refresh_token', refresh_token: token } });
    const results = [await refresh(first.refresh_token), await refresh(second.refresh_token)].map((r) => r.status);
    expect(results.sort()).toEqual([200, 400]);
    // Another user's grant id is "not found".
    expect((await send(base, 'DELETE', `/api/grants/${'x'.repeat(22)}`, { cookie })).status).toBe(404);
    // Log out everywhere else: the remaining family ends too.
    const third = await grant();
    const others = await send(base, 'POST', '/api/sessions/revoke-others', { cookie });
    expect(others.status).toBe(200);
    expect((await refresh(third.refresh_token)).status).toBe(400);
    const after = JSON.parse((await send(base, 'GET', '/api/sessions', { cookie })).body) as { grants: unknown[] };
    expect(after.grants).toEqual([]);
  });

  it('finding 7: an absolute-form request line gets the same no-store as the origin form', async () => {
    const login = await send(base, 'POST', '/api/auth/login', { body: { username: 'demo', password: PASSWORD } });
    const cookie = cookieOf(login);
    for (const path of ['/api/me', '/api/account/api-key?reveal=1']) {
      const response = await raw(
        server.port,
        `GET http://x${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nCookie: __Host-session=${cookie}\r\nConnection: close\r\n\r\n`,
      );
      expect(response).toMatch(/^HTTP\/1\.1 200/);
      expect(headerOf(response, 'cache-control')).toBe('no-store');
    }
  });

  it('finding 8: a malformed URL gets the security headers and a coded body that echoes nothing', async () => {
    const response = await raw(
      server.port,
      `GET /api/me%3Cscript%3Ealert(1)%3C/script%3E% HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    expect(response).toMatch(/^HTTP\/1\.1 400/);
    expect(headerOf(response, 'content-security-policy')).toContain("default-src 'self'");
    expect(headerOf(response, 'x-content-type-options')).toBe('nosniff');
    expect(headerOf(response, 'cache-control')).toBe('no-store');
    expect(headerOf(response, 'x-frame-options')).toBe('DENY');
    const body = response.split('\r\n\r\n')[1] ?? '';
    expect(JSON.parse(body).error.code).toBe('BAD_REQUEST');
    // Nothing of the path comes back, in the body or in a header.
    expect(body.toLowerCase()).not.toContain('script');
    expect(response.toLowerCase()).not.toContain('%3cscript');
    expect(response.toLowerCase()).not.toContain('alert');
  });

  it('finding 12: failed-login log lines carry no raw username; the SQLite file is 0600 and holds no API key in clear', async () => {
    const typo = `Hunter2-was-my-password-${randomBytes(4).toString('hex')}`;
    const res = await send(base, 'POST', '/api/auth/login', { body: { username: typo, password: 'whatever it is' } });
    expect(res.status).toBe(401);
    await expect.poll(() => logs.join('').includes('login.failure')).toBe(true);
    expect(logs.join('')).not.toContain(typo);
    expect(logs.join('')).not.toContain(typo.toLowerCase());
    for (const file of ['latchkey.db', 'latchkey.db-wal']) {
      const mode = statSync(join(dataDir, file)).mode & 0o777;
      expect(mode & 0o077, `${file} is ${mode.toString(8)}`).toBe(0);
    }
    // The key is still shown whole to a fresh session that asks, but the file never has it.
    const login = await send(base, 'POST', '/api/auth/login', { body: { username: 'demo', password: PASSWORD } });
    const key = JSON.parse(
      (await send(base, 'GET', '/api/account/api-key?reveal=1', { cookie: cookieOf(login) })).body,
    ) as { apiKey: string; masked: boolean };
    expect(key.masked).toBe(false);
    expect(key.apiKey).toMatch(/^lk_live_/);
    // The server holds the file in exclusive mode: read its bytes (database and write-ahead log).
    for (const file of ['latchkey.db', 'latchkey.db-wal']) {
      const bytes = readFileSync(join(dataDir, file)).toString('latin1');
      expect(bytes).not.toContain('lk_live_');
      expect(bytes).not.toContain(key.apiKey.slice(8));
    }
  });
});

describe('finding 4: request, header and body deadlines and a connection cap', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-review-slow-'));
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServerProcess({
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_DEMO_PASSWORD: PASSWORD,
      // Short limits so the test runs in seconds; the defaults are in docs/security.md.
      LATCHKEY_REQUEST_TIMEOUT_MS: '2000',
      LATCHKEY_HEADERS_TIMEOUT_MS: '1500',
      LATCHKEY_MAX_CONNECTIONS: '40',
      LATCHKEY_MAX_CONNECTIONS_PER_ADDRESS: '20',
    });
  }, 60_000);
  afterAll(async () => {
    await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Opens a socket that dribbles `prefix`, then one byte every `every` ms; resolves with when it closed. */
  const dribble = (prefix: string, every: number) =>
    new Promise<{ closedAfter: number; answer: string }>((resolve) => {
      const started = Date.now();
      let answer = '';
      let timer: NodeJS.Timeout | undefined;
      const socket: Socket = connect(server.port, '127.0.0.1', () => {
        socket.write(prefix);
        timer = setInterval(() => socket.writable && socket.write('x'), every);
      });
      socket.setEncoding('latin1');
      socket.on('data', (c) => {
        answer += c;
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ closedAfter: Date.now() - started, answer });
      });
      // The test's own bound: a socket still open after 8 s has defeated the deadlines.
      setTimeout(() => socket.destroy(), 8000).unref();
    });

  it('five slow bodies (Content-Length 16000, a byte every 400 ms) are cut off within the request deadline', async () => {
    // A request that passes every check before the body (the CSRF guard wants its origin).
    const head =
      `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${server.base}\r\nSec-Fetch-Site: same-origin\r\n` +
      'Content-Type: application/json\r\nContent-Length: 16000\r\n\r\n{';
    const results = await Promise.all(Array.from({ length: 5 }, () => dribble(head, 400)));
    for (const r of results) {
      // 2 s deadline, enforced by a check that runs every second: closed within 2 + 1 s and a margin.
      expect(r.closedAfter).toBeLessThan(4500);
      expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    }
  });

  it('slow headers are cut off within the headers deadline', async () => {
    const result = await dribble('GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 300);
    expect(result.closedAfter).toBeLessThan(4000);
  });

  /** `count` sockets from one loopback address (Linux routes all of 127.0.0.0/8 to this host). */
  const hold = (from: string, count: number) =>
    Array.from({ length: count }, () => {
      const socket = connect({ port: server.port, host: '127.0.0.1', localAddress: from });
      socket.on('error', () => undefined);
      return socket;
    });
  const stillOpen = (sockets: Socket[]) => sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  /** GET /api/me from a given address: 401 when the server answers. */
  const meFrom = (from: string) =>
    new Promise<string>((resolve) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: server.port, path: '/api/me', localAddress: from, agent: false },
        (res) => {
          res.resume();
          resolve(String(res.statusCode));
        },
      );
      req.on('error', (error) => resolve(error.message));
      req.end();
    });

  it('one address cannot take the connection cap: its extra sockets are refused, another client is answered', async () => {
    const attacker = hold('127.0.0.2', 50);
    await new Promise((r) => setTimeout(r, 500));
    // Found by attacking the fix: with only a global cap, 60 reconnecting sockets locked everyone out.
    expect(stillOpen(attacker)).toBeLessThanOrEqual(20);
    expect(await meFrom('127.0.0.3')).toBe('401');
    // A second address fills the rest; the global cap still holds.
    const second = hold('127.0.0.4', 50);
    await new Promise((r) => setTimeout(r, 500));
    expect(stillOpen(attacker) + stillOpen(second)).toBeLessThanOrEqual(40);
    for (const s of [...attacker, ...second]) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(await meFrom('127.0.0.3')).toBe('401');
  });

  it('answers Node would give bare (no Host header; many pipelined requests) carry the headers and a code', async () => {
    const noHost = await raw(server.port, 'GET /api/me HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(noHost).toMatch(/^HTTP\/1\.1 400/);
    expect(headerOf(noHost, 'content-security-policy')).toContain("default-src 'self'");
    expect(JSON.parse(noHost.split('\r\n\r\n')[1] ?? '').error.code).toBe('BAD_REQUEST');
    const pipelined = await raw(
      server.port,
      `${'GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(1199)}GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    const statuses = [...pipelined.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toHaveLength(1200);
    expect(new Set(statuses)).toEqual(new Set(['401']));
    expect(pipelined.match(/content-security-policy:/gi)).toHaveLength(1200);
  });
});

describe('P4 (finding 1) across two server processes sharing Redis', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-review-redis-'));
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    const env = {
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_DEMO_PASSWORD: PASSWORD,
      LATCHKEY_SQLITE_SHARED: '1',
      LATCHKEY_REDIS_URL: 'redis://127.0.0.1:6379',
      LATCHKEY_REDIS_PREFIX: `latchkey-review-${randomBytes(4).toString('hex')}`,
    };
    servers.push(await startServerProcess(env));
    servers.push(await startServerProcess(env, await freePort()));
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) await s.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('60 concurrent wrong guesses split over both processes check at most the allowance plus the in-flight cap', async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess];
    await register(a.base, 'shared-victim');
    const agents = [await warmAgent(a.base, 30), await warmAgent(b.base, 30)];
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        send(i % 2 === 0 ? a.base : b.base, 'POST', '/api/auth/login', {
          agent: agents[i % 2],
          body: { username: 'shared-victim', password: i === 59 ? PASSWORD : `wrong ${i}` },
        }),
      ),
    );
    for (const agent of agents) agent.destroy();
    const by = tally(answers);
    expect(checked(by)).toBeLessThanOrEqual(FREE + IN_FLIGHT);
    expect(by[429] ?? 0).toBeGreaterThanOrEqual(60 - FREE - IN_FLIGHT);
  });
});
