/**
 * A cached store: an in-process LRU in front of any store, for the request path of busy sites.
 *
 * Bounds, in this order of strength:
 * - unsafe requests (`get(id, { fresh: true })`) always read the backing store;
 * - every write made through any instance is published on the invalidation bus, and every
 *   instance drops what the message names (a session, or all of a user's) as it arrives;
 * - an entry is never served older than `maxStalenessMs` (default 1000), even if a message is
 *   lost, and even after a long synchronous stretch (the clock is read at each hit);
 * - a session is held from its second read within about that time (`./admission.ts`), so a
 *   one-off read costs the store's read and a probe, not the keeping of a record;
 * - while the bus is down (or before it is up), nothing is cached: each read goes to the store;
 * - when the backing store fails, nothing held before is served again, so an outage never
 *   leaves "logged in" answers behind.
 *
 * Nothing here costs in proportion to `maxEntries`: lru-cache empties itself by rewriting all its
 * slots (`clear`, and `delete` of its last entry), about 7 ms at a million entries, so a failure
 * raises a floor instead, and the last entry is taken with `pop` (see `forget`).
 */
import { LRUCache } from 'lru-cache';
import { ConfigurationError } from '../errors.js';
import { checkNumber, checkOptions } from '../lib/options.js';
import { createAdmission } from './admission.js';
import { checkSessionStore } from './check-store.js';
import { pairGetNow, usableGetNow } from './get-now.js';
import type { GetOptions, SessionRecord, SessionStore } from './store.js';

/** Carries invalidation messages between instances (Redis pub/sub, PostgreSQL LISTEN/NOTIFY). */
export interface InvalidationBus {
  publish(message: string): Promise<void>;
  /**
   * Delivers every message any instance publishes, ours included. Calls `onLive(false)` as soon as
   * messages may be missed (a dropped connection) and `onLive(true)` once delivery is live again.
   * Resolves, once subscribed, to a function that unsubscribes.
   */
  subscribe(onMessage: (message: string) => void, onLive: (live: boolean) => void): Promise<() => Promise<void>>;
}

/** Options of `createCachedStore`: how much it keeps, how stale it may be, and how instances tell each other. */
export interface CachedStoreOptions {
  /** Entries kept at most; the least recently used go first. Default 10,000. */
  maxEntries?: number;
  /**
   * Oldest an entry may be when served, in milliseconds: the bound on staleness even if an
   * invalidation message is lost, counted from when the store's read began. Default 1000; at
   * least 10, so there is always a bound. The clock (lru-cache's `performance`) is read at each
   * hit, so an event loop blocked by synchronous work does not stretch it. Invalidations
   * themselves take effect at once. It is also the window of admission: a session is held from its second read within this time (up to
   * twice it, as windows follow the clock), so a session read once is not held (a rare hash
   * collision aside, which only holds it early).
   */
  maxStalenessMs?: number;
  /**
   * Carries invalidations between instances: `createRedisInvalidation` or `createPostgresInvalidation`.
   * Default none: only this process's own writes invalidate, and other instances see changes
   * within `maxStalenessMs`.
   */
  bus?: InvalidationBus;
}

/**
 * A `SessionStore` with an in-process cache in front of another, from `createCachedStore`. Reads
 * with `fresh` skip the cache; after a failing backing store, nothing it held is served again, so
 * an outage never leaves stale "logged in" answers behind. A session is held from its second read
 * within about `maxStalenessMs`.
 *
 * @example
 * const store = await createCachedStore(createRedisStore(redis), { bus: createRedisInvalidation(redis) });
 * const sessions = createSessionManager({ store, keys: [process.env.SESSION_KEY] });
 * process.on('SIGTERM', () => void store.close());
 */
export interface CachedSessionStore extends SessionStore {
  /** Cache hits and backing-store reads since start. */
  readonly stats: { hits: number; misses: number };
  /** Unsubscribes from the bus. The backing store stays open. */
  close(): Promise<void>;
}

/** Revocations by user remembered at once (see `userDrops`): about 1.5 MB at most. */
const MAX_MARKS = 10_000;
const session = (id: string) => `s:${id}`;
const user = (userId: string) => `u:${userId}`;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * @example
 * const store = await createCachedStore(createRedisStore(redis), { bus: createRedisInvalidation(redis) });
 */
