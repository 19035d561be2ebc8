/**
 * Writes docs/benchmarks.md and its SVG charts from one run's results: every number in the report
 * comes from the run that wrote it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt } from './stats.js';
import { type Bar, barChart } from './svg.js';

interface Summary {
  rps: number;
  min: number;
  max: number;
  p50: number;
  p99: number;
  /** The server's CPU time per request, µs (median of rounds; absent in older results). */
  cpuUs?: number;
}
interface Results {
  date: string;
  node: string;
  cpu?: string;
  cores: number;
  loadGenerator: string;
  versions: Record<string, string>;
  sizes: number[];
  sampled: number;
  connections: number;
  rounds: number;
  seconds: number;
  /** Pairs measured (attempts), measured again, still unsteady; the tolerance and the attempts allowed (absent in older results). */
  pairs?: { measured: number; again: number; unsteady: number; steadyWithin: number; attempts: number };
  inProcess: { size: number; variant: string; coldMedianUs: number; coldP99Us: number; warmMedianUs: number }[];
  /** What a cache miss adds to the store alone (absent in older results). */
  missCost?: { store: string; plainUs: number; missUs: number; addedUs: number }[];
  bare: Record<string, Summary>;
  /** `ratio`: the median over rounds of authenticated req/s to the bare round beside it (absent in older results). */
  http: ({
    framework: string;
    name: string;
    ratio?: number;
    cpuRatio?: number;
    pairRatios?: number[];
    /** The median over pairs of each pair's first attempt (absent before the run after 2026-12-02, 11:37). */
    firstAttemptRatio?: number;
  } & Summary)[];
  scaling: { connections: number; bare: Summary; auth: Summary }[];
  storm: { rps: number; p99ms: number; rawHashRate: number; eld: { p50: number; p99: number; max: number } };
  tokens?: TokenResults;
  memory?: { name: string; rssMB: number; heapMB: number; deltaRssMB: number; deltaHeapMB: number }[];
  scaleOut?: { name: string; instances: number; rps: number; p99ms: number }[];
}

export interface TokenResults {
  verify: { name: string; perSecond: number; min: number; max: number }[];
  bff: { direct: Summary; bff: Summary; overheadUs: number };
}

/** The memory section: heap and RSS of a server process per store, and of latchkey's two caches at their caps. */
export function memorySection(rows: NonNullable<Results['memory']>): string {
  const table = rows
    .map(
      (m) =>
        `| ${m.name} | ${fmt(m.heapMB, 1)} | ${fmt(m.rssMB, 1)} | +${fmt(m.deltaHeapMB, 1)} | +${fmt(m.deltaRssMB, 1)} |`,
    )
    .join('\n');
  return `## Memory

Each line is a process of its own, measured after full collections (\`--expose-gc\`): its heap in
use and RSS, and what the thing measured added to them. The SQL and Redis stores keep sessions in
their own servers, so a latchkey process holding a million of them stays small; the memory store
keeps them in the heap. The two caches are bounded: their cost at the cap is the most they take.

| what | heap MB | RSS MB | added heap MB | added RSS MB |
|---|---:|---:|---:|---:|
${table}
`;
}

/**
 * The scale-out section: the reference server through HAProxy with one and two instances, what
 * limits it on this machine, and what the figures imply per core.
 */
export function scaleOutSection(rows: NonNullable<Results['scaleOut']>, cores: number): string {
  const direct = rows[0];
  const one = rows[1];
  const two = rows[2];
  const table = rows.map((r) => `| ${r.name} | ${r.instances} | ${fmt(r.rps, 0)} | ${fmt(r.p99ms, 1)} |`).join('\n');
  const hop = direct && one ? fmt((1 - one.rps / direct.rps) * 100, 0) : '?';
  const gain = one && two ? fmt(two.rps / one.rps, 2) : '?';
  return `## Scale-out: instances behind HAProxy

The reference server (\`npm run cluster\`), its whole authenticated route (\`GET /api/me\`: security
headers, the CSRF guard, the session from PostgreSQL behind the invalidated cache, the account from
its table), straight to one instance and through HAProxy 2.6 to one and to two instances sharing
PostgreSQL. wrk on its own core, interleaved rounds, medians.

| path | instances | req/s | p99 ms |
|---|---:|---:|---:|
${table}

**What limits it here.** This machine has ${cores} cores, and wrk, HAProxy, the instances and
PostgreSQL share them: the proxy hop costs ${hop} % of one instance's throughput, and a second
instance gives ${gain}× the one behind the proxy, far from 2× because there is no idle core for it
to use. That is the machine, not a shared lock: each request's session comes from the instance's own cache (about one PostgreSQL read per
session per second once it is held, none per request), so instances do not wait on each other.

**On paper, per core.** One instance is one Node event loop, so at most one core: straight to one
instance it served ${direct ? fmt(direct.rps, 0) : '?'} req/s here, while sharing this machine with the load generator
and PostgreSQL. With the cache the store costs no round trip per request, so N instances on N free
cores should serve about N times that, less the proxy hop measured above, until the writes (a
login, a logout, a touch at most once a minute per session) reach what the store takes. Count one
core per instance, and give the load balancer and the store cores of their own.
`;
}

