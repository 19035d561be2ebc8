/**
 * `npm run bench`: latchkey against the bare framework, in one run, with ratios.
 *   1. validate in process, with N sessions in SQLite (default 1,000,000): ns per call, median and p99;
 *   2. node:http, bare route vs authenticated route in the same server, load from another process.
 * Flags: --quick (small and short, to check the harness), --sessions N, --seconds S, --rounds R.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createSessionManager } from 'latchkey';
import { createSqliteStore } from 'latchkey/sqlite';
import { BENCH_KEY, buildFixture } from './lib/fixture.js';
import { type LoadResult, load, pinned, tools } from './lib/load.js';
import { fmt, median, percentile } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const quick = argv.includes('--quick');
const total = flag('sessions', quick ? 10_000 : 1_000_000);
const sampled = Math.min(total, quick ? 2_000 : 20_000);
const seconds = flag('seconds', quick ? 1 : 3);
const rounds = flag('rounds', quick ? 1 : 5);
const connections = 64;
const dir = join(tmpdir(), 'latchkey-bench');

console.log(
  `latchkey bench · ${new Date().toISOString()} · node ${process.version} · ${cpus().length}× ${cpus()[0]?.model ?? '?'}`,
);
console.log(
  `load: ${tools.wrk ? 'wrk' : 'autocannon (apt-get install -y wrk for a lighter load generator)'}, ${tools.taskset ? 'server on core 0, load on core 1' : 'not pinned'}`,
);

// 1. validate in process
const started = performance.now();
const fixture = await buildFixture(dir, total, sampled);
fixture.db.close();
console.log(
  `\nfixture: ${total.toLocaleString('en-US')} sessions in SQLite (WAL), built in ${fmt((performance.now() - started) / 1000)} s`,
);
const order = [...fixture.tokens].sort(() => Math.random() - 0.5);
const modes = ['shared', 'exclusive'] as const;

async function timeValidate(mode: (typeof modes)[number]) {
  const db = new Database(fixture.file);
  const sessions = createSessionManager({
    store: createSqliteStore(db, { exclusive: mode === 'exclusive' }),
    keys: [BENCH_KEY],
    sweepInterval: 0,
  });
  const time = async (tokens: string[]) => {
    const ns: number[] = [];
    for (const token of tokens) {
      const t0 = process.hrtime.bigint();
      const session = await sessions.validateToken(token);
      ns.push(Number(process.hrtime.bigint() - t0));
      if (session === null) throw new Error('a sampled session did not validate');
    }
    return ns;
  };
  const cold = await time(order); // each session's first validation on this connection
  const warm = await time(Array.from({ length: sampled }, () => order[0] as string));
  const forged: number[] = [];
  for (const token of order) {
    const t0 = process.hrtime.bigint();
    const forgedToken = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    if ((await sessions.validateToken(forgedToken)) !== null) throw new Error('forged token accepted');
    forged.push(Number(process.hrtime.bigint() - t0));
  }
  db.close();
  return { cold, warm, forged };
}

console.log('\nvalidateToken, in process                         median        p99');
const inProcess: Record<string, { coldMedianNs: number; coldP99Ns: number; warmMedianNs: number }> = {};
for (const mode of modes) {
  const { cold, warm, forged } = await timeValidate(mode);
  inProcess[mode] = { coldMedianNs: median(cold), coldP99Ns: percentile(cold, 99), warmMedianNs: median(warm) };
  for (const [name, ns] of [
    [`${mode}: cold (${sampled.toLocaleString('en-US')} distinct sessions)`, cold],
    [`${mode}: warm (one session, repeated)`, warm],
    [`${mode}: forged mac (no store look-up)`, forged],
  ] as const) {
    console.log(
      `  ${name.padEnd(46)} ${fmt(median(ns) / 1000, 2).padStart(7)} µs ${fmt(percentile(ns, 99) / 1000, 2).padStart(8)} µs`,
    );
  }
}

// 2. node:http: bare route vs authenticated route in the same server, alternating rounds
async function startServer(mode: string): Promise<{ base: string; stop: () => void }> {
  const port = 3900 + Math.floor(Math.random() * 90);
  const [cmd, args] = pinned(0, process.execPath, [
    '--import',
    'tsx',
    join(here, 'servers/node-http.ts'),
    fixture.file,
    String(port),
    mode,
  ]);
  const server: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    server.once('message', () => resolve());
    server.once('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  return { base: `http://127.0.0.1:${port}`, stop: () => server.kill() };
}

const cookie = { cookie: `__Host-session=${order[1]}` };
const results: Record<string, LoadResult[]> = { bare: [], shared: [], exclusive: [] };
for (const mode of modes) {
  const { base, stop } = await startServer(mode);
  await load(`${base}/bare`, 1, connections, {}); // warm-up
  await load(`${base}/auth`, 1, connections, cookie);
  for (let r = 0; r < rounds; r++) {
    (results.bare as LoadResult[]).push(await load(`${base}/bare`, seconds, connections, {}));
    (results[mode] as LoadResult[]).push(await load(`${base}/auth`, seconds, connections, cookie));
  }
  stop();
}
if ([...(results.shared ?? []), ...(results.exclusive ?? [])].some((r) => r.non2xx > 0)) {
  throw new Error('the authenticated route answered non-2xx: the harness is broken');
}

const summary = (rs: LoadResult[]) => ({
  rps: median(rs.map((r) => r.rps)),
  min: Math.min(...rs.map((r) => r.rps)),
  max: Math.max(...rs.map((r) => r.rps)),
  p50: median(rs.map((r) => r.p50ms)),
  p99: median(rs.map((r) => r.p99ms)),
});
const table = {
  bare: summary(results.bare as LoadResult[]),
  shared: summary(results.shared as LoadResult[]),
  exclusive: summary(results.exclusive as LoadResult[]),
};
console.log(`\nnode:http, ${connections} connections, ${rounds}×${seconds} s per route and mode`);
console.log('  route                                         req/s median (min–max)          p50       p99   ratio');
for (const [name, s] of [
  ['bare route', table.bare],
  ['authenticated, SQLite shared (no cache)', table.shared],
  ['authenticated, SQLite exclusive (no cache)', table.exclusive],
] as const) {
  console.log(
    `  ${name.padEnd(44)} ${fmt(s.rps, 0).padStart(7)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`.padEnd(79) +
      `${fmt(s.p50, 2).padStart(6)} ms ${fmt(s.p99, 2).padStart(6)} ms  ${fmt(s.rps / table.bare.rps, 2)}×`,
  );
}

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results/latest.json'),
  JSON.stringify(
    { date: new Date().toISOString(), node: process.version, total, sampled, inProcess, http: table },
    null,
    2,
  ),
);
for (const suffix of ['', '-wal', '-shm']) rmSync(fixture.file + suffix, { force: true });
