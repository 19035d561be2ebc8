/**
 * The client's error classes. `instanceof LatchkeyClientError` catches every error the client
 * throws on purpose; each carries a `code` to branch on (never the message). Names are set by hand
 * because a minifier renames classes.
 */

/**
 * Base class of every error `@latchkey/client` throws on purpose.
 *
 * @example
 * try {
 *   await api.request('/things');
 * } catch (error) {
 *   if (error instanceof LatchkeyClientError) showMessage(error.code);
 *   else throw error;
 * }
 */
export class LatchkeyClientError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LatchkeyClientError';
    this.code = code;
  }
}

/**
 * The server answered with an error status. `code` is the stable code from its body
 * (`{"error":{"code":"…","message":"…"}}`, as latchkey's `sendError` writes it), or `HTTP_ERROR`
 * when the body has none (a proxy's HTML page, say).
 *
 * @example
 * try {
 *   await api.login({ email, password });
 * } catch (error) {
 *   if (error instanceof ApiError && error.code === 'INVALID_CREDENTIALS') showWrongPassword();
 *   else throw error;
 * }
 */
export class ApiError extends LatchkeyClientError {
  readonly status: number;
  /** The whole JSON body, for routes that send more than the code (a 409 with the server's copy). */
  readonly body: unknown;

  constructor(status: number, code: string, message: string, body?: unknown) {
    super(code, message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/**
 * The request never reached the server: no network, or the server is down. Not a logout: the app
 * keeps working from local data and tries again later.
 *
 * @example
 * const me = await api.me().catch((error) => {
 *   if (error instanceof OfflineError) return undefined; // unknown for now: keep local data
 *   throw error;
 * });
 */
export class OfflineError extends LatchkeyClientError {
  static readonly code = 'OFFLINE';

  constructor(options?: ErrorOptions) {
    super(OfflineError.code, 'The server cannot be reached.', options);
    this.name = 'OfflineError';
  }
}

/**
 * The app called the client with options or arguments it cannot use (a missing endpoint, an
 * unknown option, an owner that is not a key from `ownerKey`): a bug in the app, thrown at once.
 * The message names the fix.
 *
 * @example
 * createApiClient({ endpoints: { login: '/login', logout: '/logout' } });
 * // ClientArgumentError ARGUMENT_INVALID: createApiClient: endpoints.me is missing; pass the path…
 */
export class ClientArgumentError extends LatchkeyClientError {
  static readonly code = 'ARGUMENT_INVALID';

  constructor(message: string) {
    super(ClientArgumentError.code, message);
    this.name = 'ClientArgumentError';
  }
}
