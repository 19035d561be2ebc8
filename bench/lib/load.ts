/**
 * Load generation in a separate process: wrk when installed (C, light enough to leave the server
 * its own core), else autocannon. Each is pinned to a different core from the server where
 * `taskset` exists and the machine has two cores or more.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  /** The server's CPU time per request in µs, when the caller measured it (`measured`). */
  cpuUs?: number;
}

/**
 * User + system CPU time of a process so far, in µs, from /proc (Linux); NaN elsewhere. Clock
 * ticks are 10 ms: over a round of seconds, a fraction of a percent.
 */
export function cpuMicros(pid: number | undefined): number {
  try {
    const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/** Idle and total CPU time of the whole machine so far, from /proc/stat (Linux); `null` elsewhere. */
function machineTimes(): { idle: number; total: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    return { idle: (cpu[3] ?? 0) + (cpu[4] ?? 0), total: cpu.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/**
 * Waits until the machine is quiet: two windows of half a second in a row with at least
 * `idleShare` of its CPU idle, or `maxMs` at most. Why: a database that just took a million rows
 * checkpoints, vacuums or saves a snapshot for seconds afterwards, on the same two cores as the
 * rounds (it once halved the first cases of a run). Resolves to the milliseconds it waited.
 */
export async function settle(idleShare = 0.85, maxMs = 60_000): Promise<number> {
  const started = Date.now();
  let quiet = 0;
  while (quiet < 2 && Date.now() - started < maxMs) {
    const before = machineTimes();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = machineTimes();
    if (before === null || after === null) return 0;
    const share = (after.idle - before.idle) / Math.max(1, after.total - before.total);
    quiet = share >= idleShare ? quiet + 1 : 0;
  }
  return Date.now() - started;
}

/** `load`, with the CPU time the server process `pid` spent per request during it. */
export async function measured(
  pid: number | undefined,
  url: string,
  seconds: number,
  connections: number,
  headers: Record<string, string>,
): Promise<LoadResult> {
  const before = cpuMicros(pid);
  const result = await load(url, seconds, connections, headers);
  return { ...result, cpuUs: (cpuMicros(pid) - before) / (result.rps * seconds) };
}

/** A pair of rounds, bare and authenticated in the caller's order, and how steady the machine was. */
export interface MeasuredPair {
  results: [LoadResult, LoadResult];
  /** The larger of the two routes' differences between their halves, relative to their mean req/s (0 for AB). */
  unsteadiness: number;
  /** Every attempt's results, in order, the chosen one among them (more than one when an attempt saw the machine change speed): the first attempts alone give the unselected figure. */
  tries: [LoadResult, LoadResult][];
}

/** How far a route's two halves may differ in req/s before the pair is measured again. */
export const STEADY_WITHIN = 0.06;
/** Attempts per pair at most; then the steadiest attempt counts. */
export const PAIR_ATTEMPTS = 3;

/**
 * One pair of rounds in ABBA order, each route's time in two halves: `first` for half the time,
 * `second` for the whole in two runs, `first` again. Why ABBA: this machine's speed drifts
 * within seconds (a pair of 2-s rounds, bare then authenticated, ranged 0.87–1.03× for the same
 * code); with each route's halves placed around the pair's middle, a steady drift weighs on both
 * routes alike and cancels in their ratio. Why the halves: a change of speed that is not a steady
 * drift (the machine's slow phases, up to 1.8× slower, start and stop at once) shows as two halves
 * of one route that disagree; such a pair is measured again, up to `PAIR_ATTEMPTS` times, and the
 * steadiest attempt counts. The test looks at each route alone, never at the ratio; still, a stall
 * a route pays in every attempt is kept while one in a single half is measured away, so a route
 * with stalls of its own can look steadier than it is (every attempt is returned, for the figure
 * without the selection). Needs whole seconds for wrk: with `seconds` below 2 or odd, the pair is one round each (AB).
 */
export async function measuredPair(
  pid: number | undefined,
  first: string,
  second: string,
  seconds: number,
  connections: number,
  headers: Record<string, string>,
): Promise<MeasuredPair> {
  if (seconds < 2 || seconds % 2 !== 0) {
    const a = await measured(pid, first, seconds, connections, headers);
    const results: [LoadResult, LoadResult] = [a, await measured(pid, second, seconds, connections, headers)];
    return { results, unsteadiness: 0, tries: [results] };
  }
  const half = seconds / 2;
  let best: { results: [LoadResult, LoadResult]; unsteadiness: number } | undefined;
  const tries: [LoadResult, LoadResult][] = [];
  while (tries.length < PAIR_ATTEMPTS && (best === undefined || best.unsteadiness > STEADY_WITHIN)) {
    const a1 = await measured(pid, first, half, connections, headers);
    const b1 = await measured(pid, second, half, connections, headers);
    const b2 = await measured(pid, second, half, connections, headers);
    const a2 = await measured(pid, first, half, connections, headers);
    const results: [LoadResult, LoadResult] = [merge(a1, a2), merge(b1, b2)];
    tries.push(results);
    const unsteadiness = Math.max(apart(a1, a2), apart(b1, b2));
    if (best === undefined || unsteadiness < best.unsteadiness) best = { results, unsteadiness };
  }
  return { ...(best as { results: [LoadResult, LoadResult]; unsteadiness: number }), tries };
}

/** How far two rounds of one route differ in req/s, relative to their mean. */
const apart = (x: LoadResult, y: LoadResult) => Math.abs(x.rps - y.rps) / ((x.rps + y.rps) / 2);

/** Two equal-length rounds of one route as one: req/s over both, CPU per request over both, latencies averaged. */
function merge(x: LoadResult, y: LoadResult): LoadResult {
  const cpu = x.cpuUs !== undefined && y.cpuUs !== undefined;
  return {
    rps: (x.rps + y.rps) / 2,
    p50ms: (x.p50ms + y.p50ms) / 2,
    p99ms: (x.p99ms + y.p99ms) / 2,
    non2xx: x.non2xx + y.non2xx,
    // Per request, weighted by each round's requests.
    ...(cpu ? { cpuUs: ((x.cpuUs as number) * x.rps + (y.cpuUs as number) * y.rps) / (x.rps + y.rps) } : {}),
  };
}

const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const tools = { wrk: has('wrk'), taskset: has('taskset') && availableParallelism() >= 2 };

/** `cmd args` pinned to `core` when pinning is possible. */
export function pinned(core: number, cmd: string, args: string[]): [string, string[]] {
  return tools.taskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))));
  });
}

