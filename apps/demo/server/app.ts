/**
 * The reference server: the routes of the article (docs/article.md) done the latchkey way. This file is the wiring: the
 * Fastify instance with its limits, hardening and error answers, the shared parts the routes use,
 * and one plugin per route group (routes/*.ts, each listing its routes). The browser gets one
 * HttpOnly `__Host-session` cookie and nothing else; every request loads the session and the
 * account from the SQLite file. Every response carries the security headers; unsafe requests pass
 * the CSRF guard before any body is parsed. Every route that checks a password goes through the
 * throttle's one attempt rule; sign-up and reset requests have their own limit; the server has
 * request and body deadlines. Sign-up, password reset and e-mail change are latchkey/accounts'
 * flows (accounts.ts); their mail goes to an SMTP server or, in development, the dev inbox.
 *
 *   /api/auth/*, /api/me                routes/auth.ts        sign-up, verify, reset, login, step-up, logout
 *   /api/sessions*, /api/grants/:id     routes/sessions.ts    the user's sessions and API clients
 *   /api/notes*                         routes/notes.ts       notes, with version conflicts
 *   /api/account/*                      routes/account.ts     e-mail, password, API key, disable
 *   /dev/mail, /dev/mail.json           routes/dev-mail.ts    the dev inbox (not in production)
 *   /api/csp-report                     the hardening hook    CSP violations, logged (log.ts)
 *   /.well-known/jwks.json, /oauth/token routes/tokens.ts     tokens for non-browser clients
 *   /bff/api/*                          routes/bff.ts         the downstream API, with a short JWT
 *   /avatars/:username.svg              routes/avatars.ts     the account's avatar
 *   /, /assets/*, /sw.js, app paths     routes/web-app.ts     the web app's build (webRoot)
 *   /, /login-page.*                    routes/login-page.ts  a one-page login form (no webRoot)
 *   /lab*                               lab.ts                the storage lab (lab)
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigurationError, type SessionManager } from 'latchkey';
import { createDeviceBinding, type DeviceBindingOptions } from 'latchkey/dbsc';
import {
  createFastifyHardening,
  createFastifySessions,
  errorHandler,
  handleClientError,
  notFound,
} from 'latchkey/fastify';
import {
  createCsrfGuard,
  createSecondFactorStep,
  createSecurityHeaders,
  createServerLimits,
  createTrustedProxies,
  rawErrorResponse,
  type ServerLimitsOptions,
} from 'latchkey/http';
import type { DevInbox, Mailer } from 'latchkey/mail';
import type { OneTimeTokenStore } from 'latchkey/one-time';
import type { Passkeys } from 'latchkey/passkeys';
import {
  createLoginThrottle,
  createPasswordPolicy,
  createRateLimit,
  type LoginThrottle,
  type PasswordPolicy,
  type RateLimit,
} from 'latchkey/password';
import { createMemoryTotpStore, createTotp, type Totp } from 'latchkey/totp';
import { APP_NAME, createAppAccounts } from './accounts.js';
import { createCurrentUser } from './current-user.js';
import { createDevices } from './devices.js';
import { type LabOptions, registerLab } from './lab.js';
import { logCspViolations, REDACT } from './log.js';
import { createNewDeviceNotices } from './new-device.js';
import type { Notes } from './notes.js';
import { createPasswordAttempts } from './password-attempts.js';
import { accountRoutes } from './routes/account.js';
import { authRoutes } from './routes/auth.js';
import { avatarRoutes } from './routes/avatars.js';
import { bffRoutes } from './routes/bff.js';
import { devMailRoutes } from './routes/dev-mail.js';
import { loginPageRoutes } from './routes/login-page.js';
import { noteRoutes } from './routes/notes.js';
import { passkeyRoutes } from './routes/passkeys.js';
import { secondFactorRoutes } from './routes/second-factor.js';
import { sessionRoutes } from './routes/sessions.js';
import { tokenRoutes } from './routes/tokens.js';
import { webAppRoutes } from './routes/web-app.js';
import { createSignIns, type SignIns } from './sign-ins.js';
import { type AppTokens, createUserTokens } from './user-tokens.js';
import type { Users } from './users.js';

export interface AppOptions {
  sessions: SessionManager;
  users: Users;
  notes: Notes;
  /** The origins the app is served from, exactly (`http://localhost:3000`): the CSRF fallback. */
  origins: readonly string[];
  throttle?: LoginThrottle;
  /**
   * Sign-up and password-reset requests (finding 5 of the review): default 10 an hour per client
   * address and 1,000 an hour in all. Every request counts, taken addresses included.
   */
  registrations?: RateLimit;
  /** Mails per address, whatever the flow: default one per 10 minutes (latchkey/accounts). */
  addressLimit?: RateLimit;
  /**
   * Where the account mails go: a transport (`createSmtpMailer`), put behind a retrying queue. Not
   * with `devInbox`. Required when NODE_ENV=production.
   */
  mailer?: Mailer;
  /** Development: mail kept in memory and shown at `GET /dev/mail`. Default when `mailer` is absent. */
  devInbox?: DevInbox;
  /** The links' one-time tokens (the server: its SQLite file). Default: in memory. */
  oneTimeStore?: OneTimeTokenStore;
  /**
   * The origin the mails' links point to (`https://notes.example`; plain http only on localhost).
   * Default: the first of `origins`.
   */
  publicUrl?: string;
  policy?: PasswordPolicy;
  /** Deadlines and the connection cap (latchkey/http `createServerLimits`); defaults there. */
  limits?: ServerLimitsOptions;
  /**
   * The key of the pseudonyms that stand for usernames in log lines (a failed login's "username"
   * is often a mistyped password). Default: random per process.
   */
  logKey?: Buffer;
  /**
   * Where accounts signed in before, for the new-device notice. The server: its SQLite file, with
   * a key of its own. Default: an in-memory table (forgotten on restart).
   */
  signIns?: SignIns;
  /** Two-factor codes (latchkey/totp). Default: in memory, sealed with a per-process key. */
  totp?: Totp;
  /** Passkeys (latchkey/passkeys). Default: none (the routes answer `methods: {passkeys: false}`). */
  passkeys?: Passkeys;
  /** Passkey sign-in requests (options and answers) per client. Default 60 a minute. */
  passkeyLimit?: RateLimit;
  /** Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For/-Proto are believed. */
  trustedProxies?: readonly string[];
  /** PEM certificate and key: serve HTTPS (and send HSTS). */
  https?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Device-bound sessions (latchkey/dbsc): browsers that do DBSC bind each session to a key they
   * cannot export, at `/api/auth/device/register`, and renew a 10-minute bound cookie at
   * `/api/auth/device/refresh`. Default: on with `https` (browsers do DBSC only there), off without.
   * An object turns it on with those settings (the bound cookie's life, the challenges').
   */
  deviceBound?: boolean | Pick<DeviceBindingOptions, 'cookie' | 'challengeTtl'>;
  /**
   * Tokens for non-browser clients (`POST /oauth/token`, `/.well-known/jwks.json`) and for the
   * backend-for-frontend's calls downstream. `revokeSubject` ends a user's access tokens (R4).
   */
  tokens?: AppTokens;
  /** The one downstream API the BFF may forward to (`/bff/api/*` → `<url>/api/*`). */
  downstreamUrl?: string;
  /** The storage lab (demo only): the stand-in CDN and how to reach this server from itself. */
  lab?: Omit<LabOptions, 'users' | 'throttle'>;
  /** The web app's production build (apps/demo/web/dist). Without it, `/` is a one-page login form. */
  webRoot?: string;
  /**
   * B4's kill switch: serve a service worker that unregisters itself and empties Cache Storage,
   * for when a broken worker was shipped. Browsers check /sw.js at least daily and on navigation.
   */
  killServiceWorker?: boolean;
  /** pino options, or false for silence in tests. */
  logger?: boolean | Record<string, unknown>;
  /**
   * What `GET /readyz` asks before a load balancer sends this instance traffic: resolves when the
   * shared stores answer, rejects when one does not. Default: always ready.
   */
  readiness?: () => Promise<void>;
}

