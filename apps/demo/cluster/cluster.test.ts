/**
 * Three reference server instances behind a real HAProxy, their state shared through PostgreSQL,
 * then through Redis (#18). Each store is a private server started for this file, because the test
 * stops and restarts it while other test files use the machine's own.
 *
 * - A login on one instance and a revocation on another are seen by all within the published
 *   bound (the cached store's 1 s staleness; the invalidation bus makes it milliseconds).
 * - The throttle holds across instances: waves of wrong passwords spread over all three check no
 *   more passwords than one instance would allow.
 * - SIGKILL of an instance mid-load loses no acknowledged write, and costs no 5xx beyond the
 *   requests that instance held.
 * - A store restart gives 503s (never a revoked session "logged in") and recovers by itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  haproxyAvailable,
  type PrivatePostgres,
  type PrivateRedis,
  startCluster,
  startPrivatePostgres,
  startPrivateRedis,
} from './cluster.js';

const PASSWORD = `cluster-${randomBytes(6).toString('hex')}`;
const hasHaproxy = haproxyAvailable();
if (!hasHaproxy && process.env.CI === 'true') throw new Error('haproxy is not installed; .ci/run installs it');
if (!hasHaproxy) console.warn('skipping the cluster test: install HAProxy with apt-get install -y haproxy');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A request as a browser on the balancer's origin sends it. */
async function call(
  cluster: Cluster,
  base: string,
  path: string,
  init: { method?: string; cookie?: string; body?: unknown } = {},
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      origin: cluster.url,
      ...(init.cookie ? { cookie: init.cookie } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(10_000),
  });
}

async function login(cluster: Cluster, base: string, username = 'demo', password = PASSWORD) {
  const res = await call(cluster, base, '/api/auth/login', { method: 'POST', body: { username, password } });
  const cookie = /__Host-session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
  return { res, cookie: cookie ?? '' };
}

/** Polls until `base` answers `status` for the cookie; the milliseconds it took. */
async function until(cluster: Cluster, base: string, cookie: string, status: number, ms: number) {
  const start = performance.now();
  while (performance.now() - start < ms) {
    const res = await call(cluster, base, '/api/me', { cookie }).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status === status) return performance.now() - start;
    await sleep(5);
  }
  throw new Error(`${base} did not answer ${status} within ${ms} ms`);
}