/**
 * Instructions per request: what \`npm run bench:instructions\` counted (2026-12-02), under
 * callgrind, apart from \`npm run bench\` (valgrind runs a server about 50 times slower).
 */
const INSTRUCTIONS_SECTION = `## Instructions per request (callgrind)

The ratios above move with the host: on 2026-12-02 a second full run, on the same code, found the
bare route 45 % faster and PostgreSQL twice as slow, and every ratio moved, the code-independent
ceilings too. A count of machine instructions does not move with the host. \`npm run
bench:instructions\` runs each node:http bench server under valgrind's callgrind and counts the
main thread's instructions per request on its bare and its authenticated route (ABBA rounds of
4,000 requests from 8 keep-alive connections, after a warm-up; median of 4 rounds). The rounds
agree to within 0.5 %, but for a rare one with a collection in it, which the median leaves out. Work driven by the clock is left out, as under valgrind it
would weigh about 50 times what it does (the slide once a minute, the cache's refresh once a
second). Run of 2026-12-02:

| node:http | bare route | checked route | added by the check | ratio |
|---|---:|---:|---:|---:|
| latchkey, SQLite exclusive + cache | 58,997 | 65,309 | 6,312 | 0.903× |
| the least a check can do (a Map look-up of the cookie, \`Cache-Control: no-store\`) | 58,977 | 63,024 | 4,048 | 0.936× |
| latchkey, SQLite exclusive, no cache | 58,852 | 85,609 | 26,757 | 0.687× |
| the store's read alone (the same SELECT, no latchkey) | 58,875 | 81,577 | 22,702 | 0.722× |

- **latchkey's own work is about 2,300 instructions a request with the cache, 4,100 without.**
  With the cache it adds 2,264 to the least any server-side check does: the token's proof (a probe
  of the verified tokens), the cache's look-up and its staleness clock, the expiry and slide
  checks, the session's copy, and the adapter's bookkeeping (its headers, the request's slot, a
  settled promise). The cookie's hash for the look-up (about 1,100) is paid by the floor as well.
  Without the cache it adds 4,055 to the store's SELECT alone: the same steps, and the record
  built from the row.
- **Instructions are not time.** By this count the floor keeps 0.936× of the bare route and latchkey
  with the cache 0.903×; timed, the floor kept 0.97× and latchkey 0.92× in the report's run.
  callgrind counts user space only: the kernel's part of each request (the socket's read and
  write, about half of the bare route's CPU time, see above) is in every route's time and in no
  count, and neither are cache misses and stalls.
- **What the count found on 2026-12-02.** In its first run that day latchkey with the cache added
  7,941. About 1,600 of it went: lru-cache's clock kept the time with a timer each millisecond,
  and at valgrind's pace (one request in 8 per timer) each one weighed more than the clock read that
  replaced it (\`ttlResolution: 0\`, which also makes the staleness bound exact under a blocked event
  loop); at full speed, at 30,000 requests a second, the two cost about the same. A \`Set\` probe per
  request for the method's safety became three comparisons (about 80). The count also showed
  lru-cache rewriting all its \`maxEntries\` slots whenever its last entry went, which a failing
  store paid on every failed read (7 ms at a million entries); fixed in the cached store.
`;

/**
 * Where the time goes: what CPU profiles of the bench servers under load showed (2026-12-01), and
 * what changed because of them. Prose, not a measurement of this run: \`node --cpu-prof\` costs
 * throughput, so profiles are taken apart from \`npm run bench\`.
 */
