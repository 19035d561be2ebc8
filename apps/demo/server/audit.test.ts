/**
 * `latchkey audit` (packages/audit) pointed at our own pages, as a team would point it at theirs:
 * the storage lab's Web Storage logins are flagged with the JWT's lifetime, and the reference web
 * app, logged in and crawled, has no finding above "info". The server runs as `npm start` runs it
 * (a child process serving the production web build), with the lab on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAudit, toSarif } from '@latchkey/audit';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSarif } from '../../../packages/audit/src/test/sarif.js';
import { CHROMIUM, chromiumAvailable } from '../test/browser.js';
import { type ServerProcess, startServerProcess } from '../test/server-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'demo password for the audit test';

describe.runIf(chromiumAvailable())(
  'latchkey audit on the reference app and the storage lab',
  { timeout: 120_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-audit-demo-'));
    let server: ServerProcess;

    beforeAll(async () => {
      await build({
        root: join(here, '../web'),
        configFile: join(here, '../web/vite.config.ts'),
        logLevel: 'warn',
        build: { outDir: join(dir, 'web') },
      });
      server = await startServerProcess({
        LATCHKEY_DATA_DIR: join(dir, 'data'),
        LATCHKEY_WEB_ROOT: join(dir, 'web'),
        LATCHKEY_DEMO_PASSWORD: PASSWORD,
        LATCHKEY_LAB: '1',
        LATCHKEY_LAB_OPEN: '0',
      });
    }, 120_000);
    afterAll(async () => {
      await server?.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the lab: both Web Storage logins are flagged, with the JWT and its lifetime', async () => {
      const result = await runAudit({
        url: `${server.base}/lab?defence=none`,
        chromium: CHROMIUM,
        maxPages: 1,
        // The lab's own buttons: the article's login into localStorage, and the same into sessionStorage.
        login: async (page) => {
          await page.click('#login-local');
          await page.waitForFunction(() =>
            document.querySelector('#state-local')?.textContent?.startsWith('logged in'),
          );
          await page.click('#login-session');
          await page.waitForFunction(() =>
            document.querySelector('#state-session')?.textContent?.startsWith('logged in'),
          );
        },
      });
      const jwts = result.findings.filter((f) => f.rule === 'storage-jwt');
      expect(jwts.map((f) => f.where).sort()).toEqual(['localStorage["user"] token', 'sessionStorage["user"] token']);
      for (const f of jwts) {
        expect(f.severity).toBe('high');
        expect(f.detail).toMatch(/^A JWT \(lifetime 60 s, HS256, no issuer\): eyJ\w{1}…\S{4} \(\d+ characters\)\.$/);
      }
      // The HttpOnly session cookie of the third login is not in any storage a script reads.
      expect(result.findings.filter((f) => f.rule === 'cookie-httponly')).toEqual([]);
      expect(validateSarif(toSarif(result))).toEqual([]);
    });

    it('the reference web app, logged in: every page crawled, nothing above "info"', async () => {
      const result = await runAudit({
        url: `${server.base}/`,
        chromium: CHROMIUM,
        login: async (page, { url }) => {
          await page.goto(new URL('/login', url).href);
          await page.getByLabel('Username').fill('demo');
          await page.getByLabel('Password').fill(PASSWORD);
          await page.getByRole('button', { name: 'Log in' }).click();
          await page.getByTestId('username').waitFor();
          // Something in IndexedDB to look at: a note, as a user would write one.
          const form = page.getByRole('form', { name: 'New note' });
          await form.getByLabel('Title').fill('Audit me');
          await form.getByLabel('Text').fill('Call Ann about the quarterly numbers.');
          await form.getByRole('button', { name: 'Add note' }).click();
          await page.locator('.note h3', { hasText: 'Audit me' }).waitFor();
        },
      });
      expect(result.pages.map((p) => new URL(p).pathname).sort()).toEqual(['/', '/account', '/notes', '/sessions']);
      expect(result.scripts.length).toBeGreaterThan(0);
      expect(result.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    });
  },
);
