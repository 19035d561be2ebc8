/**
 * Where the reference server keeps latchkey's state, from one setting, LATCHKEY_STORE:
 *
 * - `sqlite` (default): everything in the data folder's SQLite file, for one process. With
 *   LATCHKEY_REDIS_URL the throttle counters and the access-token revocations go to Redis.
 * - `postgres`: everything another instance must see is in PostgreSQL (LATCHKEY_POSTGRES_URL):
 *   sessions (behind an in-process cache that LISTEN/NOTIFY invalidates), the throttle and rate
 *   limits, access-token revocations and per-user not-befores, refresh families, one-time tokens,
 *   passkeys and two-factor secrets.
 * - `redis`: the hot, expiring state in Redis (LATCHKEY_REDIS_URL): sessions (cached, invalidated
 *   over pub/sub), counters, revocations and one-time tokens. Durable credentials (refresh
 *   families, passkeys, two-factor secrets) stay in PostgreSQL: a Redis that keeps nothing on disk
 *   (as on these machines) would forget them on restart, and with them every user's second factor.
 *
 * LATCHKEY_SHARED_PREFIX (default `latchkey`) names the tables, keys and channels, so two
 * deployments (or two test clusters) can share one server.
 *
 * The demo's own data (accounts, notes, sign-in history) is the app's, not latchkey's: it stays in
 * the SQLite file, which instances on one host share in WAL mode. A deployment over several hosts
 * moves those tables to its own database; nothing in latchkey depends on where they are.
 */
import type Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import type { SessionStore } from 'latchkey';
import type { OneTimeTokenStore } from 'latchkey/one-time';
import { createSqliteOneTimeStore } from 'latchkey/one-time/sqlite';
import type { PasskeyStore } from 'latchkey/passkeys';
import { createSqlitePasskeyStore } from 'latchkey/passkeys/sqlite';
import { createSqliteStore } from 'latchkey/sqlite';
import type { AccessTokenRevocations, RefreshStore } from 'latchkey/tokens';
import { createRedisRevocations } from 'latchkey/tokens/redis';
import { createSqliteRefreshStore, createSqliteRevocations } from 'latchkey/tokens/sqlite';
import type { TotpStore } from 'latchkey/totp';
import { createSqliteTotpStore } from 'latchkey/totp/sqlite';
import type pg from 'pg';

export type StoreKind = 'sqlite' | 'postgres' | 'redis';

/** Every store the server needs, and how to tell whether they answer. */
export interface ServerStores {
  kind: StoreKind;
  sessions: SessionStore;
  /** The `redis` or `postgres` option of `createLoginThrottle` and `createRateLimit` (empty: in memory). */
  limits: { redis?: Redis; postgres?: pg.Pool };
  /** Key prefix of the counters. */
  limitPrefix: string;
  revocations: AccessTokenRevocations;
  refresh: RefreshStore;
  oneTime: OneTimeTokenStore;
  passkeys: PasskeyStore;
  totp: TotpStore;
  /** What the downstream service (a child process) needs to read the same revocations. */
  downstreamEnv: Record<string, string>;
  /** Resolves when every shared backend answers; for `/readyz`. */
  readiness(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreSettings {
  env: NodeJS.ProcessEnv;
  /** The data folder's SQLite file (the demo's own tables, and everything in `sqlite` mode). */
  db: Database.Database;
  /** Opens the revocation file (sqlite mode): a file of its own, which the downstream opens too. */
  revocationsFile: () => Database.Database;
  revocationsPath: string;
}

/** LATCHKEY_STORE, checked: a typo must stop the server, not run it on a store nobody else sees. */
export function storeKind(value: string | undefined): StoreKind {
  const kind = value ?? 'sqlite';
  if (kind === 'sqlite' || kind === 'postgres' || kind === 'redis') return kind;
  throw new Error(`LATCHKEY_STORE must be sqlite, postgres or redis (got ${JSON.stringify(kind).slice(0, 40)})`);
}

const POSTGRES_DEFAULT = 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_DEFAULT = 'redis://127.0.0.1:6379';

async function openPool(env: NodeJS.ProcessEnv): Promise<pg.Pool> {
  const { default: pgModule } = await import('pg');
  const pool = new pgModule.Pool({
    connectionString: env.LATCHKEY_POSTGRES_URL ?? POSTGRES_DEFAULT,
    max: Number(env.LATCHKEY_POSTGRES_POOL ?? 8),
    // A database that is down must fail requests fast (503), not queue them until the client gives up.
    connectionTimeoutMillis: 2000,
  });
  // An idle client's error (the server restarted) is reported here; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

async function openRedis(env: NodeJS.ProcessEnv): Promise<Redis> {
  const { Redis } = await import('ioredis');
  // No offline queue: while Redis is down a command fails at once (503) instead of waiting out the
  // store's 2 s deadline in a queue; ioredis reconnects by itself, and requests work again.
  const redis = new Redis(env.LATCHKEY_REDIS_URL ?? REDIS_DEFAULT, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  // Start-up waits for the connection, so the first requests do not fail for want of it.
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    setTimeout(
      () => reject(new Error('Redis did not answer within 10 s: is LATCHKEY_REDIS_URL right?')),
      10_000,
    ).unref();
  });
  redis.on('error', () => undefined); // surfaced as failed commands (503), never as a crash
  return redis;
}

/** Opens the stores LATCHKEY_STORE names; see the module comment. */
export async function openStores({ env, db, revocationsFile, revocationsPath }: StoreSettings): Promise<ServerStores> {
  const kind = storeKind(env.LATCHKEY_STORE);
  const prefix = env.LATCHKEY_SHARED_PREFIX ?? 'latchkey';
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix))
    throw new Error(
      'LATCHKEY_SHARED_PREFIX must be lower-case letters, digits and _ (a table prefix), such as latchkey',
    );
  const redisPrefix = env.LATCHKEY_REDIS_PREFIX ?? prefix;

