/**
 * One memory measurement, in a process of its own (run with --expose-gc), reported to the parent
 * over IPC: the heap in use and the RSS after full collections, before and after the thing measured.
 *   MEMORY_CASE = memory-store (MEMORY_N sessions in createMemoryStore)
 *               | verified     (the verified-token cache at its default cap, 10,000)
 *               | cached       (createCachedStore at its default cap, 10,000 entries)
 *               | store        (a server's process with the store of STORE/… open, after validating
 *                               the sampled sessions of MEMORY_TOKENS: the sessions live elsewhere)
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSessionManager, type SessionStore } from 'latchkey';
import { createCachedStore } from 'latchkey/cached';
import { createMemoryStore } from 'latchkey/memory';
import { BENCH_KEY, openFromEnv } from './lib/backends.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const MB = 1024 * 1024;
const snap = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss / MB, heap: m.heapUsed / MB };
};
const now = Date.now();

/** A session as the stores keep it, like the bench's filled ones. */
function record(i: number) {
  const r = randomBytes(48).toString('base64url');
  return {
    id: r.slice(0, 22),
    secretHash: r.slice(22, 65),
    userId: `user-${i % 200_000}`,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 1_800_000,
    absoluteExpiresAt: now + 43_200_000,
    authenticatedAt: now,
    userAgent: 'Mozilla/5.0 bench',
    ip: '127.0.0.1',
    data: {},
    remembered: false,
    binding: null,
  };
}

/** `count` sessions made through a manager over `store`, and their tokens. */
async function issue(store: SessionStore, count: number): Promise<string[]> {
  const maker = createSessionManager({ store, keys: [BENCH_KEY], sweepInterval: 0, maxSessionsPerUser: 10_000 });
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push((await maker.createSession(`user-${i % 5000}`)).token);
  return tokens;
}

/** What is measured stays reachable until the last snapshot, or the collector would free it first. */
const keep: unknown[] = [];
const kind = process.env.MEMORY_CASE;
let before = snap();
let after = before;
if (kind === 'memory-store') {
  const store = createMemoryStore();
  keep.push(store);
  before = snap();
  const n = Number(process.env.MEMORY_N);
  for (let i = 0; i < n; i++) await store.create(record(i), 10);
  after = snap();
} else if (kind === 'verified' || kind === 'cached') {
  const backing = createMemoryStore();
  const tokens = await issue(backing, 10_000);
  // From before the cache exists (lru-cache allocates its arrays up front), and with each token a
  // fresh string, as a request header gives one: the cache keeps its own copies alive.
  before = snap();
  // A long staleness bound only so that no entry expires while the cache fills: memory is the same.
  const cached = kind === 'cached' ? await createCachedStore(backing, { maxStalenessMs: 60_000 }) : undefined;
  const store = cached ?? backing;
  // Only the cache being measured fills: the other is off.
  const sessions = createSessionManager({
    store,
    keys: [BENCH_KEY],
    sweepInterval: 0,
    verifiedTokens: kind === 'verified' ? 10_000 : 0,
  });
  keep.push(sessions, store, tokens, backing);
  // The cached store holds a session from its second read: two passes fill it, a third proves it full.
  let hitsBefore = 0;
  for (let pass = 0; pass < (cached === undefined ? 1 : 3); pass++) {
    hitsBefore = cached?.stats.hits ?? 0;
    for (const token of tokens) {
      const fresh = Buffer.from(token).toString('latin1');
      if ((await sessions.validateToken(fresh)) === null) throw new Error('invalid');
    }
  }
  if (cached !== undefined && cached.stats.hits - hitsBefore !== tokens.length) {
    throw new Error(`the cached store held ${cached.stats.hits - hitsBefore} of ${tokens.length} sessions`);
  }
  after = snap();
} else if (kind === 'store') {
  before = snap();
  const { store } = await openFromEnv(process.env);
  const sessions = createSessionManager({ store, keys: [BENCH_KEY], sweepInterval: 0 });
  keep.push(sessions, store);
  const tokens = JSON.parse(readFileSync(process.env.MEMORY_TOKENS as string, 'utf8')) as string[];
  for (const token of tokens) if ((await sessions.validateToken(token)) === null) throw new Error('invalid');
  after = snap();
} else {
  throw new Error(`unknown MEMORY_CASE ${kind}`);
}
if (keep.length === 0) throw new Error('nothing measured');
process.send?.({
  rssMB: after.rss,
  heapMB: after.heap,
  deltaRssMB: after.rss - before.rss,
  deltaHeapMB: after.heap - before.heap,
});
process.exit(0);
