/**
 * The scale-out line of `npm run bench`: the reference server's authenticated route (`GET /api/me`,
 * the whole app: hardening, CSRF guard, session from PostgreSQL behind the cache, the account from
 * its table) straight to one instance, then through HAProxy to one and to two instances, sharing
 * their state through PostgreSQL. Interleaved rounds, medians; load from wrk on its own core.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { haproxyAvailable, haproxyConfiguration, startCluster } from '../apps/demo/cluster/cluster.js';
import { dropSharedPrefix } from '../apps/demo/test/postgres.js';
import { freePort } from '../apps/demo/test/server-process.js';
import { load } from './lib/load.js';
import { median } from './lib/stats.js';

export interface ScaleOutRow {
  name: string;
  instances: number;
  rps: number;
  p99ms: number;
}

export async function measureScaleOut(options: {
  seconds: number;
  rounds: number;
  connections: number;
  postgresUrl: string;
}): Promise<ScaleOutRow[] | undefined> {
  if (!haproxyAvailable()) {
    console.log('scale-out: skipped (haproxy is not installed: apt-get install -y haproxy)');
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-cluster-'));
  const prefix = `lk_bench_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('base64url');
  // The cluster runs the reference server from source against the built library, like `npm start`.
  const cluster = await startCluster({
    instances: 2,
    store: 'postgres',
    port: 0,
    dataDir: dir,
    demoPassword: password,
    env: {
      LATCHKEY_POSTGRES_URL: options.postgresUrl,
      LATCHKEY_SHARED_PREFIX: prefix,
      // One cookie for every connection: the per-address connection cap must not refuse the load.
      LATCHKEY_MAX_CONNECTIONS_PER_ADDRESS: '4096',
    },
  });
  // A second balancer in front of the first instance only: the same proxy hop, one instance.
  const onePort = await freePort();
  const oneFile = join(dir, 'haproxy-one.cfg');
  writeFileSync(
    oneFile,
    haproxyConfiguration({ port: onePort, servers: [{ name: 'app1', port: cluster.instances[0]?.port ?? 0 }] }),
  );
  const one = spawn('haproxy', ['-db', '-f', oneFile], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 2500)); // its first health checks
    const res = await fetch(`${cluster.url}/api/auth/login`, {
      method: 'POST',
      headers: { origin: cluster.url, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'demo', password }),
    });
    const cookie = /__Host-session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
    if (res.status !== 200 || !cookie) throw new Error(`scale-out: login answered ${res.status}`);
    const headers = { cookie };
    const cases = [
      { name: 'one instance, no balancer', instances: 1, url: `${cluster.instances[0]?.base}/api/me` },
      { name: 'HAProxy → one instance', instances: 1, url: `http://127.0.0.1:${onePort}/api/me` },
      { name: 'HAProxy → two instances', instances: 2, url: `${cluster.url}/api/me` },
    ];
    const samples = new Map(cases.map((c) => [c.name, [] as { rps: number; p99ms: number }[]]));
    for (const c of cases) await load(c.url, 1, options.connections, headers); // warm-up
    for (let round = 0; round < options.rounds; round++)
      for (const c of cases) {
        const r = await load(c.url, options.seconds, options.connections, headers);
        if (r.non2xx > 0) throw new Error(`scale-out: ${c.name} answered ${r.non2xx} non-2xx`);
        samples.get(c.name)?.push(r);
      }
    return cases.map((c) => {
      const s = samples.get(c.name) ?? [];
      return {
        name: c.name,
        instances: c.instances,
        rps: median(s.map((x) => x.rps)),
        p99ms: median(s.map((x) => x.p99ms)),
      };
    });
  } finally {
    one.kill('SIGTERM');
    await cluster.stop();
    const pool = new pg.Pool({ connectionString: options.postgresUrl });
    await dropSharedPrefix(pool, prefix).catch(() => undefined);
    await pool.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
