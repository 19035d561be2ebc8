/**
 * The reference server: the article's routes done the latchkey way. The browser gets one HttpOnly
 * `__Host-session` cookie and nothing else; every request loads the session and the account from
 * the SQLite file. Every response carries the security headers; unsafe requests pass the CSRF
 * guard before any body is parsed. Every route that checks a password goes through the throttle's
 * one attempt rule; registration has its own limit; the server has request and body deadlines.
 *
 *   POST   /api/auth/register        {username, password}         → 201 {user}   (sets the cookie)
 *   POST   /api/auth/login           {username, password}         → {user}       (sets the cookie)
 *   POST   /api/auth/reauthenticate  {password}                   → {freshUntil} (step-up, new cookie)
 *   POST   /api/auth/logout                                       → {ok}         (Clear-Site-Data)
 *   GET    /api/me                                                → {user, session}
 *   GET    /api/sessions                                          → {sessions, grants}
 *   DELETE /api/sessions/:id                                      → {ok}
 *   DELETE /api/grants/:id                                        → {ok}  (one API client's refresh family)
 *   POST   /api/sessions/revoke-others                            → {revoked} (other sessions and every grant)
 *   POST   /api/account/password     {currentPassword, newPassword} fresh session → {revokedSessions}
 *   GET    /api/account/api-key[?reveal=1]                        → {apiKey, masked} (whole: reveal + fresh)
 *   POST   /api/account/api-key/rotate                  fresh session → {apiKey}
 *   POST   /api/account/disable      {password}         fresh session → {ok}  (ends every session)
 *   POST   /api/csp-report                                        → 204 (CSP violations, logged)
 *   GET    /.well-known/jwks.json                                 → the access-token public keys
 *   POST   /oauth/token   {grant_type: password|refresh_token, …} → access + refresh token (non-browser clients)
 *   *      /bff/api/*                                 session    → the downstream API, with a short JWT
 *   GET    /avatars/:username.svg                                 → the account's avatar
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { rawErrorResponse, type Session, type SessionManager } from 'latchkey';
import {
  createFastifyHardening,
  createFastifySessions,
  errorHandler,
  getNonce,
  getSession,
  handleClientError,
  sendError,
} from 'latchkey/fastify';
import {
  createCsrfGuard,
  createSecurityHeaders,
  createServerLimits,
  createTrustedProxies,
  parseCspReport,
  type ServerLimitsOptions,
} from 'latchkey/http';
import {
  createLoginThrottle,
  createPasswordPolicy,
  createRateLimit,
  type LoginThrottle,
  type PasswordPolicy,
  type RateLimit,
} from 'latchkey/password';
import type { AccessTokens, RefreshTokens } from 'latchkey/tokens';
import { z } from 'zod';
import { type LabOptions, registerLab } from './lab.js';
import type { Notes } from './notes.js';
import { maskApiKey, type User, type Users } from './users.js';

export interface AppOptions {
  sessions: SessionManager;
  users: Users;
  notes: Notes;
  /** The origins the app is served from, exactly (`http://localhost:3000`): the CSRF fallback. */
  origins: readonly string[];
  throttle?: LoginThrottle;
  /**
   * Registration limits (finding 5 of the review): default 10 an hour per client address and 1,000
   * an hour in all. Every attempt counts, taken names included.
   */
  registrations?: RateLimit;
  policy?: PasswordPolicy;
  /** Deadlines and the connection cap (latchkey/http `createServerLimits`); defaults there. */
  limits?: ServerLimitsOptions;
  /**
   * The key of the pseudonyms that stand for usernames in log lines (a failed login's "username"
   * is often a mistyped password). Default: random per process.
   */
  logKey?: Buffer;
  /** Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For/-Proto are believed. */
  trustedProxies?: readonly string[];
  /** PEM certificate and key: serve HTTPS (and send HSTS). */
  https?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Tokens for non-browser clients (`POST /oauth/token`, `/.well-known/jwks.json`) and for the
   * backend-for-frontend's calls downstream. `revokeSubject` ends a user's access tokens (R4).
   */
  tokens?: { access: AccessTokens; refresh: RefreshTokens; revokeSubject(userId: string): void | Promise<void> };
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
}

