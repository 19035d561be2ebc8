/**
 * The conformance suites' store factory on the real PostgreSQL: each test gets tables of its own
 * (a fresh prefix) and a pool of its own, its peer another pool over the same tables (another
 * instance), and both are dropped and closed after it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PgQueryable } from '../stores/postgres.js';
import { POSTGRES_URL } from './services.js';

export function postgresIsolated<S extends object>(
  admin: PgQueryable,
  create: (db: PgQueryable, tablePrefix: string) => Promise<S>,
  drop: (db: PgQueryable, tablePrefix: string) => Promise<void>,
) {
  const opened = new Map<S, { prefix: string; pools: pg.Pool[] }>();
  const pool = () => new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  return {
    async createStore() {
      const prefix = `lk_${randomBytes(4).toString('hex')}_`;
      const first = pool();
      const store = await create(first, prefix);
      opened.set(store, { prefix, pools: [first] });
      return store;
    },
    async createPeer(store: S) {
      const entry = opened.get(store);
      if (entry === undefined) throw new Error('createPeer: the store was not made by createStore');
      const peer = pool();
      entry.pools.push(peer);
      return create(peer, entry.prefix);
    },
    async destroyStore(store: S) {
      const entry = opened.get(store);
      opened.delete(store);
      if (entry === undefined) return;
      await drop(admin, entry.prefix);
      await Promise.all(entry.pools.map((p) => (p.ended ? undefined : p.end())));
    },
  };
}
