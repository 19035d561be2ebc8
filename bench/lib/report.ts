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
  inProcess: { size: number; variant: string; coldMedianUs: number; coldP99Us: number; warmMedianUs: number }[];
  bare: Record<string, Summary>;
  /** `ratio`: the median over rounds of authenticated req/s to the bare round just before it (absent in older results). */
  http: ({ framework: string; name: string; ratio?: number; cpuRatio?: number } & Summary)[];
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
instance gives ${gain}× because there is no idle core for it to use. That is the machine, not a
shared lock: each request's session comes from the instance's own cache (one PostgreSQL read per
session per second at most, none per request), so instances do not wait on each other.

**On paper, per core.** One instance is one Node event loop, so at most one core: straight to one
instance it served ${direct ? fmt(direct.rps, 0) : '?'} req/s here, while sharing this machine with the load generator
and PostgreSQL. With the cache the store costs no round trip per request, so N instances on N free
cores should serve about N times that, less the proxy hop measured above, until the writes (a
login, a logout, a touch at most once a minute per session) reach what the store takes. Count one
core per instance, and give the load balancer and the store cores of their own.
`;
}

/**
 * Where the time goes: what CPU profiles of the bench servers under load showed (2026-12-01), and
 * what changed because of them. Prose, not a measurement of this run: \`node --cpu-prof\` costs
 * throughput, so profiles are taken apart from \`npm run bench\`.
 */
const PROFILE_SECTION = `## Where the time goes (CPU profiles)

Taken with \`node --cpu-prof\` on the bench server (SQLite exclusive + cache, 64 connections from wrk
on the other core), counting only the 6 s of steady load, per request. Reproduce with
\`npm run bench:profile -- --framework node --route auth\` (and \`--route bare\`):

| node:http | bare route | authenticated route |
|---|---:|---:|
| CPU per request, all frames | 39–40 µs | 60–76 µs |
| of which latchkey's own functions (inclusive) | — | 5.1–6.6 µs |
| of which the socket write (\`writev\`) | 17 µs | 20–24 µs |

- **latchkey's part is small and where it should be.** The adapter's \`authenticate\` is 5–7 µs
  inclusive: the manager's \`load\` (the verified-token and session caches, 1.6 µs for the cache's
  \`get\`), the cookie read (1.5 µs), the no-store header (0.2 µs). The in-process figure above,
  0.5–1 µs warm, is the same work without a request around it.
- **The rest of the gap is not in latchkey's frames.** Every Node frame of the HTTP path runs
  slower on the authenticated route (the socket write +3–7 µs, the header parser and the event
  emitter about 2×), in three pairs of profiles taken in either order. A process doing a little
  more work per request on this 2-core virtual machine pays for it again in the HTTP code around it;
  we have not found a cause we can remove, so the ratio targets of #18 (Fastify ≥ 0.9× with the
  cache, node:http ≥ 0.95×) are not met on this machine.
- **Part of the gap is the route, not the session.** A stub of the authenticated route without
  latchkey (it reads the Cookie header, which makes Node build \`req.headers\`, awaits once, sets
  \`Cache-Control\` and writes \`{"userId": …}\`) cost 7–15 µs more CPU per request than the bare
  route (median 9.4 µs over 6 adjacent pairs, measured from \`/proc\` CPU ticks under wrk). Any
  authenticated route pays that; the bare route is a lower bound no session check can reach.
- **Fastify:** latchkey's functions were 7.5 % of busy samples, garbage collection 2.0 % (5.8 % in
  the profile that opened #18), and the socket write the top frame (16.6 %).
- **Changed because of the profiles:** the adapters kept each request's session and nonce in
  WeakMaps; a WeakMap entry per short-lived request cost about 1.2 µs in the collector against
  0.06 µs for a symbol property (a microbenchmark of 2 million requests), so they now use a
  symbol on the request: node:http's \`authenticate\` went from 6.7 to 5.2 µs inclusive in the
  profiles (two of each). The session cookie is sliced out of the header instead of parsing
  every cookie into an object. The idle-timeout slide no longer wraps an unchanged session in a
  promise of its own.
`;

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
  const x = (a?: Summary, b?: Summary) => (a && b ? fmt(a.rps / b.rps, 2) : '?');
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
get the same request, credential included, so the difference is the authentication work. Rounds
alternate bare and authenticated (${r.rounds} × ${r.seconds} s each, ${r.connections} connections, after a
1 s warm-up); the tables give medians with the min–max of req/s so the noise of this shared machine
shows. A ratio is the median, over a case's rounds, of its authenticated req/s to the bare round
just before it in the same process: this machine's speed drifts by up to 1.7× over minutes (the
same route's CPU time per request went from 33 to 56 µs between adjacent 3-s runs), and adjacent
rounds share the drift while a bare median pooled over the whole run does not. latchkey's stores hold ${r.sizes[r.sizes.length - 1]?.toLocaleString('en-US')} sessions during the HTTP runs.

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
- A login storm of 50 concurrent clients on the reference server: ${fmt(r.storm.rps, 1)} logins/s
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