/** Logs never carry credentials: these request and response parts are censored wherever they appear. */
export const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  'password',
  'body.password',
];

const username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-"');
// Length rules live in the password policy (with their own codes); this only bounds the body.
const password = z.string().min(1).max(4096);
const schemas = {
  credentials: z.strictObject({ username: z.string().min(1).max(64), password }),
  register: z.strictObject({ username, password }),
  reauthenticate: z.strictObject({ password }),
  changePassword: z.strictObject({ currentPassword: password, newPassword: password }),
  sessionId: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{22}$/) }),
  grantId: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }),
  noteId: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }),
  note: z.strictObject({
    title: z.string().max(200),
    body: z.string().max(10_000),
    pinned: z.boolean(),
    priority: z.number().int().min(0).max(5),
    tags: z.array(z.string().min(1).max(32)).max(10),
    updatedAt: z.number().int().nonnegative(),
    baseVersion: z.number().int().positive().nullable(),
  }),
  noteDelete: z.strictObject({ baseVersion: z.coerce.number().int().positive() }),
};

function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | undefined {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  // A clear 400: which fields are wrong and why, never the values themselves.
  void reply
    .code(400)
    .header('cache-control', 'no-store')
    .send({
      error: {
        code: 'INVALID_INPUT',
        message: 'A field is missing or has the wrong type.',
        fields: result.error.issues.map((i) => ({ path: i.path.join('.'), problem: i.code })),
      },
    });
  return undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();
const avatarUrl = (user: User) => `/avatars/${encodeURIComponent(user.username)}.svg`;
const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A deterministic initials avatar: an image from our own origin, so `img-src 'self'` covers it. */
function avatarSvg(name: string): string {
  let hue = 0;
  for (const c of name) hue = (hue * 31 + (c.codePointAt(0) ?? 0)) % 360;
  const initials = escapeXml(name.slice(0, 2).toUpperCase());
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">` +
    `<rect width="64" height="64" rx="32" fill="hsl(${hue} 55% 42%)"/>` +
    `<text x="32" y="41" font-family="system-ui,sans-serif" font-size="24" fill="#fff" text-anchor="middle">${initials}</text></svg>`
  );
}

