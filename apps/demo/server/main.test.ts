import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-main-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts main.ts from source as `npm start` would start its build, and waits for its banner. */
function start(env: Record<string, string> = {}): Promise<{ port: number; stdout: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--conditions=@latchkey/source', '--import', 'tsx', join(here, 'main.ts')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LATCHKEY_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c) => {
      stdout += c;
      const match = /http:\/\/localhost:(\d+)\n[\s\S]*demo account: .*\n/.exec(stdout);
      if (match) resolve({ port: Number(match[1]), stdout, child });
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
    headers: { 'content-type': 'application/json' },
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
