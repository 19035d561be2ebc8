/**
 * `npm run bench`: latchkey against the bare framework, in one run, with ratios.
 *   1. validateToken in process, per store, with and without the cache, at each size (default
 *      100,000 and 1,000,000 sessions): median and p99 of a first ("cold") validation of each of
 *      many sessions (first for this process and its caches, after one untimed pass has brought
 *      them into the server's buffers and the OS page cache, as on a running system), and the
 *      median of repeated ("warm") validations of one;
 *   2. node:http, the bare route against the authenticated route per store, in the same server,
 *      load from a separate process (wrk, or autocannon), alternating rounds; medians and ranges.
 * Flags: --quick (small and short: checks the harness), --sizes 100000,1000000, --seconds S,
 * --rounds R. PostgreSQL and Redis are measured when they answer on their usual ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSessionManager } from 'latchkey';
import {
  type Backend,
  BENCH_KEY,
  postgresBackend,
  redisBackend,
  type StoreVariant,
  sqliteBackend,
  variantName,
} from './lib/backends.js';
import { type LoadResult, load, pinned, tools } from './lib/load.js';
import { fmt, median, percentile } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const sizes = (arg('sizes') ?? (quick ? '10000' : '100000,1000000')).split(',').map(Number);
const sampled = quick ? 1000 : 10_000;
const seconds = Number(arg('seconds') ?? (quick ? 1 : 3));
const rounds = Number(arg('rounds') ?? (quick ? 1 : 5));
const connections = 64;

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

console.log(
  `latchkey bench · ${new Date().toISOString()} · node ${process.version} · ${cpus().length}× ${cpus()[0]?.model ?? '?'}`,
);
console.log(
  `load: ${tools.wrk ? 'wrk' : 'autocannon (apt-get install -y wrk for a lighter load generator)'}, ${tools.taskset ? 'server on core 0, load on core 1' : 'not pinned'}`,
);

const backends: Backend[] = [await sqliteBackend(join(tmpdir(), 'latchkey-bench'), sampled)];
if (await answers(5432)) backends.push(await postgresBackend(sampled));
else console.log('PostgreSQL not on 127.0.0.1:5432: skipped');
if (await answers(6379)) backends.push(await redisBackend(sampled));
else console.log('Redis not on 127.0.0.1:6379: skipped');

const variants: StoreVariant[] = backends.flatMap((b): StoreVariant[] =>
  b.name === 'sqlite'
    ? [
        { backend: 'sqlite' },
        { backend: 'sqlite', exclusive: true },
        { backend: 'sqlite', exclusive: true, cache: true },
      ]
    : [{ backend: b.name }, { backend: b.name, cache: true }],
);
const backendOf = (v: StoreVariant) => backends.find((b) => b.name === v.backend) as Backend;

// 1. validateToken in process
type InProcess = { size: number; variant: string; coldMedianUs: number; coldP99Us: number; warmMedianUs: number };
const inProcess: InProcess[] = [];
for (const size of sizes) {
  for (const backend of backends) {
    const started = performance.now();
    await backend.fill(size);
    console.log(
      `${backend.name}: ${size.toLocaleString('en-US')} sessions ready in ${fmt((performance.now() - started) / 1000)} s`,
    );
  }
  // One untimed pass per backend first: the server's buffers and the OS page cache hold the
  // sampled sessions, as on a running system; "cold" then means first for this process's caches.
  for (const backend of backends) {
    backend.prewarm?.();
    const { store, close } = await backend.open({ backend: backend.name });
    const sessions = createSessionManager({ store, keys: [BENCH_KEY], sweepInterval: 0, verifiedTokens: 0 });
    for (const token of backend.tokens) await sessions.validateToken(token);
    await close();
  }
  console.log(
    `\nvalidateToken in process, ${size.toLocaleString('en-US')} sessions      cold median     cold p99   warm median`,
  );
  for (const variant of variants) {
    const backend = backendOf(variant);
    const { store, close } = await backend.open(variant);
    const sessions = createSessionManager({ store, keys: [BENCH_KEY], sweepInterval: 0 });
    const time = async (tokens: string[]) => {
      const ns: number[] = [];
      for (const token of tokens) {
        const t0 = process.hrtime.bigint();
        const session = await sessions.validateToken(token);
        ns.push(Number(process.hrtime.bigint() - t0));
        if (session === null) throw new Error(`a sampled session did not validate on ${variantName(variant)}`);
      }
      return ns;
    };
    const cold = await time([...backend.tokens].sort(() => Math.random() - 0.5));
    const warm = await time(Array.from({ length: 5000 }, () => backend.tokens[0] as string));
    await close();
    const row = {
      size,
      variant: variantName(variant),
      coldMedianUs: median(cold) / 1000,
      coldP99Us: percentile(cold, 99) / 1000,
      warmMedianUs: median(warm) / 1000,
    };
    inProcess.push(row);
    console.log(
      `  ${row.variant.padEnd(44)} ${fmt(row.coldMedianUs, 2).padStart(8)} µs ${fmt(row.coldP99Us, 2).padStart(9)} µs ${fmt(row.warmMedianUs, 2).padStart(9)} µs`,
    );
  }
}

// 2. node:http: bare route vs authenticated route per store, alternating rounds
async function startServer(variant: StoreVariant): Promise<{ base: string; stop: () => void }> {
  const port = 3900 + Math.floor(Math.random() * 90);
  const [cmd, args] = pinned(0, process.execPath, [
    '--import',
    'tsx',
    join(here, 'servers/node-http.ts'),
    String(port),
  ]);
  const server: ChildProcess = spawn(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...backendOf(variant).env(variant) },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('message', () => resolve());
    server.once('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  return { base: `http://127.0.0.1:${port}`, stop: () => server.kill() };
}

const bare: LoadResult[] = [];
const auth = new Map<string, LoadResult[]>();
for (const variant of variants) {
  const { base, stop } = await startServer(variant);
  const cookie = { cookie: `__Host-session=${backendOf(variant).tokens[1]}` };
  // Both routes get the same request, cookie included: the only difference is latchkey's work.
  await load(`${base}/bare`, 1, connections, cookie); // warm-up
  await load(`${base}/auth`, 1, connections, cookie);
  const results: LoadResult[] = [];
  for (let r = 0; r < rounds; r++) {
    bare.push(await load(`${base}/bare`, seconds, connections, cookie));
    results.push(await load(`${base}/auth`, seconds, connections, cookie));
  }
  stop();
  if (results.some((r) => r.non2xx > 0))
    throw new Error(`${variantName(variant)} answered non-2xx: the harness is broken`);
  auth.set(variantName(variant), results);
}

const summary = (rs: LoadResult[]) => ({
  rps: median(rs.map((r) => r.rps)),
  min: Math.min(...rs.map((r) => r.rps)),
  max: Math.max(...rs.map((r) => r.rps)),
  p50: median(rs.map((r) => r.p50ms)),
  p99: median(rs.map((r) => r.p99ms)),
});
const bareSummary = summary(bare);
const largest = sizes[sizes.length - 1] as number;
console.log(
  `\nnode:http, ${largest.toLocaleString('en-US')} sessions, ${connections} connections, ${rounds}×${seconds} s per route`,
);
console.log('  route                                       req/s median (min–max)          p50       p99   ratio');
const http: Record<string, ReturnType<typeof summary> & { ratio: number }> = {};
for (const [name, s] of [
  ['bare route', bareSummary] as const,
  ...[...auth].map(([n, rs]) => [`authenticated, ${n}`, summary(rs)] as const),
]) {
  http[name] = { ...s, ratio: s.rps / bareSummary.rps };
  console.log(
    `  ${name.padEnd(42)} ${fmt(s.rps, 0).padStart(7)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`.padEnd(77) +
      `${fmt(s.p50, 2).padStart(6)} ms ${fmt(s.p99, 2).padStart(6)} ms  ${fmt(s.rps / bareSummary.rps, 2)}×`,
  );
}

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results/latest.json'),
  JSON.stringify({ date: new Date().toISOString(), node: process.version, sizes, sampled, inProcess, http }, null, 2),
);
for (const backend of backends) await backend.destroy();