function indexPage(nonce: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>latchkey reference server</title><style nonce="${nonce}">body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}label{display:block;margin:.5rem 0}output{display:block;margin-top:1rem}</style></head>
<body><h1>latchkey reference server</h1>
<form id="login"><label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Log in</button> <button type="button" id="logout">Log out</button></form><output id="out" aria-live="polite"></output>
<script nonce="${nonce}">
const out = document.getElementById('out');
const call = async (path, body) => {
  const res = await fetch(path, { method: body === undefined && path.endsWith('/me') ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};
const show = async () => { const me = await call('/api/me'); out.textContent = me.status === 200 ? 'Logged in as ' + me.body.user.username : 'Not logged in'; };
document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault(); const f = new FormData(e.target);
  const r = await call('/api/auth/login', { username: f.get('username'), password: f.get('password') });
  if (r.status !== 200) out.textContent = r.body.error.message; else await show();
});
document.getElementById('logout').addEventListener('click', async () => { await call('/api/auth/logout', {}); await show(); });
show();
</script></body></html>`;
}

const KILL_SWITCH = `self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil((async () => {
  for (const name of await caches.keys()) await caches.delete(name);
  await self.registration.unregister();
  for (const client of await self.clients.matchAll()) client.navigate(client.url);
})()));
`;

/**
 * The built web app: hashed assets cached for a year, the service worker never cached, and the
 * HTML (for every app path) with this response's CSP nonce on its script and style tags, never
 * stored by a cache (a stored page would carry a spent nonce).
 */
async function serveWebApp(app: FastifyInstance, root: string, killServiceWorker: boolean): Promise<void> {
  const [head = '', ...rest] = readFileSync(join(root, 'index.html'), 'utf8')
    .replace(/<script /g, '<script nonce="\u0000" ')
    .replace(/<link rel="stylesheet"/g, '<link rel="stylesheet" nonce="\u0000"')
    .split('\u0000');
  const html = (nonce: string) => head + rest.map((part) => nonce + part).join('');
  // Hashed build assets under /assets/ only: everything else (/api/… included) never reaches the
  // file system, and a miss there is the JSON 404.
  await app.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/assets/',
    index: false,
    setHeaders: (res) => res.header('cache-control', 'public, max-age=31536000, immutable'),
  });
  const file = (name: string, cacheControl: string) => async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.header('cache-control', cacheControl).sendFile(name, root, { cacheControl: false });
  app.get('/favicon.svg', file('favicon.svg', 'public, max-age=3600'));
  if (killServiceWorker)
    app.get('/sw.js', async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(KILL_SWITCH),
    );
  else app.get('/sw.js', file('sw.js', 'no-cache'));
  const page = async (request: FastifyRequest, reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(html(getNonce(request)));
  for (const path of ['/', '/index.html', '/login', '/register', '/notes', '/sessions', '/account'])
    app.get(path, page);
}

/**
 * A keyed pseudonym for a username in log lines: lines about one name can be matched up, but the
 * name itself (often a password typed into the wrong field) is never written.
 */
export function logPseudonym(key: Buffer, username: string): string {
  return createHmac('sha256', key).update(username.normalize('NFKC').toLowerCase()).digest('base64url').slice(0, 16);
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { sessions, users } = options;
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
  const auth = createFastifySessions(sessions);
  const limits = createServerLimits(options.limits);
  const logKey = options.logKey ?? randomBytes(32);
  const hardening = createFastifyHardening({
    headers: createSecurityHeaders(),
    csrf: createCsrfGuard({ origins: options.origins }),
    // Browsers send CSP reports without credentials: nothing to ride, so no CSRF check.
    // The token endpoint takes credentials in its body, never a cookie: nothing to ride.
    csrfExempt: ['/api/csp-report', '/oauth/token'],
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
    app.server.on(event, (_request, socket: import('node:net').Socket) => {
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
  app.setNotFoundHandler((_request, reply) => sendError(reply, 'NOT_FOUND'));
  // Security headers on every response (404s and errors too), then the CSRF guard (X1, X2).
  app.addHook('onRequest', hardening);

  if (options.webRoot) await serveWebApp(app, options.webRoot, options.killServiceWorker === true);
  else
    app.get('/', async (request, reply) =>
      // no-store: a stored copy would carry a spent nonce.
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(indexPage(getNonce(request))),
    );

  app.get<{ Params: { file: string } }>('/avatars/:file', async (request, reply) => {
    const match = /^([a-z0-9_.-]{3,32})\.svg$/.exec(request.params.file);
    if (!match?.[1]) return sendError(reply, 'NOT_FOUND');
    return reply
      .type('image/svg+xml; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(avatarSvg(match[1]));
  });

  /** The session's user, or a 401 (and the user's sessions end if the account is gone or disabled). */
  const current = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ session: Session; user: User } | undefined> => {
    const session = getSession(request);
    const user = session && users.byId(session.userId);
    if (session && user) return { session, user };
    if (session) await sessions.revokeUserSessions(session.userId);
    void sendError(reply, 'SESSION_REQUIRED');
    return undefined;
  };
  /**
   * R3, R4: a password change, a disabled account or "log out everywhere else" ends the user's
   * tokens everywhere: refresh families here, access tokens at every verifier (the shared
   * revocation list), and the tokens the BFF minted for this user's sessions. Resolves to the
   * number of refresh families ended.
   */
  const revokeTokens = async (userId: string): Promise<number> => {
    if (!options.tokens) return 0;
    const ended = await options.tokens.refresh.revokeUser(userId);
    await options.tokens.revokeSubject(userId);
    forgetMinted(userId);
    return ended;
  };
  /** The access tokens the BFF minted, by session: reused until a minute before they expire. */
  const minted: MintedTokens = new Map();
  const forgetMinted = (userId: string) => {
    for (const [sessionId, entry] of minted) if (entry.userId === userId) minted.delete(sessionId);
  };
  const listGrants = async (userId: string) => (options.tokens ? options.tokens.refresh.listFamilies(userId) : []);

  /**
   * P4: every route that checks a password goes through the one attempt rule of the throttle: the
   * attempt is counted before the check runs, so a burst gets no more checks than a sequence.
   * Answers 429 (with Retry-After) or 401 itself and resolves to undefined then.
   */
  /**
   * The device cookie: a random id per browser that lets the throttle tell the user's own browser
   * from an attacker's, whatever network it is on (a device that logged in to the account before
   * has its own count). HttpOnly and `__Host-` like the session cookie; it names no account. Kept
   * 400 days (the most browsers allow); a logout's Clear-Site-Data removes it with the rest.
   */
  const deviceOf = (request: FastifyRequest) =>
    /(?:^|;\s*)__Host-device=([A-Za-z0-9_-]{22})(?:;|$)/.exec(request.headers.cookie ?? '')?.[1];
  const newDevices = new WeakMap<FastifyRequest, string>();
  const knowDevice = async (request: FastifyRequest, _reply: FastifyReply, username: string, device?: string) => {
    if (device) return;
    const fresh = randomBytes(16).toString('base64url');
    newDevices.set(request, fresh);
    await throttle.remember(username, request.ip, { device: fresh });
  };
  const throttledLogged = new Map<string, { at: number; suppressed: number }>();
  const passwordAttempt: PasswordAttempt = async (request, reply, username, check, browser = true) => {
    const device = browser ? deviceOf(request) : undefined;
    const result = await throttle.attempt(username, request.ip, check, { device });
    if (result.ok) {
      // A browser that got in is known from now on; a token client (a CLI) gets no cookie.
      if (browser) await knowDevice(request, reply, username, device);
      return result.value;
    }
    if (result.reason === 'throttled') {
      // At most one line a minute per name: an attacker hammering 429s must not flood the log.
      const user = logPseudonym(logKey, username);
      const now = Date.now();
      const last = throttledLogged.get(user);
      if (last === undefined || now - last.at >= 60_000) {
        if (throttledLogged.size >= 10_000) throttledLogged.clear();
        event(request, 'password.throttled', { user, scope: result.scope, suppressed: last?.suppressed ?? 0 });
        throttledLogged.set(user, { at: now, suppressed: 0 });
      } else last.suppressed++;
      void sendError(reply.header('retry-after', String(result.retryAfter)), 'TOO_MANY_ATTEMPTS');
    } else void sendError(reply, 'INVALID_CREDENTIALS');
    return undefined;
  };
  /** The signed-in user's own password again (step-up, password change, disable). */
  const accountPassword = async (request: FastifyRequest, reply: FastifyReply, user: User, password: string) =>
    (await passwordAttempt(
      request,
      reply,
      user.username,
      async () => (await users.checkPassword(user.id, password)) || false,
    )) === true;
  const event = (request: FastifyRequest, name: string, fields: Record<string, unknown> = {}) =>
    request.log.info({ event: name, ip: request.ip, ...fields }, name);

  if (options.tokens) registerTokenRoutes(app, options, passwordAttempt);
  if (options.lab) await registerLab(app, { ...options.lab, users, throttle });

  await app.register(
    async (api) => {
      api.addHook('onRequest', auth.onRequest);
      // C7: nothing under /api is stored by a cache: it is all account data. Decided by the route
      // that matched (this scope), never by the request line: `GET http://x/api/me` routes here too.
      api.addHook('onSend', async (request, reply) => {
        reply.header('cache-control', 'no-store');
        // A new device id goes after the handler, so the session cookie stays the first Set-Cookie.
        const fresh = newDevices.get(request);
        if (fresh && reply.statusCode < 400)
          reply.header(
            'set-cookie',
            `__Host-device=${fresh}; Path=/; Max-Age=34560000; HttpOnly; Secure; SameSite=Strict`,
          );
      });

      api.post('/auth/register', async (request, reply) => {
        const body = parse(schemas.register, request.body, reply);
        if (!body) return reply;
        // Finding 5: every attempt counts (taken names too) before any hashing, per client and in all.
        const allowed = await registrations.take(request.ip);
        if (!allowed.allowed) {
          event(request, 'register.throttled', { scope: allowed.scope });
          return sendError(reply.header('retry-after', String(allowed.retryAfter)), 'TOO_MANY_ATTEMPTS');
        }
        const problem = policy.check(body.password, [body.username]);
        if (problem) return sendError(reply, problem);
        const user = await users.create(body.username, body.password);
        if (!user) {
          event(request, 'register.conflict');
          return sendError(reply, 'CONFLICT');
        }
        // The address and the browser the account was made from are known to the throttle.
        const device = deviceOf(request);
        await throttle.remember(user.username, request.ip, { device });
        await knowDevice(request, reply, user.username, device);
        await auth.login(request, reply, user.id);
        event(request, 'register', { userId: user.id });
        return reply.code(201).send({ user: { id: user.id, username: user.username, avatarUrl: avatarUrl(user) } });
      });

      api.post('/auth/login', async (request, reply) => {
        const body = parse(schemas.credentials, request.body, reply);
        if (!body) return reply;
        let reason = '';
        const user = await passwordAttempt(request, reply, body.username, async () => {
          const outcome = await users.authenticate(body.username, body.password);
          if (outcome.ok) return outcome.user;
          reason = outcome.reason;
          return false;
        });
        if (!user) {
          // P3: one status and body for unknown user, wrong password and disabled account; the
          // reason goes to the log only. P5: the log line has no password, and no username either
          // (a mistyped password often lands there): a keyed pseudonym instead.
          if (reason) event(request, 'login.failure', { user: logPseudonym(logKey, body.username), reason });
          return reply;
        }
        const session = await auth.login(request, reply, user.id);
        event(request, 'login.success', { userId: user.id, sessionId: session.id });
        return { user: { id: user.id, username: user.username, avatarUrl: avatarUrl(user) } };
      });

      api.post('/auth/reauthenticate', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const body = parse(schemas.reauthenticate, request.body, reply);
        if (!body) return reply;
        if (!(await accountPassword(request, reply, me.user, body.password))) {
          event(request, 'reauthenticate.failure', { userId: me.user.id });
          return reply;
        }
        // F1: re-authentication gets a new session id; the old cookie is dead from here on.
        const session = await auth.reauthenticate(request, reply);
        if (!session) return sendError(reply, 'SESSION_REQUIRED');
        event(request, 'reauthenticate.success', { userId: me.user.id, sessionId: session.id });
        return { freshUntil: iso(session.authenticatedAt + sessions.freshFor * 1000) };
      });

      api.post('/auth/logout', async (request, reply) => {
        const session = getSession(request);
        await auth.logout(request, reply);
        if (session) event(request, 'logout', { userId: session.userId, sessionId: session.id });
        return { ok: true };
      });

      api.get('/me', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const { session, user } = me;
        return {
          user: { id: user.id, username: user.username, avatarUrl: avatarUrl(user) },
          session: {
            id: session.id,
            createdAt: iso(session.createdAt),
            expiresAt: iso(session.expiresAt),
            absoluteExpiresAt: iso(session.absoluteExpiresAt),
            fresh: sessions.isFresh(session),
          },
        };
      });

      api.get('/sessions', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const list = await sessions.listUserSessions(me.user.id);
        return {
          sessions: list.map((s) => ({
            id: s.id,
            current: s.id === me.session.id,
            userAgent: s.userAgent,
            ip: s.ip,
            createdAt: iso(s.createdAt),
            lastSeenAt: iso(s.lastSeenAt),
            expiresAt: iso(s.expiresAt),
          })),
          // Finding 6: API clients signed in with the token endpoint, beside the browser sessions.
          grants: (await listGrants(me.user.id)).map((g) => ({
            id: g.id,
            createdAt: iso(g.createdAt),
            lastUsedAt: iso(g.lastUsedAt),
            expiresAt: iso(g.expiresAt),
          })),
        };
      });

      api.delete('/grants/:id', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const params = parse(schemas.grantId, request.params, reply);
        if (!params) return reply;
        // Only the user's own grants: another user's id is "not found", never revoked.
        const ended = await options.tokens?.refresh.revokeFamily(params.id, { userId: me.user.id });
        if (!ended) return sendError(reply, 'NOT_FOUND');
        event(request, 'grant.revoke', { userId: me.user.id, grantId: params.id });
        return { ok: true };
      });

      api.delete('/sessions/:id', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const params = parse(schemas.sessionId, request.params, reply);
        if (!params) return reply;
        // Only the user's own sessions: another user's id is "not found", never revoked.
        const mine = (await sessions.listUserSessions(me.user.id)).some((s) => s.id === params.id);
        if (!mine) return sendError(reply, 'NOT_FOUND');
        if (params.id === me.session.id) await auth.logout(request, reply);
        else await sessions.revokeSession(params.id);
        event(request, 'session.revoke', { userId: me.user.id, sessionId: params.id });
        return { ok: true };
      });

      api.post('/sessions/revoke-others', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const revoked = await sessions.revokeOtherSessions(me.user.id, me.session.id);
        // Finding 6: "log out everywhere else" also ends API clients: refresh families and the
        // access tokens already out.
        const grants = await revokeTokens(me.user.id);
        event(request, 'session.revoke-others', { userId: me.user.id, revoked, grants });
        return { revoked: revoked + grants };
      });

      api.get('/notes', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        return { notes: options.notes.list(me.user.id) };
      });

      /** 409 with the server's copy: the client shows the conflict instead of losing either side. */
      const conflict = (reply: FastifyReply, current: unknown) =>
        reply
          .code(409)
          .header('cache-control', 'no-store')
          .send({ error: { code: 'CONFLICT', message: 'The note was changed elsewhere.' }, current });

      api.put('/notes/:id', { preHandler: auth.requireSession, bodyLimit: 64 * 1024 }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const params = parse(schemas.noteId, request.params, reply);
        const body = params && parse(schemas.note, request.body, reply);
        if (!params || !body) return reply;
        const { baseVersion, ...input } = body;
        const result = options.notes.put(me.user.id, params.id, input, baseVersion);
        return result.ok ? { note: result.note } : conflict(reply, result.current);
      });

      api.delete('/notes/:id', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const params = parse(schemas.noteId, request.params, reply);
        const query = params && parse(schemas.noteDelete, request.query, reply);
        if (!params || !query) return reply;
        const result = options.notes.remove(me.user.id, params.id, query.baseVersion);
        return result.ok ? { ok: true } : conflict(reply, result.current);
      });

      api.post('/account/password', { preHandler: auth.requireFreshSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const body = parse(schemas.changePassword, request.body, reply);
        if (!body) return reply;
        // P2: the current password is needed even in a fresh session (a walk-up attacker).
        // P4: through the same attempt rule as login (finding 2: it was an unthrottled oracle).
        if (!(await accountPassword(request, reply, me.user, body.currentPassword))) return reply;
        const problem = policy.check(body.newPassword, [me.user.username]);
        if (problem) return sendError(reply, problem);
        await users.setPassword(me.user.id, body.newPassword);
        // R3: every other session ends; this one gets a new id (a privilege change, F1).
        const revokedSessions = await sessions.revokeOtherSessions(me.user.id, me.session.id);
        await revokeTokens(me.user.id);
        await auth.reauthenticate(request, reply);
        event(request, 'password.change', { userId: me.user.id, revokedSessions });
        return { revokedSessions };
      });

      api.get('/account/api-key', { preHandler: auth.requireSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const key = users.apiKey(me.user.id) ?? '';
        // F3: the whole key only when asked for (?reveal=1) by a fresh session; otherwise enough
        // to recognise it.
        const reveal = (request.query as { reveal?: string }).reveal === '1';
        if (!reveal || !sessions.isFresh(me.session)) return { apiKey: maskApiKey(key), masked: true };
        event(request, 'api-key.reveal', { userId: me.user.id });
        return { apiKey: key, masked: false };
      });

      api.post('/account/api-key/rotate', { preHandler: auth.requireFreshSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const apiKey = users.rotateApiKey(me.user.id);
        event(request, 'api-key.rotate', { userId: me.user.id });
        return { apiKey, masked: false };
      });

      api.post('/account/disable', { preHandler: auth.requireFreshSession }, async (request, reply) => {
        const me = await current(request, reply);
        if (!me) return reply;
        const body = parse(schemas.reauthenticate, request.body, reply);
        if (!body) return reply;
        // Destructive and final: the password again, through the attempt rule.
        if (!(await accountPassword(request, reply, me.user, body.password))) return reply;
        users.disable(me.user.id);
        // R2: a disabled account has no live session anywhere, caches included.
        const revoked = await sessions.revokeUserSessions(me.user.id);
        await revokeTokens(me.user.id);
        await auth.logout(request, reply);
        event(request, 'account.disable', { userId: me.user.id, revoked });
        return { ok: true };
      });

      await api.register(async (reports) => {
        // Only this route parses the report content types; everywhere else they are a 415.
        reports.addContentTypeParser(
          ['application/csp-report', 'application/reports+json'],
          { parseAs: 'string', bodyLimit: 16 * 1024 },
          (_request, body, done) => {
            try {
              done(null, JSON.parse(body as string));
            } catch {
              done(null, null);
            }
          },
        );
        reports.post('/csp-report', async (request, reply) => {
          for (const violation of parseCspReport(request.body))
            request.log.warn({ event: 'csp.violation', ...violation }, 'csp violation');
          return reply.code(204).send();
        });
      });
    },
    { prefix: '/api' },
  );
  if (options.tokens && options.downstreamUrl) await registerBff(app, options, auth, minted);
  return app;
}

