import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCertificate } from '../test/certificate.js';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-main-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts main.ts from source as `npm start` would start its build, and waits for its banner. */
function start(
  env: Record<string, string> = {},
  dir = dataDir,
): Promise<{ port: number; redirectPort: number; stdout: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'main.ts')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LATCHKEY_DATA_DIR: dir, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c) => {
      stdout += c;
      const match = /https?:\/\/localhost:(\d+)\n[\s\S]*demo account: .*\n/.exec(stdout);
      const redirect = /http:\/\/localhost:(\d+) redirects/.exec(stdout);
      if (match) resolve({ port: Number(match[1]), redirectPort: Number(redirect?.[1] ?? 0), stdout, child });
    });
    child.stderr?.on('data', (c) => {
      stderr += c;
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

const login = (port: number, password: string) =>
  fetch(`http://127.0.0.1:${port}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` },
    body: JSON.stringify({ username: 'demo', password }),
  });

describe('reference server start-up', () => {
  it('creates its data folder, prints a generated demo password that works, and keeps sessions across restarts', async () => {
    const first = await start();
    const password = /demo account: demo \/ (\S+)/.exec(first.stdout)?.[1] as string;
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(statSync(join(dataDir, 'latchkey.db')).isFile()).toBe(true);
    expect(statSync(join(dataDir, 'session-key')).mode & 0o777).toBe(0o600);
    const res = await login(first.port, password);
    expect(res.status).toBe(200);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
    first.child.kill('SIGTERM');
    await new Promise((r) => first.child.once('exit', r));

    const second = await start({ LATCHKEY_DEMO_PASSWORD: 'a chosen demo password' });
    expect(second.stdout).not.toContain('a chosen demo password');
    expect((await login(second.port, password)).status).toBe(401);
    expect((await login(second.port, 'a chosen demo password')).status).toBe(200);
    const me = await fetch(`http://127.0.0.1:${second.port}/api/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    second.child.kill('SIGTERM');
  });
});

/** GET over HTTPS trusting only the test's own self-signed certificate. */
function httpsGet(url: string, ca: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
    request(url, { ca, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

describe('HTTPS mode (H1)', () => {
  it('serves HTTPS with HSTS on every response, and its http port only redirects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-tls-'));
    const { certFile: cert, keyFile: key } = makeTestCertificate(dir);
    const server = await start({ LATCHKEY_TLS_CERT: cert, LATCHKEY_TLS_KEY: key, HTTPS_PORT: '0' }, join(dir, 'data'));
    const ca = readFileSync(cert, 'utf8');
    try {
      expect(server.stdout).toContain(`https://localhost:${server.port}`);
      for (const path of ['/', '/api/me', '/nowhere']) {
        const res = await httpsGet(`https://127.0.0.1:${server.port}${path}`, ca);
        expect([200, 401, 404]).toContain(res.status);
        expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      }
      // The plain port: a redirect to the configured https origin, whatever Host the request names.
      const plain = await fetch(`http://127.0.0.1:${server.redirectPort}/api/me?x=1`, {
        redirect: 'manual',
        headers: { host: 'evil.example' },
      });
      expect(plain.status).toBe(308);
      expect(plain.headers.get('location')).toBe(`https://127.0.0.1:${server.port}/api/me?x=1`);
      expect(plain.headers.get('set-cookie')).toBeNull();
      const post = await fetch(`http://127.0.0.1:${server.redirectPort}/api/auth/login`, {
        method: 'POST',
        redirect: 'manual',
      });
      expect(post.status).toBe(308);
    } finally {
      server.child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ignores X-Forwarded-Proto from a peer that is not a trusted proxy (no HSTS over http)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-xfp-'));
    const server = await start({}, dir);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('strict-transport-security')).toBeNull();
    } finally {
      server.child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mail at start-up (#15)', () => {
  it('without an SMTP server: sign-up works through the dev inbox, and the link is printed on the console', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-devmail-'));
    const server = await start({ NODE_ENV: 'development' }, dir);
    try {
      expect(server.stdout).toContain(`dev inbox at http://localhost:${server.port}/dev/mail`);
      let printed = '';
      server.child.stdout?.on('data', (c) => {
        printed += c;
      });
      const base = `http://127.0.0.1:${server.port}`;
      const res = await fetch(`${base}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base },
        body: JSON.stringify({ email: 'ivy@example.org', password: 'ivy chose this password' }),
      });
      expect(res.status).toBe(202);
      await expect.poll(() => printed).toMatch(/mail to ivy@example\.org: Finish signing up/);
      const token = /\/verify#token=([\w-]{43})/.exec(printed)?.[1];
      const page = await (await fetch(`${base}/dev/mail`)).text();
      expect(page).toContain(`/verify#token=${token}`);
      const verified = await fetch(`${base}/api/auth/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base },
        body: JSON.stringify({ token, password: 'ivy chose this password' }),
      });
      expect(verified.status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with NODE_ENV=production and no SMTP server: refuses to start and says what to set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-prodmail-'));
    try {
      const failed = await start({ NODE_ENV: 'production' }, dir).then(
        () => '',
        (error: Error) => error.message,
      );
      expect(failed).toMatch(/server exited with 1: .*LATCHKEY_SMTP_URL.*LATCHKEY_MAIL_FROM/s);
      // Half a configuration is refused too, whatever NODE_ENV says.
      const half = await start({ LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:1' }, dir).then(
        () => '',
        (error: Error) => error.message,
      );
      expect(half).toContain('LATCHKEY_SMTP_URL is set but LATCHKEY_MAIL_FROM is not');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
