/**
 * The session backends the bench measures, each filled to a given size with sessions of the same
 * shape: a few thousand created through latchkey (their tokens are kept) and the rest written in
 * bulk. `open` gives a store over the same data, with or without the cache in front.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { createSessionManager, type SessionStore } from 'latchkey';
import { createCachedStore } from 'latchkey/cached';
import { createPostgresStore, dropPostgresSchema } from 'latchkey/postgres';
import { createPostgresInvalidation } from 'latchkey/postgres-invalidation';
import { createRedisStore } from 'latchkey/redis';
import { createRedisInvalidation } from 'latchkey/redis-invalidation';
import { createSqliteStore } from 'latchkey/sqlite';
import pg from 'pg';

export const BENCH_KEY = 'bGF0Y2hrZXktYmVuY2gta2V5LW5vdC1hLXNlY3JldC0wMDA'; // 35 bytes, bench only
export const POSTGRES_URL = process.env.LATCHKEY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.LATCHKEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const PG_PREFIX = 'lkbench_';
const REDIS_PREFIX = 'lkbench:';

export type BackendName = 'sqlite' | 'postgres' | 'redis';
export interface StoreVariant {
  backend: BackendName;
  /** SQLite only: the single-process locking mode. */
  exclusive?: boolean;
  cache?: boolean;
  /** The cache's `maxStalenessMs` (its default unless set): `bench:instructions` sets it long. */
  maxStalenessMs?: number;
}
export const variantName = (v: StoreVariant) =>
  `${v.backend}${v.exclusive ? ' exclusive' : v.backend === 'sqlite' ? ' shared' : ''}${v.cache ? ' + cache' : ''}`;

export interface Opened {
  store: SessionStore;
  /** Under a cached variant: the store the cache is in front of, on the same connection. */
  backing?: SessionStore;
  close(): Promise<void>;
}

export interface Backend {
  name: BackendName;
  /** Reads the backend's files once, as a running server would have them in the OS page cache. */
  prewarm?(): void;
  size: number;
  tokens: string[];
  /** Grows the backend to `size` sessions. */
  fill(size: number): Promise<void>;
  open(variant: StoreVariant): Promise<Opened>;
  /** Environment for bench/servers/node-http.ts to open the same data. */
  env(variant: StoreVariant): Record<string, string>;
  destroy(): Promise<void>;
}

export async function openSqlite(file: string, variant: StoreVariant): Promise<Opened> {
  const db = new Database(file);
  const base = createSqliteStore(db, { exclusive: variant.exclusive === true });
  const store = variant.cache ? await createCachedStore(base, { maxStalenessMs: variant.maxStalenessMs }) : base;
  return {
    store,
    backing: base,
    close: async () => {
      db.close();
    },
  };
}

export async function openPostgres(variant: StoreVariant): Promise<Opened> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 8 });
  const base = await createPostgresStore(pool, { tablePrefix: PG_PREFIX });
  const bus = createPostgresInvalidation({
    notify: pool,
    listener: () => new pg.Client(POSTGRES_URL),
    channel: 'lkbench',
  });
  const cached = variant.cache ? await createCachedStore(base, { bus }) : undefined;
  return {
    store: cached ?? base,
    backing: base,
    close: async () => {
      await cached?.close();
      await pool.end();
    },
  };
}

export async function openRedis(variant: StoreVariant): Promise<Opened> {
  const client = new Redis(REDIS_URL);
  const base = createRedisStore(client, { keyPrefix: REDIS_PREFIX });
  const bus = createRedisInvalidation(client, { channel: 'lkbench' });
  const cached = variant.cache ? await createCachedStore(base, { bus }) : undefined;
  return {
    store: cached ?? base,
    backing: base,
    close: async () => {
      await cached?.close();
      client.disconnect();
    },
  };
}

/** What bench/servers/node-http.ts opens, from the environment `Backend.env` wrote. */
export function openFromEnv(env: NodeJS.ProcessEnv): Promise<Opened> {
  const variant: StoreVariant = {
    backend: env.STORE as BackendName,
    exclusive: env.EXCLUSIVE === '1',
    cache: env.CACHE === '1',
    maxStalenessMs: env.MAX_STALENESS_MS === undefined ? undefined : Number(env.MAX_STALENESS_MS),
  };
  if (variant.backend === 'postgres') return openPostgres(variant);
  if (variant.backend === 'redis') return openRedis(variant);
  return openSqlite(env.SQLITE_FILE as string, variant);
}

const now = Date.now();
const shape = { expires: now + 1_800_000, absolute: now + 43_200_000 };

async function sample(open: () => Promise<Opened>, count: number): Promise<string[]> {
  const { store, close } = await open();
  const sessions = createSessionManager({ store, keys: [BENCH_KEY], sweepInterval: 0, maxSessionsPerUser: 10_000 });
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    tokens.push(
      (await sessions.createSession(`sampled-${i % 5000}`, { userAgent: 'Mozilla/5.0 bench', ip: '127.0.0.1' })).token,
    );
  }
  await close();
  return tokens;
}