type MintedTokens = Map<string, { token: string; expiresAt: number; userId: string }>;
type PasswordAttempt = <T>(
  request: FastifyRequest,
  reply: FastifyReply,
  username: string,
  check: () => Promise<T | false>,
  browser?: boolean,
) => Promise<T | undefined>;

const tokenBody = z.discriminatedUnion('grant_type', [
  z.strictObject({
    grant_type: z.literal('password'),
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(4096),
  }),
  z.strictObject({ grant_type: z.literal('refresh_token'), refresh_token: z.string().min(1).max(200) }),
]);

/**
 * The token endpoint and the JWKS, for non-browser clients (a CLI, a mobile app, a service). The
 * endpoint takes credentials in the body, not a cookie, so there is no ambient authority for a
 * CSRF to ride: it is exempt from the guard. Browsers never call it; the web app uses the session.
 */
function registerTokenRoutes(app: FastifyInstance, options: AppOptions, passwordAttempt: PasswordAttempt): void {
  const tokens = options.tokens as NonNullable<AppOptions['tokens']>;
  const { users } = options;
  app.get('/.well-known/jwks.json', async (_request, reply) =>
    // Cached 5 min: a new key must be published (as the second key) that long before it signs.
    reply.header('cache-control', 'public, max-age=300').send(await tokens.access.jwks()),
  );
  app.post('/oauth/token', async (request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const body = parse(tokenBody, request.body, reply);
    if (!body) return reply;
    let userId: string;
    let refreshToken: string;
    if (body.grant_type === 'password') {
      let reason = '';
      const user = await passwordAttempt(
        request,
        reply,
        body.username,
        async () => {
          const outcome = await users.authenticate(body.username, body.password);
          if (outcome.ok) return outcome.user;
          reason = outcome.reason;
          return false;
        },
        false, // a token client: no device cookie
      );
      if (!user) {
        if (reason) request.log.info({ event: 'token.password.failure', reason, ip: request.ip }, 'token');
        return reply;
      }
      userId = user.id;
      refreshToken = (await tokens.refresh.issue(userId)).token;
    } else {
      const result = await tokens.refresh.rotate(body.refresh_token);
      if (!result.ok) {
        request.log.info({ event: 'token.refresh.failure', reason: result.reason, ip: request.ip }, 'token');
        return sendError(reply, 'INVALID_GRANT');
      }
      if (!users.byId(result.userId)) {
        await tokens.refresh.revokeFamily(result.familyId); // the account is gone or disabled
        return sendError(reply, 'INVALID_GRANT');
      }
      userId = result.userId;
      refreshToken = result.token;
    }
    const access = await tokens.access.issue(userId);
    request.log.info({ event: `token.${body.grant_type}`, userId, jti: access.jti, ip: request.ip }, 'token');
    return {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: Math.round((access.expiresAt - Date.now()) / 1000),
      refresh_token: refreshToken,
    };
  });
}

