/**
 * The reference server in a real Chromium: what the browser itself decides about the cookie
 * (C1, C2, C3), the CSP (H2) and a cross-site form (X1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createSqliteStore } from 'latchkey/sqlite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../test/browser.js';
import { freePort } from '../test/server-process.js';
import { buildApp } from './app.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const PASSWORD = 'correct horse battery staple';
const hasChromium = chromiumAvailable();

describe.runIf(hasChromium)('reference server in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-browser-'));
  const db = new Database(join(dir, 'latchkey.db'));
  const sessions = createSessionManager({
    store: createSqliteStore(db),
    keys: [generateSigningKey()],
    sweepInterval: 0,
  });
  const users = createUsers(db);
  const requests: { path: string; cookie: boolean; site: string | undefined; status: number }[] = [];
  let app: Awaited<ReturnType<typeof buildApp>>;
  let attacker: Server;
  let browser: Browser;
  let base = '';
  let evil = '';
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    await users.upsert('demo', PASSWORD);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await buildApp({ sessions, users, notes: createNotes(db), origins: [base], logger: false });
    await app.listen({ port, host: '127.0.0.1' });
    // What reached the server, seen below Fastify: the hooks never run for a refused request.
    app.server.on('request', (req, res) => {
      res.once('finish', () =>
        requests.push({
          path: req.url ?? '',
          cookie: (req.headers.cookie ?? '').includes('__Host-session='),
          site: req.headers['sec-fetch-site'] as string | undefined,
          status: res.statusCode,
        }),
      );
    });
    // The attacker: another port on the same host, so a different origin but the same site.
    attacker = createServer((req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      const toss = /^\/toss\?session=([\w.-]+)$/.exec(req.url ?? '');
      if (toss)
        // Cookie tossing: the attacker's own session, set under the app's cookie name. Cookies
        // ignore ports, so this host-only cookie is the app's cookie too.
        res.setHeader('set-cookie', `__Host-session=${toss[1]}; Path=/; Secure; HttpOnly; SameSite=Strict`);
      if (toss) res.end('<p>tossed</p>');
      else if (req.url === '/form')
        res.end(
          `<form method="POST" action="${base}/api/auth/logout" enctype="text/plain"><input name="a" value="b"></form>` +
            '<script>document.forms[0].submit()</script>',
        );
      else
        res.end(
          `<script>fetch(${JSON.stringify(`${base}/api/sessions/revoke-others`)}, {method: 'POST', credentials: 'include', mode: 'no-cors'})` +
            '.finally(() => { document.title = "done" })</script>',
        );
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    evil = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    attacker?.close();
    await app?.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await context?.close();
    context = await browser.newContext(); // cookies ignore ports: one context per test
    page = await context.newPage();
    // Record CSP violations from the first script on.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __violations: string[] }).__violations = seen;
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.effectiveDirective} ${e.blockedURI}`));
    });
  });

  async function logIn() {
    await page.goto(`${base}/`);
    await page.getByLabel('Username').fill('demo');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('#out').textContent()).toBe('Logged in as demo');
  }
  const violations = () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
  const meStatus = () => page.evaluate(async () => (await fetch('/api/me')).status);

  it('C1, C2: the session cookie is __Host-, HttpOnly, Secure, SameSite=Strict and invisible to scripts', async () => {
    await logIn();
    const cookies = await context.cookies();
    // The session, and the throttle's device id (it names no account; the same attributes).
    expect(cookies.map((c) => c.name).sort()).toEqual(['__Host-device', '__Host-session']);
    for (const c of cookies)
      expect(c).toMatchObject({ domain: '127.0.0.1', path: '/', httpOnly: true, secure: true, sameSite: 'Strict' });
    const cookie = cookies.find((c) => c.name === '__Host-session');
    expect(cookie).toMatchObject({
      name: '__Host-session',
      domain: '127.0.0.1', // host-only: no Domain attribute
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
    });
    expect(cookie?.value).toMatch(/^[\w-]{22}\.[\w-]{22}\.[\w-]{43}$/);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    const storage = await page.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    );
    expect(storage).toBe('{}{}');
    expect(await page.content()).not.toContain(cookie?.value);
  });

  it('H2: the nonce-based CSP lets the page run and blocks an injected inline script', async () => {
    await logIn();
    expect(await violations()).toEqual([]);
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true';
      document.body.append(s);
    });
    await expect.poll(violations).toEqual([expect.stringMatching(/^script-src-elem inline/)]);
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
  });

  it('X1, C3: a form POST from another port of the same host is refused, though SameSite lets the cookie through', async () => {
    await logIn();
    requests.length = 0;
    await page.goto(`${evil}/form`);
    await page.waitForURL(`${base}/api/auth/logout`);
    const body = JSON.parse((await page.textContent('body')) ?? '{}');
    expect(body.error.code).toBe('CSRF_REJECTED');
    const hit = requests.find((r) => r.path === '/api/auth/logout');
    // Another port is the same *site*: Strict cookies go along, so the guard is what stops it.
    expect(hit).toEqual({ path: '/api/auth/logout', cookie: true, site: 'same-site', status: 403 });
    await page.goto(`${base}/`);
    expect(await meStatus()).toBe(200); // still logged in: the forged logout changed nothing
  });

  it('C3: from another site (localhost vs 127.0.0.1) the form POST arrives without the cookie at all', async () => {
    await logIn();
    requests.length = 0;
    await page.goto(`${evil.replace('127.0.0.1', 'localhost')}/form`);
    await page.waitForURL(`${base}/api/auth/logout`);
    expect(requests.find((r) => r.path === '/api/auth/logout')).toEqual({
      path: '/api/auth/logout',
      cookie: false,
      site: 'cross-site',
      status: 403,
    });
    await page.goto(`${base}/`);
    expect(await meStatus()).toBe(200);
  });

  it('X1: a cross-origin fetch with credentials is refused and changes nothing', async () => {
    await logIn();
    requests.length = 0;
    const other = await context.newPage();
    await other.goto(`${evil}/fetch`);
    await expect.poll(() => other.title()).toBe('done');
    await expect
      .poll(() => requests.find((r) => r.path === '/api/sessions/revoke-others'))
      .toEqual({
        path: '/api/sessions/revoke-others',
        cookie: true,
        site: 'same-site',
        status: 403,
      });
    expect(await meStatus()).toBe(200);
  });

  it('cookie tossing: a page on another port of the same host replaces the session cookie (why an app needs a host of its own)', async () => {
    await users.upsert('mallory', PASSWORD);
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ username: 'mallory', password: PASSWORD }),
    });
    const mallory = /__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
    expect(mallory).not.toBe('');
    await logIn();
    const who = () => page.evaluate(async () => (await (await fetch('/api/me')).json()).user?.username);
    expect(await who()).toBe('demo');
    await page.goto(`${evil}/toss?session=${mallory}`);
    await page.goto(`${base}/`);
    // The browser now sends the attacker's session to the app: the page runs as mallory. The
    // web app's outbox checks the account before it sends (webapp.test.ts); the cure is a host name.
    expect(
      (await context.cookies()).filter((c) => c.name === '__Host-session').map((c) => [c.name, c.domain, c.value]),
    ).toEqual([['__Host-session', '127.0.0.1', mallory]]);
    expect(await who()).toBe('mallory');
  });

  it('L2: logout expires the cookie and Clear-Site-Data empties the browser’s storage', async () => {
    await logIn();
    await page.evaluate(() => localStorage.setItem('note', 'left behind'));
    await page.getByRole('button', { name: 'Log out' }).click();
    await expect.poll(() => page.locator('#out').textContent()).toBe('Not logged in');
    expect(await context.cookies()).toEqual([]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
  });
});
