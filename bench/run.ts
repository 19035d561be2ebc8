/**
 * `npm run bench`: latchkey against the bare frameworks and the libraries people use instead, in
 * one run, with ratios; writes docs/benchmarks.md and its charts (not in --quick mode).
 *   1. validateToken in process, per store, with and without the cache, at each size (default
 *      100,000 and 1,000,000 sessions): median and p99 of a first ("cold") validation of each of
 *      many sessions (first for this process and its caches, after one untimed pass has brought
 *      them into the server's buffers and the OS page cache, as on a running system), and the
 *      median of repeated ("warm") validations of one;
 *   2. per framework (node:http, Express, Fastify, Hono on @hono/node-server) the bare route against the authenticated route of
 *      latchkey on each store and of the anchors (express-session on memory, SQLite and Redis; the
 *      article's jsonwebtoken.verify with a string and a KeyObject secret; jose; iron-session),
 *      the same request on both routes, load from a separate process, alternating rounds;
 *   3. latency against concurrent connections; 4. a login storm: logins/s against the raw
 *      argon2id hash rate, and the event-loop delay while it lasts; memory; the scale-out line:
 *      the reference server through HAProxy with one and two instances (bench/scale-out.ts).
 * Flags: --quick (small and short: checks the harness), --storm (only the login storm), --tokens
 * (only token verification and the BFF overhead), --sizes 100000,1000000, --seconds S,
 * --rounds R. PostgreSQL and Redis are measured when they answer on their usual ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSessionManager } from 'latchkey';
import {
  type Backend,
  BENCH_KEY,
  POSTGRES_URL,
  postgresBackend,
  redisBackend,
  type StoreVariant,
  sqliteBackend,
  variantName,
} from './lib/backends.js';
import {
  type LoadResult,
  load,
  measuredPair,
  PAIR_ATTEMPTS,
  pinned,
  STEADY_WITHIN,
  settle,
  tools,
} from './lib/load.js';
import { writeReport } from './lib/report.js';
import { fmt, median, percentile } from './lib/stats.js';
import { verifyRates } from './lib/tokens.js';
import { measureScaleOut } from './scale-out.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const sizes = (arg('sizes') ?? (quick ? '10000' : '10000,100000,1000000')).split(',').map(Number);
const sampled = quick ? 1000 : 10_000;
const seconds = Number(arg('seconds') ?? (quick ? 1 : 2));
const rounds = Number(arg('rounds') ?? (quick ? 1 : 5));
const connections = 64;

/** A port the OS just handed out (fetch refuses some fixed ones, such as 4045). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

// --storm: only the login storm (a minute); --tokens: only verify/s and the BFF overhead.
if (argv.includes('--storm')) {
  await runLoginStorm();
  process.exit(0);
}
if (argv.includes('--tokens')) {
  await runTokens();
  process.exit(0);
}

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

// 1b. What a cache miss adds to the store alone, at the largest size: the same connection read
// through the cached store and without it, one token at a time in alternating order, so both
// see the same database state and the same drift of the machine. Slides are off (a touch is a
// write, not part of a read).
type MissCost = { store: string; plainUs: number; missUs: number; addedUs: number };
const missCost: MissCost[] = [];
console.log(
  "\nwhat a cache miss adds, per token (alternating)      store alone   cache miss   added (mean of the two orders' medians)",
);
for (const backend of backends) {
  const variant: StoreVariant = { backend: backend.name, exclusive: backend.name === 'sqlite', cache: true };
  const { store, backing, close } = await backendOf(variant).open(variant);
  if (backing === undefined) throw new Error(`${backend.name}: the cached variant did not expose its backing store`);
  const options = { keys: [BENCH_KEY], sweepInterval: 0, touchInterval: 900 };
  const plain = createSessionManager({ store: backing, ...options });
  const cached = createSessionManager({ store, ...options });
  const timed = async (sessions: typeof plain, token: string) => {
    const t0 = process.hrtime.bigint();
    const session = await sessions.validateToken(token);
    const ns = Number(process.hrtime.bigint() - t0);
    if (session === null) throw new Error(`a sampled session did not validate on ${backend.name}`);
    return ns;
  };
  const plainNs: number[] = [];
  const missNs: number[] = [];
  // The differences by order: the second read of a token finds its pages warm, so each order's
  // differences sit a cold read apart from the other's.
  const plainFirst: number[] = [];
  const cachedFirst: number[] = [];
  const tokens = [...backend.tokens].sort(() => Math.random() - 0.5).slice(0, quick ? 200 : 5000);
  for (const [i, token] of tokens.entries()) {
    let p: number;
    let m: number;
    if (i % 2 === 0) {
      p = await timed(plain, token);
      m = await timed(cached, token);
    } else {
      m = await timed(cached, token);
      p = await timed(plain, token);
    }
    plainNs.push(p);
    missNs.push(m);
    (i % 2 === 0 ? plainFirst : cachedFirst).push(m - p);
  }
  await close();
  const row = {
    store: backend.name === 'sqlite' ? 'sqlite exclusive' : backend.name,
    plainUs: median(plainNs) / 1000,
    missUs: median(missNs) / 1000,
    // Each order's median, averaged: the warm second read counts once for each side and cancels.
    // (Up to the run of 2026-12-02, 01:02, one median over both orders: it mixed two clusters a
    // cold read apart and landed wherever their edges met, +2 to +4 µs from run to run.)
    addedUs: (median(plainFirst) + median(cachedFirst)) / 2000,
  };
  missCost.push(row);
  console.log(
    `  ${row.store.padEnd(48)} ${fmt(row.plainUs, 2).padStart(8)} µs ${fmt(row.missUs, 2).padStart(9)} µs ${fmt(row.addedUs, 2).padStart(9)} µs`,
  );
}

// 1c. Memory: what a server process holds, measured in a process of its own per case. Before the
// HTTP section: the stores' sessions were made at the fill and live 30 minutes idle, and the HTTP
// section can take longer than that (the run of 2026-12-02, 10:54, lost its report to it).
const largest = sizes[sizes.length - 1] as number;
type MemoryRow = { name: string; rssMB: number; heapMB: number; deltaRssMB: number; deltaHeapMB: number };
async function measureMemory(name: string, env: Record<string, string>): Promise<MemoryRow> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, 'memory.ts')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const row = await new Promise<Omit<MemoryRow, 'name'>>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Omit<MemoryRow, 'name'>));
    child.once('exit', (code) => reject(new Error(`memory case ${name} exited ${code}`)));
  });
  return { name, ...row };
}
const memory: MemoryRow[] = [];
{
  const memorySize = quick ? 10_000 : 1_000_000;
  memory.push(
    await measureMemory(`memory store, ${memorySize.toLocaleString('en-US')} sessions`, {
      MEMORY_CASE: 'memory-store',
      MEMORY_N: String(memorySize),
    }),
  );
  memory.push(await measureMemory('verified-token cache at its cap (10,000)', { MEMORY_CASE: 'verified' }));
  memory.push(await measureMemory('cached store at its cap (10,000 entries)', { MEMORY_CASE: 'cached' }));
  for (const backend of backends) {
    const variant: StoreVariant = { backend: backend.name, exclusive: backend.name === 'sqlite' };
    const file = join(tmpdir(), `latchkey-bench-tokens-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(backend.tokens));
    memory.push(
      await measureMemory(`${variantName(variant)}, ${largest.toLocaleString('en-US')} sessions (held by the store)`, {
        MEMORY_CASE: 'store',
        MEMORY_TOKENS: file,
        ...backend.env(variant),
      }),
    );
  }
}
console.log('\nmemory after full collections             heap MB    RSS MB   (added: heap, RSS)');
for (const m of memory)
  console.log(
    `  ${m.name.padEnd(58)} ${fmt(m.heapMB, 1).padStart(7)} ${fmt(m.rssMB, 1).padStart(8)}   (+${fmt(m.deltaHeapMB, 1)}, +${fmt(m.deltaRssMB, 1)})`,
  );

// 2. HTTP: every framework's bare route against each mechanism's authenticated route
type Framework = 'node' | 'express' | 'fastify' | 'hono';
interface Case {
  framework: Framework;
  name: string;
  env: Record<string, string>;
}
const latchkeyCases = (framework: Framework, list: StoreVariant[]): Case[] =>
  list
    .filter((v) => backends.some((b) => b.name === v.backend))
    .map((v) => ({
      framework,
      name: `latchkey, ${variantName(v)}`,
      env: { MECH: 'latchkey', ...backendOf(v).env(v) },
    }));
const fastVariants: StoreVariant[] = [
  { backend: 'sqlite', exclusive: true },
  { backend: 'sqlite', exclusive: true, cache: true },
  { backend: 'postgres', cache: true },
  { backend: 'redis', cache: true },
];
const anchor = (framework: Framework, name: string, mech: string): Case => ({ framework, name, env: { MECH: mech } });
const cases: Case[] = [
  ...latchkeyCases('node', variants),
  // The ceiling of latchkey without the cache: the same SELECT on the same file, and nothing else.
  ...(backends.some((b) => b.name === 'sqlite')
    ? [
        {
          framework: 'node' as const,
          name: "the store's read alone: SQLite exclusive, one SELECT, no latchkey (a ceiling)",
          env: { MECH: 'sqlite-read', ...backendOf({ backend: 'sqlite' }).env({ backend: 'sqlite', exclusive: true }) },
        },
      ]
    : []),
  // The floor of any session check with an answer that must not be cached: one Map look-up and
  // Cache-Control: no-store. latchkey with the cache cannot keep more of the bare route than this.
  {
    framework: 'node',
    name: 'the least a check can do: one Map look-up + Cache-Control: no-store, no latchkey (a ceiling)',
    env: { MECH: 'memory-read' },
  },
  anchor('node', 'jsonwebtoken.verify, string secret (the article)', 'jsonwebtoken-string'),
  anchor('node', 'jsonwebtoken.verify, KeyObject secret', 'jsonwebtoken-keyobject'),
  anchor('node', 'jose jwtVerify (HS256)', 'jose'),
  anchor('node', 'iron-session (sealed cookie)', 'iron-session'),
  anchor('node', 'better-auth getSession (SQLite)', 'better-auth'),
  anchor('node', 'better-auth getSession, cookie cache', 'better-auth-cookie-cache'),
  ...latchkeyCases('express', fastVariants),
  anchor('express', 'express-session, MemoryStore', 'express-session-memory'),
  anchor('express', 'express-session, better-sqlite3-session-store (WAL)', 'express-session-sqlite-published'),
  anchor('express', 'express-session, SQLite tuned by us (WAL, prepared)', 'express-session-sqlite'),
  ...(backends.some((b) => b.name === 'redis')
    ? [anchor('express', 'express-session, connect-redis', 'express-session-redis')]
    : []),
  ...latchkeyCases('fastify', fastVariants),
  ...latchkeyCases('hono', fastVariants),
];

/** Starts a bench server on a given port (pinned to core 0) and waits until it is ready. */
async function startServerOn(script: string, port: number, args: string[]): Promise<{ stop: () => void }> {
  const command = ['--import', 'tsx', join(here, script), String(port), ...args];
  const [cmd, cmdArgs] = pinned(0, process.execPath, command);
  const server: ChildProcess = spawn(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    server.once('message', () => resolve());
    server.once('exit', (code) => reject(new Error(`bench server ${script} exited ${code}`)));
  });
  return { stop: () => server.kill() };
}

