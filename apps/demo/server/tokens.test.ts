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
  generateAccessTokenKey,
} from 'latchkey/tokens';
import { createSqliteRefreshStore } from 'latchkey/tokens/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownstream, DEMO_ISSUER, DOWNSTREAM_AUDIENCE } from '../downstream/service.js';
import { freePort } from '../test/server-process.js';
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
    tokens: { access, refresh, revokeSubject: (id) => revocations.revokeSubject(id) },
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
