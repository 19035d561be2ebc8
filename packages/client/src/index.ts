/**
 * @latchkey/client: the browser half of latchkey. It never holds a token: the session lives in an
 * HttpOnly cookie the browser sends by itself on same-origin requests. This module is a small
 * fetch wrapper that speaks the server's JSON and its error codes.
 */

/** An error answer from the server, with the stable `code` from its body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface ApiClientOptions {
  /** Prefix of every path; default '' (same origin as the page). */
  baseUrl?: string;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
}

export interface User {
  id: string;
  username: string;
}

export interface ApiClient {
  request<T>(path: string, init?: { method?: string; body?: unknown }): Promise<T>;
  login(username: string, password: string): Promise<{ user: User }>;
  logout(): Promise<void>;
  me(): Promise<{ user: User; session: { id: string; expiresAt: string } }>;
}

/**
 * @example
 * const api = createApiClient();
 * await api.login('demo', password); // stores nothing: the server set an HttpOnly cookie
 * const { user } = await api.me();
 */
export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const base = options.baseUrl ?? '';
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function request<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await doFetch(`${base}${path}`, {
      method: init.method ?? 'GET',
      // Same-origin only: the session cookie never goes to another origin.
      credentials: 'same-origin',
      headers,
      body: init.body === undefined ? null : JSON.stringify(init.body),
    });
    const text = await response.text();
    const data = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const error = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'HTTP_ERROR', error?.message ?? response.statusText);
    }
    return data as T;
  }

  return {
    request,
    login: (username, password) => request('/api/auth/login', { method: 'POST', body: { username, password } }),
    logout: async () => {
      await request('/api/auth/logout', { method: 'POST' });
    },
    me: () => request('/api/me'),
  };
}
