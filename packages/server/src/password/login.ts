/**
 * The password login, as one call: read the credentials, count the attempt in the throttle before
 * any check, verify the hash (a dummy verify for an unknown name, so both cost the same), refuse a
 * disabled account only after that verify, and rehash when the parameters rose. What a login route
 * needs besides it is the session: `const result = await login.check(body, ip)`, then the
 * adapter's `login` on success, or `sendError(res, result.error, result.headers)`.
 *
 * Why a helper: every hand-written login we reviewed got one of these wrong (the check before the
 * count, the early return for an unknown user, the disabled account that answers faster). An API
 * that lets each app assemble the pieces invites those mistakes.
 */
import { InvalidArgumentError } from '../errors.js';
import { checkFunction, checkOptions } from '../lib/options.js';
import { createPasswordHasher, type PasswordHasher } from './hash.js';
import { type AttemptOptions, createLoginThrottle, type LoginThrottle } from './throttle.js';

/** Options of `createPasswordLogin`. `U` is the app's own user type, as `findUser` returns it. */
export interface PasswordLoginOptions<U> {
  /**
   * The account for a login name, with its stored hash; `null` or `undefined` when there is none.
   * Match names the way your sign-up stores them (case-folded e-mail, say).
   */
  findUser(name: string): Promise<(U & { passwordHash: string }) | null | undefined>;
  /** Default `createPasswordHasher()` (argon2id, OWASP parameters). */
  hasher?: PasswordHasher;
  /** Default `createLoginThrottle()` in this process's memory; pass one on Redis for many instances. */
  throttle?: LoginThrottle;
  /** `false` for an account that may not log in (disabled, say). Asked after the verify, so it answers in the same time. */
  canLogIn?: (user: U) => boolean;
  /** Called after a login whose hash was made with weaker parameters: store `passwordHash` for the user. */
  onRehash?: (user: U, passwordHash: string) => Promise<void> | void;
}

/** Codes of a refused login, as `sendError` in every adapter takes them. */
export type PasswordLoginError = 'BAD_REQUEST' | 'INVALID_CREDENTIALS' | 'TOO_MANY_ATTEMPTS';

/** What `PasswordLogin.check` answers: the user, or the code and headers to refuse with. */
export type PasswordLoginResult<U> =
  | { ok: true; user: U }
  | {
      ok: false;
      /** 400 for credentials that are not two strings; 401 for a wrong name or password; 429 when throttled. */
      error: PasswordLoginError;
      /** Set these on the answer: `Retry-After` when throttled, else none. */
      headers: Record<string, string>;
    };

/**
 * A whole password login check, from `createPasswordLogin`: the throttle counts the attempt first,
 * then the hash is verified (a dummy verify for an unknown name), so an unknown name, a wrong
 * password and a disabled account answer alike and in the same time. It does not start the session.
 *
 * @example
 * const result = await login.check(req.body, req.ip);
 * if (!result.ok) return sendError(res, result.error, result.headers);
 * await auth.login(req, res, result.user.id);
 */
export interface PasswordLogin<U> {
  /**
   * Checks `{ username, password }` (any request body: its shape is checked here) from the client
   * address `client` (behind a proxy, the address the proxy vouches for).
   */
  check(credentials: unknown, client: string, options?: AttemptOptions): Promise<PasswordLoginResult<U>>;
  /** The hasher it verifies with: hash new passwords (at sign-up) with it too. */
  readonly hasher: PasswordHasher;
  /** The throttle it counts with (`remember` a new account's address after sign-up, say). */
  readonly throttle: LoginThrottle;
}

/** Longer than any password policy allows (1024 code points at most): refused without hashing. */
const MAX_PASSWORD = 4096;
const MAX_NAME = 320; // an e-mail address at its longest
const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * @example
 * const login = createPasswordLogin({ findUser: (name) => users.byName(name) });
 * app.post('/api/login', async (req, res) => {
 *   const result = await login.check(req.body, req.ip ?? '');
 *   if (!result.ok) return sendError(res, result.error, result.headers);
 *   await auth.login(req, res, result.user.id);
 *   res.json({ user: { name: result.user.name } });
 * });
 */
export function createPasswordLogin<U>(options: PasswordLoginOptions<U>): PasswordLogin<U> {
  const o = checkOptions('createPasswordLogin', options, ['findUser', 'hasher', 'throttle', 'canLogIn', 'onRehash']);
  const findUser = checkFunction<PasswordLoginOptions<U>['findUser']>('findUser', o.findUser);
  const canLogIn = o.canLogIn === undefined ? () => true : checkFunction<(user: U) => boolean>('canLogIn', o.canLogIn);
  const onRehash = o.onRehash === undefined ? undefined : checkFunction('onRehash', o.onRehash);
  const hasher = o.hasher ?? createPasswordHasher();
  const throttle = o.throttle ?? createLoginThrottle();

  return {
    hasher,
    throttle,
    async check(credentials, client, attemptOptions) {
      if (typeof client !== 'string') throw new InvalidArgumentError('check needs the client address as a string');
      const { username, password } = (credentials ?? {}) as { username?: unknown; password?: unknown };
      if (typeof username !== 'string' || typeof password !== 'string' || username.length > MAX_NAME)
        return { ok: false, error: 'BAD_REQUEST', headers: NONE };
      // Counted before the check (a burst cannot outrun the count); the same path for unknown names.
      const result = await throttle.attempt(
        username,
        client,
        async () => {
          if (password.length > MAX_PASSWORD) return false;
          const user = await findUser(username);
          if (!user) {
            await hasher.verifyDummy(password);
            return false;
          }
          const { ok, needsRehash } = await hasher.verify(user.passwordHash, password);
          // A disabled account answers like a wrong password, after the same work.
          if (!ok || !canLogIn(user)) return false;
          if (needsRehash && onRehash) await onRehash(user, await hasher.hash(password));
          return user;
        },
        attemptOptions,
      );
      if (result.ok) return { ok: true, user: result.value };
      if (result.reason === 'throttled')
        return { ok: false, error: 'TOO_MANY_ATTEMPTS', headers: { 'retry-after': String(result.retryAfter) } };
      return { ok: false, error: 'INVALID_CREDENTIALS', headers: NONE };
    },
  };
}
