/**
 * The storage lab in Chromium: the claim of the article (docs/article.md), kept true by a test. A compromised CDN script
 * takes the JWTs from localStorage and sessionStorage (and they replay from outside), never the
 * HttpOnly cookie; it can still ride the session while it runs; a strict CSP or SRI stops it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createSqliteStore } from 'latchkey/sqlite';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../test/browser.js';
import { freePort } from '../test/server-process.js';
import { buildApp } from './app.js';
import { type StandInCdn, startStandInCdn } from './lab.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const here = dirname(fileURLToPath(import.meta.url));
const hasChromium = chromiumAvailable();
const shots = process.env.LATCHKEY_SCREENSHOTS;

describe.runIf(hasChromium)('storage lab in Chromium', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-lab-'));
  const db = new Database(join(dir, 'latchkey.db'));
  const sessions = createSessionManager({
    store: createSqliteStore(db),
    keys: [generateSigningKey()],
    sweepInterval: 0,
  });
  let app: Awaited<ReturnType<typeof buildApp>>;
  let cdn: StandInCdn;
  let browser: Browser;
  let base = '';

  beforeAll(async () => {
    cdn = await startStandInCdn();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await buildApp({
      sessions,
      users: createUsers(db),
      notes: createNotes(db),
      origins: [base],
      lab: { cdn, selfUrl: () => base },
      logger: false,
    });
    await app.listen({ port, host: '127.0.0.1' });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    cdn?.server.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function attack(page: Page, defence: 'none' | 'csp' | 'sri') {
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.text().includes('Content Security Policy')) violations.push(m.text());
    });
    await page.goto(`${base}/lab?defence=${defence}`);
    await page.click('#reset');
    // Each card starts as "not logged in", which contains "logged in": wait for the text the
    // page writes once the login's response (and its Set-Cookie) has arrived, or the attack can
    // run before the cookie exists and find no session to ride.
    await page.click('#login-local');
    await expect.poll(() => page.textContent('#state-local')).toMatch(/^logged in/);
    await page.click('#login-session');
    await expect.poll(() => page.textContent('#state-session')).toMatch(/^logged in/);
    await page.click('#login-cookie');
    await expect.poll(() => page.textContent('#state-cookie')).toMatch(/^logged in/);
    await page.click('#attack');
    await expect.poll(() => page.textContent('#attack-state')).not.toBe('Loading…');
    return violations;
  }
  const report = async () =>
    (await (await fetch(`${base}/lab/api/report`)).json()) as {
      attacks: number;
      rows: { where: string; found: string; replay: string; verdict: string }[];
    };

  it('without a defence: both Web Storage JWTs are taken and replay from outside; the HttpOnly cookie is never seen; session riding works', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    await attack(page, 'none');
    await expect.poll(() => page.textContent('#attack-state')).toContain('ran and sent');
    await expect.poll(async () => (await report()).attacks).toBe(1);
    const [loot] = cdn.stolen as {
      localStorage: Record<string, string>;
      sessionStorage: Record<string, string>;
      cookie: string;
    }[];
    expect(JSON.parse(loot?.localStorage.user ?? '{}').token).toMatch(/^JWT eyJ/);
    expect(JSON.parse(loot?.sessionStorage.user ?? '{}').token).toMatch(/^JWT eyJ/);
    const [cookie] = (await context.cookies()).filter((c) => c.name === '__Host-session');
    expect(cookie?.httpOnly).toBe(true);
    expect(JSON.stringify(cdn.stolen)).not.toContain(cookie?.value.split('.')[1]);
    expect(loot?.cookie).toBe('');
    const rows = (await report()).rows;
    const row = (where: string) => rows.find((r) => r.where.startsWith(where));
    expect(row('localStorage')).toMatchObject({ verdict: 'stolen', replay: 'got in as lab-alice (HTTP 200)' });
    expect(row('sessionStorage')).toMatchObject({ verdict: 'stolen', replay: 'got in as lab-alice (HTTP 200)' });
    expect(row('HttpOnly session cookie')).toMatchObject({
      verdict: 'safe',
      replay: 'nothing to replay: the script never saw the cookie',
    });
    // Honest about the limit: while it runs, the script acts as the user with the cookie.
    expect(row('session riding')).toMatchObject({ verdict: 'riding', found: expect.stringContaining('as lab-alice') });
    await expect.poll(() => page.locator('#report tr.stolen').count()).toBe(2);
    if (shots) await page.screenshot({ path: join(shots, 'lab-attack.png'), fullPage: true });
    await context.close();
  });

  it('with a strict CSP the script never loads: a violation, and nothing reaches the collector', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations = await attack(page, 'csp');
    await expect.poll(() => page.textContent('#attack-state')).toContain('Blocked by CSP');
    expect(violations.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    expect((await report()).attacks).toBe(0);
    expect(
      await page.evaluate(() => (window as unknown as { awesomeLibrary?: unknown }).awesomeLibrary),
    ).toBeUndefined();
    await context.close();
  });

  it('with Subresource Integrity the altered file is refused even though the CDN is allowlisted', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations = await attack(page, 'sri');
    await expect.poll(() => page.textContent('#attack-state')).toContain('Subresource Integrity');
    expect(violations).toEqual([]); // not CSP: the integrity check refused it
    await new Promise((r) => setTimeout(r, 500));
    expect((await report()).attacks).toBe(0);
    expect(
      await page.evaluate(() => (window as unknown as { awesomeLibrary?: unknown }).awesomeLibrary),
    ).toBeUndefined();
    await context.close();
  });
});

describe('the lab exists only in the demo', () => {
  it('is not served unless the demo turns it on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-nolab-'));
    const db = new Database(join(dir, 'x.db'));
    const sessions = createSessionManager({
      store: createSqliteStore(db),
      keys: [generateSigningKey()],
      sweepInterval: 0,
    });
    const app = await buildApp({
      sessions,
      users: createUsers(db),
      notes: createNotes(db),
      origins: ['http://x.test'],
      publicUrl: 'https://x.test',
      logger: false,
    });
    for (const path of ['/lab', '/lab/api/report', '/lab/api/jwt-me'])
      expect((await app.inject({ method: 'GET', url: path })).statusCode, path).toBe(404);
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the library has no lab code and never puts a token in a response body', () => {
    const src = join(here, '../../../packages/server/src');
    const files = (readdirSync(src, { recursive: true }) as string[]).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('test'),
    );
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const text = readFileSync(join(src, file), 'utf8');
      expect(text, file).not.toMatch(/\blab\b/i);
      // Adapters and flows send tokens only in Set-Cookie: no body carries one.
      expect(text, file).not.toMatch(/\.(send|json|end)\([^)]*\btoken\b/);
    }
    const exports = Object.keys(JSON.parse(readFileSync(join(src, '../package.json'), 'utf8')).exports);
    expect(exports.some((e) => /lab/.test(e))).toBe(false);
  });
});