export async function createCachedStore(
  backing: SessionStore,
  cachedOptions?: CachedStoreOptions,
): Promise<CachedSessionStore> {
  checkSessionStore('createCachedStore: the backing store', backing);
  const options = checkOptions('createCachedStore', cachedOptions, ['maxEntries', 'maxStalenessMs', 'bus']);
  const maxEntries = checkNumber('maxEntries', options.maxEntries, {
    default: 10_000,
    min: 1,
    max: 10_000_000,
    integer: true,
  });
  // Never 0: an LRU ttl of 0 means "no limit", and the staleness bound must always hold.
  const maxStalenessMs = checkNumber('maxStalenessMs', options.maxStalenessMs, {
    default: 1000,
    min: 10,
    max: 600_000,
    unit: 'milliseconds',
  });
  const { bus } = options;
  if (bus !== undefined && (typeof bus?.publish !== 'function' || typeof bus?.subscribe !== 'function')) {
    throw new ConfigurationError(
      "bus must be an InvalidationBus (publish and subscribe): createRedisInvalidation(redis) from 'latchkey/redis-invalidation' or createPostgresInvalidation(…) from 'latchkey/postgres-invalidation'",
    );
  }
  /** A record, and the epoch it was read in: a user's drop refuses what was read before it. */
  type Held = { readonly record: SessionRecord; readonly epoch: number };
  const cache = new LRUCache<string, Held>({
    max: maxEntries,
    ttl: maxStalenessMs,
    ttlAutopurge: false,
    updateAgeOnGet: false,
    // A stale entry is refused, and stays until it is read again or evicted: lru-cache's delete of its
    // last entry rewrites every slot (see `forget`), which a lone session going stale each second paid.
    noDeleteOnStaleGet: true,
    // The clock read at each hit. Why not lru-cache's default (a time kept for 1 ms): the time
    // stood still through a long synchronous turn, so a blocked event loop stretched the bound.
    // The cost is even: the read adds about 115 instructions per hit, and keeping the time cost
    // a timer each millisecond, about 120 per request at 30,000 requests a second (callgrind).
    ttlResolution: 0,
  });
  /**
   * lru-cache's clock, which judges every entry's age: the one object it took at load, not the
   * global `performance` of the moment (a test's fake timers replace that, and a start on one clock
   * read on the other could leave an entry unbounded).
   */
  const clock = cache.perf;
  /**
   * Drops one entry in constant time. Why not `cache.delete` alone: when it takes lru-cache's last
   * entry, lru-cache empties itself by rewriting all `maxEntries` slots of its arrays (about 7 ms at
   * a million, 0.1 ms at the default), on the event loop; `pop` takes a last entry in constant time.
   */
  const forget = (id: string) => {
    if (cache.size !== 1) cache.delete(id);
    else if (cache.peek(id, { allowStale: true }) !== undefined) cache.pop();
  };
  const admits = createAdmission(maxEntries, maxStalenessMs);
  const stats = { hits: 0, misses: 0 };
  // A read that started before an invalidation must not refill the cache with what it read.
  let epoch = 0;
  let live = bus === undefined;
  /**
   * "Log out everywhere" without touching the entries: the epoch each user's sessions were dropped
   * in, and when. An entry read before its user's drop is not served (`hitFor`). Why not a scan of
   * the cache: it held the event loop about 1 ms per 1,000 entries (1 s at a million), on every
   * instance, at each revocation by user; nor an index by user: it cost every miss a Set and a Map
   * entry (#18). The map is in order of time; a mark goes once twice `maxStalenessMs` old, at the
   * next drop, and raises `floor` to its epoch. Why the floor: once the mark is gone, nothing
   * else tells an entry it refused from a later one; such an entry is past the bound by then, and
   * the floor refuses it without relying on the clock. Past `MAX_MARKS`, the floor moves to now
   * and the marks go, as if the cache had been emptied: the marks' memory and the pruning stay
   * bounded under a storm of drops.
   */
  const userDrops = new Map<string, { epoch: number; at: number }>();
  const markLifeMs = 2 * maxStalenessMs;
  /** Entries read in an earlier epoch are not served. */
  let floor = 0;

  const drop = (message: string) => {
    epoch++;
    if (message.startsWith('s:')) forget(message.slice(2));
    else if (message.startsWith('u:')) {
      const userId = message.slice(2);
      const at = clock.now();
      for (const [old, mark] of userDrops) {
        if (at - mark.at < markLifeMs) break;
        floor = Math.max(floor, mark.epoch); // a reset may have raised it further
        userDrops.delete(old);
      }
      if (userDrops.size >= MAX_MARKS) {
        floor = epoch;
        userDrops.clear();
        return;
      }
      userDrops.delete(userId); // set again at the end: the map stays in order of time
      userDrops.set(userId, { epoch, at });
    }
  };
  /**
   * Nothing held now is served again: the floor rises past it. Why not `cache.clear()`: it rewrites
   * all `maxEntries` slots whatever the cache holds, and a failing store resets on every failed
   * read: 7 ms each at a million entries, an outage's 503s holding the event loop (#18). What is
   * left behind is refused on sight and overwritten or evicted as new reads come.
   */
  const reset = () => {
    epoch++;
    floor = epoch;
    userDrops.clear();
  };
  const unsubscribe = await bus?.subscribe(drop, (isLive) => {
    reset(); // whatever happened while the bus was down is unknown: start empty
    live = isLive;
  });
  const publish = async (message: string) => {
    drop(message);
    await bus?.publish(message);
  };
  /** After a backing-store failure nothing held is served (`reset`); then it propagates. */
  const failed = (error: unknown): never => {
    reset();
    throw error;
  };
  /**
   * Runs a backing-store call; after a failure nothing held is served (`reset`), then it
   * propagates. The call itself runs inside: a store that throws before returning its promise
   * has failed too.
   */
  const through = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      reset();
      throw error;
    }
  };

  // Only when the backing store can: a cached store over one without it cannot back latchkey/dbsc either.
  const backingSetBinding = backing.setBinding;
  const bindingMethods: Pick<SessionStore, 'setBinding'> =
    backingSetBinding === undefined
      ? {}
      : {
          async setBinding(id, next, expected) {
            const changed = await through(() => backingSetBinding.call(backing, id, next, expected));
            // Also when it did not match: this instance may have held the binding that lost the race.
            await publish(session(id));
            return changed;
          },
        };

  /**
   * What the backing store read, kept when it is the session's second read in about
   * `maxStalenessMs` and no invalidation came while it was read. Its age counts from `readAt`, when
   * the read began, for a read that waited: the record is as old as the read, not as its arrival,
   * and a slow store must not stretch the staleness bound by its latency.
   */
  const keep = (id: string, record: SessionRecord | null, started: number, readAt?: number): SessionRecord | null => {
    // A read slower than the bound is already stale: keeping it would only push out a fresher entry.
    const fresh = readAt === undefined || clock.now() - readAt < maxStalenessMs;
    if (record !== null && live && started === epoch && fresh && admits(id)) {
      // Frozen, so no caller changes what others read: the record itself (one call; its fields are
      // flat), then what it holds. deepFreeze over the record walked thirteen fields on every miss.
      Object.freeze(record);
      deepFreeze(record.data);
      if (record.binding != null) deepFreeze(record.binding);
      cache.set(id, { record, epoch: started }, readAt === undefined ? undefined : { start: readAt });
    }
    return record;
  };
  const hitFor = (id: string, getOptions: GetOptions | undefined): SessionRecord | undefined => {
    if (!live || getOptions?.fresh === true) return undefined;
    const held = cache.get(id);
    if (held === undefined) return undefined;
    // Its user's sessions were all dropped after it was read (or too long ago to keep a mark): read again.
    if (held.epoch < floor || (userDrops.size !== 0 && held.epoch < (userDrops.get(held.record.userId)?.epoch ?? 0))) {
      forget(id);
      return undefined;
    }
    stats.hits++;
    return held.record;
  };
  const backingGetNow = usableGetNow(backing);

  return pairGetNow({
    stats,
    ...bindingMethods,
    async get(id: string, getOptions?: GetOptions) {
      const hit = hitFor(id, getOptions);
      if (hit !== undefined) return hit;
      stats.misses++;
      const started = epoch;
      const readAt = clock.now();
      // An await in a try, not `.catch` or `through`: no promise of our own on the miss.
      let record: SessionRecord | null;
      try {
        record = await backing.get(id, getOptions);
      } catch (error) {
        return failed(error);
      }
      return keep(id, record, started, readAt);
    },
    getNow(id: string, getOptions?: GetOptions) {
      const hit = hitFor(id, getOptions);
      if (hit !== undefined || backingGetNow === undefined) return hit;
      let record: SessionRecord | null | undefined;
      try {
        record = backingGetNow(id, getOptions);
      } catch (error) {
        return failed(error);
      }
      if (record === undefined) return undefined;
      stats.misses++;
      return keep(id, record, epoch);
    },
    async create(record, maxPerUser) {
      const evicted = await through(() => backing.create(record, maxPerUser));
      await Promise.all(evicted.map((id) => publish(session(id))));
      return evicted;
    },
    async touch(id, lastSeenAt, expiresAt) {
      await through(() => backing.touch(id, lastSeenAt, expiresAt));
      // This instance re-reads it; others see the new times within the staleness bound, which
      // keeps sliding writes (the most frequent write) off the bus. A new epoch, as for every
      // write: a read that started before it must not keep the times from before it.
      epoch++;
      forget(id);
    },
    async setData(id, data) {
      const changed = await through(() => backing.setData(id, data));
      await publish(session(id));
      return changed;
    },
    async delete(id) {
      const deleted = await through(() => backing.delete(id));
      await publish(session(id));
      return deleted;
    },
    async deleteUser(userId, exceptId) {
      const count = await through(() => backing.deleteUser(userId, exceptId));
      await publish(user(userId));
      return count;
    },
    listUser: (userId) => through(() => backing.listUser(userId)),
    async deleteExpired(now) {
      const count = await through(() => backing.deleteExpired(now));
      // Expired entries are refused by the manager anyway; nothing to publish.
      return count;
    },
    async close() {
      await unsubscribe?.();
    },
  });
}
