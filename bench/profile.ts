/**
 * `npm run bench:profile -- --framework node --route auth`: where a request's CPU time goes. Runs
 * one bench server (SQLite exclusive + cache, as in `npm run bench`) under `node --cpu-prof`,
 * loads one route from wrk on the other core, and prints the frames by self time and latchkey's
 * functions by inclusive time, in µs per request, counting only the steady load (not start-up).
 * Flags: --framework node|express|fastify|hono, --route bare|auth, --store sqlite|postgres|redis
 * (with the cache), --seconds S (default 6).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './lib/load.js';
import { startOneServer } from './lib/one-server.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const framework = arg('framework', 'node');
const route = arg('route', 'auth');
const store = arg('store', 'sqlite');
const seconds = Number(arg('seconds', '6'));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const dir = mkdtempSync(join(tmpdir(), 'latchkey-profile-'));
// The profile is written at exit: SIGINT must end the process normally.
const exitOnSigint = join(dir, 'exit.mjs');
writeFileSync(exitOnSigint, "process.on('SIGINT', () => process.exit(0));\n");
const { base, cookie, stop } = await startOneServer({
  framework,
  store,
  cache: !argv.includes('--no-cache'),
  dir,
  nodeArgs: ['--import', exitOnSigint, '--cpu-prof', `--cpu-prof-dir=${dir}`],
});
await load(`${base}/${route}`, 3, 64, { cookie }); // warm-up: the JIT settles
const run = await load(`${base}/${route}`, seconds, 64, { cookie });
const requests = run.rps * seconds;
await new Promise((r) => setTimeout(r, 1000));
await stop();

// The main thread's profile is the largest (tsx's loader runs in a worker of its own).
const file = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => join(dir, f))
  .sort((a, b) => statSync(b).size - statSync(a).size)[0];
if (!file) throw new Error('no profile was written');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
rmSync(dir, { recursive: true, force: true });

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (f: ProfileNode['callFrame']) =>
  `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/packages\/server\/dist\//, 'latchkey/')}:${f.lineNumber}`;
// Only the measured run: from `seconds` + 1 s before the end (the pause, then the exit) to 1 s before it.
const from = profile.endTime - (seconds + 1) * 1e6;
const to = profile.endTime - 1e6;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let busy = 0;
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(id);
  if (!node || at < from || at > to || node.callFrame.functionName === '(idle)') return;
  busy += dt;
  self.set(name(node.callFrame), (self.get(name(node.callFrame)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur)?.callFrame;
    if (!f?.url.includes('packages/server/dist')) continue;
    const key = name(f);
    if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    seen.add(key);
  }
});
const per = (us: number) => (us / requests).toFixed(2).padStart(7);
console.log(
  `${framework} /${route}: ${Math.round(requests).toLocaleString('en-US')} requests in ${seconds} s; CPU ${per(busy)} µs per request`,
);
console.log('\nself time, µs per request');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 20)))
  console.log(`${per(v)}  ${k}`);
if (inclusive.size > 0) {
  console.log("\nlatchkey's functions, inclusive, µs per request");
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`${per(v)}  ${k}`);
}
