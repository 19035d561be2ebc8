/**
 * `npm run bench:cpu -- --framework fastify`: the server's CPU time per request on the bare and the
 * authenticated route (SQLite exclusive + cache, as in `npm run bench`), in interleaved rounds
 * under wrk, from the process's own CPU counters (/proc, Linux). Why beside req/s: a round's
 * req/s moves with whatever else the machine runs, while the CPU a request costs moves less; the
 * ratio of the two routes' CPU per request is the share of a core that authentication leaves.
 * Flags: --framework node|express|fastify|hono, --store sqlite|postgres|redis (with the cache;
 * the last two on their usual local ports), --rounds R (default 6), --seconds S (default 3),
 * --connections C (default 64).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMicros, load } from './lib/load.js';
import { startOneServer } from './lib/one-server.js';
import { fmt, median } from './lib/stats.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const framework = arg('framework', 'node');
const rounds = Number(arg('rounds', '6'));
const seconds = Number(arg('seconds', '3'));
const connections = Number(arg('connections', '64'));
const store = arg('store', 'sqlite');

const dir = mkdtempSync(join(tmpdir(), 'latchkey-cpu-'));
const { base, cookie, server, stop } = await startOneServer({
  framework,
  store,
  cache: !argv.includes('--no-cache'),
  dir,
});
/** User + system CPU of the server so far, in µs (taskset execs node, so the pid is node's). */
const cpuUs = () => cpuMicros(server.pid);

const routes = ['bare', 'auth'] as const;
for (const route of routes) await load(`${base}/${route}`, 2, connections, { cookie }); // warm-up
const perRequest: Record<(typeof routes)[number], number[]> = { bare: [], auth: [] };
const ratios: number[] = [];
for (let round = 0; round < rounds; round++) {
  // Alternate which route goes first, so a drift of the machine does not favour one.
  for (const route of round % 2 === 0 ? routes : [...routes].reverse()) {
    const before = cpuUs();
    const result = await load(`${base}/${route}`, seconds, connections, { cookie });
    perRequest[route].push((cpuUs() - before) / (result.rps * seconds));
  }
  ratios.push((perRequest.bare.at(-1) as number) / (perRequest.auth.at(-1) as number));
}
await stop();
rmSync(dir, { recursive: true, force: true });

const list = (xs: number[]) => xs.map((x) => fmt(x, 1)).join(' ');
console.log(
  `${framework}, ${store} + cache: CPU µs per request, ${rounds} rounds of ${seconds} s at ${connections} connections`,
);
console.log(`  bare route     median ${fmt(median(perRequest.bare), 1).padStart(6)}   (${list(perRequest.bare)})`);
console.log(`  authenticated  median ${fmt(median(perRequest.auth), 1).padStart(6)}   (${list(perRequest.auth)})`);
console.log(`  ratio (bare CPU / authenticated CPU, median of rounds): ${fmt(median(ratios), 2)}×`);
process.exit(0);
