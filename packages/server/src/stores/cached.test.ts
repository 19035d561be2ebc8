import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startRedis } from '../test/redis-servers.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from '../test/services.js';
import { createCachedStore, type InvalidationBus } from './cached.js';
import { runStoreConformance, sampleBinding, sampleRecord } from './conformance.js';
import { createMemoryStore } from './memory.js';
import { createPostgresStore, dropPostgresSchema } from './postgres.js';
import { createPostgresInvalidation } from './postgres-invalidation.js';
import { createRedisStore } from './redis.js';
import { createRedisInvalidation } from './redis-invalidation.js';
import type { SessionRecord, SessionStore } from './store.js';

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

/** A store whose reads and slides fail while `state.broken` is set, as a store that is down. */
function breakable(store: SessionStore) {
  const state = { broken: false };
  const down = () => Promise.reject(new Error('down'));
  const wrapped: SessionStore = {
    ...store,
    get: (id, o) => (state.broken ? down() : store.get(id, o)),
    getNow: (id, o) => (state.broken ? undefined : store.getNow?.(id, o)),
    touch: (...args) => (state.broken ? down() : store.touch(...args)),
  };
  return { store: wrapped, state };
}

/** A store whose reads answer `slow.delay` ms late (the delay taken when each read begins). */
function slowed(store: SessionStore) {
  const slow = { delay: 0 };
  const wrapped: SessionStore = {
    ...store,
    getNow: undefined,
    async get(id, options) {
      const wait = slow.delay;
      const record = await store.get(id, options);
      await new Promise((resolve) => setTimeout(resolve, wait));
      return record;
    },
  };
  return { store: wrapped, slow };
}

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

  it("a user's revocation drops only that user's held sessions, and what is read after it is held again", async () => {
    const { store: backing, counter } = counting(createMemoryStore());
    const cached = await createCachedStore(backing, { maxStalenessMs: 60_000 });
    const now = Date.now();
    const shape = { createdAt: now, lastSeenAt: now, expiresAt: now + 600_000, absoluteExpiresAt: now + 3_600_000 };
    const mine = [sampleRecord({ ...shape, userId: 'leaver' }), sampleRecord({ ...shape, userId: 'leaver' })];
    const theirs = sampleRecord({ ...shape, userId: 'stayer' });
    for (const r of [...mine, theirs]) await cached.create(r, 10);
    const readAll = async () => {
      for (const r of [...mine, theirs]) expect((await cached.get(r.id))?.userId).toBe(r.userId);
    };
    await readAll();
    await readAll(); // all three held from here
    const gets = counter.gets;
    await cached.deleteUser('leaver', mine[0]?.id); // "log out everywhere else": the current one stays
    expect(counter.gets).toBe(gets);
    expect((await cached.get(mine[0]?.id as string))?.userId).toBe('leaver'); // read again: it was held before
    expect(await cached.get(mine[1]?.id as string)).toBeNull();
    expect(counter.gets).toBe(gets + 2);
    expect((await cached.get(theirs.id))?.userId).toBe('stayer'); // another user's: still held
    expect(counter.gets).toBe(gets + 2);
    // The survivor, read after the drop, is held again (from its second read since).
    await cached.get(mine[0]?.id as string);
    const held = counter.gets;
    for (let i = 0; i < 3; i++) expect((await cached.get(mine[0]?.id as string))?.userId).toBe('leaver');
    expect(counter.gets).toBe(held);
    // A second drop of the same user refuses what was held after the first.
    await cached.deleteUser('leaver');
    expect(await cached.get(mine[0]?.id as string)).toBeNull();
  });

  it("a user's revocation does not walk the cache: it costs the same whatever the cache holds", async () => {
    // Records whose userId counts its readers: a walk over the held entries reads every one (#18:
    // the walk held the event loop about 1 s per "log out everywhere" with a million entries).
    const backing = createMemoryStore();
    let reads = 0;
    const counted: SessionStore = {
      ...backing,
      async get(id, options) {
        const record = await backing.get(id, options);
        if (record === null) return null;
        const { userId, ...rest } = record;
        return Object.defineProperty({ ...rest }, 'userId', {
          enumerable: true,
          get: () => {
            reads++;
            return userId;
          },
        }) as typeof record;
      },
    };
    const cached = await createCachedStore(counted, { maxStalenessMs: 60_000 });
    const records = Array.from({ length: 500 }, () => live());
    for (const r of records) await cached.create(r, 10);
    for (let pass = 0; pass < 2; pass++) for (const r of records) await cached.get(r.id);
    expect((await cached.get(records[0]?.id as string))?.id).toBe(records[0]?.id); // held
    reads = 0;
    await cached.deleteUser('nobody-held');
    expect(reads).toBe(0);
  });

  it("a user's revocation holds through a long turn of the event loop and the pruning of its mark", async () => {
    // In a long synchronous stretch the mark that refuses an entry ages and goes, whatever the
    // entry's own age reads (lru-cache kept its clock still within a turn up to 2026-12-02).
    // Both ways a drop comes: its own and the bus's.
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    let deliver: (message: string) => void = () => {};
    const bus: InvalidationBus = {
      publish: async (message) => deliver(message),
      async subscribe(onMessage, onLive) {
        deliver = onMessage;
        onLive(true);
        return async () => {};
      },
    };
    const backing = createMemoryStore();
    for (const via of ['own', 'bus'] as const) {
      const cached = await createCachedStore(backing, { maxStalenessMs: 10, bus });
      const victim = { ...live(), userId: `victim-${via}` };
      await cached.create(victim, 10);
      for (let i = 0; i < 3; i++) expect((await cached.get(victim.id))?.id).toBe(victim.id); // held, and a hit
      if (via === 'own') await cached.deleteUser(victim.userId);
      else {
        await backing.deleteUser(victim.userId); // another instance's revocation…
        deliver(`u:${victim.userId}`); // …and its message
      }
      busy(25); // more than twice the bound, with no turn of the event loop
      deliver('u:someone-else'); // a later drop prunes the victim's mark
      expect(await cached.get(victim.id)).toBeNull();
    }
  });

  it('never serves an entry older than the bound, even within one long synchronous turn', async () => {
    // lru-cache's default kept the time still for a turn of the event loop: an instance blocked
    // in synchronous work served what it held past the bound, however long it was blocked.
    const backing = createMemoryStore();
    const cached = await createCachedStore(backing, { maxStalenessMs: 20 });
    const record = live();
    await cached.create(record, 10);
    for (let i = 0; i < 2; i++) cached.getNow?.(record.id);
    await backing.setData(record.id, { changed: 'behind the cache' }); // a lost invalidation
    const { hits } = cached.stats;
    expect(cached.getNow?.(record.id)?.data).toEqual(record.data); // held: a hit, the turn's clock read
    const end = performance.now() + 60;
    while (performance.now() < end); // blocked, three times the bound, in the same turn
    expect(cached.getNow?.(record.id)?.data).toEqual({ changed: 'behind the cache' });
    expect(cached.stats.hits).toBe(hits + 1);
  });

  it('a storm of revocations by user keeps its marks bounded, and still refuses what it revoked', async () => {
    const backing = createMemoryStore();
    const cached = await createCachedStore(backing, { maxStalenessMs: 60_000 });
    const victim = live();
    const bystander = { ...live(), userId: 'bystander' };
    for (const r of [victim, bystander]) {
      await cached.create(r, 10);
      for (let i = 0; i < 3; i++) await cached.get(r.id); // held
    }
    const hits = cached.stats.hits;
    await cached.deleteUser(victim.userId);
    for (let i = 0; i < 25_000; i++) await cached.deleteUser(`storm-${i}`); // past the marks' cap, twice
    expect(await cached.get(victim.id)).toBeNull();
    // Past the cap, every entry held before is read again once, as if the cache had been emptied.
    expect((await cached.get(bystander.id))?.id).toBe(bystander.id);
    expect(cached.stats.hits).toBe(hits);
  });

  it("a read that started before a user's revocation leaves nothing held, and old marks go", async () => {
    const backing = createMemoryStore();
    let release: (() => void) | undefined;
    const slow: SessionStore = {
      ...backing,
      async get(id, options) {
        const record = await backing.get(id, options);
        if (release === undefined) await new Promise<void>((resolve) => (release = resolve));
        return record;
      },
    };
    const cached = await createCachedStore(slow, { maxStalenessMs: 50 });
    const record = live();
    await cached.create(record, 10);
    const reading = cached.get(record.id); // a read that started before the revocation…
    await cached.deleteUser(record.userId);
    release?.();
    expect((await reading)?.id).toBe(record.id); // …answers what it read (its own caller decides)…
    expect(await cached.get(record.id)).toBeNull(); // …but left nothing held: the store says gone
    // Marks go after twice the staleness bound; sessions made since are held and served again.
    const next = { ...live(), userId: record.userId };
    await cached.create(next, 10);
    await new Promise((resolve) => setTimeout(resolve, 120));
    await cached.deleteUser('someone-else'); // a new mark prunes the old ones
    for (let i = 0; i < 2; i++) expect((await cached.get(next.id))?.id).toBe(next.id);
    const hits = cached.stats.hits;
    expect((await cached.get(next.id))?.id).toBe(next.id);
    expect(cached.stats.hits).toBe(hits + 1);
  });

  it('serves nothing it held once the backing store fails', async () => {
    const flaky = breakable(createMemoryStore());
    const cached = await createCachedStore(flaky.store);
    const record = live();
    await cached.create(record, 10);
    for (let i = 0; i < 3; i++) await cached.get(record.id);
    expect(cached.stats.hits).toBe(1); // it is held
    flaky.state.broken = true;
    await expect(cached.touch(record.id, 1, 2)).rejects.toThrow('down');
    await expect(cached.get(record.id)).rejects.toThrow('down'); // no cached answer survives the failure
  });

  describe('costs nothing in proportion to maxEntries', () => {
    // lru-cache empties itself by writing every slot of its arrays (Array.prototype.fill over
    // maxEntries slots): on `clear`, and on the `delete` of its last entry. Counted here as slots
    // written, with a cache of a million entries holding one session (about 7 ms each time, #18).
    const fill = Array.prototype.fill;
    let written = 0;
    beforeEach(() => {
      Array.prototype.fill = function (this: unknown[], ...args: Parameters<typeof fill>) {
        written += this.length;
        return fill.apply(this, args);
      } as typeof fill;
    });
    afterEach(() => {
      Array.prototype.fill = fill;
    });
    const big = async (store: SessionStore, maxStalenessMs = 60_000) => {
      const cached = await createCachedStore(store, { maxEntries: 1_000_000, maxStalenessMs });
      const record = live();
      await cached.create(record, 10);
      for (let i = 0; i < 2; i++) await cached.get(record.id);
      const hits = cached.stats.hits;
      expect((await cached.get(record.id))?.id).toBe(record.id);
      expect(cached.stats.hits).toBe(hits + 1); // held
      written = 0;
      return { cached, record };
    };

    it('a failing store: each failed read writes no slot, and nothing held before is served after', async () => {
      const backing = createMemoryStore();
      const flaky = breakable(backing);
      const { cached, record } = await big(flaky.store);
      flaky.state.broken = true;
      await expect(cached.touch(record.id, 1, 2)).rejects.toThrow('down');
      for (let i = 0; i < 20; i++) await expect(cached.get(record.id)).rejects.toThrow('down'); // not served
      expect(written).toBe(0); // 84 million on the old code: four arrays of a million, per failure
      flaky.state.broken = false;
      await backing.setData(record.id, { after: 'outage' }); // behind the cache's back
      const hits = cached.stats.hits;
      expect((await cached.get(record.id))?.data).toEqual({ after: 'outage' }); // read again, not served
      expect(cached.stats.hits).toBe(hits);
      await cached.get(record.id);
      expect(cached.stats.hits).toBe(hits + 1); // and held again once the store is back
      expect(written).toBe(0);
    });

    it('the last held session going, by a write, a revocation or its age, writes no slot', async () => {
      const { cached, record } = await big(createMemoryStore());
      await cached.touch(record.id, record.lastSeenAt + 1, record.expiresAt + 1);
      expect((await cached.get(record.id))?.lastSeenAt).toBe(record.lastSeenAt + 1); // dropped: read again
      expect(written).toBe(0);
      await cached.get(record.id);
      await cached.get(record.id); // held again
      await cached.delete(record.id);
      expect(await cached.get(record.id)).toBeNull();
      expect(written).toBe(0);

      const aging = await big(createMemoryStore(), 200);
      await new Promise((resolve) => setTimeout(resolve, 450));
      const { hits, misses } = aging.cached.stats;
      expect((await aging.cached.get(aging.record.id))?.id).toBe(aging.record.id);
      expect(aging.cached.stats).toEqual({ hits, misses: misses + 1 }); // stale: read again
      expect(written).toBe(0);
    });
  });

  it('a store that throws instead of rejecting has failed too: nothing held before is served', async () => {
    const backing = createMemoryStore();
    let broken = false;
    const throwing: SessionStore = {
      ...backing,
      touch(...args) {
        if (broken) throw new Error('down'); // before any promise: a custom store may do this
        return backing.touch(...args);
      },
      listUser(userId) {
        if (broken) throw new Error('down');
        return backing.listUser(userId);
      },
    };
    const cached = await createCachedStore(throwing);
    const record = live();
    await cached.create(record, 10);
    for (let i = 0; i < 3; i++) await cached.get(record.id);
    expect(cached.stats.hits).toBe(1); // held
    await backing.setData(record.id, { after: 'failure' }); // behind the cache's back
    broken = true;
    await expect(cached.touch('another-id', 1, 2)).rejects.toThrow('down');
    const listed = cached.listUser(record.userId); // a rejection, not a throw at the call
    await expect(listed).rejects.toThrow('down');
    broken = false;
    expect((await cached.get(record.id))?.data).toEqual({ after: 'failure' });
  });

  it("counts an entry's age from when its read began: a slow store does not stretch the bound", async () => {
    const backing = createMemoryStore();
    const { store, slow } = slowed(backing);
    const cached = await createCachedStore(store, { maxStalenessMs: 400 });
    const record = live();
    await cached.create(record, 10);
    await cached.get(record.id); // the first read
    slow.delay = 300;
    await cached.get(record.id); // the second, held: read 300 ms before it arrived
    slow.delay = 0;
    await backing.setData(record.id, { changed: 'behind the cache' }); // a lost invalidation
    await new Promise((resolve) => setTimeout(resolve, 150)); // 450 ms after the read began
    const { hits } = cached.stats;
    expect((await cached.get(record.id))?.data).toEqual({ changed: 'behind the cache' });
    expect(cached.stats.hits).toBe(hits); // too old to serve; counted from its arrival it was 150 ms
  });

  it('keeps no read that lands already past the bound: it would push out a fresher entry', async () => {
    const { store, slow } = slowed(createMemoryStore());
    const cached = await createCachedStore(store, { maxStalenessMs: 400 });
    const record = live();
    await cached.create(record, 10);
    await cached.get(record.id);
    slow.delay = 700;
    const slowRead = cached.get(record.id); // lands 700 ms after it began: past the bound
    slow.delay = 0;
    await new Promise((resolve) => setTimeout(resolve, 550));
    for (let i = 0; i < 3; i++) await cached.get(record.id); // fresh reads: held from the second
    const held = cached.stats.hits;
    await cached.get(record.id);
    expect(cached.stats.hits).toBe(held + 1);
    await slowRead;
    const { hits } = cached.stats;
    await cached.get(record.id);
    expect(cached.stats.hits).toBe(hits + 1); // the fresh entry, not the stale one that landed after it
  });

  it("judges ages on lru-cache's own clock, also under a test's fake timers", async () => {
    // Fake timers replace the global performance; lru-cache keeps the real one it took at load.
    // An entry's start on one clock and its age on the other left it unbounded.
    vi.useFakeTimers();
    try {
      vi.advanceTimersByTime(3_600_000);
      const backing = createMemoryStore();
      const cached = await createCachedStore({ ...backing, getNow: undefined }, { maxStalenessMs: 20 });
      const record = live();
      await cached.create(record, 10);
      for (let i = 0; i < 3; i++) await cached.get(record.id);
      await backing.setData(record.id, { changed: 'behind the cache' });
      vi.useRealTimers();
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect((await cached.get(record.id))?.data).toEqual({ changed: 'behind the cache' });
    } finally {
      vi.useRealTimers();
    }
  });

  /**
   * A second read (the one that would be held) in flight while `write` goes through the cached
   * store: what it answered, and what the next read answers.
   */
  async function readAcross(write: (cached: SessionStore, record: SessionRecord) => Promise<unknown>) {
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
    await write(cached, record);
    open();
    gate = undefined;
    return { record, racing: await racing, next: await cached.get(record.id) };
  }

  it('a read in flight across a slide does not keep the times from before it', async () => {
    const shorter = (r: SessionRecord) => r.expiresAt - 500_000;
    const { record, racing, next } = await readAcross((c, r) => c.touch(r.id, r.lastSeenAt + 5, shorter(r)));
    expect(racing?.expiresAt).toBe(record.expiresAt); // what it read before the slide
    expect(next?.expiresAt).toBe(shorter(record)); // not held
  });

  it('a read in flight across an invalidation is not held, even when it is the read that would be', async () => {
    const { record, racing, next } = await readAcross((c, r) => c.setData(r.id, { v: 2 }));
    expect(racing?.data).toEqual(record.data); // what it read before the write
    expect(next?.data).toEqual({ v: 2 }); // not held: the next read sees the write
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
      for (let i = 0; i < 2; i++) await b.get(record.id); // b holds it from its second read…
      const hits = b.stats.hits;
      expect((await b.get(record.id))?.id).toBe(record.id);
      expect(b.stats.hits).toBe(hits + 1); // …so only the message can end it well within the 5-s bound
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
