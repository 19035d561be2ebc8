/**
 * The web app in a real Chromium against the real reference server (a child process on the
 * SQLite store, stopped and restarted for the offline cases). What the login and web-app issues
 * ask a browser to prove: nothing secret in any storage (B1), no CSP violation, offline work that
 * syncs and reports conflicts, logout that reaches every tab and wipes, revocation from the
 * sessions page. With LATCHKEY_SCREENSHOTS=<dir> it also writes the README's screenshots.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpServer, type TestSmtpServer } from '../../../packages/server/src/test/smtp.js';
import { type MailLike, waitForLink } from '../test/accounts.js';
import { chromiumAvailable, launchChromium } from '../test/browser.js';
import { freePort, type ServerProcess, startServerProcess } from '../test/server-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const hasChromium = chromiumAvailable();
const PASSWORD = 'demo password for the browser test';
const shots = process.env.LATCHKEY_SCREENSHOTS;
// Report the service worker's own fetches as context requests (`request.serviceWorker()`), so a
// test can see whether a page came from the network or from Cache Storage.
process.env.PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS = '1';

// Each case drives a browser through several pages (and a server restart): allow a minute on a busy machine.
describe.runIf(hasChromium)('web app in Chromium', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-webapp-'));
  const webRoot = join(dir, 'web');
  let port = 0;
  let base = '';
  let server: ChildProcess | undefined;
  let browser: Browser;
  const violations: string[] = [];
  // The server's mail goes to a real SMTP server in this process; the tests read what arrived.
  let smtp: TestSmtpServer;
  const mail = (): MailLike[] => smtp.received.map((m) => ({ to: m.envelope.to[0] ?? '', text: m.text }));

  async function startServer() {
    server = spawn(process.execPath, ['--import', 'tsx', join(here, 'main.ts')], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        LATCHKEY_DATA_DIR: join(dir, 'data'),
        LATCHKEY_WEB_ROOT: webRoot,
        LATCHKEY_DEMO_PASSWORD: PASSWORD,
        LATCHKEY_SMTP_URL: smtp.url,
        LATCHKEY_MAIL_FROM: 'no-reply@notes.test',
        LATCHKEY_PUBLIC_URL: base, // the links open the host the browser uses (cookies are per host)
        LATCHKEY_MAILS_PER_ADDRESS: '5', // a sign-up, then a reset, within minutes
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      server?.stdout?.on('data', (c) => {
        out += c;
        if (out.includes('demo account:')) resolve();
      });
      server?.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }
  async function stopServer() {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    // The production build, as `npm start` serves it.
    await build({
      root: join(here, '../web'),
      configFile: join(here, '../web/vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: webRoot },
    });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    smtp = await startSmtpServer();
    await startServer();
    browser = await launchChromium();
    if (shots) mkdirSync(shots, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopServer();
    await smtp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // A case that stops the server and fails before it restarts must not fail every later case.
  afterEach(async () => {
    if (!server) await startServer();
  });

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    // Every page of the context reports CSP violations to the test through the console.
    await context.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) =>
        console.log(`CSP-VIOLATION ${e.effectiveDirective} ${e.blockedURI}`),
      ),
    );
    context.on('console', (message) => {
      if (message.text().startsWith('CSP-VIOLATION')) violations.push(message.text());
    });
    return context;
  }

  async function logIn(page: Page, username = 'demo', password = PASSWORD) {
    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByTestId('username').textContent()).toBe(username);
  }

  /** A new account through the API and the SMTP server (register, the mailed link, verify); its session cookie's value. */
  async function register(username: string, site = base): Promise<string> {
    const email = `${username}@example.org`;
    const post = (path: string, body: unknown) =>
      fetch(`${site}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: site },
        body: JSON.stringify(body),
      });
    expect((await post('/api/auth/register', { email, password: PASSWORD, username })).status).toBe(202);
    const res = await post('/api/auth/verify', {
      token: await waitForLink(mail, email, '/verify'),
      password: PASSWORD,
    });
    expect(res.status, `verify ${username}`).toBe(200);
    return /__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
  }
  /** The whole link of the last mail to `to` that opens `page`. */
  async function mailedLink(to: string, page: string): Promise<string> {
    const token = await waitForLink(mail, to, page);
    return `${base}${page}#token=${token}`;
  }

  async function addNote(
    page: Page,
    note: { title: string; body: string; pinned?: boolean; priority?: number; tags?: string },
  ) {
    const form = page.getByRole('form', { name: 'New note' });
    await form.getByLabel('Title').fill(note.title);
    await form.getByLabel('Text').fill(note.body);
    if (note.pinned) await form.getByLabel('Pinned').check();
    await form.getByLabel('Priority').selectOption(String(note.priority ?? 0));
    await form.getByLabel('Tags').fill(note.tags ?? '');
    await form.getByRole('button', { name: 'Add note' }).click();
    await expect.poll(() => page.locator('.note h3', { hasText: note.title }).count()).toBe(1);
  }

  /** Everything a script on the page could read from every storage. */
  const dumpStorage = (page: Page) =>
    page.evaluate(async () => {
      const out: Record<string, unknown> = {
        cookie: document.cookie,
        localStorage: { ...localStorage },
        sessionStorage: { ...sessionStorage },
      };
      const read = (db: IDBDatabase, store: string) =>
        new Promise<unknown[]>((resolve, reject) => {
          const request = db.transaction(store).objectStore(store).getAll();
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
      for (const info of await indexedDB.databases()) {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const request = indexedDB.open(info.name as string);
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
        for (const store of db.objectStoreNames) out[`idb:${info.name}:${store}`] = await read(db, store);
        db.close();
      }
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
          const response = await cache.match(request);
          out[`cache:${name}:${request.url}`] = response ? await response.text() : null;
        }
      }
      return JSON.stringify(out);
    });

  const serviceWorkerReady = (page: Page) =>
    expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), { timeout: 15_000 }).toBe(true);

  it('B1: after using every page, no storage holds the session cookie, a JWT, the password or the API key; no CSP violation', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await logIn(page);
    expect(await page.locator('.who img').getAttribute('src')).toBe('/avatars/demo.svg');
    await addNote(page, {
      title: 'Groceries',
      body: 'eggs, 1.5 kg flour, milk',
      pinned: true,
      priority: 3,
      tags: 'home, list',
    });
    await addNote(page, {
      title: 'Quarterly report',
      body: 'Draft the summary and send it to Ana by Friday.',
      priority: 5,
      tags: 'work',
    });
    await addNote(page, { title: 'Book club', body: 'Chapters 4 and 5', priority: 1 });
    await expect.poll(() => page.getByText('All changes saved.').count()).toBe(1);
    if (shots) await page.screenshot({ path: join(shots, 'notes.png'), fullPage: true });
    // IndexedDB keeps the types: a boolean, a number, a Date, an array.
    const types = await page.evaluate(async () => {
      // One database per account: latchkey-notes:<owner key>.
      const name = (await indexedDB.databases()).find((d) => d.name?.startsWith('latchkey-notes:'))?.name;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(name ?? 'missing');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const all = await new Promise<
        { title: string; pinned: unknown; priority: unknown; updatedAt: unknown; tags: unknown }[]
      >((resolve) => {
        const request = db.transaction('notes').objectStore('notes').getAll();
        request.onsuccess = () => resolve(request.result);
      });
      db.close();
      const note = all.find((n) => n.title === 'Groceries');
      return [
        typeof note?.pinned,
        typeof note?.priority,
        note?.updatedAt instanceof Date,
        Array.isArray(note?.tags),
      ].join(',');
    });
    expect(types).toBe('boolean,number,true,true');

    await page.getByRole('link', { name: 'Sessions' }).click();
    await expect.poll(() => page.getByText('This device').count()).toBe(1);
    if (shots) await page.screenshot({ path: join(shots, 'sessions.png') });
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Reveal key' }).click();
    const key = page.getByTestId('api-key');
    await expect.poll(() => key.textContent()).toMatch(/^lk_live_[\w-]{32}$/);
    const apiKey = (await key.textContent()) ?? '';
    await serviceWorkerReady(page);

    const dump = await dumpStorage(page);
    const cookie = (await context.cookies()).find((c) => c.name === '__Host-session');
    expect(cookie?.name).toBe('__Host-session');
    expect(dump).toContain('Groceries'); // the dump really holds the app's data
    for (const secret of [cookie?.value ?? '', cookie?.value.split('.')[1] ?? '', 'eyJ', PASSWORD, apiKey])
      expect(dump.includes(secret), `storage holds ${secret.slice(0, 8)}…`).toBe(false);
    expect(JSON.parse(dump).cookie).toBe('');
    // B4: the service worker's cache holds the app shell only, no /api response.
    const cached = Object.keys(JSON.parse(dump)).filter((k) => k.startsWith('cache:'));
    expect(cached.length).toBeGreaterThan(2);
    expect(cached.filter((k) => k.includes('/api/'))).toEqual([]);
    expect(violations).toEqual([]);
    await context.close();
  });

  it('J6: the BFF-backed card shows downstream data, while no response the browser receives carries a JWT', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const received: string[] = [];
    page.on('response', async (response) => {
      const headers = JSON.stringify(await response.allHeaders());
      const body = await response.body().catch(() => Buffer.alloc(0));
      received.push(`${response.url()} ${headers} ${body.toString('latin1')}`);
    });
    await logIn(page);
    const tip = page.getByTestId('tip');
    await expect.poll(() => tip.count()).toBe(1);
    expect(((await tip.textContent()) ?? '').length).toBeGreaterThan(20);
    // The downstream verified the minted token through the JWKS and reports its lifetime.
    expect(await page.getByText('verified a 300-second token that this page never saw').count()).toBe(1);
    await page.reload();
    await expect.poll(() => tip.count()).toBe(1);
    expect(received.some((r) => r.includes('/bff/api/tip'))).toBe(true);
    expect(received.filter((r) => r.includes('eyJ'))).toEqual([]);
    const dump = await dumpStorage(page);
    expect(dump).not.toContain('eyJ');
    expect(violations).toEqual([]);
    await context.close();
  });

  it('offline: the app opens from the service worker, shows the notes, keeps edits, syncs them after a restart, and reports a conflict', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await logIn(page);
    await addNote(page, { title: 'Offline draft', body: 'written online', priority: 2 });
    await addNote(page, { title: 'Contested', body: 'version one', priority: 1 });
    await expect.poll(() => page.getByText('All changes saved.').count()).toBe(1);
    await serviceWorkerReady(page);
    const session = (await context.cookies()).find((c) => c.name === '__Host-session');
    const cookie = `__Host-session=${session?.value}`;
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { cookie, origin: base, 'content-type': 'application/json', ...init.headers },
      });
    const serverNotes = async () =>
      (
        (await (await api('/api/notes')).json()) as {
          notes: { id: string; title: string; body: string; version: number }[];
        }
      ).notes;

    await stopServer();
    await page.reload();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Offline' }).count()).toBe(1);
    await expect.poll(() => page.locator('.note h3', { hasText: 'Offline draft' }).count()).toBe(1);
    if (shots) await page.screenshot({ path: join(shots, 'offline.png') });
    const edit = async (title: string, body: string) => {
      await page.getByRole('button', { name: `Edit ${title}` }).click();
      const form = page.getByRole('form', { name: 'Edit note' });
      await form.getByLabel('Text').fill(body);
      await form.getByRole('button', { name: 'Save' }).click();
    };
    await edit('Offline draft', 'edited while the server was down');
    await edit('Contested', 'my offline version');
    await expect.poll(() => page.getByText('2 changes waiting to be sent.').count()).toBe(1);

    // Meanwhile another device changes "Contested" on the server. The browser stays offline until
    // that write is in: it looks for the server every 3 s, and its queued edit of "Contested" once
    // reached the server first, so the other device's write was the one refused (409).
    await context.setOffline(true);
    await startServer();
    const contested = (await serverNotes()).find((n) => n.title === 'Contested');
    const theirs = await api(`/api/notes/${contested?.id}`, {
      method: 'PUT',
      body: JSON.stringify({
        title: 'Contested',
        body: 'their version',
        pinned: false,
        priority: 1,
        tags: [],
        updatedAt: Date.now(),
        baseVersion: contested?.version,
      }),
    });
    expect(theirs.status).toBe(200);
    await context.setOffline(false);

    // Back online: the queued edits go out in order; the one based on an old version is shown as a conflict.
    await expect.poll(() => page.getByText('All changes saved.').count(), { timeout: 20_000 }).toBe(1);
    await expect
      .poll(async () => (await serverNotes()).find((n) => n.title === 'Offline draft')?.body)
      .toBe('edited while the server was down');
    const conflict = page.getByRole('alert').filter({ hasText: 'Changed on another device' });
    await expect.poll(() => conflict.count()).toBe(1);
    expect(await conflict.textContent()).toContain('The server has “Contested”');
    expect((await serverNotes()).find((n) => n.title === 'Contested')?.body).toBe('their version'); // nothing lost yet
    await conflict.getByRole('button', { name: 'Keep mine' }).click();
    await expect
      .poll(async () => (await serverNotes()).find((n) => n.title === 'Contested')?.body)
      .toBe('my offline version');
    await expect.poll(() => conflict.count()).toBe(0);
    expect(violations).toEqual([]);
    await context.close();
  });

  it('C: every online navigation gets a fresh page and nonce from the network; the precached shell only offline', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await logIn(page);
    await serviceWorkerReady(page);
    // What the service worker fetched itself: the navigations it passed to the network.
    const fromNetwork: string[] = [];
    const failed: string[] = [];
    const navigation = (request: import('playwright-core').Request) =>
      request.serviceWorker() !== null && ['/notes', '/', '/index.html'].includes(new URL(request.url()).pathname);
    context.on('requestfinished', (request) => {
      if (navigation(request)) fromNetwork.push(request.url());
    });
    context.on('requestfailed', (request) => {
      if (navigation(request)) failed.push(request.url());
    });
    const nonces: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await page.reload();
      expect(response?.fromServiceWorker(), 'the service worker answered the navigation').toBe(true);
      const csp = (await response?.allHeaders())?.['content-security-policy'] ?? '';
      const header = /'nonce-([^']+)'/.exec(csp)?.[1];
      const attribute = await page.evaluate(() => document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce);
      expect(header).toMatch(/^[\w+/=-]{16,}$/);
      expect(attribute, 'the page carries the nonce of its own CSP header').toBe(header);
      await expect.poll(() => page.getByTestId('username').textContent()).toBe('demo');
      nonces.push(header ?? '');
    }
    expect(new Set(nonces).size, `nonces ${nonces.join(' ')}`).toBe(3);
    expect(fromNetwork).toHaveLength(3);
    // The other paths of the page too, which name the precached file or its directory.
    for (const path of ['/', '/index.html', '/', '/index.html']) {
      const response = await page.goto(`${base}${path}`);
      expect(response?.fromServiceWorker(), path).toBe(true);
      nonces.push(/'nonce-([^']+)'/.exec((await response?.allHeaders())?.['content-security-policy'] ?? '')?.[1] ?? '');
      await expect.poll(() => page.getByTestId('username').textContent()).toBe('demo');
    }
    expect(new Set(nonces).size, `nonces ${nonces.join(' ')}`).toBe(7);
    await page.goto(`${base}/notes`);
    expect(fromNetwork).toHaveLength(8); // every one of them fetched by the worker from the server

    // Offline, the precached shell answers, with the CSP header and nonce it was stored with.
    await context.setOffline(true);
    const offline = await page.reload();
    expect(offline?.fromServiceWorker()).toBe(true);
    const stored = /'nonce-([^']+)'/.exec((await offline?.allHeaders())?.['content-security-policy'] ?? '')?.[1];
    expect(await page.evaluate(() => document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce)).toBe(stored);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Offline' }).count()).toBe(1);
    expect(fromNetwork).toHaveLength(8);
    expect(failed).toHaveLength(1); // it did try the network first
    await context.setOffline(false);
    expect(violations).toEqual([]);
    await context.close();
  });

  it("cookie tossing: an offline edit made as A is never sent to B after B's session cookie replaces A's; A's queue is kept", async () => {
    // Two accounts; B stands for an attacker whose page on another port of this host set the
    // session cookie (cookies ignore ports).
    const victim = `victim-${Date.now() % 100_000}`;
    await register(victim);
    const attacker = await register(`mallory-${Date.now() % 100_000}`);
    const asAttacker = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { cookie: `__Host-session=${attacker}`, origin: base, 'content-type': 'application/json' },
      });
    const attackerNotes = async () =>
      ((await (await asAttacker('/api/notes')).json()) as { notes: { title: string; body: string }[] }).notes;
    expect(
      (
        await asAttacker('/api/notes/planted', {
          method: 'PUT',
          body: JSON.stringify({
            title: 'Planted by the attacker',
            body: 'phishing text',
            pinned: true,
            priority: 5,
            tags: [],
            updatedAt: Date.now(),
            baseVersion: null,
          }),
        })
      ).status,
    ).toBe(200);

    const context = await newContext();
    const page = await context.newPage();
    await logIn(page, victim);
    await addNote(page, { title: 'Shopping', body: 'synced online' });
    await expect.poll(() => page.getByText('All changes saved.').count()).toBe(1);

    // Offline, A writes a new note and edits the synced one: both wait in A's outbox.
    await stopServer();
    await addNote(page, { title: 'Diary', body: "the victim's private offline text" });
    await page.getByRole('button', { name: 'Edit Shopping' }).click();
    const form = page.getByRole('form', { name: 'Edit note' });
    await form.getByLabel('Text').fill('edited offline');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByText('2 changes waiting to be sent.').count()).toBe(1);

    // The tossed cookie: same name, host and path, so it replaces A's.
    const mine = (await context.cookies()).find((c) => c.name === '__Host-session');
    await context.addCookies([{ ...(mine as NonNullable<typeof mine>), value: attacker }]);
    expect((await context.cookies()).filter((c) => c.name === '__Host-session').map((c) => c.value)).toEqual([
      attacker,
    ]);

    // Back online: the app retries by itself every few seconds.
    await startServer();
    const swapped = page.getByRole('alert').filter({ hasText: 'Signed in as another account' });
    await expect
      .poll(
        async () =>
          (await swapped.count()) > 0 || (await attackerNotes()).some((n) => n.body.includes('private offline')),
        { timeout: 20_000 },
      )
      .toBe(true);
    await new Promise((r) => setTimeout(r, 1000)); // and nothing goes out a moment later either
    expect(
      (await attackerNotes()).map((n) => n.body),
      "the victim's edit reached the attacker's account",
    ).not.toContain("the victim's private offline text");
    expect(await swapped.count()).toBe(1);

    // A's queue and note are still on this device, in A's own database; B's note never came in.
    const local = () =>
      page.evaluate(async () => {
        const out: Record<string, unknown[]> = {};
        for (const info of await indexedDB.databases()) {
          const db = await new Promise<IDBDatabase>((resolve, reject) => {
            const request = indexedDB.open(info.name as string);
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
          });
          for (const store of db.objectStoreNames)
            out[`${info.name}/${store}`] = await new Promise<unknown[]>((resolve) => {
              const request = db.transaction(store).objectStore(store).getAll();
              request.onsuccess = () => resolve(request.result);
            });
          db.close();
        }
        return out;
      });
    const stores = await local();
    const notes = Object.entries(stores).filter(([name]) => name.endsWith('/notes'));
    const outbox = Object.entries(stores).filter(([name]) => name.endsWith('/outbox'));
    expect(notes.map(([name]) => name)).toEqual([expect.stringMatching(/^latchkey-notes:[\w-]{43}\/notes$/)]);
    expect(notes[0]?.[0]).not.toContain(victim); // the database name does not show the username
    expect(JSON.stringify(notes[0]?.[1])).toContain("the victim's private offline text");
    expect(JSON.stringify(notes[0]?.[1])).not.toContain('Planted');
    expect(outbox[0]?.[1]).toHaveLength(2);

    // A reload asks the server again: still refused, still kept.
    await page.reload();
    await expect.poll(() => swapped.count()).toBe(1);
    expect((await local())[outbox[0]?.[0] ?? ''] ?? []).toHaveLength(2);
    expect((await attackerNotes()).map((n) => n.body)).not.toContain("the victim's private offline text");

    // A logs in again: the queued edit goes to A's account.
    await swapped.getByRole('button', { name: 'Log in again' }).click();
    await page.getByLabel('Username').fill(victim);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByTestId('username').textContent()).toBe(victim);
    const victimNotes = async () => {
      const session = (await context.cookies()).find((c) => c.name === '__Host-session');
      const res = await fetch(`${base}/api/notes`, { headers: { cookie: `__Host-session=${session?.value}` } });
      return ((await res.json()) as { notes: { body: string }[] }).notes.map((n) => n.body).sort();
    };
    await expect
      .poll(victimNotes, { timeout: 20_000 })
      .toEqual(['edited offline', "the victim's private offline text"]);
    await expect.poll(() => page.getByText('All changes saved.').count()).toBe(1);
    expect(await page.locator('.note h3', { hasText: 'Planted' }).count()).toBe(0);
    expect(violations).toEqual([]);
    await context.close();
  });

  it('grants: the sessions page lists the API clients signed in with the password, and Revoke ends one', async () => {
    const username = `cli-user-${Date.now() % 100_000}`;
    await register(username);
    const token = async (body: Record<string, string>) => {
      const res = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { refresh_token?: string } };
    };
    const cli = await token({ grant_type: 'password', username, password: PASSWORD });
    const laptop = await token({ grant_type: 'password', username, password: PASSWORD });
    expect([cli.status, laptop.status]).toEqual([200, 200]);

    const context = await newContext();
    const page = await context.newPage();
    await logIn(page, username);
    await page.getByRole('link', { name: 'Sessions' }).click();
    const grants = page.getByTestId('grants').locator('tbody tr');
    await expect.poll(() => grants.count()).toBe(2);
    const first = ((await grants.first().locator('td').first().textContent()) ?? '').slice(-6);
    await grants
      .first()
      .getByRole('button', { name: /^Revoke API token/ })
      .click();
    await expect.poll(() => grants.count()).toBe(1);
    expect(await grants.textContent()).not.toContain(first);
    await expect.poll(() => page.getByText(/API token from .* revoked\./).count()).toBe(1);
    // One of the two clients' refresh tokens is dead now; the other one still works.
    const refreshed = await Promise.all(
      [cli, laptop].map(
        async (c) => (await token({ grant_type: 'refresh_token', refresh_token: c.body.refresh_token ?? '' })).status,
      ),
    );
    expect(refreshed.filter((status) => status === 200)).toHaveLength(1);
    if (shots) await page.screenshot({ path: join(shots, 'sessions.png') });

    // A server that sends no `grants` (or an empty list): the page says so and still works.
    await page.route('**/api/sessions', async (route) => {
      const response = await route.fetch();
      const { grants: _dropped, ...rest } = (await response.json()) as Record<string, unknown>;
      await route.fulfill({ response, json: rest });
    });
    await page.getByRole('link', { name: 'Notes' }).click();
    await page.getByRole('link', { name: 'Sessions' }).click();
    await expect.poll(() => page.getByTestId('no-grants').count()).toBe(1);
    expect(await page.getByText('This device').count()).toBe(1);
    expect(violations).toEqual([]);
    await context.close();
  });

  it('L1, L2: logout in one tab logs out the other tab, and leaves no IndexedDB, Cache Storage or service worker', async () => {
    const context = await newContext();
    const first = await context.newPage();
    await logIn(first);
    await serviceWorkerReady(first);
    const second = await context.newPage();
    await second.goto(`${base}/notes`);
    await expect.poll(() => second.getByTestId('username').textContent()).toBe('demo');
    await first.getByRole('button', { name: 'Log out' }).click();
    await expect.poll(() => second.getByRole('heading', { name: 'Log in' }).count()).toBe(1);
    await expect.poll(() => first.getByRole('heading', { name: 'Log in' }).count()).toBe(1);
    if (shots) await first.screenshot({ path: join(shots, 'login.png') });
    const left = () =>
      first.evaluate(async () => ({
        databases: (await indexedDB.databases()).map((d) => d.name),
        caches: await caches.keys(),
        workers: (await navigator.serviceWorker.getRegistrations()).length,
        localStorage: localStorage.length,
      }));
    await expect.poll(left).toEqual({ databases: [], caches: [], workers: 0, localStorage: 0 });
    await new Promise((r) => setTimeout(r, 500)); // and it stays empty: no late refresh re-creates it
    expect(await left()).toEqual({ databases: [], caches: [], workers: 0, localStorage: 0 });
    expect(await context.cookies()).toEqual([]);
    await context.close();
  });

  it('R3: ending a session on the sessions page logs that other browser out on its next request', async () => {
    const laptop = await newContext();
    const phone = await newContext();
    const laptopPage = await laptop.newPage();
    const phonePage = await phone.newPage();
    await logIn(phonePage);
    await logIn(laptopPage);
    await laptopPage.getByRole('link', { name: 'Sessions' }).click();
    await expect.poll(() => laptopPage.getByText('This device').count()).toBe(1);
    const phoneId = (await phone.cookies()).find((c) => c.name === '__Host-session')?.value.split('.')[0];
    const rows = laptopPage.getByTestId('browser-sessions').locator('tbody tr:not(.current)');
    expect(await rows.count()).toBeGreaterThan(0);
    // End every other session, one by one, as a user would.
    while ((await rows.count()) > 0) {
      await rows.first().getByRole('button').click();
      await expect.poll(() => rows.count()).toBeLessThan(99);
      await laptopPage.waitForTimeout(100);
    }
    expect(phoneId).toMatch(/^[\w-]{22}$/);
    await phonePage.getByRole('link', { name: 'Sessions' }).click();
    await expect.poll(() => phonePage.getByRole('heading', { name: 'Log in' }).count()).toBe(1);
    await laptopPage.reload();
    await expect.poll(() => laptopPage.getByTestId('username').textContent()).toBe('demo');
    await laptop.close();
    await phone.close();
  });

  it('#15: sign up → "check your inbox" → the mail (over SMTP) → the link → logged in; the token leaves the address bar', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const username = `newbie-${Date.now() % 100_000}`;
    const email = `${username}@example.org`;
    await page.goto(`${base}/login`);
    await page.getByRole('link', { name: 'Register' }).click();
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Username (optional)').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Check your inbox' }).count()).toBe(1);
    expect(await page.getByRole('status').textContent()).toContain(email);
    if (shots) await page.screenshot({ path: join(shots, 'sign-up.png') });

    // The link from the mail, opened as a mail program would: a new page, no Referer.
    const link = await mailedLink(email, '/verify');
    const [received] = smtp.received.filter((m) => m.envelope.to.includes(email));
    expect(received?.headers.subject).toBe('Finish signing up to latchkey notes');
    const verify = await context.newPage();
    await verify.goto(link);
    await expect.poll(() => verify.getByRole('heading', { name: 'Finish signing up' }).count()).toBe(1);
    // The token is out of the address bar (and history) before anything is sent.
    expect(verify.url()).toBe(`${base}/verify`);
    await verify.getByLabel('Password').fill(PASSWORD);
    await verify.getByRole('button', { name: 'Finish signing up' }).click();
    await expect.poll(() => verify.getByTestId('username').textContent()).toBe(username);
    // The link worked once: opened again, it says so.
    const again = await context.newPage();
    await again.goto(link);
    await again.getByLabel('Password').fill(PASSWORD);
    await again.getByRole('button', { name: 'Finish signing up' }).click();
    await expect.poll(() => again.getByRole('alert').first().textContent()).toContain('no longer works');
    expect(violations).toEqual([]);
    await context.close();
  });

  it('#15: forgot → the mail → reset → logged in here, and the old session in another browser context is gone', async () => {
    const username = `forgetful-${Date.now() % 100_000}`;
    const email = `${username}@example.org`;
    await register(username);
    const laptop = await newContext();
    const laptopPage = await laptop.newPage();
    // Logged in with the e-mail address this time.
    const logInByEmail = async (password: string) => {
      await laptopPage.goto(`${base}/login`);
      await laptopPage.getByLabel('Username').fill(email);
      await laptopPage.getByLabel('Password').fill(password);
      await laptopPage.getByRole('button', { name: 'Log in' }).click();
      await expect.poll(() => laptopPage.getByTestId('username').textContent()).toBe(username);
    };
    await logInByEmail(PASSWORD);

    const phone = await newContext();
    const phonePage = await phone.newPage();
    await phonePage.goto(`${base}/login`);
    await phonePage.getByRole('link', { name: 'Forgot your password?' }).click();
    await phonePage.getByLabel('E-mail address').fill(email);
    await phonePage.getByRole('button', { name: 'Send the link' }).click();
    await expect.poll(() => phonePage.getByRole('heading', { name: 'Check your inbox' }).count()).toBe(1);
    await phonePage.goto(await mailedLink(email, '/reset'));
    await expect.poll(() => phonePage.getByRole('heading', { name: 'Set a new password' }).count()).toBe(1);
    expect(phonePage.url()).toBe(`${base}/reset`);
    await phonePage.getByLabel('New password', { exact: true }).fill('a brand new passphrase here');
    if (shots) await phonePage.screenshot({ path: join(shots, 'reset.png') });
    await phonePage.getByRole('button', { name: 'Set the password' }).click();
    await expect.poll(() => phonePage.getByTestId('username').textContent()).toBe(username);

    // The laptop's session ended with the reset: its next request finds itself logged out.
    await laptopPage.getByRole('link', { name: 'Sessions' }).click();
    await expect.poll(() => laptopPage.getByRole('heading', { name: 'Log in' }).count()).toBe(1);
    await logInByEmail('a brand new passphrase here');
    await expect
      .poll(() => smtp.received.filter((m) => m.envelope.to.includes(email)).map((m) => m.headers.subject))
      .toContain('Your latchkey notes password was changed');
    expect(violations).toEqual([]);
    await laptop.close();
    await phone.close();
  });

  it('#15: "keep me signed in" gives this browser a 30-day cookie and the sessions page marks it; unticked, 12 h', async () => {
    const username = `keeper-${Date.now() % 100_000}`;
    await register(username);
    const cookieOf = async (context: BrowserContext) =>
      (await context.cookies()).find((c) => c.name === '__Host-session');
    const desk = await newContext();
    const deskPage = await desk.newPage();
    await deskPage.goto(`${base}/login`);
    await deskPage.getByLabel('Username').fill(username);
    await deskPage.getByLabel('Password').fill(PASSWORD);
    await deskPage.getByLabel('Keep me signed in').check();
    await deskPage.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => deskPage.getByTestId('username').textContent()).toBe(username);
    const days = (((await cookieOf(desk))?.expires ?? 0) * 1000 - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);

    const kiosk = await newContext();
    const kioskPage = await kiosk.newPage();
    await logIn(kioskPage, username);
    const hours = (((await cookieOf(kiosk))?.expires ?? 0) * 1000 - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);

    await deskPage.getByRole('link', { name: 'Sessions' }).click();
    const rows = deskPage.getByTestId('browser-sessions').locator('tbody tr');
    // This browser, the kiosk, and the session the sign-up link opened (through the API).
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.filter({ hasText: 'This device' }).getByText('Remembered').count()).toBe(1);
    expect(await rows.filter({ hasNotText: 'This device' }).getByText('Remembered').count()).toBe(0);
    if (shots) await deskPage.screenshot({ path: join(shots, 'sessions.png') });
    expect(violations).toEqual([]);
    await desk.close();
    await kiosk.close();
  });

  it('#16: two-factor sign-in: set up from the Account page, log in with password and code, then once with a recovery code', async () => {
    const username = `twofa-${Date.now() % 100_000}`;
    await register(username);
    const context = await newContext();
    const page = await context.newPage();
    await logIn(page, username);
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent()) ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await page.getByRole('img', { name: 'QR code for your authenticator app' }).getAttribute('src')).toMatch(
      /^data:image\/svg\+xml;base64,/,
    );
    const codeAt = (offset: number) =>
      TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * 1000 });
    if (shots)
      await page
        .getByRole('region', { name: 'Two-factor sign-in' })
        .screenshot({ path: join(shots, 'two-factor-setup.png') });
    await page.getByLabel('The 6-digit code the app shows').fill(codeAt(0));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect.poll(() => page.getByTestId('recovery-codes').locator('li').count()).toBe(10);
    const recovery = await page.getByTestId('recovery-codes').locator('code').allTextContents();
    expect(await page.getByTestId('totp-status').textContent()).toContain('On.');
    if (shots) await page.screenshot({ path: join(shots, 'two-factor.png'), fullPage: true });

    const signIn = async (code: string) => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await expect.poll(() => page.getByRole('heading', { name: 'Log in' }).count()).toBe(1);
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await expect.poll(() => page.getByRole('heading', { name: 'Enter your code' }).count()).toBe(1);
      // The password alone made no session: only the step's cookie, which no script can read.
      const cookies = await context.cookies();
      expect(cookies.filter((c) => c.name === '__Host-session')).toEqual([]);
      expect(cookies.find((c) => c.name === '__Host-second-factor')).toMatchObject({
        httpOnly: true,
        sameSite: 'Strict',
      });
      await page.getByLabel('Code', { exact: true }).fill(code);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect.poll(() => page.getByTestId('username').textContent()).toBe(username);
    };
    await signIn(codeAt(30)); // the next step's code: the confirming one is spent
    await signIn(recovery[0] as string);
    // The same recovery code a second time is refused.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByLabel('Code', { exact: true }).fill(recovery[0] as string);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('wrong or was already used');
    expect(violations).toEqual([]);
    await context.close();
  });
  it('#16 done-when: sign up, add a passkey, sign out and back in with it alone (autofill), enable TOTP, password + code, a recovery code once, passkey step-up, remove it (Chromium, virtual authenticator)', {
    timeout: 180_000,
  }, async () => {
    // WebAuthn needs a domain name: a server of its own, reached at http://localhost (the suite's is at 127.0.0.1).
    const port2 = await freePort();
    const site = `http://localhost:${port2}`;
    const fresh = 15; // seconds a proof keeps the session fresh, so the test can let it go stale
    const passkeyServer: ServerProcess = await startServerProcess(
      {
        LATCHKEY_DATA_DIR: join(dir, 'data-passkeys'),
        LATCHKEY_WEB_ROOT: webRoot,
        LATCHKEY_DEMO_PASSWORD: PASSWORD,
        LATCHKEY_PUBLIC_URL: site,
        LATCHKEY_FRESH_FOR: String(fresh),
        LATCHKEY_SMTP_URL: smtp.url,
        LATCHKEY_MAIL_FROM: 'no-reply@notes.test',
      },
      port2,
    );
    const context = await newContext();
    const page = await context.newPage();
    try {
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
      // With presence off, the authenticator answers nothing: the login page's autofill request waits.
      const presence = (enabled: boolean) =>
        cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
      const stale = () => new Promise((r) => setTimeout(r, (fresh + 1) * 1000));
      const username = `passkey-${Date.now() % 100_000}`;
      const signedIn = () => expect.poll(() => page.getByTestId('username').textContent()).toBe(username);
      const loggedOut = () => expect.poll(() => page.getByRole('heading', { name: 'Log in' }).count()).toBe(1);
      const passwordLogin = async (code?: string) => {
        await page.getByLabel('Username').fill(username);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Log in', exact: true }).click();
        if (code === undefined) return;
        await expect.poll(() => page.getByRole('heading', { name: 'Enter your code' }).count()).toBe(1);
        await page.getByLabel('Code', { exact: true }).fill(code);
        await page.getByRole('button', { name: 'Continue' }).click();
      };

      // Sign up (the mailed link), then log in with the password.
      await register(username, site);
      await presence(false);
      await page.goto(`${site}/login`);
      await passwordLogin();
      await signedIn();

      // Adding a passkey needs a fresh session: once stale, the page asks for the password first.
      await stale();
      await page.getByRole('link', { name: 'Account' }).click();
      const card = page.getByRole('region', { name: 'Passkeys' });
      await expect.poll(() => card.getByTestId('passkeys-status').textContent()).toBe('No passkeys yet.');
      await presence(true);
      await card.getByLabel('Name (so you can tell them apart)').fill('Test laptop');
      await card.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => card.getByTestId('passkeys').textContent()).toContain('Test laptop');
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
      await card.getByRole('button', { name: 'Rename' }).click();
      await card.getByLabel('New name').fill('Work laptop');
      await card.getByRole('button', { name: 'Save' }).click();
      await expect.poll(() => card.getByTestId('passkeys').textContent()).toContain('Work laptop');
      if (shots) await card.screenshot({ path: join(shots, 'passkeys.png') });

      // Out, and back in with the passkey alone, from the username field's autofill (conditional
      // UI): the virtual authenticator picks the passkey as a user would; no name, no password.
      const verified = page.waitForResponse(
        (r) => r.url().endsWith('/api/auth/passkey') && r.request().method() === 'POST',
      );
      await page.getByRole('button', { name: 'Log out' }).click();
      expect((await verified).status()).toBe(200);
      await signedIn();
      const cookies = await context.cookies(site);
      expect(cookies.find((c) => c.name === '__Host-session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      // Nothing of the session where a script could read it (the notes' owner key is not a secret).
      const readable = await page.evaluate(() =>
        JSON.stringify([document.cookie, { ...localStorage }, { ...sessionStorage }]),
      );
      expect(readable.startsWith('["",')).toBe(true);
      expect(readable).not.toContain(cookies.find((c) => c.name === '__Host-session')?.value ?? '');
      // The assertion the browser sent, replayed (a thief with a copy of the request): refused.
      const replay = await context.request.post(`${site}/api/auth/passkey`, {
        headers: { 'content-type': 'application/json', origin: site },
        data: (await verified).request().postData() ?? '',
      });
      expect(replay.status()).toBe(400);
      expect((await replay.json()).error.code).toBe('PASSKEY_CHALLENGE_EXPIRED');

      // The same passkey used from another origin on the same rp id (a page on another port of
      // localhost, as a look-alike site on a sibling subdomain would be): the browser signs, since
      // the rp id matches, but the server refuses an answer made for an origin it was not given.
      // Its own context: a page of another port on localhost shares the cookie jar (cookies are per
      // host), and the other server would clear this one's session cookie.
      const otherContext = await newContext();
      const foreign = await otherContext.newPage();
      const otherCdp = await otherContext.newCDPSession(foreign);
      await otherCdp.send('WebAuthn.enable');
      const other = await otherCdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
        },
      });
      await otherCdp.send('WebAuthn.addCredential', {
        authenticatorId: other.authenticatorId,
        credential: credentials[0] as never,
      });
      const started = await otherContext.request.post(`${site}/api/auth/passkey/options`, {
        headers: { 'content-type': 'application/json', origin: site },
        data: '{}',
      });
      const { options: challenge } = await started.json();
      await foreign.goto(`http://localhost:${port}/login`); // the suite's server: another origin
      const answer = await foreign.evaluate(async (o: { challenge: string }) => {
        const bytes = (b64: string) =>
          Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
        const text = (buf: ArrayBuffer) =>
          btoa(String.fromCharCode(...new Uint8Array(buf)))
            .replace(/\+/g, '-')
            .replace(/\//g, '_')
            .replace(/=+$/, '');
        const cred = (await navigator.credentials.get({
          publicKey: { challenge: bytes(o.challenge), rpId: 'localhost', userVerification: 'required' },
        })) as PublicKeyCredential;
        const r = cred.response as AuthenticatorAssertionResponse;
        return {
          id: cred.id,
          rawId: cred.id,
          type: 'public-key',
          response: {
            clientDataJSON: text(r.clientDataJSON),
            authenticatorData: text(r.authenticatorData),
            signature: text(r.signature),
            ...(r.userHandle ? { userHandle: text(r.userHandle) } : {}),
          },
          clientExtensionResults: {},
        };
      }, challenge);
      expect(JSON.parse(Buffer.from(answer.response.clientDataJSON, 'base64url').toString()).origin).toBe(
        `http://localhost:${port}`,
      );
      const phished = await otherContext.request.post(`${site}/api/auth/passkey`, {
        headers: { 'content-type': 'application/json', origin: site },
        data: JSON.stringify({ response: answer }),
      });
      expect(phished.status()).toBe(401);
      expect((await phished.json()).error.code).toBe('PASSKEY_INVALID');
      await otherContext.close();

      // Two-factor codes on, while the passkey sign-in is fresh.
      await page.getByRole('link', { name: 'Account' }).click();
      await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
      const secret = (await page.getByTestId('totp-secret').textContent()) ?? '';
      const codeAt = (offset: number) =>
        TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * 1000 });
      await page.getByLabel('The 6-digit code the app shows').fill(codeAt(0));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await expect.poll(() => page.getByTestId('recovery-codes').locator('li').count()).toBe(10);
      const recovery = await page.getByTestId('recovery-codes').locator('code').allTextContents();

      // Password and code; then password and a recovery code, which works once.
      await presence(false);
      await page.getByRole('button', { name: 'Log out' }).click();
      await loggedOut();
      await passwordLogin(codeAt(30)); // the next step's code: the confirming one is spent
      await signedIn();
      await page.getByRole('button', { name: 'Log out' }).click();
      await loggedOut();
      await passwordLogin(recovery[0]);
      await signedIn();
      await page.getByRole('button', { name: 'Log out' }).click();
      await loggedOut();
      await passwordLogin(recovery[0]);
      await expect.poll(() => page.getByRole('alert').filter({ hasText: 'wrong or was already used' }).count()).toBe(1);
      await page.goto(`${site}/login`);
      await passwordLogin(recovery[1]);
      await signedIn();

      // Step-up with the passkey: once stale, removing it asks for proof, and the passkey stands
      // for both the password and the code.
      await stale();
      await presence(true);
      await page.getByRole('link', { name: 'Account' }).click();
      await card.getByRole('button', { name: 'Remove Work laptop' }).click();
      await page.getByRole('button', { name: 'Use a passkey instead' }).click();
      await expect.poll(() => card.getByTestId('passkeys-status').textContent()).toBe('No passkeys yet.');

      // The authenticator still holds the key, but the server forgot it: it signs nobody in, from
      // the autofill (which fails quietly) or from the button.
      await page.getByRole('button', { name: 'Log out' }).click();
      await loggedOut();
      if (shots) await page.screenshot({ path: join(shots, 'login-passkey.png') });
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await expect.poll(() => page.getByRole('alert').filter({ hasText: 'could not be verified' }).count()).toBe(1);
      expect((await context.cookies(site)).filter((c) => c.name === '__Host-session')).toEqual([]);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
      await passkeyServer.kill();
    }
  });
});