interface Upstream {
  status: number;
  type: string;
  body: Buffer;
}

const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 64 });

/**
 * One call to the downstream over node:http with kept-alive connections: several times cheaper
 * per request than fetch. Only the status, content type and body are kept.
 */
function forward(url: string, init: { method: string; token: string; body: string | undefined }): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: init.method,
        agent: keepAlive,
        timeout: 5000,
        headers: {
          authorization: `Bearer ${init.token}`,
          accept: 'application/json',
          ...(init.body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(init.body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > 1 << 20) req.destroy(new Error('downstream answer over 1 MiB'));
          else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 502,
            type: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      const error = new Error('downstream timeout');
      error.name = 'TimeoutError';
      req.destroy(error);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * The backend-for-frontend: `/bff/api/<path>` forwards the browser's request to the one
 * configured downstream API as `<downstream>/api/<path>`, with `Authorization: Bearer <JWT>`
 * minted from the session (one per session, reused until a minute before it expires). The
 * browser sends only its cookie and receives only the downstream's status, content type and
 * body: no token, no cookie, no downstream header ever reaches it (J6).
 */
async function registerBff(
  app: FastifyInstance,
  options: AppOptions,
  auth: ReturnType<typeof createFastifySessions>,
  minted: MintedTokens,
) {
  const tokens = options.tokens as NonNullable<AppOptions['tokens']>;
  const downstream = new URL(options.downstreamUrl as string).origin;
  const tokenFor = async (session: Session) => {
    const cached = minted.get(session.id);
    if (cached && cached.expiresAt - Date.now() > 60_000) return cached.token;
    const { token, expiresAt } = await tokens.access.issue(session.userId);
    if (minted.size > 10_000) minted.clear(); // bounded: worst case, tokens are minted again
    minted.set(session.id, { token, expiresAt, userId: session.userId });
    return token;
  };
  await app.register(
    async (bff) => {
      bff.addHook('onRequest', auth.onRequest);
      bff.all('/api/*', { preHandler: auth.requireSession }, async (request, reply) => {
        const session = getSession(request) as Session;
        const path = (request.params as { '*': string })['*'];
        // Only plain paths under /api on the allowlisted origin: no "..", no scheme, no host.
        if (!/^[A-Za-z0-9_\-/]{1,200}$/.test(path) || path.includes('//') || path.includes('..'))
          return sendError(reply, 'NOT_FOUND');
        const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
        const hasBody = request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD';
        let upstream: Upstream;
        try {
          upstream = await forward(`${downstream}/api/${path}${query}`, {
            method: request.method,
            token: await tokenFor(session),
            body: hasBody ? JSON.stringify(request.body) : undefined,
          });
        } catch (error) {
          const code = (error as Error).name === 'TimeoutError' ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY';
          request.log.warn({ event: 'bff.failure', code }, 'bff');
          return sendError(reply, code);
        }
        // A redirect would send the browser (or us, with the token) elsewhere: refuse it.
        if (upstream.status >= 300 && upstream.status < 400) return sendError(reply, 'BAD_GATEWAY');
        return reply
          .code(upstream.status)
          .header('cache-control', 'no-store')
          .type(upstream.type.startsWith('application/json') ? upstream.type : 'application/octet-stream')
          .send(upstream.body);
      });
    },
    { prefix: '/bff' },
  );
}

/** A random password for the seeded demo account when none is given. */
export const generatedPassword = (): string => randomBytes(12).toString('base64url');
