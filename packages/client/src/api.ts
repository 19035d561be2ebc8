/**
 * The API client: fetch, same-origin, JSON. It holds no token: the session is an HttpOnly cookie
 * the browser adds by itself, and the CSRF defence is the `Sec-Fetch-Site`/`Origin` pair the
 * browser adds by itself too (plus `content-type: application/json`, which a cross-site form
 * cannot send). It tells apart the two ways a request can fail for good reason:
 * - **logged out** (401 `SESSION_REQUIRED`): one `logged-out` event, here and in every other tab
 *   of the app (BroadcastChannel), so all of them go back to the login page and wipe;
 * - **offline** (fetch itself failed): an `OfflineError` and a `connectivity` event; the app keeps
 *   working from IndexedDB and the outbox replays later.
 */

/** An error answer from the server, with the stable `code` from its body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The whole JSON body (a 409 carries the server's copy in `current`). */
  readonly body: unknown;

  constructor(status: number, code: string, message: string, body?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** The request never reached the server: no network, or the server is down. */
export class OfflineError extends Error {
  readonly code = 'OFFLINE';

  constructor(options?: ErrorOptions) {
    super('The server cannot be reached.', options);
    this.name = 'OfflineError';
  }
}

export interface ApiClientOptions {
  /** Prefix of every path; default '' (same origin as the page). */
  baseUrl?: string;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
  /** BroadcastChannel name shared by the app's tabs; `false` for none. Default `latchkey`. */
  channel?: string | false;
}

export interface User {
  /** A stable, opaque account id, where the server sends one (the key of local data). */
  id?: string;
  username: string;
  avatarUrl: string;
}

export interface ApiEvents {
  /** The session is gone (401 here, or a logout or 401 in another tab). */
  'logged-out': undefined;
  /** Whether the last request reached the server. */
  connectivity: boolean;
}

type Listener<T> = (value: T) => void;

export interface ApiClient {
  request<T>(path: string, init?: { method?: string; body?: unknown }): Promise<T>;
  login(username: string, password: string): Promise<{ user: User }>;
  register(username: string, password: string): Promise<{ user: User }>;
  /** Ends the session on the server, then tells every tab. Wipe local data after it. */
  logout(): Promise<void>;
  me(): Promise<{ user: User; session: { id: string; expiresAt: string; fresh: boolean } }>;
  on<E extends keyof ApiEvents>(event: E, listener: Listener<ApiEvents[E]>): () => void;
  /** `false` after a request failed to reach the server, until one succeeds. */
  readonly online: boolean;
  close(): void;
}

const LOGGED_OUT = 'logged-out';

/**
 * @example
 * const api = createApiClient();
 * api.on('logged-out', () => { void wipe(); showLogin(); });
 * await api.login('demo', password); // stores nothing: the server set an HttpOnly cookie
 */
export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const base = options.baseUrl ?? '';
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const listeners: { [E in keyof ApiEvents]: Set<Listener<ApiEvents[E]>> } = {
    'logged-out': new Set(),
    connectivity: new Set(),
  };
  const emit = <E extends keyof ApiEvents>(event: E, value: ApiEvents[E]) => {
    for (const listener of listeners[event]) listener(value);
  };
  const channelName = options.channel ?? 'latchkey';
  const channel =
    channelName !== false && typeof BroadcastChannel === 'function' ? new BroadcastChannel(channelName) : undefined;
  if (channel) channel.onmessage = (e) => e.data === LOGGED_OUT && emit('logged-out', undefined);
  let online = true;
  let loggedOut = false;
  const setOnline = (value: boolean) => {
    if (value !== online) {
      online = value;
      emit('connectivity', value);
    }
  };
  const announceLogout = () => {
    if (loggedOut) return; // one event per logout, however many requests fail with 401
    loggedOut = true;
    emit('logged-out', undefined);
    channel?.postMessage(LOGGED_OUT);
  };

  async function request<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
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
      const code = error?.code ?? 'HTTP_ERROR';
      if (response.status === 401 && code === 'SESSION_REQUIRED') announceLogout();
      throw new ApiError(response.status, code, error?.message ?? response.statusText, data);
    }
    return data as T;
  }

  const signIn = async (path: string, username: string, password: string) => {
    const result = await request<{ user: User }>(path, { method: 'POST', body: { username, password } });
    loggedOut = false;
    return result;
  };

  return {
    request,
    login: (username, password) => signIn('/api/auth/login', username, password),
    register: (username, password) => signIn('/api/auth/register', username, password),
    async logout() {
      try {
        await request('/api/auth/logout', { method: 'POST' });
      } finally {
        announceLogout();
      }
    },
    me: () => request('/api/me'),
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