const PROFILE_SECTION = `## Where the time goes (CPU profiles)

Taken with \`node --cpu-prof\` on the bench server (SQLite exclusive + cache, 64 connections from wrk
on the other core), counting only the 6 s of steady load, per request, on 2026-12-01 with the
machine quiet. Reproduce with \`npm run bench:profile -- --framework node --route auth\` (and
\`--route bare\`, \`--framework fastify\`, \`--store redis\`); \`npm run bench:cpu\` gives the CPU per
request of both routes in interleaved rounds without a profiler.

| per request | node:http bare | node:http authenticated | Fastify bare | Fastify authenticated |
|---|---:|---:|---:|---:|
| CPU, all frames | 15.7 µs | 18.6 µs | 18.4 µs | 19.9 µs |
| latchkey's own functions (inclusive) | — | 1.05 µs | — | 0.90 µs |
| the socket write (\`writev\`, mostly kernel) | 8.0 µs | 8.8 µs | 8.7 µs | 8.8 µs |

- **latchkey's part is about a microsecond.** The cookie read (0.3–0.4 µs), the verified-token
  probe (0.25 µs), the cache's \`get\` (0.2 µs) and the answer's headers. Earlier the same day it was
  1.6 µs on node:http, and 5–7 µs in profiles taken while the machine was busy.
- **What took it there: a request whose session is at hand waits for nothing.** The store may answer
  at once (\`SessionStore.getNow\`: memory, SQLite, and the cached store on a hit), so
  \`SessionFlow.authenticateNow\` gives the session without a promise, and every adapter tries it
  first; it stands aside whenever a write is due (the idle slide, deleting an expired session) or
  the store must be asked over the network, and then \`authenticate\` does the same checks and the
  write. The four async layers it skips (flow, manager, load, store) cost about 0.6 µs and a
  microtask each request. Fastify's hooks became callback hooks, because its hook runner gives an
  async hook a promise and a tick even with nothing to wait for (that was 12–13 % of the Fastify
  profile that opened #18). Before that: symbols on the request instead of WeakMaps (1.2 µs a
  request in the collector), the cookie's one pair sliced out instead of the header parsed.
- **Each framework has a floor of its own.** Stub servers without latchkey, CPU per request in
  interleaved rounds, show what an authenticated route's shape costs before any session check:
  - node:http: awaiting once costs 1.1 µs; reading the Cookie header and setting \`Cache-Control\`
    0.5 µs.
  - Fastify: an \`onRequest\` hook that sets one header and a \`preHandler\` cost 2.0–2.3 µs over
    the bare route: a route with latchkey's hook shape is capped near 0.9× of the bare one.
  - Hono on \`@hono/node-server\`: one middleware that only sets a header costs 6.6 µs (19.4 to
    26.0 µs): \`c.header\` builds a fetch \`Headers\` and takes the answer off the server's fast
    path for plain objects. A middleware that only sets a variable costs 4.1 µs. latchkey's must
    say \`Cache-Control: no-store\` on an authenticated answer (C7), so on Hono the cap is near 0.75×.
  - Express: the bare route costs 130–160 µs of CPU, so latchkey's microsecond disappears in it.
- **Without the cache, the store read is the cost.** On SQLite (exclusive, no cache) the read is
  6.1 µs a request under load (\`--no-cache\`): no system call (strace counts none per request), but
  the statement, the WAL index and twelve columns turned into JavaScript values (4.1 µs in a later
  profile, with the bare route at 30 µs). The ratio without the cache is therefore set by how fast
  the machine runs the bare route: against 16–20 µs the read alone keeps node:http near 0.75×,
  against 30 µs near 0.85×, whatever the adapter does. That is what \`createCachedStore\` is for
  (the reference server uses it); the "without the cache" targets of #18 (≥ 0.85× on node:http,
  ≥ 0.8× on Fastify) sit on that edge.
- **PostgreSQL and Redis with the cache run latchkey's SQLite path on a hit,** and their remaining
  gap is not in latchkey's code. On a quiet machine (2026-12-02, node:http, 64 connections),
  latchkey's functions took 1.66 µs a request inclusive over PostgreSQL against 1.40 µs over
  SQLite, while the socket write (\`writev\`, mostly kernel) took 18.4 against 13.2 µs; in
  interleaved rounds (\`bench:cpu\`) the authenticated route cost 33.1–34.7 µs over PostgreSQL,
  32.6 µs over Redis and 32.2 µs over SQLite, against a bare route of 30.2–31.3 µs (CPU ratios
  0.91–0.92×, 0.93× and 0.94×). Ruled out: cache misses (0.3 % of requests, when an entry expires
  each second; each costs a round trip), a second look-up per request (one \`hitFor\` each), and
  the quick path standing aside (it does not on a hit). Since 2026-12-02, when the quick path does
  stand aside (a slide due, a token's first sight over a store that only waits, an expired
  session), it hands what it read to the waiting path of the same request, so nothing is read or
  verified twice.
- **The socket write rises with any extra work.** The kernel's share of \`writev\` grew by 0.1–2.5 µs
  on the authenticated route with the same bytes written: a server that answers a little more slowly
  finds wrk idle more often, and each write must wake it. That cost belongs to the machine, and
  every authenticated route pays it.
- **With the cache, what is left is a few small steps, each about half a microsecond under load.**
  Since the run of 2026-12-02, 11:37, the report's floor case (a Map look-up and
  \`Cache-Control: no-store\`) measures the least any server-side check keeps: 0.97× on node:http.
  A scratch server on 2026-12-02 added latchkey's hit path to that floor one step at a time, in
  steadiness-checked ABBA pairs against the header alone: the cached store's \`getNow\` 0.98×, then
  the verified-token probe (a Map or LRU look-up of the 89-character token: the same) 0.96×, the
  expiry and slide checks 0.95×, the session's copy without its hash 0.93×, and the adapter's
  bookkeeping (its headers object, the request's slot, a promise of its own) 0.92×. In process each
  step costs 50–300 ns; under load, between the HTTP parser and the socket write, each seemed to
  cost about 0.5 µs, though steps of 0.01–0.02× are within the spread of one case's pairs (five
  pairs per step). The quick path read the clock twice; it
  reads it once since that day. The ≥ 0.95× that #18 asks of node:http with the cache leaves
  latchkey 0.7 µs above the floor, where these five steps take about 2.
`;