/** The cases both shared stores must pass; `restart` stops the store, then starts it again. */
function clusterCases(get: () => Cluster, store: { name: string; stop(): Promise<void>; start(): Promise<void> }) {
  it('a login on one instance is seen by all; a logout on another reaches every instance within 1 s', async () => {
    const cluster = get();
    const [a, b, c] = cluster.instances.map((i) => i.base) as [string, string, string];
    const { res, cookie } = await login(cluster, a);
    expect(res.status).toBe(200);
    // Every instance now holds the session in its cache: the logout must reach those caches.
    for (const base of [a, b, c]) expect((await call(cluster, base, '/api/me', { cookie })).status).toBe(200);
    const out = await call(cluster, b, '/api/auth/logout', { method: 'POST', cookie });
    expect(out.status).toBeLessThan(300);
    const seen = await Promise.all([a, c].map((base) => until(cluster, base, cookie, 401, 1000)));
    // The invalidation bus, not the 1 s staleness bound, told them (without it: ~1000 ms).
    expect(Math.max(...seen)).toBeLessThan(250);
    console.log(
      `cluster (${store.name}): logout on app2 seen by app1 and app3 after ${seen.map((ms) => ms.toFixed(0)).join(' and ')} ms`,
    );
    // And it stays seen through the balancer.
    for (let i = 0; i < 6; i++) expect((await call(cluster, cluster.url, '/api/me', { cookie })).status).toBe(401);
  });

  it('the probes answer on each instance, and 404 through the balancer', async () => {
    const cluster = get();
    for (const i of cluster.instances) {
      expect((await call(cluster, i.base, '/healthz')).status).toBe(200);
      const ready = await call(cluster, i.base, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.headers.get('cache-control')).toBe('no-store');
    }
    for (const path of ['/healthz', '/readyz']) expect((await call(cluster, cluster.url, path)).status).toBe(404);
  });

  it('the throttle holds across instances: waves of wrong passwords over all three check at most 6', async () => {
    const cluster = get();
    const username = `nobody-${randomBytes(4).toString('hex')}`;
    const statuses: number[] = [];
    const servedBy = new Set<string>();
    // Four waves of six at once: with a throttle per instance, each would check its own 5 free failures.
    for (let wave = 0; wave < 4; wave++) {
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => login(cluster, cluster.url, username, 'wrong-password')),
      );
      for (const { res } of answers) {
        statuses.push(res.status);
        servedBy.add(res.headers.get('x-served-by') ?? '');
      }
    }
    const checked = statuses.filter((s) => s === 401).length;
    console.log(
      `cluster (${store.name}): 24 wrong passwords over ${servedBy.size} instances: ${checked} checked, the rest 429`,
    );
    expect(servedBy.size).toBe(3);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(checked).toBeGreaterThan(0);
    // 5 free failures and at most one per back-off period: what one instance allows.
    expect(checked).toBeLessThanOrEqual(6);
  });

  it('SIGKILL of an instance mid-load loses no acknowledged write and costs at most the requests it held', async () => {
    const cluster = get();
    const { cookie } = await login(cluster, cluster.url);
    const acked = new Set<string>();
    let failed5xx = 0;
    let other = 0;
    const kinds: Record<string, number> = {};
    let stop = false;
    const workers = 8;
    const worker = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const id = `w${w}-${n}`;
        const res = await call(cluster, cluster.url, `/api/notes/${id}`, {
          method: 'PUT',
          cookie,
          body: {
            title: id,
            body: 'x',
            pinned: false,
            priority: 0,
            tags: [],
            updatedAt: Date.now(),
            baseVersion: null,
          },
        }).catch(() => undefined);
        await res?.body?.cancel();
        if (res?.status === 200) acked.add(id);
        // A 5xx, or the connection cut: a request the killed instance held.
        else if (!res || res.status >= 500) failed5xx++;
        else other++;
        const key = `${res?.status ?? 'network'}`;
        kinds[key] = (kinds[key] ?? 0) + 1;
      }
    };
    const running = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
    await sleep(1000);
    const victim = cluster.instances[2];
    await victim?.kill();
    await sleep(2000);
    stop = true;
    await running;
    // Back before any assertion, so the next case has three instances whatever happens here.
    await victim?.start();
    const res = await call(cluster, cluster.url, '/api/notes', { cookie });
    const stored = new Set(((await res.json()) as { notes: { id: string }[] }).notes.map((n) => n.id));
    const lost = [...acked].filter((id) => !stored.has(id));
    console.log(
      `cluster (${store.name}): SIGKILL mid-load: ${acked.size} writes acknowledged, ${lost.length} lost, ${failed5xx} cut off (5xx or no answer), ${other} other (${JSON.stringify(kinds)})`,
    );
    expect(acked.size).toBeGreaterThan(50);
    expect(lost).toEqual([]);
    // Each worker has one request in flight: at most that many were on the killed instance.
    expect(failed5xx).toBeLessThanOrEqual(workers);
    expect(other).toBe(0);
    // It came back, and the balancer sends it traffic again.
    await expect
      .poll(async () => (await call(cluster, cluster.url, '/api/auth/methods')).headers.get('x-served-by'), {
        timeout: 15_000,
      })
      .toBe(victim?.name);
  });

  it(`a ${'store'} restart gives 503s, never a logged-out session back, and recovers by itself`, async () => {
    const cluster = get();
    const kept = await login(cluster, cluster.url);
    const ended = await login(cluster, cluster.url);
    expect(
      (await call(cluster, cluster.url, '/api/auth/logout', { method: 'POST', cookie: ended.cookie })).status,
    ).toBeLessThan(300);
    // Warm every cache with the live session.
    for (const i of cluster.instances)
      expect((await call(cluster, i.base, '/api/me', { cookie: kept.cookie })).status).toBe(200);

    await store.stop();
    const stoppedAt = performance.now();
    /** [ms since the stop, status] for the live session; the logged-out one is checked as it goes. */
    const live: [number, number][] = [];
    const logins: number[] = [];
    try {
      while (performance.now() - stoppedAt < 3000) {
        for (const base of [cluster.url, ...cluster.instances.map((i) => i.base)]) {
          for (const cookie of [kept.cookie, ended.cookie]) {
            const at = performance.now() - stoppedAt;
            const res = await call(cluster, base, '/api/me', { cookie });
            await res.body?.cancel();
            // The logged-out session is never let in, whatever the store's state.
            if (cookie === ended.cookie) expect(res.status).not.toBe(200);
            else live.push([at, res.status]);
          }
        }
        logins.push((await login(cluster, cluster.instances[0]?.base ?? '')).res.status);
        await sleep(50);
      }
    } finally {
      await store.start();
    }
    const tally = (list: number[]) => {
      const counts: Record<number, number> = {};
      for (const status of list) counts[status] = (counts[status] ?? 0) + 1;
      return JSON.stringify(counts);
    };
    const late = live.filter(([at]) => at > 1000).map(([, status]) => status);
    console.log(
      `cluster (${store.name}): while ${store.name} was down: the live session ${tally(live.map(([, s]) => s))} (after 1 s: ${tally(late)}), logins ${tally(logins)}`,
    );
    // A live session may be served from a cache for its staleness bound (1 s); then 503, never a
    // 401 that would log its user out, never a 500.
    expect(live.every(([, status]) => status === 503 || status === 200)).toBe(true);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((status) => status === 503)).toBe(true);
    expect(logins.every((status) => status === 503)).toBe(true);
    // Back by itself: the live session works again through the balancer, the ended one stays ended.
    const took = await until(cluster, cluster.url, kept.cookie, 200, 20_000);
    console.log(`cluster (${store.name}): recovered ${took.toFixed(0)} ms after ${store.name} came back`);
    expect((await call(cluster, cluster.url, '/api/me', { cookie: ended.cookie })).status).toBe(401);
    expect((await login(cluster, cluster.url)).res.status).toBe(200);
  });
}

