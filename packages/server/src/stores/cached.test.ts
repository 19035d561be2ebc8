import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRedis } from '../test/redis-servers.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from '../test/services.js';
import { createCachedStore } from './cached.js';
import { runStoreConformance, sampleBinding, sampleRecord } from './conformance.js';
import { createMemoryStore } from './memory.js';
import { createPostgresStore, dropPostgresSchema } from './postgres.js';
import { createPostgresInvalidation } from './postgres-invalidation.js';
import { createRedisStore } from './redis.js';
import { createRedisInvalidation } from './redis-invalidation.js';
import type { SessionStore } from './store.js';

const hasRedis = await serviceAvailable('redis', 6379);
const hasPostgres = await serviceAvailable('postgres', 5432);
const live = () => {
  const now = Date.now();
  return sampleRecord({
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 600_000,
    absoluteExpiresAt: now + 3_600_000,
  });
};

/** Counts the reads that reach the backing store. */
function counting(store: SessionStore) {
  const counter = { gets: 0 };
  const wrapped: SessionStore = {
    ...store,
    get(id, options) {
      counter.gets++;
      return store.get(id, options);
    },
  };
  return { store: wrapped, counter };
}

runStoreConformance({
  name: 'cached (memory)',
  createStore: () => createCachedStore(createMemoryStore()),
  describe,
  it,
  beforeEach,
  afterEach,
});

describe('cached store', () => {
  it('serves repeated reads from memory, and fresh reads from the backing store', async () => {
    const { store: backing, counter } = counting(createMemoryStore());
    const cached = await createCachedStore(backing);
    const record = live();
    await cached.create(record, 10);
    for (let i = 0; i < 5; i++) expect((await cached.get(record.id))?.userId).toBe(record.userId);
    expect(counter.gets).toBe(2); // held from its second read
    expect(cached.stats).toEqual({ hits: 3, misses: 2 });
    await cached.get(record.id, { fresh: true });
    expect(counter.gets).toBe(3);
  });

  it('returns frozen records, so no caller can change what others read', async () => {
    const cached = await createCachedStore(createMemoryStore());
    const record = live();
    await cached.create(record, 10);
    await cached.get(record.id);
    const hit = await cached.get(record.id);
    expect(Object.isFrozen(hit)).toBe(true);
    expect(Object.isFrozen(hit?.data)).toBe(true);
  });

  it('keeps a binding, frozen to the key, and drops its own entry when the binding changes', async () => {
    const { store: backing, counter } = counting(createMemoryStore());
    const cached = await createCachedStore(backing);
    const record = live();
    await cached.create(record, 10);
    const binding = sampleBinding();
    expect(await cached.setBinding?.(record.id, binding, null)).toBe(true);
    await cached.get(record.id);
    await cached.get(record.id);
    const hit = await cached.get(record.id);
    expect(counter.gets).toBe(2);
    expect(hit?.binding).toEqual(binding);
    expect(Object.isFrozen(hit?.binding)).toBe(true);
    expect(Object.isFrozen(hit?.binding?.publicKey)).toBe(true);
    const proven = { ...binding, provenAt: binding.provenAt + 1 };
    expect(await cached.setBinding?.(record.id, proven, binding)).toBe(true);
    expect((await cached.get(record.id))?.binding).toEqual(proven); // not the cached entry
    expect(counter.gets).toBe(3);
  });

  it('has setBinding only when its backing store has it', async () => {
    const { setBinding: _, ...withoutBinding } = createMemoryStore();
    expect((await createCachedStore(withoutBinding)).setBinding).toBeUndefined();
    expect(typeof (await createCachedStore(createMemoryStore())).setBinding).toBe('function');
  });

  it("its own writes take effect at once; another instance's within the staleness bound, and at once for fresh reads", async () => {
    const backing = createMemoryStore();
    const a = await createCachedStore(backing, { maxStalenessMs: 300 });
    const b = await createCachedStore(backing, { maxStalenessMs: 300 });
    const record = live();
    await a.create(record, 10);
    // Both hold it (from its second read).
    for (let i = 0; i < 2; i++) expect(await a.get(record.id)).not.toBeNull();
    for (let i = 0; i < 2; i++) expect(await b.get(record.id)).not.toBeNull();
    const revokedAt = Date.now();
    await a.deleteUser(record.userId);
    expect(await a.get(record.id)).toBeNull();
    expect(await b.get(record.id)).not.toBeNull(); // b still holds it: the staleness bound is what ends it
    expect(await b.get(record.id, { fresh: true })).toBeNull();
    await expect.poll(() => b.get(record.id), { interval: 10, timeout: 2000 }).toBeNull();
    expect(Date.now() - revokedAt).toBeLessThan(600);
  });

  it('empties itself when the backing store fails', async () => {
    const backing = createMemoryStore();
    let broken = false;
    const flaky: SessionStore = {
      ...backing,
      get: (id, o) => (broken ? Promise.reject(new Error('down')) : backing.get(id, o)),
      touch: (...args) => (broken ? Promise.reject(new Error('down')) : backing.touch(...args)),
    };
    const cached = await createCachedStore(flaky);
    const record = live();
    await cached.create(record, 10);
    for (let i = 0; i < 3; i++) await cached.get(record.id);
    expect(cached.stats.hits).toBe(1); // it is held
    broken = true;
    await expect(cached.touch(record.id, 1, 2)).rejects.toThrow('down');
    await expect(cached.get(record.id)).rejects.toThrow('down'); // no cached answer survives the failure
  });

  it('a read in flight across an invalidation is not held, even when it is the read that would be', async () => {
    const backing = createMemoryStore();
    let gate: Promise<void> | undefined;
    const slow: SessionStore = {
      ...backing,
      getNow: undefined,
      async get(id, options) {
        const record = await backing.get(id, options);
        await gate;
        return record;
      },
    };
    const cached = await createCachedStore(slow, { maxStalenessMs: 60_000 });
    const record = live();
    await cached.create(record, 10);
    await cached.get(record.id); // the first read
    let open = () => {};
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const racing = cached.get(record.id); // the second, which would be held
    await new Promise((resolve) => setTimeout(resolve, 0));
    await cached.setData(record.id, { v: 2 });
    open();
    gate = undefined;
    expect((await racing)?.data).toEqual(record.data); // what it read before the write
    expect((await cached.get(record.id))?.data).toEqual({ v: 2 }); // not held: the next read sees the write
  });
});

