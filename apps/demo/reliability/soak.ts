/**
 * The soak: a fixed mixed load (mostly authenticated reads, some logouts each followed by a fresh
 * login) on a server process for a set time. Every 5 s: requests, errors, p99 latency, and the
 * server's RSS and heap after a full GC. A request "errs" when its answer is not the one the
 * protocol promises (200 for a live session, 200 for a login and a logout), or never comes.
 */
import { signUp } from '../test/accounts.js';
import { type ServerProcess, startServerProcess } from '../test/server-process.js';

export interface SoakWindow {
  atSeconds: number;
  requests: number;
  errors: number;
  p50ms: number;
  p99ms: number;
  rssMB: number;
  heapMB: number;
}

export interface SoakReport {
  seconds: number;
  requests: number;
  errors: number;
  windows: SoakWindow[];
  heapAfterWarmupMB: number;
  heapEndMB: number;
  rssStartMB: number;
  rssEndMB: number;
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

export async function soak(options: {
  seconds: number;
  dataDir: string;
  workers?: number;
  warmupSeconds?: number;
  env?: Record<string, string>;
}): Promise<SoakReport> {
  const server: ServerProcess = await startServerProcess({
    ...options.env,
    LATCHKEY_DATA_DIR: options.dataDir,
    LATCHKEY_DEMO_PASSWORD: 'soak demo password',
    LATCHKEY_MEMORY_PROBE: '1',
    // Many clients share 127.0.0.1 here: lift the per-address limits (the review suite tests them).
    LATCHKEY_LOGIN_IN_FLIGHT: '1000',
    LATCHKEY_REGISTRATIONS_PER_CLIENT: '100000',
    NODE_FLAGS: '--expose-gc',
  });
  const base = server.base;
  const memory = async () =>
    (await (await fetch(`${base}/__probe/memory`)).json()) as { rss: number; heapUsed: number };
  const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
  const password = 'soak user password';
  const workers = options.workers ?? 16;
  let latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let totalRequests = 0;
  let totalErrors = 0;
  const timed = async (work: () => Promise<boolean>) => {
    const start = performance.now();
    let ok = false;
    try {
      ok = await work();
    } catch {
      ok = false;
    }
    latencies.push(performance.now() - start);
    requests++;
    if (!ok) errors++;
  };
  const login = async (username: string) => {
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ username, password }),
    });
    return /__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
  };
  // One account per worker, registered before the clock starts.
  const cookies: string[] = [];
  for (let i = 0; i < workers; i++) {
    const res = await signUp(base, { email: `soak-${i}@example.org`, password, username: `soak-${i}` });
    cookies.push(/__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '');
  }

  const started = performance.now();
  const end = started + options.seconds * 1000;
  let stop = false;
  const worker = async (i: number) => {
    let iteration = 0;
    while (!stop) {
      iteration++;
      if (iteration % 200 === 0) {
        // Logout, then log in again: the session churns as users do.
        const cookie = cookies[i] as string;
        await timed(
          async () =>
            (
              await fetch(`${base}/api/auth/logout`, {
                method: 'POST',
                headers: { cookie: `__Host-session=${cookie}`, origin: base },
              })
            ).status === 200,
        );
        await timed(async () => {
          cookies[i] = await login(`soak-${i}`);
          return (cookies[i] as string).length > 0;
        });
      } else {
        const cookie = cookies[i] as string;
        await timed(
          async () =>
            (await fetch(`${base}/api/me`, { headers: { cookie: `__Host-session=${cookie}` } })).status === 200,
        );
      }
    }
  };
  const running = Array.from({ length: workers }, (_, i) => worker(i));
  const windows: SoakWindow[] = [];
  const first = await memory();
  let heapAfterWarmup = 0;
  const warmup = options.warmupSeconds ?? Math.min(30, options.seconds / 5);
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(5000, end - performance.now())));
    const m = await memory();
    const at = Math.round((performance.now() - started) / 1000);
    windows.push({
      atSeconds: at,
      requests,
      errors,
      p50ms: percentile(latencies, 50),
      p99ms: percentile(latencies, 99),
      rssMB: mb(m.rss),
      heapMB: mb(m.heapUsed),
    });
    if (heapAfterWarmup === 0 && at >= warmup) heapAfterWarmup = m.heapUsed;
    totalRequests += requests;
    totalErrors += errors;
    latencies = [];
    requests = 0;
    errors = 0;
  }
  stop = true;
  await Promise.all(running);
  const last = await memory();
  await server.kill();
  return {
    seconds: options.seconds,
    requests: totalRequests + requests,
    errors: totalErrors + errors,
    windows,
    heapAfterWarmupMB: mb(heapAfterWarmup || first.heapUsed),
    heapEndMB: mb(last.heapUsed),
    rssStartMB: mb(first.rss),
    rssEndMB: mb(last.rss),
  };
}
