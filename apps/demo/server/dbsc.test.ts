/**
 * Device-bound sessions (#19, D1) on the reference server over HTTPS, in Chromium with DBSC on
 * (the flags of ../shared/TOOLCHAIN.md). What counts is what the server saw: the registration,
 * the key stored with the session, the refreshes, and which requests it let in.
 *
 * - A login in a DBSC browser registers a key; the session is then valid only with its bound cookie.
 * - The session cookie copied into another browser context (a thief with the cookie jar, not the
 *   key) is refused without the bound cookie, and once the bound cookie it copied has expired,
 *   while the browser that holds the key keeps working through its own refreshes.
 * - Proofs the real browser signed, replayed or sent with another session, are refused.
 * - A Chromium without DBSC never registers and works as before.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey, type Session } from 'latchkey';
import { createLoginThrottle } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../test/browser.js';
import { makeTestCertificate } from '../test/certificate.js';
import { buildApp } from './app.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const PASSWORD = 'correct horse battery staple';
/** The bound cookie's life here: short, so a copied one lapses within the test. */
const BOUND_SECONDS = 10;
const run = chromiumAvailable();

const dir = mkdtempSync(join(tmpdir(), 'latchkey-dbsc-'));
const db = new Database(join(dir, 'latchkey.db'));
const sessions = createSessionManager({ store: createSqliteStore(db), keys: [generateSigningKey()], sweepInterval: 0 });
const users = createUsers(db);

/** What the server saw on the DBSC endpoints: the path, the status, and the proof the browser sent. */
interface Seen {
  path: string;
  status: number;
  proof: string | undefined;
  sessionId: string | undefined;
}
const seen: Seen[] = [];
let app: Awaited<ReturnType<typeof buildApp>>;
let base = '';
let spki = '';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

beforeAll(async () => {
  const { certFile: cert, keyFile: key, spki: trusted } = makeTestCertificate(dir);
  spki = trusted; // Chromium trusts this one certificate by the SHA-256 of its public key
  await users.upsert('ann', PASSWORD, 'ann@example.org');
  await users.upsert('bob', PASSWORD, 'bob@example.org');
  await users.upsert('cid', PASSWORD, 'cid@example.org');
  const port = await freePort();
  base = `https://localhost:${port}`;
  app = await buildApp({
    sessions,
    users,
    notes: createNotes(db),
    origins: [base],
    throttle: createLoginThrottle(),
    https: { cert: readFileSync(cert), key: readFileSync(key) },
    deviceBound: { cookie: { maxAge: BOUND_SECONDS } },
    logger: false,
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.url.startsWith('/api/auth/device/')) {
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      seen.push({
        path: request.url,
        status: reply.statusCode,
        proof: header('secure-session-response'),
        sessionId: header('sec-secure-session-id'),
      });
    }
  });
  await app.listen({ port, host: '127.0.0.1' });
});

