/**
 * The API client: fetch, same-origin, JSON, for the app's own routes. It holds no token: the
 * session is an HttpOnly cookie the browser adds by itself, and the CSRF defence is the
 * `Sec-Fetch-Site`/`Origin` pair the browser adds by itself too (plus `content-type:
 * application/json`, which a cross-site form cannot send). It tells apart three answers:
 * - **nobody is logged in** (a 401 `SESSION_REQUIRED` from the me route before any login):
 *   `me()` resolves to `null`, and nothing else happens;
 * - **logged out** (the same 401 after a login, or a logout): one `logged-out` event, here and in
 *   every other tab of the app (BroadcastChannel), so all of them show the login page and wipe;
 * - **offline** (fetch itself failed): an `OfflineError` and a `connectivity` event; the app keeps
 *   working from IndexedDB and the outbox replays later.
 */
import { ApiError, ClientArgumentError, OfflineError } from './errors.js';

/**
 * The app's auth routes, as paths on the page's origin (after `baseUrl`). latchkey does not
 * define them and does not guess them.
 */
export interface Endpoints {
  /** POST the credentials as JSON; a 2xx answer means the server set the session cookie. */
  login: string;
  /** POST with no body; the server ends the session and expires the cookie. */
  logout: string;
  /**
   * GET; who is logged in. Nobody: 401 with code `SESSION_REQUIRED` (what latchkey's
   * `requireSession` answers), which `me()` turns into `null`.
   */
  me: string;
  /**
   * POST the registration as JSON, for a route that creates an account and logs it in (sets the
   * cookie), as the login route does. A sign-up that does not log in is a plain `request()`.
   */
  register?: string;
}

/**
 * The types of the app's auth routes, given once as the type parameter of `createApiClient`.
 * Each key is optional; a key left out is `unknown` (or any object, for request bodies).
 */
export interface AuthTypes {
  /** What `login()` posts, e.g. `{ email: string; password: string }`. */
  credentials?: object;
  /** What the login route answers (and the register route). */
  login?: unknown;
  /** What the me route answers while someone is logged in. */
  me?: unknown;
  /** What `register()` posts; default: `credentials`. */
  registration?: object;
}

/** The type an app gave for `K` in its `AuthTypes`, or `D`. */
export type AuthType<T extends AuthTypes, K extends keyof AuthTypes, D = unknown> = T extends { [P in K]: infer V }
  ? V
  : D;

/** Options of `createApiClient`. Only `endpoints` is required. */
export interface ApiClientOptions {
  /** The app's auth routes. Required: a library cannot know an app's routes. */
  endpoints: Endpoints;
  /**
   * Prefix of every path; default `''` (the page's origin). The API must be same-origin: the
   * session cookie is only sent there.
   */
  baseUrl?: string;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
  /** BroadcastChannel name shared by the app's tabs; `false` for none. Default `latchkey`. */
  channel?: string | false;
}

/** Why the `logged-out` event fired. */
export interface LoggedOutEvent {
  /** `logout`: the app called `logout()`; `session-ended`: a 401 `SESSION_REQUIRED` after a login (expired, revoked). */
  reason: 'logout' | 'session-ended';
  /** Whether it happened in another tab of the app (which shares this tab's cookie). */
  otherTab: boolean;
}

/** The events of `ApiClient.on`, each with the value its listeners receive. */
export interface ApiEvents {
  /**
   * The session is gone: a logout, or a 401 `SESSION_REQUIRED` once logged in, here or in another
   * tab. Not fired for a visitor who never logged in.
   */
  'logged-out': LoggedOutEvent;
  /** Whether the last request reached the server (fired on change). */
  connectivity: boolean;
}

/** A request: method (default GET) and a body sent as JSON. */
export interface ApiRequest {
  method?: string;
  body?: unknown;
}

/**
 * The app's API client, from `createApiClient`: same-origin JSON requests, and events for a lost
 * session and for connectivity. It holds no token: the session is an HttpOnly cookie the browser
 * adds by itself, out of reach of any script. `T` types the auth routes (`AuthTypes`).
 *
 * @example
 * api.on('logged-out', () => { void wipe(); showLogin(); });
 * api.on('connectivity', (online) => showOfflineBanner(!online));
 * const notes = await api.request<Note[]>('/api/notes');
 * await api.request(`/api/notes/${id}`, { method: 'PUT', body: note });
 */
