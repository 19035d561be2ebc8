/**
 * The reference server's token side: the JWKS route, the token endpoint for non-browser clients
 * (password and refresh grants, rotation, reuse detection), and the backend-for-frontend that
 * forwards a browser's session call to the downstream service with a short JWT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createSqliteStore } from 'latchkey/sqlite';
import {
  createAccessTokens,
  createMemoryRevocations,
  createRefreshTokens,
  createSharedRevocations,
  generateAccessTokenKey,
} from 'latchkey/tokens';
import { createSqliteRefreshStore } from 'latchkey/tokens/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownstream, DEMO_ISSUER, DOWNSTREAM_AUDIENCE } from '../downstream/service.js';
import { signUp } from '../test/accounts.js';
import { freePort, type ServerProcess, startServerProcess } from '../test/server-process.js';
import { buildApp } from './app.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const ORIGIN = 'http://app.test';
const PASSWORD = 'token test password';
const dir = mkdtempSync(join(tmpdir(), 'latchkey-tokens-'));
const db = new Database(join(dir, 'latchkey.db'));
const sessions = createSessionManager({ store: createSqliteStore(db), keys: [generateSigningKey()], sweepInterval: 0 });
const users = createUsers(db);
const revocations = createMemoryRevocations();
let access: ReturnType<typeof createAccessTokens>;
let app: Awaited<ReturnType<typeof buildApp>>;
let downstream: Server;
let base = '';
let downstreamBase = '';

beforeAll(async () => {
  await users.upsert('demo', PASSWORD);
  access = createAccessTokens({
    issuer: DEMO_ISSUER,
    audience: DOWNSTREAM_AUDIENCE,
    keys: [await generateAccessTokenKey()],
    revocations,
  });
  const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db) });
  // The downstream reads the app's JWKS over HTTP and the app forwards to the downstream: pick the
  // app's port first.
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  downstream = createDownstream({ jwksUrl: new URL(`${base}/.well-known/jwks.json`) });
  await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
  downstreamBase = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
  app = await buildApp({
    sessions,
    users,
    notes: createNotes(db),
    origins: [ORIGIN],
    publicUrl: 'https://app.test',
    tokens: {
      access,
      refresh,
      revokeSubject: async (id) => {
        await revocations.revokeSubject(id);
      },
    },
    downstreamUrl: downstreamBase,
    logger: false,
  });
  await app.listen({ port, host: '127.0.0.1' });
});
afterAll(async () => {
  await app.close();
  downstream.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

// A CLI: no cookie, no Origin, no fetch metadata.
const tokenCall = (body: unknown) =>
  fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
// biome-ignore lint/suspicious/noExplicitAny: JSON of several shapes
const json = async (res: Response): Promise<any> => res.json();
const tip = (token: string) => fetch(`${downstreamBase}/api/tip`, { headers: { authorization: `Bearer ${token}` } });

describe('JWKS and the token endpoint', () => {
  it('publishes public keys only, cacheable for 5 minutes', async () => {
    const res = await fetch(`${base}/.well-known/jwks.json`);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const { keys } = await json(res);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: expect.any(String) });
    expect(keys[0].d).toBeUndefined();
  });

  it('password grant: a ≤ 1 h access token the downstream accepts, and a refresh token; never cached', async () => {
    const res = await tokenCall({ grant_type: 'password', username: 'demo', password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('set-cookie')).toBeNull();
    const body = await json(res);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^eyJ/),
      token_type: 'Bearer',
      expires_in: expect.any(Number),
      refresh_token: expect.stringMatching(/^[\w-]{22}\.[\w-]{43}$/),
    });
    expect(body.expires_in).toBeLessThanOrEqual(300);
    const served = await tip(body.access_token);
    expect(served.status).toBe(200);
    expect((await json(served)).tokenLifetimeSeconds).toBe(300);
    // The downstream refuses anything else.
    expect((await tip(`${body.access_token}x`)).status).toBe(401);
    expect((await fetch(`${downstreamBase}/api/tip`)).status).toBe(401);
  });

  it('refresh grant rotates; a replayed refresh token revokes the family, so the thief and the user both stop', async () => {
    const first = await json(await tokenCall({ grant_type: 'password', username: 'demo', password: PASSWORD }));
    const second = await json(await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token }));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await tip(second.access_token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 10)); // inside the grace window a replay gets the same successor
    const replay = await json(await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token }));
    expect(replay.refresh_token).toBe(second.refresh_token);
  });

  it('refuses bad grants with INVALID_GRANT and throttles the password grant like the login', async () => {
    for (const refresh_token of ['nope', `${'a'.repeat(22)}.${'b'.repeat(43)}`])
      expect((await json(await tokenCall({ grant_type: 'refresh_token', refresh_token }))).error.code).toBe(
        'INVALID_GRANT',
      );
    expect((await tokenCall({ grant_type: 'client_credentials' })).status).toBe(400);
    const codes: number[] = [];
    for (let i = 0; i < 7; i++)
      codes.push((await tokenCall({ grant_type: 'password', username: 'ghost', password: `guess ${i}` })).status);
    expect(codes).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });

  it('R3, R4: a password change ends the user’s refresh families and access tokens', async () => {
    await users.upsert('changer', 'changer password 1');
    const issued = await json(
      await tokenCall({ grant_type: 'password', username: 'changer', password: 'changer password 1' }),
    );
    expect(await access.verify(issued.access_token)).not.toBeNull();
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN },
      body: JSON.stringify({ username: 'changer', password: 'changer password 1' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const change = await fetch(`${base}/api/account/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN, cookie },
      body: JSON.stringify({ currentPassword: 'changer password 1', newPassword: 'changer password 2' }),
    });
    expect(change.status).toBe(200);
    expect(
      (await json(await tokenCall({ grant_type: 'refresh_token', refresh_token: issued.refresh_token }))).error.code,
    ).toBe('INVALID_GRANT');
    expect(await access.verify(issued.access_token)).toBeNull(); // per-user not-before
  });
});

describe('the downstream fails closed', () => {
  it('answers 503 (not 401, not 200) to a valid token while its revocation list is out of date', async () => {
    const stale = createSharedRevocations(
      { append: async () => {}, prune: async () => 0, read: async () => Promise.reject(new Error('down')) },
      { pollInterval: 10, maxStaleness: 20 },
    );
    const service = createDownstream({ jwksUrl: new URL(`${base}/.well-known/jwks.json`), revocations: stale });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(service.address() as AddressInfo).port}/api/tip`;
    const { token } = await access.issue('someone');
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await json(res)).error.code).toBe('STORE_UNAVAILABLE');
    expect((await fetch(url)).status).toBe(401); // no token at all is still a 401
    service.close();
    await stale.close();
  });
});

describe('backend-for-frontend (J6)', () => {
  const login = async () => {
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN, 'x-forwarded-for': '1.2.3.4' },
      body: JSON.stringify({ username: 'demo', password: PASSWORD }),
    });
    return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  };

  it('forwards a session call downstream with a short JWT the browser never sees, reused across calls', async () => {
    const cookie = await login();
    const first = await fetch(`${base}/bff/api/tip`, { headers: { cookie } });
    expect(first.status).toBe(200);
    const text = await first.text();
    expect(text).not.toContain('eyJ');
    for (const [name, value] of first.headers) {
      expect(value, name).not.toContain('eyJ');
      expect(name).not.toBe('authorization');
    }
    const body = JSON.parse(text);
    expect(body).toMatchObject({ servedBy: 'downstream', tokenLifetimeSeconds: 300, subject: users.find('demo')?.id });
    const second = await json(await fetch(`${base}/bff/api/tip`, { headers: { cookie } }));
    expect(second.tokenExpiresAt).toBe(body.tokenExpiresAt); // the same minted token
  });

  it('needs a session, passes the CSRF guard, stays on the allowlisted origin, and answers 502 when downstream is down', async () => {
    expect((await fetch(`${base}/bff/api/tip`)).status).toBe(401);
    const cookie = await login();
    expect((await fetch(`${base}/bff/api/tip`, { method: 'POST', headers: { cookie } })).status).toBe(403);
    for (const path of ['/bff/api/..%2f..%2fetc', '/bff/api//evil.example/x', '/bff/api/%2e%2e/x'])
      expect([400, 404]).toContain((await fetch(`${base}${path}`, { headers: { cookie } })).status);
    expect((await fetch(`${base}/bff/api/missing`, { headers: { cookie } })).status).toBe(404);
    downstream.close();
    downstream.closeAllConnections();
    const res = await fetch(`${base}/bff/api/tip`, { headers: { cookie } });
    expect(res.status).toBe(502);
    expect((await json(res)).error.code).toBe('BAD_GATEWAY');
  });
});

/**
 * R3, R4 across processes: the reference server and its downstream run as they do under
 * `npm start` (two processes sharing only the revocation list), over real sockets. After a
 * password change or a disabled account the downstream must refuse the user's older access tokens
 * within 2 s, and accept a token minted after the revocation, even in the same second.
 */