describe.runIf(hasHaproxy)('three instances behind HAProxy', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cluster-'));
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    redis = await startPrivateRedis(join(dir, 'redis'));
  }, 60_000);
  afterAll(async () => {
    await redis?.destroy();
    await postgres?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  describe('sharing PostgreSQL', () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({
        instances: 3,
        store: 'postgres',
        port: 0,
        dataDir: join(dir, 'pg-cluster'),
        demoPassword: PASSWORD,
        checkInterval: 500,
        env: { LATCHKEY_POSTGRES_URL: postgres.url },
      });
    }, 90_000);
    afterAll(() => cluster?.stop(), 30_000);
    clusterCases(() => cluster, {
      name: 'PostgreSQL',
      stop: () => postgres.stop(),
      start: () => postgres.start(),
    });
  });

  describe('sharing Redis (durable credentials in PostgreSQL)', () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({
        instances: 3,
        store: 'redis',
        port: 0,
        dataDir: join(dir, 'redis-cluster'),
        demoPassword: PASSWORD,
        checkInterval: 500,
        env: { LATCHKEY_POSTGRES_URL: postgres.url, LATCHKEY_REDIS_URL: redis.url },
      });
    }, 90_000);
    afterAll(() => cluster?.stop(), 30_000);
    clusterCases(() => cluster, { name: 'Redis', stop: () => redis.stop(), start: () => redis.start() });
  });
});