export interface ApiClient<T extends AuthTypes = AuthTypes> {
  /** Any route of the app: JSON in, JSON out; an error status throws `ApiError`, no network `OfflineError`. */
  request<R = unknown>(path: string, init?: ApiRequest): Promise<R>;
  /** Posts the credentials to `endpoints.login`; the server sets the cookie, the client keeps nothing. */
  login(credentials: AuthType<T, 'credentials', object>): Promise<AuthType<T, 'login'>>;
  /** Posts to `endpoints.register` and counts as a login; throws `ClientArgumentError` without that endpoint. */
  register(
    registration: AuthType<T, 'registration', AuthType<T, 'credentials', object>>,
  ): Promise<AuthType<T, 'login'>>;
  /** Ends the session on the server, then tells every tab (even when the server cannot be reached). */
  logout(): Promise<void>;
  /** The me route's answer, or `null` when nobody is logged in (401 `SESSION_REQUIRED`). */
  me(): Promise<AuthType<T, 'me'> | null>;
  /**
   * The app knows someone is logged in without having asked the server in this page (it opened
   * offline on local data, say): a later 401 `SESSION_REQUIRED` then fires `logged-out`.
   */
  assumeLoggedIn(): void;
  /** Whether a login, a `me()` answer or `assumeLoggedIn()` said so, and no logout since. */
  readonly loggedIn: boolean;
  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof ApiEvents>(event: E, listener: (value: ApiEvents[E]) => void): () => void;
  /** `false` after a request failed to reach the server, until one succeeds. */
  readonly online: boolean;
  /** Closes the BroadcastChannel (tests, or a client made for a moment). */
  close(): void;
}

/** Each option and the `typeof` it must have (`channel` may also be `false`). */
const OPTIONS: Record<string, string> = {
  endpoints: 'object',
  baseUrl: 'string',
  fetch: 'function',
  channel: 'string',
};
const ENDPOINTS = ['login', 'logout', 'me', 'register'];
const MESSAGE_TYPE = 'latchkey:logged-out';

function checkOptions(options: ApiClientOptions): void {
  const fail: (message: string) => never = (message) => {
    throw new ClientArgumentError(`createApiClient: ${message}`);
  };
  const example = "{ endpoints: { login: '/auth/login', logout: '/auth/logout', me: '/auth/me' } }";
  if (typeof options !== 'object' || options === null)
    fail(`pass an options object with your routes, e.g. ${example}.`);
  for (const [key, value] of Object.entries(options)) {
    const kind = OPTIONS[key];
    if (kind === undefined) fail(`unknown option "${key}"; the options are ${Object.keys(OPTIONS).join(', ')}.`);
    if (value !== undefined && typeof value !== kind && !(key === 'channel' && value === false))
      fail(`${key} must be a ${kind}${key === 'channel' ? ' or false' : ''}.`);
  }
  const endpoints: unknown = options.endpoints;
  if (typeof endpoints !== 'object' || endpoints === null) fail(`endpoints is missing; pass ${example}.`);
  for (const key of Object.keys(endpoints))
    if (!ENDPOINTS.includes(key)) fail(`unknown endpoint "${key}"; the endpoints are ${ENDPOINTS.join(', ')}.`);
  for (const key of ENDPOINTS) {
    const path = (endpoints as Record<string, unknown>)[key];
    if (path === undefined && key === 'register') continue;
    if (typeof path !== 'string' || path === '')
      fail(`endpoints.${key} must be the path of your ${key} route, e.g. '/auth/${key}'.`);
  }
}

/**
 * Creates the app's API client. The type parameter describes the app's auth routes.
 *
 * @example
 * interface User { id: string; email: string }
 * const api = createApiClient<{
 *   credentials: { email: string; password: string };
 *   login: { user: User };
 *   me: { user: User };
 * }>({ endpoints: { login: '/auth/login', logout: '/auth/logout', me: '/auth/me' } });
 * api.on('logged-out', () => { void wipe(); showLogin(); });
 * const me = await api.me(); // null: nobody is logged in (no event)
 * if (!me) await api.login({ email, password }); // stores nothing: the server set an HttpOnly cookie
 */
