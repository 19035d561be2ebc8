/**
 * Several reference server processes behind HAProxy, sharing their state through PostgreSQL or
 * Redis (LATCHKEY_STORE): what `npm run cluster` starts, and what the cluster test drives.
 *
 * HAProxy, not a load balancer written here: the point is to run behind the real thing, with its
 * health checks (`GET /readyz`), its retries and its X-Forwarded-For. Debian packages it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type ServerProcess, startServerProcess } from '../test/server-process.js';

export interface ClusterOptions {
  /** Server processes. */
  instances: number;
  store: 'postgres' | 'redis';
  /** Shared by every instance: the demo's SQLite file (accounts, notes) and the kept keys. */
  dataDir: string;
  /** The load balancer's port; 0 picks a free one. */
  port: number;
  /** The seeded demo account's password (every instance seeds the same account). */
  demoPassword: string;
  /** More environment for every instance: LATCHKEY_POSTGRES_URL, LATCHKEY_REDIS_URL, LATCHKEY_SHARED_PREFIX… */
  env?: Record<string, string>;
  /** The haproxy binary. Default `haproxy` on the PATH. */
  haproxy?: string;
  /** HAProxy's health-check interval in ms. Default 1000. */
  checkInterval?: number;
}

export interface ClusterInstance {
  name: string;
  port: number;
  base: string;
  process: ServerProcess | undefined;
  /** Starts it (again) on the same port. */
  start(): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

export interface Cluster {
  /** The load balancer's URL: what a browser would be given. */
  url: string;
  instances: ClusterInstance[];
  /** The HAProxy configuration in use (also written to the data folder). */
  haproxyConfig: string;
  stop(): Promise<void>;
}

/**
 * The HAProxy configuration for `servers` behind `port`. What each line is for:
 * - X-Forwarded-For is replaced, never appended to: the instances trust this proxy's address, so
 *   a value a client sent would otherwise pass for its address (and dodge the per-address throttle).
 * - Health: `/readyz` every `inter`; two failures take an instance out, two successes put it back.
 *   While a store is down every instance is out, and HAProxy answers 503 itself.
 * - Retries only on a failed connection (the request never reached the server), then to another
 *   instance (`redispatch`): a POST is never sent twice.
 * - The probes answer 404 to clients: only HAProxy's own checks reach them.
 */
export function haproxyConfiguration(options: {
  port: number;
  servers: { name: string; port: number }[];
  checkInterval?: number;
}): string {
  const inter = options.checkInterval ?? 1000;
  return `global
  # Each connection needs two descriptors (client and server side): stay under the usual limits.
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  timeout queue 5s
  retries 2
  retry-on conn-failure
  option redispatch

frontend web
  bind 127.0.0.1:${options.port}
  http-request del-header x-forwarded-for
  http-request del-header forwarded
  option forwardfor
  http-request set-header x-forwarded-proto http
  # The probes are for HAProxy, whose checks go straight to the servers; /readyz costs a store read.
  http-request deny deny_status 404 if { path /healthz /readyz }
  default_backend latchkey

backend latchkey
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
  default-server inter ${inter}ms fall 2 rise 2
  # Which instance answered: for the cluster test and for debugging; drop it in production.
  http-response set-header x-served-by %s
${options.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`).join('\n')}
`;
}

/** Whether the haproxy binary runs here. */
export function haproxyAvailable(haproxy = 'haproxy'): boolean {
  try {
    execFileSync(haproxy, ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${ms} ms`);
}

