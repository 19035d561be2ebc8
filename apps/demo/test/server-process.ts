/**
 * The reference server as a child process (from source, as `npm start` runs its build), for tests
 * and tools that must kill it, restart it or watch it die: fuzzing, crash safety, soak.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '../server/main.ts');

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  base: string;
  alive(): boolean;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

export async function startServerProcess(env: Record<string, string>, port?: number): Promise<ServerProcess> {
  const chosen = port ?? (await freePort());
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...(env.NODE_FLAGS ?? '').split(' ').filter(Boolean), main],
    {
      env: { ...process.env, PORT: String(chosen), HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env },
      // An IPC channel: when this process goes (even by SIGKILL), the server sees it close and stops.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  // The channel alone must not keep this process alive.
  child.channel?.unref();
  // stderr still reaches the test's output, and its last lines go into the error when start-up
  // fails, so a CI log says why (a port taken, a store refused) without a rerun.
  let errTail = '';
  child.stderr?.on('data', (c: Buffer) => {
    process.stderr.write(c);
    errTail = (errTail + c).slice(-2000);
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c) => {
      out += c;
      if (out.includes('demo account:')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`server exited ${code} before it started; its stderr ended with:\n${errTail || '(nothing)'}`)),
    );
  });
  child.stdout?.resume();
  return {
    child,
    port: chosen,
    base: `http://127.0.0.1:${chosen}`,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Logs in through the real endpoint; the session cookie's value. */
export async function login(base: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return /__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
}