export async function sqliteBackend(dir: string, sampled: number): Promise<Backend> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'sessions.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const open = (variant: StoreVariant) => openSqlite(file, variant);
  const backend: Backend = {
    name: 'sqlite',
    size: 0,
    tokens: await sample(() => open({ backend: 'sqlite' }), sampled),
    async fill(size) {
      const db = new Database(file);
      const insert = db.prepare(
        `INSERT INTO latchkey_sessions (id, secret_hash, user_id, created_at, last_seen_at, expires_at,
           absolute_expires_at, authenticated_at, user_agent, ip, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')`,
      );
      db.transaction(() => {
        for (let i = backend.size; i < size - sampled; i++) {
          const r = randomBytes(48).toString('base64url');
          insert.run(
            r.slice(0, 22),
            r.slice(22, 65),
            `user-${i % 200_000}`,
            now,
            now,
            shape.expires,
            shape.absolute,
            now,
            'Mozilla/5.0 bench',
            '127.0.0.1',
          );
        }
      })();
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      backend.size = size;
    },
    prewarm() {
      const fd = openSync(file, 'r');
      const buffer = Buffer.alloc(1 << 20);
      while (readSync(fd, buffer, 0, buffer.length, null) > 0);
      closeSync(fd);
    },
    open,
    env: (v) => ({ STORE: 'sqlite', SQLITE_FILE: file, EXCLUSIVE: v.exclusive ? '1' : '', CACHE: v.cache ? '1' : '' }),
    async destroy() {
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
  backend.size = sampled;
  return backend;
}

export async function postgresBackend(sampled: number): Promise<Backend> {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  await dropPostgresSchema(admin, PG_PREFIX);
  const open = openPostgres;
  const backend: Backend = {
    name: 'postgres',
    size: sampled,
    tokens: await sample(() => open({ backend: 'postgres' }), sampled),
    async fill(size) {
      const add = size - backend.size;
      if (add > 0) {
        await admin.query(
          `INSERT INTO ${PG_PREFIX}sessions SELECT substr(md5(random()::text || g), 1, 22), md5(g::text), 'user-' || (g % 200000),
             $1, $1, $2, $3, $1, 'Mozilla/5.0 bench', '127.0.0.1', '{}'::jsonb FROM generate_series($4::int, $5::int) g`,
          [now, shape.expires, shape.absolute, backend.size, backend.size + add - 1],
        );
        await admin.query(`VACUUM ANALYZE ${PG_PREFIX}sessions`);
        // Why: a million inserted rows leave the checkpointer a few hundred MB of dirty pages,
        // which it spreads over most of checkpoint_timeout (4.5 min by default): writes and CPU on
        // this 2-core machine during the PostgreSQL rounds that the other stores do not pay. The
        // SQLite fill truncates its WAL for the same reason. Needs superuser or pg_checkpoint.
        await admin.query('CHECKPOINT').catch((error: unknown) => {
          console.log(
            `postgres: no CHECKPOINT after the fill (${(error as Error).message}); background writes may fall in the rounds`,
          );
        });
      }
      backend.size = size;
    },
    open,
    env: (v) => ({ STORE: 'postgres', CACHE: v.cache ? '1' : '' }),
    async destroy() {
      await dropPostgresSchema(admin, PG_PREFIX);
      await admin.end();
    },
  };
  return backend;
}

export async function redisBackend(sampled: number): Promise<Backend> {
  const admin = new Redis(REDIS_URL);
  const wipe = async () => {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${REDIS_PREFIX}*`, 'COUNT', '10000');
      cursor = next;
      if (keys.length > 0) await admin.unlink(...keys);
    } while (cursor !== '0');
  };
  await wipe();
  const open = openRedis;
  const backend: Backend = {
    name: 'redis',
    size: sampled,
    tokens: await sample(() => open({ backend: 'redis' }), sampled),
    async fill(size) {
      // Ten sessions a user, written the way the store lays them out.
      const fixed = (userId: string) =>
        JSON.stringify({
          secretHash: randomBytes(32).toString('base64url'),
          userId,
          createdAt: now,
          absoluteExpiresAt: shape.absolute,
          authenticatedAt: now,
          userAgent: 'Mozilla/5.0 bench',
          ip: '127.0.0.1',
        });
      for (let start = backend.size; start < size; start += 10_000) {
        const pipeline = admin.pipeline();
        for (let u = start; u < Math.min(size, start + 10_000); u += 10) {
          const userId = `user-${u / 10}`;
          const base = `${REDIS_PREFIX}user:{${userId}}`;
          const ids = Array.from({ length: 10 }, () => randomBytes(16).toString('base64url'));
          pipeline.hset(`${base}:rec`, ...ids.flatMap((id) => [id, fixed(userId)]));
          pipeline.hset(`${base}:seen`, ...ids.flatMap((id) => [id, String(now)]));
          pipeline.hset(`${base}:data`, ...ids.flatMap((id) => [id, '{}']));
          pipeline.zadd(`${base}:order`, ...ids.flatMap((id) => [now, id]));
          pipeline.zadd(`${base}:expiry`, ...ids.flatMap((id) => [shape.expires, id]));
          for (const id of ids) pipeline.set(`${REDIS_PREFIX}sid:{${id}}`, userId, 'PXAT', shape.expires);
        }
        await pipeline.exec();
      }
      backend.size = size;
    },
    open,
    env: (v) => ({ STORE: 'redis', CACHE: v.cache ? '1' : '' }),
    async destroy() {
      await wipe();
      admin.disconnect();
    },
  };
  return backend;
}
