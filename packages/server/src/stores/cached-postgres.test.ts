/**
 * The cached store over PostgreSQL, invalidated through LISTEN/NOTIFY, on the real server: the
 * session store conformance suite, then the fault only this pair has, a LISTEN connection cut by
 * the server (a failover, an idle timeout, an administrator), caused for real with
 * pg_terminate_backend. Locally it skips without a server on 127.0.0.1:5432; under CI=true it fails.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { POSTGRES_URL, serviceAvailable } from '../test/services.js';
import { type CachedSessionStore, createCachedStore } from './cached.js';
import { runStoreConformance, sampleRecord } from './conformance.js';
import { createPostgresStore, dropPostgresSchema } from './postgres.js';
import { createPostgresInvalidation } from './postgres-invalidation.js';
import type { SessionStore } from './store.js';

const hasPostgres = await serviceAvailable('postgres', 5432);
const name = () => `lk_${randomBytes(4).toString('hex')}`;

describe.runIf(hasPostgres)('cached store over PostgreSQL with LISTEN/NOTIFY', () => {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  afterAll(() => pool.end());

  /**
   * A cached store over `backing`, listening on `channel`. Its listening clients connect under a
   * name of their own (application_name), so a test can find and cut them on the server; while
   * `down` is set, new ones dial a port where nothing listens, as during an outage.
   */
  async function cachedOver(backing: SessionStore, channel: string, maxStalenessMs = 5000) {
    const listeners = { made: 0, name: name(), down: false };
    const bus = createPostgresInvalidation({
      notify: pool,
      listener: () => {
        listeners.made++;
        const connectionString = listeners.down ? 'postgres://postgres@127.0.0.1:1/test' : POSTGRES_URL;
        return new pg.Client({ connectionString, application_name: listeners.name });
      },
      channel,
    });
    // Long staleness by default: only a message (or its loss) can explain a quick invalidation.
    const store = await createCachedStore(backing, { bus, maxStalenessMs });
    return { store, listeners };
  }

  const prefixes = new WeakMap<SessionStore, string>();
  runStoreConformance({
    name: 'cached (postgres + LISTEN/NOTIFY)',
    async createStore() {
      const prefix = `${name()}_`;
      const { store } = await cachedOver(await createPostgresStore(pool, { tablePrefix: prefix }), name());
      prefixes.set(store, prefix);
      return store;
    },
    async destroyStore(store) {
      await (store as CachedSessionStore).close();
      await dropPostgresSchema(pool, prefixes.get(store));
    },
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it('a LISTEN connection cut by the server empties the cache and turns it off until listening again', async () => {
    const prefix = `${name()}_`;
    const channel = name();
    const backing = await createPostgresStore(pool, { tablePrefix: prefix });
    let reads = 0;
    const counted: SessionStore = {
      ...backing,
      get: (id, options) => {
        reads++;
        return backing.get(id, options);
      },
    };
    /** Backing-store reads made by three reads of `id` through b (a session is held from its second). */
    const readsFor = async (id: string) => {
      const before = reads;
      for (let i = 0; i < 3; i++) await b.store.get(id);
      return reads - before;
    };
    const a = await cachedOver(backing, channel);
    const b = await cachedOver(counted, channel, 60_000);
    try {
      const now = Date.now();
      const fresh = () => sampleRecord({ createdAt: now, lastSeenAt: now, expiresAt: now + 600_000 });
      const [record, other] = [fresh(), fresh()];
      await a.store.create(record, 10);
      await a.store.create(other, 10);
      expect(await readsFor(record.id)).toBe(2); // the third read was a hit

      // Cut b's listener on the server, and keep it from reconnecting for now.
      b.listeners.down = true;
      const { rows } = await pool.query(
        'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1',
        [b.listeners.name],
      );
      expect(rows).toEqual([{ ended: true }]);
      // Revoked while b cannot hear it: the NOTIFY is lost, the revocation must not be.
      await a.store.delete(record.id);
      const started = performance.now();
      await expect.poll(() => b.store.get(record.id), { interval: 5, timeout: 2000 }).toBeNull();
      expect(performance.now() - started).toBeLessThan(1000); // far inside the 60 s staleness bound
      expect(await readsFor(other.id)).toBe(3); // deaf, b caches nothing
      // It tries to listen again, fails (nothing on the port), and still caches nothing.
      await expect.poll(() => b.listeners.made, { interval: 10, timeout: 2000 }).toBeGreaterThan(2);
      expect(await readsFor(other.id)).toBe(3);

      // Back: b listens on a new connection and caches again.
      b.listeners.down = false;
      await expect.poll(() => readsFor(other.id), { interval: 50, timeout: 10_000 }).toBe(0);
      // The new connection carries messages: a revocation reaches b within milliseconds.
      await a.store.deleteUser(other.userId);
      await expect.poll(() => b.store.get(other.id), { interval: 1, timeout: 1000 }).toBeNull();
    } finally {
      await a.store.close();
      await b.store.close();
      await dropPostgresSchema(pool, prefix);
    }
  });
});