describe.runIf(hasRedis)('cached store with Redis invalidation', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());
  const make = (prefix: string, channel: string) =>
    createCachedStore(createRedisStore(client, { keyPrefix: prefix }), {
      bus: createRedisInvalidation(client, { channel }),
      maxStalenessMs: 5000, // long, so only the message can explain a quick invalidation
    });

  runStoreConformance({
    name: 'cached (redis + pub/sub)',
    createStore: () => make(`lk-test:${randomBytes(4).toString('hex')}:`, `lk-test:${randomBytes(4).toString('hex')}`),
    destroyStore: (store) => (store as Awaited<ReturnType<typeof make>>).close(),
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it('a revocation on one instance reaches the other through the message, in milliseconds', async () => {
    const prefix = `lk-test:${randomBytes(4).toString('hex')}:`;
    const channel = `lk-test:${randomBytes(4).toString('hex')}`;
    const [a, b] = [await make(prefix, channel), await make(prefix, channel)];
    try {
      const record = live();
      await a.create(record, 10);
      for (let i = 0; i < 3; i++) expect(await b.get(record.id)).not.toBeNull();
      expect(b.stats.hits).toBe(1); // held from its second read
      const started = performance.now();
      await a.delete(record.id);
      await expect.poll(() => b.get(record.id), { interval: 1, timeout: 1000 }).toBeNull();
      expect(performance.now() - started).toBeLessThan(250);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a binding set through one instance reaches the other through the message', async () => {
    const prefix = `lk-test:${randomBytes(4).toString('hex')}:`;
    const channel = `lk-test:${randomBytes(4).toString('hex')}`;
    const [a, b] = [await make(prefix, channel), await make(prefix, channel)];
    try {
      const record = live();
      await a.create(record, 10);
      for (let i = 0; i < 3; i++) expect((await b.get(record.id))?.binding).toBeNull();
      expect(b.stats.hits).toBe(1); // b holds the unbound record
      const binding = sampleBinding();
      const started = performance.now();
      expect(await a.setBinding?.(record.id, binding, null)).toBe(true);
      await expect.poll(async () => (await b.get(record.id))?.binding, { interval: 1, timeout: 1000 }).toEqual(binding);
      expect(performance.now() - started).toBeLessThan(250);
      // And back: an unbinding through b reaches a, which now caches the bound record.
      await a.get(record.id);
      await a.get(record.id);
      expect(await b.setBinding?.(record.id, null, binding)).toBe(true);
      await expect.poll(async () => (await a.get(record.id))?.binding, { interval: 1, timeout: 1000 }).toBeNull();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('caches nothing while the bus is down, and again once it is back', async () => {
    const bus = await startRedis();
    const busClient = new Redis({
      port: bus.port,
      host: '127.0.0.1',
      retryStrategy: () => 50,
      maxRetriesPerRequest: 1,
    });
    busClient.on('error', () => {});
    const { store: backing, counter } = counting(createMemoryStore());
    const cached = await createCachedStore(backing, {
      bus: createRedisInvalidation(busClient),
      maxStalenessMs: 60_000,
    });
    try {
      const record = live();
      await cached.create(record, 10);
      for (let i = 0; i < 3; i++) await cached.get(record.id);
      expect(counter.gets).toBe(2); // held from its second read
      await bus.stop(true);
      await new Promise((r) => setTimeout(r, 100));
      await cached.get(record.id);
      await cached.get(record.id);
      expect(counter.gets).toBe(4); // every read goes through while messages may be missed
      await bus.start();
      await expect
        .poll(
          async () => {
            const before = counter.gets;
            await cached.get(record.id);
            await cached.get(record.id);
            return counter.gets - before;
          },
          { interval: 100, timeout: 10_000 },
        )
        .toBeLessThanOrEqual(1);
    } finally {
      await cached.close();
      busClient.disconnect();
      await bus.destroy();
    }
  });
});

describe.runIf(hasPostgres)('cached store with PostgreSQL LISTEN/NOTIFY', () => {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  afterAll(() => pool.end());

  it('a revocation on one instance reaches the other through NOTIFY', async () => {
    const prefix = `lk_${randomBytes(4).toString('hex')}_`;
    const channel = `lk_${randomBytes(4).toString('hex')}`;
    const bus = () =>
      createPostgresInvalidation({ notify: pool, listener: () => new pg.Client(POSTGRES_URL), channel });
    const backing = await createPostgresStore(pool, { tablePrefix: prefix });
    const [a, b] = [
      await createCachedStore(backing, { bus: bus(), maxStalenessMs: 5000 }),
      await createCachedStore(backing, { bus: bus(), maxStalenessMs: 5000 }),
    ];
    try {
      const record = live();
      await a.create(record, 10);
      await b.get(record.id);
      const started = performance.now();
      await a.deleteUser(record.userId);
      await expect.poll(() => b.get(record.id), { interval: 1, timeout: 1000 }).toBeNull();
      expect(performance.now() - started).toBeLessThan(250);
    } finally {
      await a.close();
      await b.close();
      await dropPostgresSchema(pool, prefix);
    }
  });
});