/** Starts the instances (in parallel), then HAProxy, and waits until it sends traffic to all of them. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const port = options.port || (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    LATCHKEY_STORE: options.store,
    LATCHKEY_DATA_DIR: options.dataDir,
    LATCHKEY_DEMO_PASSWORD: options.demoPassword,
    // Browsers reach the instances through the balancer only: its origins, its proxy address.
    LATCHKEY_ORIGINS: `${url},http://localhost:${port}`,
    LATCHKEY_PUBLIC_URL: url,
    LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
    ...options.env,
  };
  const instances: ClusterInstance[] = [];
  for (let i = 1; i <= options.instances; i++) {
    const instancePort = await freePort();
    const instance: ClusterInstance = {
      name: `app${i}`,
      port: instancePort,
      base: `http://127.0.0.1:${instancePort}`,
      process: undefined,
      async start() {
        instance.process = await startServerProcess(env, instancePort);
      },
      async kill() {
        await instance.process?.kill();
      },
    };
    instances.push(instance);
  }
  // The first creates the shared schema and the kept keys; the others then start together.
  await instances[0]?.start();
  await Promise.all(instances.slice(1).map((i) => i.start()));

  const haproxyConfig = haproxyConfiguration({
    port,
    servers: instances.map((i) => ({ name: i.name, port: i.port })),
    ...(options.checkInterval ? { checkInterval: options.checkInterval } : {}),
  });
  const file = join(options.dataDir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig);
  let haproxyErrors = '';
  const haproxy: ChildProcess = spawn(options.haproxy ?? 'haproxy', ['-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  haproxy.stderr?.on('data', (c: Buffer) => {
    haproxyErrors = (haproxyErrors + c).slice(-4000);
  });
  const stop = async () => {
    if (haproxy.exitCode === null) {
      const gone = new Promise((r) => haproxy.once('exit', r));
      haproxy.kill('SIGTERM');
      await gone;
    }
    await Promise.all(instances.map((i) => i.kill()));
  };
  try {
    // Up when every instance has answered through the balancer (each is checked before it gets traffic).
    const seen = new Set<string>();
    await waitFor(
      'HAProxy sending traffic to every instance',
      async () => {
        if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${haproxyErrors}`);
        // Any route: HAProxy sends it only to instances that passed their checks.
        const res = await fetch(`${url}/api/auth/methods`);
        await res.body?.cancel();
        const by = res.headers.get('x-served-by');
        if (res.status === 200 && by) seen.add(by);
        return seen.size === instances.length;
      },
      20_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\nhaproxy said: ${haproxyErrors || '(nothing)'}`);
  }
  return { url, instances, haproxyConfig, stop };
}

/** A PostgreSQL server of the caller's own (initdb in a temporary folder), to stop and restart at will. */
export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and deletes its files. */
  destroy(): Promise<void>;
}

function pgBin(name: string): string {
  const versions = execFileSync('ls', ['/usr/lib/postgresql']).toString().trim().split('\n').sort();
  return `/usr/lib/postgresql/${versions.at(-1)}/bin/${name}`;
}

/**
 * Why a private server: the cluster test restarts it, and the machine's own PostgreSQL serves
 * every other test file at the same time. PostgreSQL refuses to run as root: as root, it runs as
 * the `postgres` user.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  // A folder of its own in the temporary folder: the postgres user must reach it (a caller's
  // mkdtemp folder is 0700 root).
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-pg-'));
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPostgres.length > 0) execFileSync('chown', ['-R', 'postgres', dir]);
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...asPostgres, ...args];
    try {
      execFileSync(cmd as string, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const e = error as { stderr?: Buffer; stdout?: Buffer; message: string };
      throw new Error(`${e.message}\n${e.stderr?.toString() ?? ''}${e.stdout?.toString() ?? ''}`);
    }
  };
  run([pgBin('initdb'), '-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres']);
  const pgCtl = (action: 'start' | 'stop') =>
    run([
      pgBin('pg_ctl'),
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'log'),
      '-w',
      ...(action === 'start'
        ? ['-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`]
        : ['-m', 'fast']),
      action,
    ]);
  pgCtl('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () => pgCtl('start'),
    stop: async () => pgCtl('stop'),
    destroy: async () => {
      try {
        pgCtl('stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis server of the caller's own, with an append-only file so a restart keeps what it had. */
export interface PrivateRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
      { stdio: 'ignore' },
    );
    await waitFor(
      'redis-server answering',
      async () => {
        const { createConnection } = await import('node:net');
        return new Promise<boolean>((resolve) => {
          const s = createConnection({ host: '127.0.0.1', port }, () => {
            s.end();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
      },
      10_000,
    );
  };
  const stop = async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM'); // Redis writes its append-only file and exits
      await gone;
    }
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