const shared = {
  'a SQLite file (the default)': {},
  Redis: {
    LATCHKEY_REDIS_URL: 'redis://127.0.0.1:6379',
    LATCHKEY_REDIS_PREFIX: `lk-test-${process.pid}-${Date.now()}`,
  },
};
describe.each(Object.entries(shared))(
  'revocation reaches the downstream in its own process, through %s',
  (backend, backendEnv) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-revocation-'));
    let server: ServerProcess;
    let app = '';
    let service = '';

    beforeAll(async () => {
      const downstreamPort = await freePort();
      server = await startServerProcess({
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_DEMO_PASSWORD: PASSWORD,
        DOWNSTREAM_PORT: String(downstreamPort),
        ...backendEnv,
      });
      app = server.base;
      service = `http://127.0.0.1:${downstreamPort}`;
    }, 60_000);
    afterAll(async () => {
      await server?.kill();
      rmSync(dataDir, { recursive: true, force: true });
    });

    /** Signs up through the dev inbox (register, the mailed link, verify); the session cookie. */
    const register = async (username: string, password: string) => {
      const res = await signUp(app, { email: `${username}@example.org`, password, username });
      return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    };
    const grant = async (username: string, password: string): Promise<string> => {
      const res = await fetch(`${app}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'password', username, password }),
      });
      expect(res.status).toBe(200);
      return (await json(res)).access_token;
    };
    const status = async (token: string) =>
      (await fetch(`${service}/api/tip`, { headers: { authorization: `Bearer ${token}` } })).status;
    /** Milliseconds from now until the downstream refuses the token (polled every 20 ms, up to 5 s). */
    const refusedAfter = async (token: string, since: number) => {
      while (performance.now() - since < 5000) {
        if ((await status(token)) === 401) return performance.now() - since;
        await new Promise((r) => setTimeout(r, 20));
      }
      return Number.POSITIVE_INFINITY;
    };

    it('a password change: older tokens refused within 2 s, a token minted right after it accepted', async () => {
      const name = `pw-${Date.now()}`;
      const cookie = await register(name, 'first password of the changer');
      const old = await grant(name, 'first password of the changer');
      expect(await status(old)).toBe(200);
      const change = await fetch(`${app}/api/account/password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: app, cookie },
        body: JSON.stringify({ currentPassword: 'first password of the changer', newPassword: 'second password here' }),
      });
      expect(change.status).toBe(200);
      const changed = performance.now();
      // Minted at once: most likely in the same second as the revocation.
      const [delay, fresh] = await Promise.all([refusedAfter(old, changed), grant(name, 'second password here')]);
      // iat above nbf: minted in the revocation's second, its iat rounded up to the next one.
      const claims = JSON.parse(Buffer.from(fresh.split('.')[1] ?? '', 'base64url').toString());
      console.log(
        `${backend}: password change → downstream refuses the old token after ${Math.round(delay)} ms` +
          ` (new token minted in the same second: ${claims.iat > claims.nbf})`,
      );
      expect(delay).toBeLessThan(2000);
      expect(await status(fresh)).toBe(200);
      await new Promise((r) => setTimeout(r, 1200)); // a later poll must not refuse it either
      expect(await status(fresh)).toBe(200);
    });

    it('a disabled account: its tokens refused within 2 s, other users’ tokens untouched', async () => {
      const name = `disabled-${Date.now()}`;
      const cookie = await register(name, 'password of the leaver');
      const old = await grant(name, 'password of the leaver');
      const other = await grant('demo', PASSWORD);
      expect(await status(old)).toBe(200);
      const disable = await fetch(`${app}/api/account/disable`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: app, cookie },
        body: JSON.stringify({ password: 'password of the leaver' }),
      });
      expect(disable.status).toBe(200);
      const delay = await refusedAfter(old, performance.now());
      console.log(`${backend}: account disable → downstream refuses the old token after ${Math.round(delay)} ms`);
      expect(delay).toBeLessThan(2000);
      expect(await status(other)).toBe(200);
    });
  },
);
