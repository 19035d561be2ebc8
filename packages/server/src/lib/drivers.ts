/**
 * Recognises a database client passed where latchkey expects something else (a raw better-sqlite3
 * Database as `store`, a connection string as the database), so the error can name the call that
 * was meant. Duck-typed on methods: no driver is imported.
 */
import { ConfigurationError } from '../errors.js';
import { describe } from './options.js';

export type DriverKind = 'sqlite' | 'postgres' | 'redis' | 'node-redis' | 'map' | 'promise' | 'function' | 'string';

const has = (value: object, ...methods: string[]) =>
  methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');

/** What `value` is, when it is one of the things commonly passed by mistake. */
export function driverKind(value: unknown): DriverKind | undefined {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'function') return 'function';
  if (value === null || typeof value !== 'object') return undefined;
  if (value instanceof Map) return 'map';
  if (has(value, 'then')) return 'promise';
  // better-sqlite3 Database (node:sqlite's DatabaseSync has prepare and exec, no pragma).
  if (has(value, 'prepare', 'exec') && (has(value, 'pragma') || has(value, 'transaction') || has(value, 'close')))
    return 'sqlite';
  if (has(value, 'eval', 'pipeline')) return 'redis'; // ioredis Redis and Cluster
  if (has(value, 'sendCommand') && 'isOpen' in value) return 'node-redis';
  if (has(value, 'query')) return 'postgres'; // pg Pool, pg Client, PGlite
  return undefined;
}

/** The call that wraps a client of this kind into a session store. */
export const storeFor: Partial<Record<DriverKind, string>> = {
  sqlite: "createSqliteStore(db) from 'latchkey/sqlite'",
  postgres: "await createPostgresStore(pool) from 'latchkey/postgres'",
  redis: "createRedisStore(redis) from 'latchkey/redis'",
  'node-redis': "createRedisStore(new Redis(url)) from 'latchkey/redis' (latchkey uses ioredis, not node-redis)",
  map: "createMemoryStore() from 'latchkey/memory'",
};

/** "a better-sqlite3 Database", "a Redis client", … for messages. */
export const driverName: Record<DriverKind, string> = {
  sqlite: 'a SQLite Database',
  postgres: 'a PostgreSQL client or pool',
  redis: 'an ioredis client',
  'node-redis': 'a node-redis client',
  map: 'a Map',
  promise: 'a Promise',
  function: 'a function',
  string: 'a string',
};

/**
 * The argument is an ioredis client (Redis or Cluster), or the error says what to pass.
 *
 * @example
 * checkRedisClient('createRedisStore', client, 'createRedisStore(new Redis(process.env.REDIS_URL))');
 */
export function checkRedisClient(name: string, client: unknown, example: string): void {
  const methods = ['eval', 'get', 'set', 'del', 'publish', 'duplicate'];
  if (client !== null && typeof client === 'object') {
    const c = client as Record<string, unknown>;
    if (methods.every((m) => typeof c[m] === 'function') && driverKind(client) === 'redis') return;
  }
  const how = `${example}, with import { Redis } from 'ioredis'`;
  const kind = driverKind(client);
  // A URL is never quoted back: it may hold a password.
  if (kind === 'string') throw new ConfigurationError(`${name} takes an ioredis client, not a URL: ${how}`);
  const got = kind === undefined ? describe(client) : driverName[kind];
  throw new ConfigurationError(`${name} takes an ioredis client (Redis or Cluster), not ${got}: ${how}`);
}
