/**
 * Checks a refresh store against the contract in refresh-store.ts once, at construction, so a
 * wrong value (`{}`, a raw Database, a Promise, a session store) fails with the fix instead of a
 * bare TypeError at the first refresh.
 */
import { ConfigurationError } from '../errors.js';
import { driverKind, driverName } from '../lib/drivers.js';
import { describe } from '../lib/options.js';
import type { RefreshStore } from './refresh-store.js';

/** The methods of `RefreshStore`. */
export const refreshStoreMethods = [
  'createFamily',
  'get',
  'rotate',
  'revokeFamily',
  'revokeUser',
  'liveFamilies',
  'heads',
  'deleteExpired',
] as const satisfies readonly (keyof RefreshStore)[];

const CHOICES =
  "createSqliteRefreshStore(db) from 'latchkey/tokens/sqlite', await createPostgresRefreshStore(pool) from 'latchkey/tokens/postgres', or createMemoryRefreshStore() from 'latchkey/tokens' (tests, one process)";

/**
 * Returns `value` if it has every method of `RefreshStore`; `ConfigurationError` naming the fix otherwise.
 * @example
 * const store = checkRefreshStore('createRefreshTokens: store', options.store);
 */
export function checkRefreshStore(name: string, value: unknown): RefreshStore {
  if (value === undefined || value === null) throw new ConfigurationError(`${name} is required: pass ${CHOICES}`);
  const missing = refreshStoreMethods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing.length === 0) return value as RefreshStore;
  const kind = driverKind(value);
  if (kind === 'sqlite')
    throw new ConfigurationError(
      `${name} is a SQLite Database, not a refresh store: pass createSqliteRefreshStore(db)`,
    );
  if (kind === 'promise') throw new ConfigurationError(`${name} is a Promise: await it first`);
  if (kind === 'function')
    throw new ConfigurationError(
      `${name} is a function: call it (createMemoryRefreshStore(), not createMemoryRefreshStore)`,
    );
  if (kind !== undefined)
    throw new ConfigurationError(`${name} is ${driverName[kind]}, not a refresh store: pass ${CHOICES}`);
  if (typeof value !== 'object')
    throw new ConfigurationError(`${name} must be a refresh store, not ${describe(value)}: pass ${CHOICES}`);
  const hint =
    typeof (value as Record<string, unknown>).listUser === 'function' ? ' (this looks like a session store)' : '';
  throw new ConfigurationError(
    `${name} does not meet the RefreshStore contract${hint}: it lacks ${missing.join(', ')}. Pass ${CHOICES}, or implement every method of RefreshStore and test it with runRefreshStoreConformance from 'latchkey/tokens/conformance'`,
  );
}
