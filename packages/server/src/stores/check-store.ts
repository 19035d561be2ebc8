/**
 * Checks a session store against the contract in store.ts once, at construction, so a wrong value
 * (`{}`, a raw Database, a Promise not awaited) fails with the fix instead of a bare TypeError at
 * the first login.
 */
import { ConfigurationError } from '../errors.js';
import { driverKind, driverName, storeFor } from '../lib/drivers.js';
import { describe } from '../lib/options.js';
import type { SessionStore } from './store.js';

/** The methods of `SessionStore`, each called by the manager. */
export const storeMethods = [
  'create',
  'get',
  'touch',
  'setData',
  'delete',
  'deleteUser',
  'listUser',
  'deleteExpired',
] as const satisfies readonly (keyof SessionStore)[];

const CHOICES =
  "createMemoryStore() from 'latchkey/memory' (tests, one process) or createSqliteStore(new Database('sessions.db')) from 'latchkey/sqlite'";

/**
 * Returns `value` if it has every method of `SessionStore`; `ConfigurationError` naming the fix otherwise.
 *
 * @example
 * const store = checkSessionStore('createSessionManager: store', options.store);
 */
export function checkSessionStore(name: string, value: unknown): SessionStore {
  if (value === undefined || value === null) throw new ConfigurationError(`${name} is required: pass ${CHOICES}`);
  const missing = storeMethods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  const getNow = (value as Record<string, unknown>).getNow;
  if (missing.length === 0 && getNow !== undefined && typeof getNow !== 'function') {
    throw new ConfigurationError(
      `${name}: getNow must be a function when given (it is optional), not ${describe(getNow)}`,
    );
  }
  // Its point is to answer without a promise: an async one always returns a promise.
  if (missing.length === 0 && typeof getNow === 'function' && getNow.constructor?.name === 'AsyncFunction') {
    throw new ConfigurationError(
      `${name}: getNow must answer at once (a record, null, or undefined for "ask get"), not be async: remove it if the store can only answer by promise`,
    );
  }
  if (missing.length === 0) return value as SessionStore;
  const kind = driverKind(value);
  const wrap = kind === undefined ? undefined : storeFor[kind];
  if (kind !== undefined && wrap !== undefined) {
    throw new ConfigurationError(
      `${name} is ${driverName[kind]}, not a session store: pass ${wrap}, not the client itself`,
    );
  }
  if (kind === 'promise') {
    throw new ConfigurationError(`${name} is a Promise: await it first (store: await createPostgresStore(pool))`);
  }
  if (kind === 'function') {
    throw new ConfigurationError(`${name} is a function: call it (store: createMemoryStore(), not createMemoryStore)`);
  }
  if (typeof value !== 'object')
    throw new ConfigurationError(`${name} must be a session store, not ${describe(value)}: pass ${CHOICES}`);
  throw new ConfigurationError(
    `${name} does not meet the SessionStore contract: it lacks ${missing.join(', ')}. Pass ${CHOICES}, or implement every method of SessionStore and test it with runStoreConformance from 'latchkey/conformance'`,
  );
}