  if (kind === 'sqlite') {
    const redis = env.LATCHKEY_REDIS_URL ? await openRedis(env) : undefined;
    return {
      kind,
      // Exclusive: this process is the file's only user, which makes each look-up ~4x cheaper;
      // LATCHKEY_SQLITE_SHARED=1 lets several processes share the file.
      sessions: createSqliteStore(db, { exclusive: env.LATCHKEY_SQLITE_SHARED !== '1' }),
      limits: redis ? { redis } : {},
      limitPrefix: redisPrefix,
      revocations: redis
        ? createRedisRevocations(redis, { key: `${redisPrefix}:access-revocations` })
        : createSqliteRevocations(revocationsFile()),
      refresh: createSqliteRefreshStore(db),
      oneTime: createSqliteOneTimeStore(db),
      passkeys: createSqlitePasskeyStore(db),
      totp: createSqliteTotpStore(db),
      downstreamEnv: redis ? {} : { LATCHKEY_REVOCATIONS_DB: revocationsPath },
      readiness: async () => {
        if (redis) await redis.ping();
      },
      close: async () => {
        redis?.disconnect();
      },
    };
  }

  const [{ createPostgresStore }, { createCachedStore }, { createPostgresOneTimeStore }] = await Promise.all([
    import('latchkey/postgres'),
    import('latchkey/cached'),
    import('latchkey/one-time/postgres'),
  ]);
  const [{ createPostgresPasskeyStore }, { createPostgresTotpStore }, tokensPg] = await Promise.all([
    import('latchkey/passkeys/postgres'),
    import('latchkey/totp/postgres'),
    import('latchkey/tokens/postgres'),
  ]);
  const pool = await openPool(env);
  const redis = kind === 'redis' ? await openRedis(env) : undefined;
  const t = `${prefix}_`;
  // Durable credentials: PostgreSQL in both shared modes.
  const [passkeys, totp, refresh] = await Promise.all([
    createPostgresPasskeyStore(pool, { tablePrefix: `${t}passkey_` }),
    createPostgresTotpStore(pool, { tablePrefix: `${t}totp_` }),
    tokensPg.createPostgresRefreshStore(pool, { tablePrefix: `${t}refresh_` }),
  ]);

  if (kind === 'postgres') {
    const { createPostgresInvalidation } = await import('latchkey/postgres-invalidation');
    const { default: pgModule } = await import('pg');
    const url = env.LATCHKEY_POSTGRES_URL ?? POSTGRES_DEFAULT;
    const sessions = await createCachedStore(await createPostgresStore(pool, { tablePrefix: t }), {
      bus: createPostgresInvalidation({
        notify: pool,
        listener: () => new pgModule.Client({ connectionString: url }),
        channel: `${prefix}_invalidate`,
      }),
    });
    // A LISTEN connection of its own: a revocation reaches the other instances at once; the poll
    // (500 ms) stays the guarantee.
    const revocations = tokensPg.createPostgresRevocations(pool, {
      tablePrefix: `${t}access_`,
      listener: () => new pgModule.Client({ connectionString: url }),
    });
    return {
      kind,
      sessions,
      limits: { postgres: pool },
      limitPrefix: prefix,
      revocations,
      refresh,
      oneTime: await createPostgresOneTimeStore(pool, { tablePrefix: `${t}one_time_` }),
      passkeys,
      totp,
      downstreamEnv: { LATCHKEY_REVOCATIONS_PREFIX: `${t}access_` },
      readiness: async () => {
        await pool.query('SELECT 1');
      },
      close: async () => {
        await sessions.close();
        await revocations.close();
        await pool.end();
      },
    };
  }

  const r = redis as Redis;
  const [{ createRedisStore }, { createRedisInvalidation }, { createRedisOneTimeStore }] = await Promise.all([
    import('latchkey/redis'),
    import('latchkey/redis-invalidation'),
    import('latchkey/one-time/redis'),
  ]);
  const sessions = await createCachedStore(createRedisStore(r, { keyPrefix: `${redisPrefix}:` }), {
    bus: createRedisInvalidation(r, { channel: `${redisPrefix}:invalidate` }),
  });
  const revocations = createRedisRevocations(r, { key: `${redisPrefix}:access-revocations` });
  return {
    kind,
    sessions,
    limits: { redis: r },
    limitPrefix: redisPrefix,
    revocations,
    refresh,
    oneTime: createRedisOneTimeStore(r, { keyPrefix: `${redisPrefix}:` }),
    passkeys,
    totp,
    downstreamEnv: {},
    readiness: async () => {
      await Promise.all([r.ping(), pool.query('SELECT 1')]);
    },
    close: async () => {
      await sessions.close();
      await revocations.close();
      r.disconnect();
      await pool.end();
    },
  };
}