async function startServer(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
  pin = true,
): Promise<{ base: string; pid: number | undefined; stop: () => void }> {
  const port = await freePort();
  const command = ['--import', 'tsx', join(here, script), String(port), ...args];
  const [cmd, cmdArgs] = pin ? pinned(0, process.execPath, command) : [process.execPath, command];
  const server: ChildProcess = spawn(cmd, cmdArgs, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('message', () => resolve());
    server.once('exit', (code) => reject(new Error(`bench server ${script} exited ${code}`)));
  });
  // taskset execs node, so the child's pid is the server's.
  return { base: `http://127.0.0.1:${port}`, pid: server.pid, stop: () => server.kill() };
}

/** Logs in once and returns the header the authenticated route needs. */
async function credential(base: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/login`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`login answered ${res.status}`);
  const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]);
  if (cookies.length > 0) return { cookie: cookies.join('; ') };
  const { token } = (await res.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

const summary = (rs: LoadResult[]) => ({
  rps: median(rs.map((r) => r.rps)),
  min: Math.min(...rs.map((r) => r.rps)),
  max: Math.max(...rs.map((r) => r.rps)),
  // A round whose wrk printed no percentile is left out, not allowed to turn the median into NaN.
  p50: median(rs.map((r) => r.p50ms).filter(Number.isFinite)),
  p99: median(rs.map((r) => r.p99ms).filter(Number.isFinite)),
  cpuUs: median(rs.map((r) => r.cpuUs ?? Number.NaN).filter(Number.isFinite)),
});
type Summary = ReturnType<typeof summary>;
const bareRuns: Record<Framework, LoadResult[]> = { node: [], express: [], fastify: [], hono: [] };
const authRuns = new Map<Case, LoadResult[]>();
const caseRatios = new Map<Case, number>();
const caseCpuRatios = new Map<Case, number>();
/** Each pair's ratio, in the order run (even rounds bare first): kept in results.json so a reader can see the spread. */
const casePairRatios = new Map<Case, number[]>();
/** Each pair's attempts' ratios, in order. */
const caseAttemptRatios = new Map<Case, number[][]>();
/** Pairs measured (attempts), pairs measured again, and pairs still unsteady after the last attempt. */
const pairCounts = { measured: 0, again: 0, unsteady: 0 };
// Every case's server starts first and stays up; then the rounds go case by case, one pair each,
// `rounds` times over. Why: this machine has slow phases of a minute or more, and a case whose
// rounds all fell in one lost a tenth of its ratio (node:http, SQLite + cache: 0.96× in the run of
// 2026-12-01, 0.86× in the next, the same code). Spread over the whole section, a slow phase costs
// each case one pair, and the median of its pairs leaves that pair out.
interface Running {
  c: Case;
  base: string;
  pid: number | undefined;
  stop: () => void;
  /** The credential of the current pair. */
  headers: Record<string, string>;
  runs: LoadResult[];
  ratios: number[];
  cpuRatios: number[];
  attemptRatios: number[][];
}
const running: Running[] = [];
const copies: string[] = [];
try {
  for (const [i, c] of cases.entries()) {
    let env = c.env;
    // An exclusive SQLite connection keeps its file's lock for good: each SQLite case serves its
    // own copy of the million sessions.
    if (env.SQLITE_FILE !== undefined) {
      const copy = `${env.SQLITE_FILE}-case${i}`;
      copyFileSync(env.SQLITE_FILE, copy);
      copies.push(copy);
      env = { ...env, SQLITE_FILE: copy };
    }
    const server = await startServer('servers/app.ts', { FRAMEWORK: c.framework, ...env });
    running.push({ c, ...server, headers: {}, runs: [], ratios: [], cpuRatios: [], attemptRatios: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const x of running) {
      // The stores just took a million sessions each: their background work must not fall in a round.
      const waited = quick ? 0 : await settle();
      if (waited > 5000) console.log(`  (waited ${fmt(waited / 1000, 1)} s for the machine to be quiet)`);
      // A fresh credential for each pair: the JWT anchors' tokens live 15 minutes, less than the section.
      x.headers = await credential(x.base);
      if (!quick) {
        // The process sat idle while the other cases ran: warm both routes again.
        await load(`${x.base}/bare`, 1, connections, x.headers);
        await load(`${x.base}/auth`, 1, connections, x.headers);
      }
      // Both routes get the same request, credential included: the difference is the auth work.
      // Each pair runs ABBA (`measuredPair`), and which route is A alternates: a machine that
      // speeds up or slows down during a pair weighs on both routes alike, and what is left over
      // favours each route in turn, not always the same one.
      const first = r % 2 === 0 ? 'bare' : 'auth';
      const second = first === 'bare' ? 'auth' : 'bare';
      const pair = await measuredPair(
        x.pid,
        `${x.base}/${first}`,
        `${x.base}/${second}`,
        seconds,
        connections,
        x.headers,
      );
      const [one, two] = pair.results;
      const [bare, auth] = first === 'bare' ? [one, two] : [two, one];
      // Every attempt's ratio, in order: the first attempts alone are the figure without the selection.
      x.attemptRatios.push(pair.tries.map(([p, q]) => (first === 'bare' ? q.rps / p.rps : p.rps / q.rps)));
      pairCounts.measured += pair.tries.length;
      if (pair.tries.length > 1) pairCounts.again++;
      if (pair.unsteadiness > STEADY_WITHIN) pairCounts.unsteady++;
      bareRuns[x.c.framework].push(bare);
      x.runs.push(auth);
      x.ratios.push(auth.rps / bare.rps);
      x.cpuRatios.push((bare.cpuUs ?? Number.NaN) / (auth.cpuUs ?? Number.NaN));
      if (auth.non2xx > 0) throw new Error(`${x.c.framework} / ${x.c.name} answered non-2xx: the harness is broken`);
    }
  }
} finally {
  for (const x of running) x.stop();
  for (const copy of copies) for (const suffix of ['', '-wal', '-shm']) rmSync(copy + suffix, { force: true });
}
for (const x of running) {
  // The case's ratio: each authenticated round against the bare round beside it, in the same
  // process. This machine's speed drifts over minutes; adjacent rounds share the drift.
  caseRatios.set(x.c, median(x.ratios));
  casePairRatios.set(x.c, x.ratios);
  caseAttemptRatios.set(x.c, x.attemptRatios);
  // The same from the server's CPU per request: what share of a core authentication leaves.
  caseCpuRatios.set(x.c, median(x.cpuRatios.filter(Number.isFinite)));
  authRuns.set(x.c, x.runs);
}
const bareOf = Object.fromEntries(Object.entries(bareRuns).map(([f, rs]) => [f, summary(rs)])) as Record<
  Framework,
  Summary
>;
const rows = cases.map((c) => ({
  framework: c.framework,
  name: c.name,
  ...summary(authRuns.get(c) as LoadResult[]),
  ratio: caseRatios.get(c) as number,
  cpuRatio: caseCpuRatios.get(c) as number,
  pairRatios: casePairRatios.get(c) as number[],
  /** Each pair's attempts' ratios; the median of the first ones is the figure without re-measuring. */
  attemptRatios: caseAttemptRatios.get(c) as number[][],
  firstAttemptRatio: median((caseAttemptRatios.get(c) as number[][]).map((a) => a[0] as number)),
}));
const line = (name: string, s: Summary, ratio: number, cpuRatio = 1) =>
  `  ${name.padEnd(52)} ${fmt(s.rps, 0).padStart(7)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`.padEnd(86) +
  `${fmt(s.p50, 2).padStart(6)} ms ${fmt(s.p99, 2).padStart(6)} ms  ${fmt(ratio, 2)}×   ${fmt(s.cpuUs, 1).padStart(6)} µs CPU  ${fmt(cpuRatio, 2)}×`;
console.log(
  `\nHTTP, ${largest.toLocaleString('en-US')} latchkey sessions, ${connections} connections, ${rounds}×${seconds} s per route, medians`,
);
for (const framework of ['node', 'express', 'fastify', 'hono'] as const) {
  console.log(
    `  ${framework === 'node' ? 'node:http' : framework}${' '.repeat(44)}req/s median (min–max)             p50       p99   ratio   CPU/request  ratio`,
  );
  console.log(line('bare route', bareOf[framework], 1));
  for (const r of rows.filter((x) => x.framework === framework)) console.log(line(r.name, r, r.ratio, r.cpuRatio));
}

// 3. Latency against concurrent connections (node:http, latchkey on SQLite + cache)
const scaling: { connections: number; bare: Summary; auth: Summary }[] = [];
if (!quick) await settle();
{
  const variant: StoreVariant = { backend: 'sqlite', exclusive: true, cache: true };
  const { base, stop } = await startServer('servers/app.ts', {
    FRAMEWORK: 'node',
    MECH: 'latchkey',
    ...backendOf(variant).env(variant),
  });
  const headers = await credential(base);
  for (const c of quick ? [1, 64] : [1, 8, 64, 256]) {
    // Interleaved rounds, medians: one 2-second run's p99 is one pause of this shared machine (a
    // single run at 256 connections once read 157 ms; its median over rounds is what holds).
    if (!quick) {
      await load(`${base}/bare`, 1, c, headers); // warm-up at this concurrency
      await load(`${base}/auth`, 1, c, headers);
    }
    const bareRuns: LoadResult[] = [];
    const authRuns: LoadResult[] = [];
    for (let r = 0; r < (quick ? 1 : rounds); r++) {
      bareRuns.push(await load(`${base}/bare`, seconds, c, headers));
      authRuns.push(await load(`${base}/auth`, seconds, c, headers));
    }
    scaling.push({ connections: c, bare: summary(bareRuns), auth: summary(authRuns) });
  }
  stop();
}
console.log('\nnode:http, latchkey on SQLite + cache, by concurrent connections');
for (const s of scaling) {
  console.log(
    `  ${String(s.connections).padStart(4)} connections   bare ${fmt(s.bare.rps, 0).padStart(7)} req/s p99 ${fmt(s.bare.p99, 2)} ms   authenticated ${fmt(s.auth.rps, 0).padStart(7)} req/s p99 ${fmt(s.auth.p99, 2)} ms   ${fmt(s.auth.rps / s.bare.rps, 2)}×`,
  );
}

// 4. Login storm: the reference server's login under 50 concurrent clients
async function runLoginStorm() {
  const password = 'a long bench password, 2026';
  const measureRaw = async () => {
    const { hash } = await import('@node-rs/argon2');
    const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
    const end = performance.now() + (quick ? 1000 : 5000);
    let count = 0;
    // As many hashes in flight as the login storm can have on libuv's pool (4 threads by default).
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < end) {
          await hash(password, options as never);
          count++;
        }
      }),
    );
    return count / ((quick ? 1000 : 5000) / 1000);
  };
  // The machine's speed drifts: the raw rate is the mean of one measurement before and one after.
  const rawBefore = await measureRaw();
  const storm = await (async () => {
    // Not pinned: argon2id runs on libuv's pool, which may use every core, as the raw rate did.
    const { base, stop } = await startServer('servers/login-storm.ts', {}, [password], false);
    try {
      await fetch(`${base}/__bench/eld/reset`, { method: 'POST', headers: { origin: base } });
      const result = await load(
        `${base}/api/auth/login`,
        quick ? 1 : 5,
        50,
        { 'content-type': 'application/json', origin: base },
        JSON.stringify({ username: 'demo', password }),
      );
      const eld = (await (await fetch(`${base}/__bench/eld`)).json()) as { p50: number; p99: number; max: number };
      if (result.non2xx > 0) throw new Error('logins failed during the storm');
      return { ...result, eld };
    } finally {
      stop();
    }
  })();
  const rawHashRate = (rawBefore + (await measureRaw())) / 2;
  console.log(
    `\nlogin storm (50 concurrent, argon2id m=19456 t=2 p=1): ${fmt(storm.rps, 1)} logins/s, p99 ${fmt(storm.p99ms, 0)} ms; raw hash rate ${fmt(rawHashRate, 1)}/s (${fmt((storm.rps / rawHashRate) * 100, 0)} %); event-loop delay p50 ${fmt(storm.eld.p50, 2)} ms, p99 ${fmt(storm.eld.p99, 2)} ms, max ${fmt(storm.eld.max, 2)} ms`,
  );
  return { ...storm, rawHashRate };
}
const storm = await runLoginStorm();

// 5. Tokens: verify/s in process, and the BFF's cost per forwarded request
async function runTokens() {
  const verify = await verifyRates(quick);
  for (const v of verify) console.log(`  ${v.name.padEnd(56)} ${fmt(v.perSecond, 0).padStart(9)} /s`);
  const password = 'a long bench password, 2026';
  const [appPort, downstreamPort] = [await freePort(), await freePort()];
  // Both servers on core 0, the load generator on core 1: the difference is server time.
  const down = await startServerOn('servers/downstream.ts', downstreamPort, [String(appPort)]);
  const bffServer = await startServerOn('servers/bff.ts', appPort, [String(downstreamPort), password]);
  try {
    const base = `http://127.0.0.1:${appPort}`;
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ username: 'demo', password }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const grant = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'password', username: 'demo', password }),
    });
    const { access_token: token } = (await grant.json()) as { access_token: string };
    const direct: LoadResult[] = [];
    const viaBff: LoadResult[] = [];
    for (let i = 0; i < rounds; i++) {
      direct.push(
        await load(`http://127.0.0.1:${downstreamPort}/api/tip`, seconds, 16, { authorization: `Bearer ${token}` }),
      );
      viaBff.push(await load(`${base}/bff/api/tip`, seconds, 16, { cookie }));
    }
    if ([...direct, ...viaBff].some((r) => r.non2xx > 0)) throw new Error('non-2xx answers in the BFF bench');
    const sum = (rs: LoadResult[]) => ({
      rps: median(rs.map((r) => r.rps)),
      min: Math.min(...rs.map((r) => r.rps)),
      max: Math.max(...rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50ms)),
      p99: median(rs.map((r) => r.p99ms)),
    });
    const bff = { direct: sum(direct), bff: sum(viaBff), overheadUs: 0 };
    bff.overheadUs = (1 / bff.bff.rps - 1 / bff.direct.rps) * 1e6;
    console.log(
      `  downstream direct ${fmt(bff.direct.rps, 0)} req/s, via BFF ${fmt(bff.bff.rps, 0)} req/s: ${fmt(bff.overheadUs, 0)} µs per forwarded request`,
    );
    return { verify, bff };
  } finally {
    bffServer.stop();
    down.stop();
  }
}
console.log('\naccess-token verification and the BFF');
const tokens = await runTokens();