/**
 * The reference server, ready to `listen`.
 *
 * @example
 * const app = await buildApp({ sessions, users, notes, origins: ['http://localhost:3000'] });
 * await app.listen({ port: 3000 });
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { sessions, users } = options;
  if (!options.mailer && process.env.NODE_ENV === 'production')
    throw new ConfigurationError(
      'buildApp needs a mailer when NODE_ENV=production: the dev inbox would show every reset link to whoever opens it. Pass createSmtpMailer({ url, from }) (the server: set LATCHKEY_SMTP_URL and LATCHKEY_MAIL_FROM)',
    );
  const throttle = options.throttle ?? createLoginThrottle();
  const registrations =
    options.registrations ??
    createRateLimit({
      name: 'register',
      perClient: { points: 10, duration: 3600 },
      global: { points: 1000, duration: 3600 },
    });
  const policy = options.policy ?? createPasswordPolicy();
  const proxies = createTrustedProxies(options.trustedProxies ?? []);
  const bound = options.deviceBound ?? options.https !== undefined;
  const deviceBinding =
    bound === false
      ? undefined
      : createDeviceBinding(sessions, {
          ...(bound === true ? {} : bound),
          registerPath: '/api/auth/device/register',
          refreshPath: '/api/auth/device/refresh',
        });
  const auth = createFastifySessions(sessions, { deviceBinding });
  const limits = createServerLimits(options.limits);
  const logKey = options.logKey ?? randomBytes(32);
  const hardening = createFastifyHardening({
    headers: createSecurityHeaders(),
    csrf: createCsrfGuard({ origins: options.origins }),
    // The token endpoint takes credentials in its body, never a cookie: nothing to ride.
    csrfExempt: ['/oauth/token'],
    // POST /api/csp-report is answered by the hook (204, no CSRF check: browsers send reports
    // without credentials); each violation is logged.
    cspReport: { onReport: logCspViolations },
  });
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : { redact: { paths: REDACT, censor: '[redacted]' }, ...(options.logger === true ? {} : options.logger) },
    clientErrorHandler: handleClientError, // 431/400 with a JSON code instead of an empty reply
    bodyLimit: 16 * 1024,
    // X-Forwarded-For/-Proto count only from configured proxies; request.ip is then the client.
    trustProxy: (options.trustedProxies?.length ?? 0) > 0 ? proxies.trust : false,
    // Request, header and keep-alive deadlines (finding 4): Fastify alone runs with none.
    ...(options.https ? { https: { ...options.https, ...limits.serverOptions } } : { http: limits.serverOptions }),
    // A URL Fastify cannot decode gets the security headers and a coded body, not the path echoed.
    frameworkErrors: hardening.frameworkErrors,
  });
  limits.apply(app.server);
  // CONNECT (and a stray Upgrade) never reach Fastify: Node would drop the connection without a
  // word. Answer them like any refused method.
  for (const event of ['connect', 'upgrade'] as const)
    app.server.on(event, (_request, socket: Socket) => {
      if (socket.writable) socket.end(rawErrorResponse('METHOD_NOT_ALLOWED'));
      else socket.destroy();
    });
  // JSON only: a form or text/plain body (what a cross-site <form> can send) gets 415 (X3).
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, request, reply) => {
    if ((error as { statusCode?: number }).statusCode === undefined)
      request.log.error({ err: error }, 'request failed');
    return errorHandler(error, request, reply);
  });
  app.setNotFoundHandler(notFound);
  // Security headers on every response (404s and errors too), then the CSRF guard (X1, X2).
  app.addHook('onRequest', hardening);

  // The parts several route groups share.
  const current = createCurrentUser(sessions, users);
  const devices = createDevices(throttle);
  const attempts = createPasswordAttempts({ throttle, users, devices, logKey });
  const userTokens = options.tokens && createUserTokens(options.tokens);
  const publicUrl = options.publicUrl ?? options.origins[0] ?? '';
  const accounts = createAppAccounts({
    users,
    sessions,
    userTokens,
    ...(options.mailer ? { mailer: options.mailer } : {}),
    ...(options.devInbox ? { devInbox: options.devInbox } : {}),
    ...(options.oneTimeStore ? { oneTimeStore: options.oneTimeStore } : {}),
    ...(options.addressLimit ? { addressLimit: options.addressLimit } : {}),
    publicUrl,
    policy,
    clientLimit: registrations,
    log: app.log,
  });
  // Sign-ins from a new place mail the owner: the login form and the token endpoint alike.
  const notices = createNewDeviceNotices({
    signIns: options.signIns ?? createSignIns(new Database(':memory:'), randomBytes(32)),
    devices,
    accounts: accounts.flows,
  });
  // Two-factor codes, and the login's step between the password and the code.
  const totp =
    options.totp ??
    // A throttle of its own: in the login's, a chosen login name could match a code key.
    createTotp({
      store: createMemoryTotpStore(),
      keys: [randomBytes(32)],
      issuer: APP_NAME,
      throttle: createLoginThrottle(),
    });
  const step = createSecondFactorStep(accounts.tokens);
  // Expired links are deleted hourly (a used one is gone at once).
  const sweep = setInterval(() => void accounts.tokens.deleteExpired().catch(() => undefined), 3_600_000);
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    // Mail still queued gets a moment to go out; the rest is lost, and the user asks again.
    if (accounts.queue) await Promise.race([accounts.queue.drain(), new Promise((r) => setTimeout(r, 2000).unref())]);
  });
  if (accounts.devInbox && process.env.NODE_ENV !== 'production')
    await app.register(devMailRoutes, { inbox: accounts.devInbox, origin: new URL(publicUrl).origin });

  // For load balancers: /healthz says the process answers (restart it if not); /readyz says its
  // stores answer too (send it no traffic while they do not). Neither reveals more than that.
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ ok: true }));
  app.get('/readyz', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    try {
      await options.readiness?.();
      return { ok: true };
    } catch (error) {
      request.log.warn({ event: 'readiness.failed', reason: (error as Error).message }, 'not ready');
      return reply
        .code(503)
        .send({ code: 'STORE_UNAVAILABLE', message: 'A store this instance needs does not answer.' });
    }
  });

  if (options.webRoot)
    await app.register(webAppRoutes, { root: options.webRoot, killServiceWorker: options.killServiceWorker === true });
  else await app.register(loginPageRoutes);
  await app.register(avatarRoutes);
  if (options.tokens) await app.register(tokenRoutes, { ...options.tokens, users, attempts, notices, totp });
  if (options.lab) await registerLab(app, { ...options.lab, users, throttle });

  await app.register(
    async (api) => {
      api.addHook('onRequest', auth.onRequest);
      if (deviceBinding) auth.deviceRoutes(api);
      // C7: nothing under /api is stored by a cache: it is all account data. Decided by the route
      // that matched (this scope), never by the request line: `GET http://x/api/me` routes here too.
      api.addHook('onSend', async (request, reply) => {
        reply.header('cache-control', 'no-store');
        // A new device id goes after the handler, so the session cookie stays the first Set-Cookie.
        const cookie = devices.newCookie(request);
        if (cookie && reply.statusCode < 400) reply.header('set-cookie', cookie);
      });
      await api.register(authRoutes, {
        sessions,
        auth,
        users,
        current,
        attempts,
        devices,
        accounts: accounts.flows,
        notices,
        totp,
        step,
        logKey,
      });
      await api.register(sessionRoutes, { sessions, auth, current, userTokens });
      await api.register(secondFactorRoutes, {
        sessions,
        auth,
        userTokens,
        users,
        current,
        totp,
        step,
        notices,
        accounts: accounts.flows,
      });
      await api.register(passkeyRoutes, {
        sessions,
        auth,
        users,
        current,
        passkeys: options.passkeys,
        notices,
        accounts: accounts.flows,
        totp,
        step,
        limit:
          options.passkeyLimit ??
          createRateLimit({
            name: 'passkey',
            perClient: { points: 60, duration: 60 },
            global: { points: 6000, duration: 60 },
          }),
      });
      await api.register(noteRoutes, { auth, current, notes: options.notes });
      await api.register(accountRoutes, {
        sessions,
        auth,
        users,
        current,
        attempts,
        policy,
        userTokens,
        accounts: accounts.flows,
      });
    },
    { prefix: '/api' },
  );
  if (userTokens && options.downstreamUrl)
    await app.register(bffRoutes, { prefix: '/bff', auth, userTokens, downstreamUrl: options.downstreamUrl });
  return app;
}