export function createApiClient<T extends AuthTypes = AuthTypes>(options: ApiClientOptions): ApiClient<T> {
  checkOptions(options);
  const { endpoints } = options;
  const base = options.baseUrl ?? '';
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const listeners: { [E in keyof ApiEvents]: Set<(value: ApiEvents[E]) => void> } = {
    'logged-out': new Set(),
    connectivity: new Set(),
  };
  const emit = <E extends keyof ApiEvents>(event: E, value: ApiEvents[E]) => {
    for (const listener of listeners[event]) listener(value);
  };
  const channelName = options.channel ?? 'latchkey';
  const channel =
    channelName !== false && typeof BroadcastChannel === 'function' ? new BroadcastChannel(channelName) : undefined;
  let online = true;
  let loggedIn = false;
  if (channel)
    channel.onmessage = ({ data }) => {
      // Another tab lost the session: the cookie is shared, so this tab has lost it too.
      if (data?.type !== MESSAGE_TYPE) return;
      loggedIn = false;
      emit('logged-out', { reason: data.reason === 'logout' ? 'logout' : 'session-ended', otherTab: true });
    };
  const setOnline = (value: boolean) => {
    if (value !== online) {
      online = value;
      emit('connectivity', value);
    }
  };
  const endSession = (reason: LoggedOutEvent['reason']) => {
    loggedIn = false;
    emit('logged-out', { reason, otherTab: false });
    channel?.postMessage({ type: MESSAGE_TYPE, reason });
  };

  async function request<R = unknown>(path: string, init: ApiRequest = {}): Promise<R> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method: init.method ?? 'GET',
        // Same-origin only: the session cookie never goes to another origin.
        credentials: 'same-origin',
        headers,
        body: init.body === undefined ? null : JSON.stringify(init.body),
        cache: 'no-store',
      });
    } catch (error) {
      setOnline(false);
      throw new OfflineError({ cause: error });
    }
    setOnline(true);
    const text = await response.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined; // a proxy's HTML error page, say
    }
    if (!response.ok) {
      const error = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code = typeof error?.code === 'string' ? error.code : 'HTTP_ERROR';
      // One event per lost session, however many requests fail with 401; none for a visitor
      // who was never logged in.
      if (response.status === 401 && code === 'SESSION_REQUIRED' && loggedIn) endSession('session-ended');
      const message = typeof error?.message === 'string' ? error.message : response.statusText;
      throw new ApiError(response.status, code, message, data);
    }
    return data as R;
  }

  const signIn = async (path: string, body: unknown) => {
    const answer = await request<AuthType<T, 'login'>>(path, { method: 'POST', body });
    loggedIn = true;
    return answer;
  };

  return {
    request,
    login: (credentials) => signIn(endpoints.login, credentials),
    register(registration) {
      if (endpoints.register === undefined)
        return Promise.reject(
          new ClientArgumentError(
            "register(): no register endpoint; pass it to createApiClient, e.g. endpoints: { register: '/auth/register', … }.",
          ),
        );
      return signIn(endpoints.register, registration);
    },
    async logout() {
      // From here a 401 is this logout's answer, not a second event.
      loggedIn = false;
      try {
        await request(endpoints.logout, { method: 'POST' });
      } finally {
        // Even offline: the app wipes this device whether or not the server heard.
        endSession('logout');
      }
    },
    async me() {
      try {
        const answer = await request<AuthType<T, 'me'>>(endpoints.me);
        loggedIn = true;
        return answer;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401 && error.code === 'SESSION_REQUIRED') return null;
        throw error;
      }
    },
    assumeLoggedIn() {
      loggedIn = true;
    },
    get loggedIn() {
      return loggedIn;
    },
    on(event, listener) {
      listeners[event].add(listener);
      return () => listeners[event].delete(listener);
    },
    get online() {
      return online;
    },
    close: () => channel?.close(),
  };
}