/** What a cache miss adds to the store alone: the same reads, paired token by token. */
function missCostSection(rows: NonNullable<Results['missCost']>): string {
  const table = rows
    .map(
      (m) =>
        `| ${m.store} | ${fmt(m.plainUs, 2)} | ${fmt(m.missUs, 2)} | ${m.addedUs >= 0 ? '+' : ''}${fmt(m.addedUs, 2)} |`,
    )
    .join('\n');
  return `
**What a cache miss adds.** The cached store in front of the same connection, against that store
alone: each sampled session (at the largest size) read once through each, one after the other in
alternating order, so both meet the same database state and the same moment of the machine. The
second read of a session finds its pages warm, so the differences of the two orders lie a cold
read apart: the last column is the mean of the two orders' medians, in which that cancels (up to
the run of 2026-12-02, 01:02, one median over both orders, which landed between the two clusters
and moved by µs from run to run). Since the run of 2026-12-02 the cached
store holds a session from its second read within its staleness window (one second), not its
first: a session read once gains nothing from an entry that lives a second, and holding it (the
freeze, the insert and eviction, a record that outlives the young generation) was most of what a
miss added (+2.0 µs over SQLite in the run of 2026-12-01). A first read now adds the probe of the
cache and the admission check (a hash of the id into a table of one-byte stamps); over SQLite it
reads the file at once, with no promise of its own, and over PostgreSQL and Redis one more promise
step stands between the round trip and the caller. The read that admits a session still pays
for holding it, once per session per window.

| store | store alone, median µs | through the cache, a miss, median µs | added, mean of the two orders' medians, µs |
|---|---:|---:|---:|
${table}
`;
}

/** The tokens section: verify/s and the cost the BFF adds per forwarded request. */
export function tokensSection(t: TokenResults): string {
  const rows = t.verify
    .map((v) => `| ${v.name} | ${fmt(v.perSecond, 0)} | ${fmt(v.min, 0)}–${fmt(v.max, 0)} |`)
    .join('\n');
  return `## Access tokens and the backend-for-frontend

| verify, one core, in process | per second | min–max |
|---|---:|---:|
${rows}

The downstream service's \`GET /api/tip\` called directly with a bearer token: ${fmt(t.bff.direct.rps, 0)} req/s
(p50 ${fmt(t.bff.direct.p50, 2)} ms); through the BFF (\`/bff/api/tip\` with the session cookie, the reference
server on the same core): ${fmt(t.bff.bff.rps, 0)} req/s (p50 ${fmt(t.bff.bff.p50, 2)} ms). The BFF adds
**${fmt(t.bff.overheadUs, 0)} µs of server time per forwarded request** (1/rps difference on one core: session
look-up, CSRF and header work, a reused minted JWT, one HTTP round trip to the downstream).
`;
}

const docs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
const label = { node: 'node:http', express: 'Express', fastify: 'Fastify', hono: 'Hono (@hono/node-server)' } as Record<
  string,
  string
>;