// 4c. Scale-out: the reference server through HAProxy, one and two instances sharing PostgreSQL.
const scaleOut = backends.some((b) => b.name === 'postgres')
  ? await measureScaleOut({ seconds, rounds, connections, postgresUrl: POSTGRES_URL })
  : undefined;
if (scaleOut) {
  console.log('\nscale-out (reference server, GET /api/me, PostgreSQL)      req/s    p99 ms');
  for (const row of scaleOut)
    console.log(`  ${row.name.padEnd(56)} ${fmt(row.rps, 0).padStart(7)} ${fmt(row.p99ms, 1).padStart(8)}`);
}

// 5. Results, and the report (full runs only)
const versionOf = (name: string) => {
  for (const dir of [
    join(here, '..', 'node_modules'),
    join(here, 'node_modules'),
    join(here, '..', 'packages/server/node_modules'),
  ]) {
    try {
      return (JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {}
  }
  return '?';
};
const versions = Object.fromEntries(
  [
    'latchkey',
    'express',
    'fastify',
    'express-session',
    'connect-redis',
    'jsonwebtoken',
    'jose',
    'iron-session',
    'better-sqlite3',
    'pg',
    'ioredis',
    '@node-rs/argon2',
  ].map((name) => [name, versionOf(name)]),
);
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  loadGenerator: tools.wrk ? 'wrk' : 'autocannon',
  versions,
  sizes,
  sampled,
  connections,
  rounds,
  seconds,
  pairs: { ...pairCounts, steadyWithin: STEADY_WITHIN, attempts: PAIR_ATTEMPTS },
  inProcess,
  missCost,
  bare: bareOf,
  http: rows,
  scaling,
  storm,
  tokens,
  memory,
  scaleOut,
};
mkdirSync(join(here, 'results'), { recursive: true });
// A quick run never replaces the results of the last full one.
writeFileSync(join(here, quick ? 'results/quick.json' : 'results/latest.json'), JSON.stringify(results, null, 2));
if (!quick) writeReport(results);
for (const backend of backends) await backend.destroy();
console.log(quick ? '\nquick run: harness checked, no report written' : '\nreport: docs/benchmarks.md');