afterAll(async () => {
  await app?.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Logs in from a page of the app, as its script would, and returns the server's session for it. */
async function login(context: BrowserContext, username: string): Promise<Session> {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  const status = await page.evaluate(
    async ([name, password]) =>
      (
        await fetch('/api/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: name, password }),
        })
      ).status,
    [username, PASSWORD],
  );
  expect(status).toBe(200);
  const user = users.find(username);
  const list = await sessions.listUserSessions(user?.id ?? '');
  expect(list).toHaveLength(1);
  return list[0] as Session;
}

/** GET /api/me from a page of this context: the status the server gave. */
async function me(context: BrowserContext): Promise<number> {
  const page = context.pages()[0] ?? (await context.newPage());
  if (!page.url().startsWith(base)) await page.goto(`${base}/`);
  return page.evaluate(async () => (await fetch('/api/me')).status);
}

async function bindingOf(sessionId: string, username = 'ann') {
  const s = (await sessions.listUserSessions(users.find(username)?.id ?? '')).find((x) => x.id === sessionId);
  return s?.binding ?? null;
}

/** A POST to a device-binding path, as the browser makes it, straight into the app (no socket needed). */
const devicePost = (path: string, cookie: string, headers: Record<string, string>) =>
  app.inject({
    method: 'POST',
    url: `/api/auth/device/${path}`,
    headers: { cookie, 'sec-fetch-site': 'same-origin', ...headers },
  });

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.runIf(run)('device-bound sessions in Chromium over HTTPS', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium({ dbsc: spki });
  });
  afterAll(async () => browser?.close());

  it('a login binds the session to a key; a stolen cookie jar is useless without it; the owner keeps working', async () => {
    const owner = await browser.newContext({ ignoreHTTPSErrors: true });
    const session = await login(owner, 'ann');
    // Registration: the browser signed the challenge with a new key; the server stored its public half.
    const binding = await until('the registration', () => bindingOf(session.id));
    expect(binding.algorithm).toBe('ES256');
    expect(binding.publicKey).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(binding.thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const registration = seen.find((s) => s.path === '/api/auth/device/register');
    expect(registration?.status).toBe(200);
    expect(registration?.proof).toMatch(/^eyJ/);
    // Requests work, and the Sessions page says so.
    expect(await me(owner)).toBe(200);
    const page = owner.pages()[0];
    const listed = await page?.evaluate(async () => (await (await fetch('/api/sessions')).json()).sessions);
    expect(listed).toEqual([expect.objectContaining({ id: session.id, current: true, deviceBound: true })]);

    // The thief copies the cookie jar, HttpOnly cookies included, into a browser of their own.
    const jar = await owner.cookies(base);
    const sessionCookie = jar.find((c) => c.name === '__Host-session');
    const boundCookie = jar.find((c) => c.name === '__Host-bound');
    expect(sessionCookie).toBeDefined();
    expect(boundCookie).toBeDefined();
    const thief = await browser.newContext({ ignoreHTTPSErrors: true });
    await thief.addCookies([sessionCookie as never]);
    expect(await me(thief)).toBe(401); // the session cookie alone
    await thief.addCookies([boundCookie as never]);
    const copiedAt = Date.now();
    // With the bound cookie it copied, the thief gets in until that cookie lapses: DBSC's window.
    expect(await me(thief)).toBe(200);
    // Then the copy lapses; the owner's browser renews its own with the key, the thief cannot.
    await new Promise((r) => setTimeout(r, Math.max(0, copiedAt + (BOUND_SECONDS + 2) * 1000 - Date.now())));
    // The thief's browser drops an expired cookie itself; send the copied value as it was, too.
    await thief.addCookies([{ ...(boundCookie as object), expires: Math.floor(Date.now() / 1000) + 3600 } as never]);
    expect(await me(thief)).toBe(401);
    expect(await me(owner)).toBe(200);
    const refreshes = seen.filter((s) => s.path === '/api/auth/device/refresh' && s.status === 200 && s.proof);
    expect(refreshes.length).toBeGreaterThan(0);
    expect((await bindingOf(session.id))?.provenAt).toBeGreaterThan(binding.provenAt);
    // The thief's requests ended nothing of the owner's.
    expect((await bindingOf(session.id))?.thumbprint).toBe(binding.thumbprint);
    await thief.close();

    // Proofs the browser really signed, replayed: the challenge is spent.
    const signed = refreshes.at(-1) as Seen;
    const cookie = `${sessionCookie?.name}=${sessionCookie?.value}`;
    const replay = await devicePost('refresh', cookie, {
      'sec-secure-session-id': session.id,
      'secure-session-response': signed.proof as string,
    });
    expect(replay.statusCode).toBe(403);
    expect(replay.json().error.code).toBe('DEVICE_CHALLENGE_EXPIRED');
    expect(replay.headers['set-cookie']).toBeUndefined();

    // The same proof forged: one byte of the signature changed, or relabelled as another algorithm.
    // 400, not the 403 of a spent challenge: the signature is checked before whether it is spent.
    const [head, body, signature] = (signed.proof as string).split('.') as [string, string, string];
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    const rs256 = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'dbsc+jwt' })).toString('base64url');
    for (const forged of [`${head}.${body}.${flipped}`, `${rs256}.${body}.${signature}`]) {
      const refused = await devicePost('refresh', cookie, {
        'sec-secure-session-id': session.id,
        'secure-session-response': forged,
      });
      expect([refused.statusCode, refused.json().error.code]).toEqual([400, 'DEVICE_PROOF_INVALID']);
    }

    // …and sent with another session: bob's, bound to bob's own key.
    const other = await browser.newContext({ ignoreHTTPSErrors: true });
    const bob = await login(other, 'bob');
    await until('bob’s registration', async () => {
      const list = await sessions.listUserSessions(bob.userId);
      return list[0]?.binding;
    });
    const bobJar = await other.cookies(base);
    const bobCookie = bobJar.find((c) => c.name === '__Host-session');
    const crossed = await devicePost('refresh', `${bobCookie?.name}=${bobCookie?.value}`, {
      'sec-secure-session-id': bob.id,
      'secure-session-response': signed.proof as string,
    });
    expect(crossed.statusCode).toBe(400);
    expect(crossed.json().error.code).toBe('DEVICE_PROOF_INVALID');
    // The registration proof ann's browser sent, offered for bob's session: refused.
    const reRegister = await devicePost('register', `${bobCookie?.name}=${bobCookie?.value}`, {
      'secure-session-response': registration?.proof as string,
    });
    expect(reRegister.statusCode).toBe(400);
    expect(reRegister.json().error.code).toBe('DEVICE_PROOF_INVALID');
    await other.close();

    // Logout ends the session and its binding: the browser's next refresh is told to stop.
    const out = await owner.pages()[0]?.evaluate(
      async () =>
        (
          await fetch('/api/auth/logout', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          })
        ).status,
    );
    expect(out).toBe(200);
    expect(await bindingOf(session.id)).toBeNull();
    expect(await me(owner)).toBe(401);
    await owner.close();
  }, 60_000);

  it('a Chromium without DBSC never registers, and its session works as before', async () => {
    const plain = await launchChromium();
    try {
      const before = seen.length;
      const context = await plain.newContext({ ignoreHTTPSErrors: true });
      const session = await login(context, 'cid');
      expect(await me(context)).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
      expect(seen.slice(before).filter((s) => s.path === '/api/auth/device/register')).toEqual([]);
      expect(await bindingOf(session.id, 'cid')).toBeNull();
      expect(await me(context)).toBe(200);
    } finally {
      await plain.close();
    }
  }, 30_000);
});