export function writeReport(r: Results): void {
  mkdirSync(join(docs, 'benchmarks'), { recursive: true });
  // The raw numbers of the run, beside the report they produced.
  writeFileSync(join(docs, 'benchmarks/results.json'), `${JSON.stringify(r, null, 2)}\n`);
  const ratio = (row: Summary & { framework: string; ratio?: number }) =>
    row.ratio ?? row.rps / (r.bare[row.framework] as Summary).rps;
  const find = (framework: string, name: string) =>
    r.http.find((h) => h.framework === framework && h.name.startsWith(name));

  // Chart 1: ratio to the bare route, every case.
  const bars: Bar[] = r.http.map((h) => ({
    label: `${label[h.framework]}: ${h.name}`,
    value: ratio(h),
    text: `${fmt(ratio(h), 2)}× (${fmt(h.rps / 1000, 1)}k req/s)`,
    highlight: h.name.startsWith('latchkey'),
  }));
  writeFileSync(
    join(docs, 'benchmarks/ratio-to-bare.svg'),
    barChart({
      title: 'Authenticated req/s as a share of the same framework’s bare route',
      bars,
      unit: 'ratio to the bare route (1.0 = free)',
      reference: 1,
    }),
  );
  // Chart 2: cold validation by store size.
  const sizeBars: Bar[] = r.inProcess.map((p) => ({
    label: `${p.variant}, ${p.size.toLocaleString('en-US')}`,
    value: p.coldMedianUs,
    text: `${fmt(p.coldMedianUs, 1)} µs`,
    highlight: p.variant.includes('sqlite'),
  }));
  writeFileSync(
    join(docs, 'benchmarks/validate-by-size.svg'),
    barChart({
      title: 'validateToken, first call for each session (median)',
      bars: sizeBars,
      unit: 'microseconds per call',
      log: true,
    }),
  );
  // Chart 3: connections.
  const connBars: Bar[] = r.scaling.flatMap((s) => [
    {
      label: `${s.connections} conn., bare`,
      value: s.bare.p99,
      text: `p99 ${fmt(s.bare.p99, 2)} ms, ${fmt(s.bare.rps / 1000, 1)}k req/s`,
    },
    {
      label: `${s.connections} conn., latchkey SQLite + cache`,
      value: s.auth.p99,
      text: `p99 ${fmt(s.auth.p99, 2)} ms, ${fmt(s.auth.rps / 1000, 1)}k req/s`,
      highlight: true,
    },
  ]);
  writeFileSync(
    join(docs, 'benchmarks/latency-by-connections.svg'),
    barChart({
      title: 'p99 latency by concurrent connections (node:http)',
      bars: connBars,
      unit: 'milliseconds, p99',
      log: true,
    }),
  );

  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const httpTable = ['node', 'express', 'fastify', 'hono']
    .map((f) => {
      const bare = r.bare[f] as Summary;
      const cells = (s: Summary, ratioText: string, cpuRatioText: string) => [
        fmt(s.rps, 0),
        `${fmt(s.min, 0)}–${fmt(s.max, 0)}`,
        fmt(s.p50, 2),
        fmt(s.p99, 2),
        ratioText,
        fmt(s.cpuUs ?? null, 1),
        cpuRatioText,
      ];
      const head = row([`${label[f]} bare route`, ...cells(bare, '1.00×', '1.00×')]);
      const body = r.http
        .filter((h) => h.framework === f)
        .map((h) =>
          row([
            `${label[f]}: ${h.name}`,
            ...cells(h, `${fmt(ratio(h), 2)}×`, h.cpuRatio === undefined ? '–' : `${fmt(h.cpuRatio, 2)}×`),
          ]),
        );
      return [head, ...body].join('\n');
    })
    .join('\n');
  const sizeTable = r.inProcess
    .map((p) =>
      row([
        p.variant,
        p.size.toLocaleString('en-US'),
        fmt(p.coldMedianUs, 2),
        fmt(p.coldP99Us, 2),
        fmt(p.warmMedianUs, 2),
      ]),
    )
    .join('\n');
  const scalingTable = r.scaling
    .map((s) =>
      row([
        String(s.connections),
        fmt(s.bare.rps, 0),
        fmt(s.bare.p99, 2),
        fmt(s.auth.rps, 0),
        fmt(s.auth.p99, 2),
        `${fmt(s.auth.rps / s.bare.rps, 2)}×`,
      ]),
    )
    .join('\n');

  const exLk = find('express', 'latchkey, sqlite exclusive + cache');
  const exLkPlain = find('express', 'latchkey, sqlite exclusive');
  const esMem = find('express', 'express-session, MemoryStore');
  const esSql = find('express', 'express-session, SQLite tuned');
  const esSqlPublished = find('express', 'express-session, better-sqlite3-session-store');
  const esRedis = find('express', 'express-session, connect-redis');
  const nodeCached = find('node', 'latchkey, sqlite exclusive + cache');
  const jwtString = find('node', 'jsonwebtoken.verify, string');
  const jwtKey = find('node', 'jsonwebtoken.verify, KeyObject');
  const jose = find('node', 'jose');
  const iron = find('node', 'iron-session');
  const betterAuth = find('node', 'better-auth getSession (SQLite)');
  const betterAuthCache = find('node', 'better-auth getSession, cookie cache');
  const nodePlain = r.http.find((h) => h.framework === 'node' && h.name === 'latchkey, sqlite exclusive');
  const storeAlone = find('node', "the store's read alone");
  const floor = find('node', 'the least a check can do');
  const x = (a?: Summary, b?: Summary) => (a && b ? fmt(a.rps / b.rps, 2) : '?');
  /** node:http's bare route, and what a case adds to it, in µs a request. */
  const bareUs = r.bare.node ? 1e6 / r.bare.node.rps : Number.NaN;
  const overBareUs = (row: (typeof r.http)[number]) => bareUs / ratio(row) - bareUs;
  const versions = Object.entries(r.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

  writeFileSync(
    join(docs, 'benchmarks.md'),
    `# Benchmarks

Generated by \`npm run bench\` on ${r.date.slice(0, 10)}; every number below comes from that one run (raw:
[benchmarks/results.json](benchmarks/results.json); \`npm run bench:report\` redraws this page from a run's results).
Machine: ${r.cores} cores (${r.cpu ?? 'unknown CPU'}), Node ${r.node}, load from ${r.loadGenerator} in a separate
process pinned to the other core than the server. Versions: ${versions}.

**Reproduce:** \`npm install && npm run bench\` (PostgreSQL on 127.0.0.1:5432 database \`test\` and Redis on
127.0.0.1:6379 are measured when they answer; \`apt-get install -y wrk\` for the load generator;
\`npm run bench -- --quick\` only checks the harness, as CI does).

**Method.** Each framework serves a bare route and an authenticated route in the same process; both
get the same request, credential included, and build the same JSON body naming the user, so the
difference is the authentication work (up to the run of 2026-12-01, 20:24, the bare route sent a constant body, and
about 1 µs of the route's own JSON work per request counted against every mechanism). Rounds come
in pairs of bare and authenticated, in turn bare first and authenticated first (${r.rounds} × ${r.seconds} s
each, ${r.connections} connections, each pair after a 1 s warm-up of both routes), and each pair runs in ABBA
order, the first route's time split in two halves around the other's, so a drift within the pair
weighs on both routes alike (from the run of 2026-12-02, 08:03; before, AB: a scratch test gave
pairs of 0.87–1.03× in AB order and 0.85–0.94× in ABBA for the same code). ${
      r.pairs
        ? `The second route runs in two halves too, and a pair in which either route's two halves differ by
more than ${fmt(r.pairs.steadyWithin * 100, 0)} % in req/s saw the machine change speed (its slow phases start and stop at once) and is
measured again, up to ${r.pairs.attempts} attempts, the steadiest counting; the test looks at each route alone, never at
the ratio (from the run of 2026-12-02, 11:37). In this run ${r.pairs.again} of ${r.rounds * r.http.length} pairs were measured again
(${r.pairs.measured} attempts in all) and ${r.pairs.unsteady} stayed above the limit after the last attempt. The
selection is not neutral in every case: a stall in one half of one attempt is measured again, while
a stall a route pays in every attempt is kept, so a route with stalls of its own can look steadier
than it is; and a slow phase centred on the pair's middle slows both halves of each route alike and
passes. ${(() => {
            const head = r.http.find((h) => h.framework === 'node' && h.name === 'latchkey, sqlite exclusive + cache');
            return head?.firstAttemptRatio !== undefined && head.ratio !== undefined
              ? `Over the first attempts alone, node:http with SQLite + cache measured ${fmt(head.firstAttemptRatio, 2)}× (${fmt(head.ratio, 2)}× over the chosen ones); results.json keeps every attempt's ratio. `
              : "From the run after 2026-12-02, 11:37, results.json keeps every attempt's ratio, and this paragraph gives the figure over first attempts alone. ";
          })()}`
        : ''
    }The tables give medians with the min–max of
req/s so the noise of this shared machine shows. A ratio is the median, over a case's rounds, of its
authenticated req/s to the bare round beside it in the same process: this machine's speed drifts by up to 1.7× over minutes (the
same route's CPU time per request went from 33 to 56 µs between adjacent 3-s runs), and adjacent
rounds share the drift while a bare median pooled over the whole run does not. Every case's server
starts first and stays up, and the rounds go case by case, one pair each, ${r.rounds} times over: a slow
phase of the machine (a minute or more) then costs each case one pair, which its median leaves out,
where before it could take all of one case's pairs (up to the run of 2026-12-02, 01:02, one case ran
all its pairs before the next started; the same code measured 0.96× and 0.86× in two runs). Each
pair starts once the machine has been at least 85 % idle for a second (after filling a million sessions, PostgreSQL
and Redis keep working for seconds); the fill ends with a checkpoint (SQLite's WAL truncated,
PostgreSQL's \`CHECKPOINT\`, from the run of 2026-12-02, 07:24), so no store writes back its fill
during the rounds. latchkey's stores hold ${r.sizes[r.sizes.length - 1]?.toLocaleString('en-US')} sessions during the HTTP runs.

## Headline

- On Express, latchkey (SQLite + cache) serves **${x(exLk, esMem)}×** the req/s of express-session with
  its MemoryStore, **${x(exLk, esSqlPublished)}×** with its published better-sqlite3 store
  (better-sqlite3-session-store, WAL) and **${x(exLk, esSql)}×** with a SQLite store we tuned for it
  (WAL, prepared statements); without the cache, ${x(exLkPlain, esMem)}×, ${x(exLkPlain, esSqlPublished)}× and ${x(exLkPlain, esSql)}×.
  Express itself caps these ratios: its bare route, ${fmt((r.bare.express as Summary).rps, 0)} req/s, is only
  ${x(r.bare.express, esSql)}× the tuned express-session figure, so no middleware can be more than that ahead of it.
  ${esRedis ? `With connect-redis, express-session reaches ${fmt(esRedis.rps, 0)} req/s.` : ''}
- On node:http, latchkey (SQLite + cache) keeps **${nodeCached ? fmt(ratio(nodeCached), 2) : '?'}×** of the bare route, against
  ${jwtKey ? fmt(ratio(jwtKey), 2) : '?'}× for \`jsonwebtoken.verify\` with a pre-built KeyObject and ${jwtString ? fmt(ratio(jwtString), 2) : '?'}× with the
  secret as a string ([the article](article.md)'s code), ${jose ? fmt(ratio(jose), 2) : '?'}× for jose, ${iron ? fmt(ratio(iron), 2) : '?'}× for iron-session, and
  ${betterAuth ? fmt(ratio(betterAuth), 2) : '?'}× for better-auth's \`getSession\` (${betterAuthCache ? fmt(ratio(betterAuthCache), 2) : '?'}× with its cookie cache).
${
  storeAlone && nodePlain
    ? `- Without the cache, what latchkey costs is the store's read: the same SELECT on the same
  SQLite file with nothing else (no MAC, no expiry check, no slide) keeps node:http at **${fmt(ratio(storeAlone), 2)}×** of the
  bare route, latchkey without the cache **${fmt(ratio(nodePlain), 2)}×** (${fmt(overBareUs(storeAlone), 1)} µs and ${fmt(overBareUs(nodePlain), 1)} µs a request over the bare route's
  ${fmt(bareUs, 1)} µs). ${
    overBareUs(nodePlain) <= overBareUs(storeAlone)
      ? "latchkey's own work beyond the read is below what this machine can tell apart in one run."
      : `latchkey's own work beyond the read: about ${fmt(overBareUs(nodePlain) - overBareUs(storeAlone), 1)} µs.`
  }
`
    : ''
}${
  floor && nodeCached
    ? `- With the cache, the least any session check can do bounds latchkey: the cookie looked up in a
  Map, and the \`Cache-Control: no-store\` an answer with account data must carry (C7), with nothing else,
  keeps node:http at **${fmt(ratio(floor), 2)}×** of the bare route, latchkey with the cache **${fmt(ratio(nodeCached), 2)}×** (${fmt(overBareUs(floor), 1)} µs and
  ${fmt(overBareUs(nodeCached), 1)} µs a request over the bare route's ${fmt(bareUs, 1)} µs). latchkey's work beyond that floor, about
  ${fmt(Math.max(0, overBareUs(nodeCached) - overBareUs(floor)), 1)} µs, is proving the token, the cache's look-up, the expiry checks, the session's copy and the adapter's bookkeeping.
`
    : ''
}- A login storm of 50 concurrent clients on the reference server: ${fmt(r.storm.rps, 1)} logins/s
  (${fmt((r.storm.rps / r.storm.rawHashRate) * 100, 0)} % of the raw argon2id rate of ${fmt(r.storm.rawHashRate, 1)} hashes/s on this machine), with the
  event loop delayed ${fmt(r.storm.eld.p99, 2)} ms at p99 (${fmt(r.storm.eld.max, 2)} ms at most): hashing runs on libuv's pool.

![ratio to the bare route](benchmarks/ratio-to-bare.svg)

## Requests per second

| route | req/s | min–max | p50 ms | p99 ms | ratio to bare | CPU µs/request | CPU ratio |
|---|---:|---:|---:|---:|---:|---:|---:|
${httpTable}

"CPU µs/request" is the server process's user and system time over a round (from \`/proc\`)
divided by the requests it answered; "CPU ratio" is the median over rounds of the bare route's
CPU per request to the authenticated route's, in adjacent rounds: the share of a core that the
authentication work leaves. The socket's kernel work counts in both.

## Validation latency by store and size (in process)

"Cold" is the first validation of each of ${r.sampled.toLocaleString('en-US')} sessions in this process (after one untimed pass
has brought them into the database's buffers and the OS page cache, as on a running system);
"warm" repeats one session.

| store | sessions | cold median µs | cold p99 µs | warm median µs |
|---|---:|---:|---:|---:|
${sizeTable}

![validation by size](benchmarks/validate-by-size.svg)
${r.missCost ? missCostSection(r.missCost) : ''}
## Latency by concurrent connections (node:http, latchkey SQLite + cache)

Medians of interleaved rounds per connection count, after a warm-up at that count: one run's p99
is one pause of this shared machine.

| connections | bare req/s | bare p99 ms | latchkey req/s | latchkey p99 ms | ratio |
|---:|---:|---:|---:|---:|---:|
${scalingTable}

![latency by connections](benchmarks/latency-by-connections.svg)

${r.tokens ? tokensSection(r.tokens) : ''}
${r.memory ? memorySection(r.memory) : ''}
${r.scaleOut ? scaleOutSection(r.scaleOut, r.cores) : ''}
${PROFILE_SECTION}
${INSTRUCTIONS_SECTION}
## What surprised us, and why

- **\`jsonwebtoken.verify\` with a string secret is ${jwtString && jwtKey ? fmt(jwtKey.rps / jwtString.rps, 1) : '?'}× slower than with a KeyObject.**
  Given anything but a KeyObject, jsonwebtoken's \`verify\` first tries \`crypto.createPublicKey(secret)\`
  on every call; for an HMAC secret that parse fails and throws, and only then does it build the key
  with \`createSecretKey\`. An exception with its stack trace, per request, costs far more than the
  HMAC. The article's code passes a string. A pre-built KeyObject removes the cost; latchkey builds
  its KeyObjects once, at start-up.
- **A signed cookie plus a database read can beat a stateless JWT.** latchkey's remembered tokens skip
  the HMAC on repeat requests and the cache answers from memory, so the per-request work is a cookie
  parse and a map look-up; verifying a JWT re-parses JSON, decodes base64 and runs an HMAC every time.
- **express-session writes on every request.** With \`resave: false\` and a cookie \`maxAge\`, it still
  calls the store's \`touch\` on each response, so its SQLite store does a write per read; latchkey
  writes \`lastSeenAt\` at most once a minute per session.
- **better-auth's \`getSession\` costs ${betterAuth ? fmt(1e6 / betterAuth.rps, 0) : '?'} µs of server time a request here, and its cookie cache
  barely helps (${betterAuthCache ? fmt(betterAuthCache.rps, 0) : '?'} against ${betterAuth ? fmt(betterAuth.rps, 0) : '?'} req/s).** Each call goes through its API layer
  (a router, schema validation, a query builder on top of the driver), verifies the signed cookie with
  WebCrypto (asynchronous, and a key import), and with the cookie cache parses and verifies a larger
  signed JSON cookie (the user record itself) instead of reading the database: the database read was
  never the expensive part.
- **PostgreSQL and Redis without the cache are network-bound** here (one or two round trips from Node
  per request), which is why the cache and its invalidation bus exist; with them, both run near the
  SQLite figures.
- **SQLite's read transaction costs more than the look-up.** In shared (WAL) mode each auto-committed read
  takes lock and stat system calls (about 2 µs here); \`exclusive\` mode, for a process that owns its
  file, removes them.
`,
  );
}