const toMs = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? Number.NaN);

export async function load(
  url: string,
  seconds: number,
  connections: number,
  headers: Record<string, string>,
  post?: string,
): Promise<LoadResult> {
  if (tools.wrk) {
    const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const script: string[] = [];
    if (post !== undefined) {
      const file = join(tmpdir(), `latchkey-wrk-${process.pid}.lua`);
      writeFileSync(file, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(post)}\n`);
      script.push('-s', file);
    }
    const [cmd, args] = pinned(1, 'wrk', [
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      ...script,
      ...h,
      url,
    ]);
    const out = await run(cmd, args);
    const latency = (p: string) => {
      const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)[ \\t]*$`, 'm').exec(out);
      return m ? toMs(m[1] as string, m[2] as string) : Number.NaN;
    };
    if (Number.isNaN(latency('99'))) console.warn(`wrk printed no 99th percentile for ${url}:\n${out}`);
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
      p50ms: latency('50'),
      p99ms: latency('99'),
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    };
  }
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const body = post === undefined ? [] : ['-m', 'POST', '-b', post];
  const [cmd, args] = pinned(1, process.execPath, [
    bin,
    ...body,
    '-j',
    '-c',
    String(connections),
    '-d',
    String(seconds),
    ...h,
    url,
  ]);
  const result = JSON.parse(await run(cmd, args)) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
  };
  return { rps: result.requests.average, p50ms: result.latency.p50, p99ms: result.latency.p99, non2xx: result.non2xx };
}
