/**
 * `npm run bench:instructions`: machine instructions per request on the server's main thread,
 * counted by valgrind's callgrind, for the bare route and the authenticated route of the same
 * server. Why beside req/s and CPU time: a count of instructions does not move with whatever else
 * the machine runs, nor with its clock speed, so it separates what latchkey does from the noise
 * of the host (the same count twice for the same binary and input). It does not weigh cache
 * misses or stalls, so it is no substitute for the timed ratios of `npm run bench`.
 *
 * Each server runs under callgrind (about 50 times slower), its routes warmed until the JIT
 * settles, then measured in ABBA rounds of `--requests` requests each from 8 keep-alive
 * connections (the client runs outside valgrind). Work driven by the clock is kept out: a request
 * takes about 50 times longer under valgrind, so the once-a-minute slide and the once-a-second
 * refresh of the cache would weigh about 50 times more than they do (the servers run with
 * TOUCH_INTERVAL=900 and MAX_STALENESS_MS=600000). lru-cache's clock timer (one per millisecond)
 * stays, and weighs a few hundred instructions more per request than at full speed.
 * Flags: --requests N (default 4000), --rounds R (default 4), --only TEXT (the cases whose name
 * contains it, for an A/B of one change). Needs valgrind (Debian's package).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../apps/demo/test/server-process.js';
import { fmt, median } from './lib/stats.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const requests = Number(arg('requests', '4000'));
const rounds = Number(arg('rounds', '4'));
const only = arg('only', '');
const here = dirname(fileURLToPath(import.meta.url));

try {
  execFileSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control'], { stdio: 'ignore' });
} catch {
  console.error('bench:instructions needs valgrind: apt-get install -y valgrind');
  process.exit(1);
}

interface Case {
  name: string;
  env: Record<string, string>;
}
const sqlite = { STORE: 'sqlite', EXCLUSIVE: '1' };
const allCases: Case[] = [
  { name: 'latchkey, SQLite exclusive + cache', env: { MECH: 'latchkey', ...sqlite, CACHE: '1' } },
  { name: 'latchkey, SQLite exclusive', env: { MECH: 'latchkey', ...sqlite, CACHE: '0' } },
  { name: 'the least a check can do (Map look-up + no-store)', env: { MECH: 'memory-read', ...sqlite, CACHE: '0' } },
  { name: "the store's read alone (one SELECT)", env: { MECH: 'sqlite-read', ...sqlite, CACHE: '0' } },
];

const cases = allCases.filter((c) => c.name.includes(only));
if (cases.length === 0) {
  console.error(`--only ${only}: no case's name contains it (${allCases.map((c) => c.name).join('; ')})`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'latchkey-instructions-'));

/** Instructions the main thread ran since the last zeroing, from a fresh dump. */
function dumpMainThread(server: ChildProcess, prefix: string): number {
  const before = new Set(readdirSync(dir));
  execFileSync('callgrind_control', ['-d', String(server.pid)], { stdio: 'ignore' });
  // With --separate-threads, each dump is one file per thread; the main thread's ends in -01.
  const fresh = readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('-01') && !before.has(f));
  if (fresh.length !== 1) throw new Error(`expected one new main-thread dump, found ${fresh.length}`);
  const totals = readFileSync(join(dir, fresh[0] as string), 'utf8').match(/^(?:summary|totals): (\d+)/m);
  if (totals === null) throw new Error('a callgrind dump without totals');
  return Number(totals[1]);
}

async function measure(c: Case): Promise<{ bare: number[]; auth: number[] }> {
  const port = await freePort();
  const prefix = `callgrind.${port}`;
  const server = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      `--callgrind-out-file=${join(dir, prefix)}.%p`,
      process.execPath,
      '--import',
      'tsx',
      join(here, 'servers/app.ts'),
      String(port),
    ],
    {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env: {
        ...process.env,
        FRAMEWORK: 'node',
        SQLITE_FILE: join(dir, `${port}.db`),
        TOUCH_INTERVAL: '900',
        MAX_STALENESS_MS: '600000',
        ...c.env,
      },
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('message', () => resolve());
    server.once('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const send = (method: string, path: string, cookie = '') =>
    new Promise<{ status: number; setCookie: string[] }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { cookie } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] }));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const login = await send('POST', '/login');
    const cookie = login.setCookie.map((c) => c.split(';')[0]).join('; ');
    const many = async (path: string, n: number) => {
      let left = n;
      const worker = async () => {
        while (left-- > 0) {
          const { status } = await send('GET', path, cookie);
          if (status !== 200) throw new Error(`${c.name}: ${path} answered ${status}`);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    };
    for (const path of ['/bare', '/auth', '/bare', '/auth']) await many(path, requests); // the JIT settles
    const counts = { bare: [] as number[], auth: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['bare', 'auth'] as const) : (['auth', 'bare'] as const);
      for (const route of order) {
        execFileSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' });
        await many(`/${route}`, requests);
        counts[route].push(dumpMainThread(server, prefix) / requests);
      }
    }
    return counts;
  } finally {
    agent.destroy();
    server.kill('SIGKILL');
  }
}

console.log(
  `node:http, instructions per request on the server's main thread (callgrind), median of ${rounds} rounds of ${requests}`,
);
console.log(`${'case'.padEnd(52)} ${'bare'.padStart(8)} ${'checked'.padStart(8)} ${'added'.padStart(7)}  ratio`);
for (const c of cases) {
  const { bare, auth } = await measure(c);
  const b = median(bare);
  const a = median(auth);
  console.log(
    `${c.name.padEnd(52)} ${fmt(b, 0).padStart(8)} ${fmt(a, 0).padStart(8)} ${fmt(a - b, 0).padStart(7)}  ${fmt(b / a, 3)}×`,
  );
  console.log(
    `${''.padEnd(52)} rounds: bare ${bare.map((x) => fmt(x, 0)).join(' ')}; checked ${auth.map((x) => fmt(x, 0)).join(' ')}`,
  );
}
rmSync(dir, { recursive: true, force: true });
process.exit(0);
