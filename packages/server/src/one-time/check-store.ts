/**
 * Checks a one-time token store against the contract in store.ts once, at construction, so a wrong
 * value (`{}`, a raw Database, a pg Pool, a Promise, a session store) fails with the fix instead of
 * a bare TypeError at the first password reset.
 */
import { ConfigurationError } from '../errors.js';
import { type DriverKind, driverKind, driverName } from '../lib/drivers.js';
import { describe } from '../lib/options.js';
import type { OneTimeTokenStore } from './store.js';

/** The methods of `OneTimeTokenStore`. */
export const oneTimeStoreMethods = [
  'insert',
  'take',
  'get',
  'deleteUser',
  'deleteExpired',
] as const satisfies readonly (keyof OneTimeTokenStore)[];

const CHOICES =
  "createSqliteOneTimeStore(db) from 'latchkey/one-time/sqlite', or createMemoryOneTimeStore() from 'latchkey/one-time' (tests, one process)";

/** The call that wraps a client of this kind into a one-time token store. */
const wrapFor: Partial<Record<DriverKind, string>> = {
  sqlite: "createSqliteOneTimeStore(db) from 'latchkey/one-time/sqlite'",
  postgres: "await createPostgresOneTimeStore(pool) from 'latchkey/one-time/postgres'",
  redis: "createRedisOneTimeStore(redis) from 'latchkey/one-time/redis'",
  'node-redis':
    "createRedisOneTimeStore(new Redis(url)) from 'latchkey/one-time/redis' (latchkey uses ioredis, not node-redis)",
  map: "createMemoryOneTimeStore() from 'latchkey/one-time'",
};

/**
 * Returns `value` if it has every method of `OneTimeTokenStore`; `ConfigurationError` naming the fix otherwise.
 *
 * @example
 * const store = checkOneTimeStore('createOneTimeTokens: store', options.store);
 */
export function checkOneTimeStore(name: string, value: unknown): OneTimeTokenStore {
  if (value === undefined || value === null) throw new ConfigurationError(`${name} is required: pass ${CHOICES}`);
  const missing = oneTimeStoreMethods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing.length === 0) return value as OneTimeTokenStore;
  const kind = driverKind(value);
  const wrap = kind === undefined ? undefined : wrapFor[kind];
  if (kind !== undefined && wrap !== undefined) {
    throw new ConfigurationError(
      `${name} is ${driverName[kind]}, not a one-time token store: pass ${wrap}, not the client itself`,
    );
  }
  if (kind === 'promise') {
    throw new ConfigurationError(
      `${name} is a Promise: await it first (store: await createPostgresOneTimeStore(pool))`,
    );
  }
  if (kind === 'function') {
    throw new ConfigurationError(
      `${name} is a function: call it (store: createMemoryOneTimeStore(), not createMemoryOneTimeStore)`,
    );
  }
  if (typeof value !== 'object')
    throw new ConfigurationError(`${name} must be a one-time token store, not ${describe(value)}: pass ${CHOICES}`);
  const hint =
    typeof (value as Record<string, unknown>).listUser === 'function'
      ? ' (this looks like a session store)'
      : typeof (value as Record<string, unknown>).rotate === 'function'
        ? ' (this looks like a refresh-token store)'
        : '';
  throw new ConfigurationError(
    `${name} does not meet the OneTimeTokenStore contract${hint}: it lacks ${missing.join(', ')}. Pass ${CHOICES}, or implement every method of OneTimeTokenStore and test it with runOneTimeTokenStoreConformance from 'latchkey/one-time/conformance'`,
  );
}
