/**
 * One bench server (servers/app.ts, latchkey's mechanism) for the tools that study a single
 * framework: `bench:profile` and `bench:cpu`. Pinned to core 0, its SQLite file in `dir`, logged
 * in once: the cookie is what the authenticated route needs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../apps/demo/test/server-process.js';
import { pinned } from './load.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface OneServerOptions {
  framework: string;
  /** sqlite (exclusive), postgres or redis. */
  store: string;
  cache: boolean;
  /** Where the SQLite file goes. */
  dir: string;
  /** Node flags before the script (a profiler's). */
  nodeArgs?: string[];
}

export interface OneServer {
  base: string;
  cookie: string;
  server: ChildProcess;
  /** Stops it with SIGINT and resolves when it has exited (a profile is written at exit). */
  stop(): Promise<void>;
}

export async function startOneServer(options: OneServerOptions): Promise<OneServer> {
  const port = await freePort();
  const script = [...(options.nodeArgs ?? []), '--import', 'tsx', join(here, '../servers/app.ts'), String(port)];
  const [cmd, args] = pinned(0, process.execPath, script);
  const server = spawn(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      FRAMEWORK: options.framework,
      MECH: 'latchkey',
      STORE: options.store,
      EXCLUSIVE: options.store === 'sqlite' ? '1' : '0',
      CACHE: options.cache ? '1' : '0',
      SQLITE_FILE: join(options.dir, 'bench.db'),
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('message', () => resolve());
    server.once('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const login = await fetch(`${base}/login`, { method: 'POST' });
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return {
    base,
    cookie,
    server,
    async stop() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGINT');
      await exited;
    },
  };
}
