/**
 * Atomic counters for the login throttle and the action limiter, on rate-limiter-flexible: in this
 * process's memory, in Redis (one Lua script per change) or in PostgreSQL (one upsert per change),
 * so every instance shares them. One place turns a store failure into StoreUnavailableError and
 * gives a point back safely.
 */
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import { checkRedisClient } from './drivers.js';
import { checkNumber, describe } from './options.js';

export type Limiter = RateLimiterMemory | RateLimiterRedis | RateLimiterPostgres;

/** Where a limiter's counters live: at most one of the two; neither is this process's memory. */
export interface LimiterBackend {
  redis?: unknown;
  postgres?: unknown;
}

/** Longest duration in seconds: the memory limiter drops each key with a timer, and Node's timers stop at 2^31 ms. */
export const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The one table every PostgreSQL limiter shares (keys carry each limiter's prefix). One table, not
 * one per limiter: rate-limiter-flexible names its prepared statements the same for every table,
 * and a pooled connection refuses one name for two texts.
 */
export const POSTGRES_LIMITS_TABLE = 'latchkey_limits';

interface PgPool {
  query(text: string, values?: unknown[]): Promise<unknown>;
  connect(): Promise<{ query(text: string): Promise<unknown>; release(error?: unknown): void }>;
}

/** Per pool: the table created once (and the hourly clean-up started once). */
const tables = new WeakMap<object, Promise<void>>();

/**
 * Creates the shared table once per pool. Under an advisory lock: instances that start together
 * would otherwise race on CREATE TABLE IF NOT EXISTS, which PostgreSQL does not make atomic.
 */
function postgresTable(pool: PgPool): Promise<void> {
  let ready = tables.get(pool);
  if (ready === undefined) {
    ready = (async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('${POSTGRES_LIMITS_TABLE}'))`);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${POSTGRES_LIMITS_TABLE} (key text PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
        );
        await client.query('COMMIT');
        client.release();
      } catch (error) {
        client.release(error);
        throw error;
      }
    })();
    // A failed creation is tried again by the next call (the database may come back).
    ready.catch(() => tables.delete(pool));
    tables.set(pool, ready);
  }
  return ready;
}

/** rate-limiter-flexible's PostgreSQL limiter, whose calls wait for the shared table first. */
class PostgresLimiter extends RateLimiterPostgres {
  readonly #pool: PgPool;
  constructor(pool: PgPool, settings: { keyPrefix: string; points: number; duration: number }, cleans: boolean) {
    // tableCreated: the table is ours (postgresTable); clearExpiredByTimeout: one clean-up per pool.
    super({
      ...settings,
      storeClient: pool,
      storeType: 'pool',
      tableName: POSTGRES_LIMITS_TABLE,
      tableCreated: true,
      clearExpiredByTimeout: cleans,
    });
    this.#pool = pool;
  }
  override async consume(...args: Parameters<RateLimiterPostgres['consume']>) {
    await postgresTable(this.#pool);
    return super.consume(...args);
  }
  override async reward(...args: Parameters<RateLimiterPostgres['reward']>) {
    await postgresTable(this.#pool);
    return super.reward(...args);
  }
  override async penalty(...args: Parameters<RateLimiterPostgres['penalty']>) {
    await postgresTable(this.#pool);
    return super.penalty(...args);
  }
  override async get(...args: Parameters<RateLimiterPostgres['get']>) {
    await postgresTable(this.#pool);
    return super.get(...args);
  }
  override async set(...args: Parameters<RateLimiterPostgres['set']>) {
    await postgresTable(this.#pool);
    return super.set(...args);
  }
  override async delete(...args: Parameters<RateLimiterPostgres['delete']>) {
    await postgresTable(this.#pool);
    return super.delete(...args);
  }
}

const cleaning = new WeakSet<object>();

export function createLimiter(backend: LimiterBackend, keyPrefix: string, points: number, duration: number): Limiter {
  const settings = { keyPrefix, points, duration };
  if (backend.redis !== undefined) return new RateLimiterRedis({ ...settings, storeClient: backend.redis });
  if (backend.postgres !== undefined) {
    const pool = backend.postgres as PgPool;
    const cleans = !cleaning.has(pool);
    cleaning.add(pool);
    return new PostgresLimiter(pool, settings, cleans);
  }
  return new RateLimiterMemory(settings);
}

/**
 * A whole-number option in [1, max] (the shared option check); `ConfigurationError` otherwise.
 * With `unit: 'seconds'`, a value in milliseconds by mistake is named as such. A fallback of NaN
 * makes the option required.
 */
export function positiveInteger(
  name: string,
  value: unknown,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
  unit?: string,
): number {
  return checkNumber(name, value, {
    ...(Number.isNaN(fallback) ? {} : { default: fallback }),
    min: 1,
    max,
    integer: true,
    ...(unit === undefined ? {} : { unit }),
  });
}

/**
 * The `redis` and `postgres` options of a limiter: neither (counts in memory), an ioredis client,
 * or a pg Pool; never both, which would leave it unclear where the counts are.
 *
 * @example
 * checkLimiterBackend('createLoginThrottle', options);
 */
export function checkLimiterBackend(where: string, backend: LimiterBackend): void {
  const { redis, postgres } = backend;
  if (redis !== undefined && postgres !== undefined)
    throw new ConfigurationError(
      `${where}: pass redis or postgres, not both: the counts must live in one place every instance reads`,
    );
  if (redis !== undefined) checkRedisClient(`${where}: redis`, redis, 'redis: new Redis(process.env.REDIS_URL)');
  if (postgres !== undefined) {
    // A pg Pool: the counters take a connection per change and the table is made on one of them.
    const pool = postgres as Partial<PgPool> | null;
    const isPool =
      pool !== null &&
      typeof pool === 'object' &&
      typeof pool.query === 'function' &&
      typeof pool.connect === 'function' &&
      ['Pool', 'BoundPool'].includes((pool as object).constructor?.name ?? '');
    if (!isPool)
      throw new ConfigurationError(
        `${where}: postgres takes a pg Pool, not ${typeof postgres === 'string' ? 'a connection string' : describe(postgres)}: postgres: new pg.Pool({ connectionString: process.env.DATABASE_URL })`,
      );
  }
}

/** Whole seconds for a Retry-After header: at least 1, so a client never retries at once. */
export const retrySeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Runs a limiter call. A store that fails makes the limiter unavailable (503): it never skips the limit. */
export async function guard<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(`${what} unavailable`, { cause: error });
  }
}

/** A point taken from a limiter's key, and when that key expires (see `giveBack`). */
export interface Taken {
  limiter: Limiter;
  key: string;
  expiresAt: number;
}

/**
 * Counts one point against `key` and reads the new count in one atomic step (one Lua script in
 * Redis, one synchronous update in memory), so concurrent callers can never all see "under the
 * limit". The point is taken even when refused: the caller gives it back if it should not count.
 */
export async function take(
  limiter: Limiter,
  key: string,
  what: string,
): Promise<{ allowed: boolean; res: RateLimiterRes; taken: Taken }> {
  let res: RateLimiterRes;
  let allowed = true;
  try {
    res = await limiter.consume(key);
  } catch (error) {
    // rate-limiter-flexible refuses with a RateLimiterRes (the count is past the limit) and fails with an Error.
    if (!(error instanceof RateLimiterRes)) throw new StoreUnavailableError(`${what} unavailable`, { cause: error });
    res = error;
    allowed = false;
  }
  return { allowed, res, taken: { limiter, key, expiresAt: Date.now() + res.msBeforeNext } };
}

/**
 * Gives back a point taken by `take`. If the key expired in between, the reward lands on a new
 * key as a credit (-1); a flood timed for the end of a window would collect one credit per refused
 * request. A new key is recognised by its later expiry (a new key lives a whole duration, at least
 * 1 s), and then the reward is undone.
 */
export async function giveBack(taken: Taken, what: string): Promise<void> {
  const { limiter, key, expiresAt } = taken;
  const res = await guard(what, () => limiter.reward(key));
  if (Date.now() + res.msBeforeNext > expiresAt + (limiter.duration * 1000) / 2)
    await guard(what, () => limiter.penalty(key));
}
