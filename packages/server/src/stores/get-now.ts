/**
 * Which `getNow` the request path may use. Why: a store wrapped by spreading it and overriding
 * `get` (`{ ...store, get: banned-or-inner }`, a circuit breaker, a counter) keeps the inner
 * store's `getNow`, and the quick path would bypass the override. latchkey's stores register
 * their pair; a registered `getNow` beside another `get` is not used. A store's own `getNow`,
 * registered or not by its author, is trusted as its contract says.
 */
import type { GetOptions, SessionRecord, SessionStore } from './store.js';

type GetNow = NonNullable<SessionStore['getNow']>;
const pairs = new WeakMap<GetNow, SessionStore['get']>();

/** Registers a store's `getNow` with the `get` it answers for; returns the store. */
export function pairGetNow<S extends SessionStore>(store: S): S {
  if (store.getNow !== undefined) pairs.set(store.getNow, store.get);
  return store;
}

/**
 * The store's `getNow`, bound, if the request path may use it: `undefined` when the store has
 * none or when its `get` was replaced. What it answers that is neither `null`, `undefined` nor a
 * record (a promise from an `async getNow`) is read as `undefined`: only `get` can tell.
 */
export function usableGetNow(
  store: SessionStore,
): ((id: string, options?: GetOptions) => SessionRecord | null | undefined) | undefined {
  const getNow = store.getNow;
  if (getNow === undefined) return undefined;
  const paired = pairs.get(getNow);
  if (paired !== undefined && paired !== store.get) return undefined;
  return (id, options) => {
    const found = getNow.call(store, id, options);
    return found === null || typeof found?.secretHash === 'string' ? found : undefined;
  };
}
