/**
 * `@latchkey/client`: the browser half of latchkey. It never holds a token: the session lives in an
 * HttpOnly cookie the browser sends by itself on same-origin requests.
 * - `createApiClient`: fetch wrapper for the app's own routes (given as options, typed by the
 *   app); `logged-out` across tabs; "nobody logged in" and offline told apart from logged out.
 * - `openLocalStore`: typed IndexedDB (idb) for non-sensitive data, one database per account.
 * - `createOutbox`: offline changes replayed in order, conflicts reported with the server's copy,
 *   and only ever to the account that made them.
 * - `wipe`: IndexedDB, Cache Storage, service workers and Web Storage cleared at logout.
 */
export {
  type ApiClient,
  type ApiClientOptions,
  type ApiEvents,
  type ApiRequest,
  type AuthType,
  type AuthTypes,
  createApiClient,
  type Endpoints,
  type LoggedOutEvent,
} from './api-client.js';
export { ApiError, ClientArgumentError, LatchkeyClientError, OfflineError } from './errors.js';
export {
  deleteLocalStores,
  type LocalStoreOptions,
  localStoreName,
  openLocalStore,
  ownerKey,
} from './local-store.js';
export {
  createOutbox,
  createOutboxStore,
  type FlushResult,
  type Outbox,
  type OutboxEntry,
  type OutboxOptions,
  type OutboxSchema,
  type SendResult,
} from './outbox.js';
export { type WipeReport, wipe } from './wipe.js';
