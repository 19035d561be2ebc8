/**
 * Throw-away Redis servers for tests: a single server or a three-master Cluster, on spare ports,
 * in a temporary folder. The shared server on 6379 is never touched.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const cli = (port: number, ...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);

export interface RedisServer {
  port: number;
  /** Stops the server (SIGKILL when `hard`), keeping its folder for a restart. */
  stop(hard?: boolean): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

export async function startRedis(extra: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `latchkey-redis-${port}-`));
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    port,
    async start() {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...extra,
      ];
      child = spawn('redis-server', args, { stdio: 'ignore' });
      await waitFor(async () => (await cli(port, 'ping')).stdout.trim() === 'PONG', 10_000, `redis on ${port}`);
    },
    async stop(hard = false) {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await exited;
    },
    async destroy() {
      await server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export interface RedisCluster {
  ports: number[];
  destroy(): Promise<void>;
}

/** Three masters, no replicas, every slot assigned; resolves when the cluster state is ok. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const nodes = await Promise.all(
    [0, 1, 2].map(() =>
      startRedis(['--cluster-enabled', 'yes', '--cluster-node-timeout', '3000', '--cluster-config-file', 'nodes.conf']),
    ),
  );
  const ports = nodes.map((n) => n.port);
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  for (const port of ports) {
    await waitFor(
      async () => (await cli(port, 'cluster', 'info')).stdout.includes('cluster_state:ok'),
      20_000,
      `cluster state on ${port}`,
    );
  }
  return { ports, destroy: async () => void (await Promise.all(nodes.map((n) => n.destroy()))) };
}
