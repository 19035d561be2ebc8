/**
 * Every example, run the way an adopter runs it: latchkey and @latchkey/client installed from
 * their packed tarballs into a fresh project (install.ts), type-checked there under strict
 * TypeScript, each server started as its own process and driven over HTTP, the front end and the
 * migration's before/after in Chromium.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, chromiumAvailable, launchChromium } from '../../apps/demo/test/browser.js';
import { cookiePair, send } from '../../packages/server/src/test/http.js';
import { type Installed, installFromTarballs, root, run } from './install.js';

const PASSWORD = 'a long example password';
const KEY = Buffer.alloc(32, 7).toString('base64url');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

interface Running {
  origin: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts `<dir>/<script>` with tsx, as `npm run <name>` would; resolves once it listens. */
async function start(
  dir: string,
  script: string,
  env: Record<string, string> = {},
  host = '127.0.0.1',
): Promise<Running> {
  const port = await freePort();
  const origin = `http://${host}:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      ORIGIN: origin,
      SESSION_KEY: KEY,
      DEMO_PASSWORD: PASSWORD,
      DB_FILE: join(dir, `${script.replace(/\W/g, '-')}.db`),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c) => (output += c));
  child.stderr?.on('data', (c) => (output += c));
  const deadline = Date.now() + 30_000;
  while (!output.includes('listening on')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${script} did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    origin,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

/** The defences every example must show over a real socket. */
async function drive(origin: string) {
  const same = { origin }; // a non-browser client names the app's origin, as browsers do
  const anonymous = await send(`${origin}/api/me`);
  expect(anonymous.status).toBe(401);
  expect(anonymous.json.error.code).toBe('SESSION_REQUIRED');
  expect(anonymous.headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]{24}'/);
  expect(anonymous.headers['x-content-type-options']).toBe('nosniff');
  expect(anonymous.headers['x-frame-options']).toBe('DENY');
  expect(anonymous.headers.vary).toMatch(/Sec-Fetch-Site, Origin/);
  expect(anonymous.headers['cache-control']).toBe('no-store');
  expect(anonymous.headers['x-powered-by']).toBeUndefined();

  const login = (body: unknown, headers: Record<string, string> = same) =>
    send(`${origin}/api/login`, { method: 'POST', body, headers });
  const wrong = await login({ username: 'demo', password: 'not the password' });
  expect([wrong.status, wrong.json.error.code]).toEqual([401, 'INVALID_CREDENTIALS']);
  const unknown = await login({ username: 'nobody', password: 'not the password' });
  expect(unknown.text).toBe(wrong.text);
  // X1, X2: a cross-site request, and one with no origin at all, never reach the handler.
  expect((await login({ username: 'demo', password: PASSWORD }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
  expect((await login({ username: 'demo', password: PASSWORD }, {})).json.error.code).toBe('CSRF_REJECTED');
  // X3: what a cross-site form can send.
  const form = await send(`${origin}/api/login`, {
    method: 'POST',
    body: 'username=demo',
    headers: { ...same, 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect([form.status, form.json.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  const badJson = await send(`${origin}/api/login`, { method: 'POST', body: '{"username":', headers: same });
  expect([badJson.status, badJson.json.error.code]).toEqual([400, 'INVALID_JSON']);

  const ok = await login({ username: 'demo', password: PASSWORD });
  expect(ok.status).toBe(200);
  expect(ok.json).toEqual({ user: { id: 'u_1', name: 'demo' } });
  expect(ok.setCookie).toHaveLength(1);
  expect(ok.setCookie[0]).toMatch(
    /^__Host-session=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
  );
  const cookie = cookiePair(ok.setCookie[0]);
  expect(ok.text).not.toContain(cookie.split('=')[1]);
  expect(ok.headers['cache-control']).toBe('no-store');

  const me = await send(`${origin}/api/me`, { headers: { cookie } });
  expect([me.status, me.json]).toEqual([200, { user: { id: 'u_1', name: 'demo' } }]);
  expect(me.headers['cache-control']).toBe('no-store');
  expect(me.headers.etag).toBeUndefined();

  const missing = await send(`${origin}/no/such/route`);
  expect([missing.status, missing.json.error.code]).toEqual([404, 'NOT_FOUND']);
  expect(missing.headers['content-security-policy']).toContain("frame-ancestors 'none'");

  // The CSP's report route exists: browsers post reports without credentials or fetch metadata.
  const report = await send(`${origin}/api/csp-report`, {
    method: 'POST',
    body: JSON.stringify({ 'csp-report': { 'document-uri': `${origin}/`, 'violated-directive': 'script-src' } }),
    headers: { 'content-type': 'application/csp-report' },
  });
  expect(report.status).toBe(204);

  const out = await send(`${origin}/api/logout`, { method: 'POST', headers: { ...same, cookie } });
  expect(out.status).toBe(200);
  expect(out.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
  expect((await send(`${origin}/api/me`, { headers: { cookie } })).status).toBe(401); // R1: replay after logout

  // P4: a burst of guesses from one address is throttled with Retry-After.
  const burst = await Promise.all(
    Array.from({ length: 12 }, (_, i) => login({ username: 'demo', password: `guess number ${i}` })),
  );
  const throttled = burst.filter((r) => r.status === 429);
  expect(throttled.length).toBeGreaterThan(0);
  expect(Number(throttled[0]?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(burst.every((r) => r.status === 401 || r.status === 429)).toBe(true);
}

describe('examples, installed from packed tarballs', () => {
  let installed: Installed;
  beforeAll(() => {
    installed = installFromTarballs();
    run(installed.dir, 'npm', ['run', 'build:web']);
    for (const side of ['before', 'after']) {
      run(installed.dir, 'npx', [
        'esbuild',
        `migrate/${side}/web/app.ts`,
        '--bundle',
        '--format=esm',
        `--outfile=migrate/${side}/web/dist/app.js`,
      ]);
      cpSync(
        join(installed.dir, `migrate/${side}/web/index.html`),
        join(installed.dir, `migrate/${side}/web/dist/index.html`),
      );
    }
  });
  afterAll(() => installed?.remove());

  it('the tarballs hold a README, a LICENSE and dist, and no TypeScript sources or tests', () => {
    const listing = run(installed.dir, 'tar', ['-tzf', installed.tarballs.find((t) => /^latchkey-\d/.test(t)) ?? '']);
    expect(listing).toContain('package/README.md');
    expect(listing).toContain('package/LICENSE');
    expect(listing).toContain('package/dist/index.js');
    expect(listing).toContain('package/dist/cli/latchkey.js');
    expect(listing).not.toMatch(/\.test\.|package\/src\//);
  });

  it('type-checks under strict TypeScript against the packed types', () => {
    expect(() => run(installed.dir, 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'])).not.toThrow();
  });

  it('npx latchkey keygen prints a key', () => {
    expect(run(installed.dir, 'npx', ['latchkey', 'keygen'])).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  });

  for (const name of ['express', 'fastify', 'hono', 'node']) {
    it(`${name}: login with the throttle, logout, a protected route, headers, CSRF and coded errors`, async () => {
      const app = await start(installed.dir, `${name}/server.ts`);
      try {
        await drive(app.origin);
      } finally {
        await app.stop();
      }
      expect(app.output()).not.toContain(KEY);
    });
  }

  it('passkeys: register one after a fresh login, sign in with it alone, step up with it (driven by the packed latchkey/passkeys/testing)', async () => {
    // WebAuthn needs a domain name: the app's origin is localhost; requests go to 127.0.0.1.
    const app = await start(installed.dir, 'passkeys/server.ts', {}, 'localhost');
    try {
      const testing = join(installed.dir, 'node_modules/latchkey/dist/passkeys/testing.js');
      const { createSoftAuthenticator } = (await import(
        pathToFileURL(testing).href
      )) as typeof import('latchkey/passkeys/testing');
      const key = createSoftAuthenticator({ origin: app.origin });
      const base = app.origin.replace('localhost', '127.0.0.1');
      const post = (path: string, body: unknown, cookie?: string) =>
        send(`${base}${path}`, {
          method: 'POST',
          body,
          headers: { origin: app.origin, ...(cookie ? { cookie } : {}) },
        });

      const loggedIn = await post('/api/login', { username: 'demo', password: PASSWORD });
      const cookie = cookiePair(loggedIn.setCookie[0]);
      const options = (await post('/api/passkeys/options', {}, cookie)).json.options;
      const added = await post('/api/passkeys', { response: key.register(options), name: 'Laptop' }, cookie);
      expect([added.status, added.json.passkey.name]).toEqual([200, 'Laptop']);

      const started = await post('/api/passkey-login/options', {});
      const flow = cookiePair(started.setCookie[0]);
      expect(flow).toMatch(/^__Host-passkey-flow=/);
      const signedIn = await post('/api/passkey-login', { response: key.authenticate(started.json.options) }, flow);
      expect([signedIn.status, signedIn.json]).toEqual([200, { user: { id: 'u_1', name: 'demo' } }]);
      expect(signedIn.setCookie[0]).toMatch(/^__Host-session=/);
      expect(signedIn.setCookie[1]).toMatch(/^__Host-passkey-flow=; Max-Age=0/);
      const session = cookiePair(signedIn.setCookie[0]);
      expect((await send(`${base}/api/me`, { headers: { cookie: session } })).status).toBe(200);
      const replay = await post('/api/passkey-login', { response: key.authenticate(started.json.options) }, flow);
      expect([replay.status, replay.json.error.code]).toEqual([400, 'PASSKEY_CHALLENGE_EXPIRED']);

      const step = await post('/api/reauthenticate/passkey/options', {}, session);
      const fresh = await post(
        '/api/reauthenticate/passkey',
        { response: key.authenticate(step.json.options) },
        session,
      );
      expect(fresh.status).toBe(200);
      expect(cookiePair(fresh.setCookie[0])).not.toBe(session); // a new session id
    } finally {
      await app.stop();
    }
  });

  it('dbsc: a login binds a key; the session cookie alone is refused; refresh renews the bound cookie (driven by the packed latchkey/dbsc/testing)', async () => {
    const app = await start(installed.dir, 'dbsc/server.ts', {});
    try {
      const testing = join(installed.dir, 'node_modules/latchkey/dist/dbsc/testing.js');
      const dbsc = (await import(pathToFileURL(testing).href)) as typeof import('latchkey/dbsc/testing');
      const device = await dbsc.createSoftDeviceKey();
      const post = (path: string, headers: Record<string, string>, body?: unknown) =>
        send(`${app.origin}${path}`, { method: 'POST', body, headers: { origin: app.origin, ...headers } });

      const loggedIn = await post('/api/login', {}, { username: 'demo', password: PASSWORD });
      const cookie = cookiePair(loggedIn.setCookie[0]);
      const offer = dbsc.readRegistrationHeader(loggedIn.headers['secure-session-registration'] as string);
      expect(offer.path).toBe('/api/device/register');
      const registered = await post(offer.path, {
        cookie,
        'secure-session-response': await device.register(offer.challenge),
      });
      expect(registered.status).toBe(200);
      const bound = cookiePair(registered.setCookie[0]);
      expect(bound).toMatch(/^__Host-bound=/);
      const both = await send(`${app.origin}/api/me`, { headers: { cookie: `${cookie}; ${bound}` } });
      expect([both.status, both.json.deviceBound]).toEqual([200, true]);
      expect((await send(`${app.origin}/api/me`, { headers: { cookie } })).status).toBe(401);

      const id = registered.json.session_identifier as string;
      const asked = await post('/api/device/refresh', { cookie, 'sec-secure-session-id': id });
      expect(asked.status).toBe(403);
      const { challenge } = dbsc.readChallengeHeader(asked.headers['secure-session-challenge'] as string);
      const renewed = await post('/api/device/refresh', {
        cookie,
        'sec-secure-session-id': id,
        'secure-session-response': await device.refresh(challenge),
      });
      expect(renewed.status).toBe(200);
      const next = cookiePair(renewed.setCookie[0]);
      expect((await send(`${app.origin}/api/me`, { headers: { cookie: `${cookie}; ${next}` } })).status).toBe(200);
    } finally {
      await app.stop();
    }
  });

  it('a missing SESSION_KEY stops the server at start-up with the code and the fix', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'express/server.ts'], {
      cwd: installed.dir,
      env: { PATH: process.env.PATH ?? '', PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr?.on('data', (c) => (output += c));
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(output).toContain('KEY_INVALID');
    expect(output).toContain('npx latchkey keygen');
  });

  if (chromiumAvailable()) {
    it('the front end logs in, holds nothing a script can read, and logs out', async () => {
      const app = await start(installed.dir, 'express/server.ts');
      const browser = await launchChromium();
      try {
        const page = await (await browser.newContext()).newPage();
        const violations: string[] = [];
        page.on('console', (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
        await page.goto(app.origin);
        await page.fill('input[name=username]', 'demo');
        await page.fill('input[name=password]', PASSWORD);
        await page.click('button[type=submit]');
        await expect.poll(() => page.textContent('#name')).toBe('demo');
        const cookies = await page.context().cookies();
        expect(cookies.filter((c) => c.name === '__Host-session')).toMatchObject([
          { httpOnly: true, secure: true, sameSite: 'Strict' },
        ]);
        expect(await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length])).toEqual([
          '',
          0,
          0,
        ]);
        await page.reload();
        await expect.poll(() => page.textContent('#name')).toBe('demo');
        await page.click('#logout');
        await expect.poll(() => page.isVisible('#login')).toBe(true);
        expect((await page.context().cookies()).filter((c) => c.name === '__Host-session')).toEqual([]);
        expect(violations).toEqual([]);
      } finally {
        await browser.close();
        await app.stop();
      }
    });

    it('the migration: before, the token sits in localStorage; after, the page holds nothing', async () => {
      const browser = await launchChromium();
      try {
        const seen: Record<string, unknown> = {};
        for (const side of ['before', 'after']) {
          const app = await start(installed.dir, `migrate/${side}/server.ts`);
          try {
            const page = await (await browser.newContext()).newPage();
            await page.goto(app.origin);
            await page.fill('input[name=username]', 'demo');
            await page.fill('input[name=password]', PASSWORD);
            await page.click('button[type=submit]');
            await expect.poll(() => page.textContent('#who')).toBe('Signed in as demo');
            // What an injected script would collect.
            seen[side] = await page.evaluate(() => ({ cookie: document.cookie, storage: { ...localStorage } }));
          } finally {
            await app.stop();
          }
        }
        expect(seen.before).toEqual({ cookie: '', storage: { token: expect.stringMatching(/^JWT eyJ/) } });
        expect(seen.after).toEqual({ cookie: '', storage: {} });
      } finally {
        await browser.close();
      }
    });
  }

  if (chromiumAvailable()) {
    it("npx latchkey audit: the article's app fails it (a JWT in localStorage), the latchkey one passes", async () => {
      writeFileSync(
        join(installed.dir, 'login.mjs'),
        `export default async function login(page, { url }) {
  await page.goto(url);
  await page.fill('input[name=username]', 'demo');
  await page.fill('input[name=password]', ${JSON.stringify(PASSWORD)});
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#who')?.textContent === 'Signed in as demo');
}
`,
      );
      const verdicts: Record<
        string,
        { status: number | null; findings: { rule: string; severity: string; where?: string }[] }
      > = {};
      for (const side of ['before', 'after']) {
        const app = await start(installed.dir, `migrate/${side}/server.ts`);
        try {
          // The server is another process, so the audit may run synchronously here.
          const audit = spawnSync(
            'npx',
            ['latchkey', 'audit', app.origin, '--login', 'login.mjs', '--json', '--chromium', CHROMIUM],
            {
              cwd: installed.dir,
              encoding: 'utf8',
              timeout: 120_000,
            },
          );
          expect(audit.stderr, side).toBe('');
          verdicts[side] = { status: audit.status, findings: JSON.parse(audit.stdout).findings };
        } finally {
          await app.stop();
        }
      }
      expect(verdicts.before?.status).toBe(1);
      expect(verdicts.before?.findings).toContainEqual(
        expect.objectContaining({ rule: 'storage-jwt', severity: 'high', where: 'localStorage["token"]' }),
      );
      expect(verdicts.after?.status).toBe(0);
      expect(verdicts.after?.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    });
  }

  it('docs/migrate.md counts the lines the migration changes', () => {
    const doc = readFileSync(join(root, 'docs/migrate.md'), 'utf8');
    for (const file of ['server.ts', 'web/app.ts']) {
      // git diff exits 1 when the files differ: read its output, not its status.
      const stat = spawnSync(
        'git',
        ['diff', '--no-index', '--numstat', `examples/migrate/before/${file}`, `examples/migrate/after/${file}`],
        { cwd: root, encoding: 'utf8' },
      ).stdout.split('\t');
      const row = new RegExp(
        `\\|\\s*\`${file.replace('/', '\\/')}\`\\s*\\|\\s*\\+${stat[0]}\\s*\\|\\s*−${stat[1]}\\s*\\|`,
      );
      expect(doc).toMatch(row);
    }
  });
});

it('both READMEs show examples/express/server.ts as it is, so what a reader copies is what CI ran', () => {
  const example = readFileSync(join(root, 'examples/express/server.ts'), 'utf8').trimEnd();
  for (const readme of ['README.md', 'packages/server/README.md'])
    expect(readFileSync(join(root, readme), 'utf8')).toContain(`\`\`\`ts\n${example}\n\`\`\``);
});

it('every example server stays short: under 50 lines', () => {
  for (const name of ['express', 'fastify', 'hono', 'node'])
    expect(
      readFileSync(join(root, `examples/${name}/server.ts`), 'utf8')
        .trimEnd()
        .split('\n').length,
    ).toBeLessThan(50);
});
