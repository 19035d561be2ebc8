/**
 * Attacks on "one Set-Cookie per cookie name" (commit 029d90b, `addSetCookie`) over real sockets,
 * on the four adapters. Each app sets the cookies the request body lists, the framework's own way,
 * before it calls login / logout / reauthenticate; the client is fetch with `getSetCookie()`.
 *
 * Routes on every app (after the session middleware):
 *   POST /login {cookies?}          → app cookies, then login('olga')        → {userId}
 *   POST /logout {cookies?}         → app cookies, then logout               → {revoked}
 *   POST /reauthenticate {cookies?} → app cookies, then reauthenticate       → {reauthenticated}
 *   GET  /me                        → requireSession                         → {userId, sessionId}
 *   POST /fresh                     → requireFreshSession                    → {ok}
 * Fastify also: POST /login-array (one reply.header('set-cookie', [...]) call), POST /login-raw-header
 * (reply.raw.setHeader). Hono also: POST /login-raw and /login-raw-own (a raw `new Response`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager, type SessionManager } from '../sessions/manager.js';
import { createMemoryStore } from '../stores/memory.js';
import * as ex from './express/index.js';
import * as fa from './fastify/index.js';
import * as ho from './hono/index.js';
import * as no from './node/index.js';

interface Running {
  base: string;
  close(): Promise<void>;
}
interface Body {
  cookies?: string[];
  rawCookie?: string;
}

const SESSION = '__Host-session=';
const LIVE =
  /^__Host-session=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Strict$/;
const EXPIRED =
  /^__Host-session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict$/;
const CLEAR_SITE_DATA = '"cache", "cookies", "storage"';
const MALFORMED = '__Host-session=forged.value.here';

/** Cookies whose names start with ours, or contain it, or an Expires with a comma: none is ours. */
const LOOKALIKES = [
  '__Host-session2=two; Path=/; Secure',
  '__Host-session-x=x; Path=/; Secure',
  'app=1; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT',
  'x__Host-session=y; Path=/',
  '__host-session=lower; Path=/; Secure',
  'session=plain; Path=/',
];
const PLANTED = '__Host-session=planted; Path=/; Secure; HttpOnly';

const server = (s: Server): Running => ({
  base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
  close: () =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    }),
});
const listen = (s: Server) => new Promise<Running>((resolve) => s.listen(0, '127.0.0.1', () => resolve(server(s))));

async function startNode(manager: SessionManager): Promise<Running> {
  const auth = no.createNodeSessions(manager);
  const json = (res: import('node:http').ServerResponse, body: unknown) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
  return listen(
    createServer(async (req, res) => {
      try {
        await auth.authenticate(req, res);
        const route = `${req.method} ${req.url}`;
        const body = (req.method === 'POST' ? await no.readJson(req) : {}) as Body;
        for (const cookie of body.cookies ?? []) res.appendHeader('set-cookie', cookie);
        if (route === 'POST /login') {
          await auth.login(req, res, 'olga');
          return json(res, { userId: 'olga' });
        }
        if (route === 'POST /logout') return json(res, { revoked: await auth.logout(req, res) });
        if (route === 'POST /reauthenticate')
          return json(res, { reauthenticated: (await auth.reauthenticate(req, res)) !== null });
        if (route === 'GET /me') {
          const session = auth.requireSession(req, res);
          return void (session && json(res, { userId: session.userId, sessionId: session.id }));
        }
        if (route === 'POST /fresh') return void (auth.requireFreshSession(req, res) && json(res, { ok: true }));
        no.notFound(res);
      } catch (error) {
        no.errorHandler(error, res);
      }
    }),
  );
}

async function startExpress(manager: SessionManager): Promise<Running> {
  const auth = ex.createExpressSessions(manager);
  const app = express();
  app.use(express.json(), auth.middleware);
  app.use((req, res, next) => {
    for (const cookie of (req.body as Body | undefined)?.cookies ?? []) res.append('Set-Cookie', cookie);
    next();
  });
  app.post('/login', async (req, res) => {
    await auth.login(req, res, 'olga');
    res.json({ userId: 'olga' });
  });
  app.post('/logout', async (req, res) => {
    res.json({ revoked: await auth.logout(req, res) });
  });
  app.post('/reauthenticate', async (req, res) => {
    res.json({ reauthenticated: (await auth.reauthenticate(req, res)) !== null });
  });
  app.get('/me', auth.requireSession, (req, res) => {
    const session = ex.getSession(req);
    res.json({ userId: session?.userId, sessionId: session?.id });
  });
  app.post('/fresh', auth.requireFreshSession, (_req, res) => {
    res.json({ ok: true });
  });
  app.use(ex.notFound, ex.errorHandler);
  return listen(createServer(app));
}

async function startFastify(manager: SessionManager): Promise<Running> {
  const auth = fa.createFastifySessions(manager);
  const app = Fastify();
  app.setErrorHandler(fa.errorHandler).setNotFoundHandler(fa.notFound);
  app.addHook('onRequest', auth.onRequest);
  const cookies = (request: { body: unknown }, reply: import('fastify').FastifyReply) => {
    for (const cookie of (request.body as Body | undefined)?.cookies ?? []) reply.header('set-cookie', cookie);
  };
  app.post('/login', async (request, reply) => {
    cookies(request, reply);
    await auth.login(request, reply, 'olga');
    return { userId: 'olga' };
  });
  // Attack 6: the app's cookies in one array, as Fastify's docs show.
  app.post('/login-array', async (request, reply) => {
    reply.header('set-cookie', (request.body as Body).cookies ?? []);
    await auth.login(request, reply, 'olga');
    return { userId: 'olga' };
  });
  // Beside the brief: the app's cookies on the Node response underneath Fastify's reply.
  app.post('/login-raw-header', async (request, reply) => {
    reply.raw.setHeader('set-cookie', (request.body as Body).cookies ?? []);
    await auth.login(request, reply, 'olga');
    return { userId: 'olga' };
  });
  app.post('/logout', async (request, reply) => {
    cookies(request, reply);
    return { revoked: await auth.logout(request, reply) };
  });
  app.post('/reauthenticate', async (request, reply) => {
    cookies(request, reply);
    return { reauthenticated: (await auth.reauthenticate(request, reply)) !== null };
  });
  app.get('/me', { preHandler: auth.requireSession }, async (request) => {
    const session = fa.getSession(request);
    return { userId: session?.userId, sessionId: session?.id };
  });
  app.post('/fresh', { preHandler: auth.requireFreshSession }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

async function startHono(manager: SessionManager): Promise<Running> {
  const auth = ho.createHonoSessions(manager);
  const app = new Hono<ho.SessionEnv>();
  app.onError(ho.errorHandler).notFound(ho.notFound);
  app.use(auth.middleware);
  const body = async (c: import('hono').Context<ho.SessionEnv>) => {
    const parsed = await c.req.json<Body>();
    for (const cookie of parsed.cookies ?? []) c.header('set-cookie', cookie, { append: true });
    return parsed;
  };
  app.post('/login', async (c) => {
    await body(c);
    await auth.login(c, 'olga');
    return c.json({ userId: 'olga' });
  });
  // Attack 5: a handler that answers with its own Response rather than c.json.
  app.post('/login-raw', async (c) => {
    await body(c);
    await auth.login(c, 'olga');
    return new Response(JSON.stringify({ userId: 'olga' }), { headers: { 'content-type': 'application/json' } });
  });
  app.post('/login-raw-own', async (c) => {
    const { rawCookie } = await body(c);
    await auth.login(c, 'olga');
    const headers = new Headers({ 'content-type': 'application/json' });
    if (rawCookie !== undefined) headers.append('set-cookie', rawCookie);
    return new Response(JSON.stringify({ userId: 'olga' }), { headers });
  });
  app.post('/logout', async (c) => {
    await body(c);
    return c.json({ revoked: await auth.logout(c) });
  });
  app.post('/reauthenticate', async (c) => {
    await body(c);
    return c.json({ reauthenticated: (await auth.reauthenticate(c)) !== null });
  });
  app.get('/me', auth.requireSession, (c) => {
    const session = ho.getSession(c);
    return c.json({ userId: session?.userId, sessionId: session?.id });
  });
  app.post('/fresh', auth.requireFreshSession, (c) => c.json({ ok: true }));
  const s = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started));
  });
  return server(s as Server);
}

interface Answer {
  status: number;
  setCookie: string[];
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: the routes' JSON, of several shapes
  json: any;
}

async function call(base: string, path: string, options: { cookie?: string; body?: Body } = {}): Promise<Answer> {
  const post = path !== '/me';
  const headers: Record<string, string> = {};
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  if (post) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method: post ? 'POST' : 'GET',
    headers,
    body: post ? JSON.stringify(options.body ?? {}) : undefined,
  });
  const text = await res.text();
  return {
    status: res.status,
    setCookie: res.headers.getSetCookie(),
    headers: res.headers,
    json: text ? JSON.parse(text) : undefined,
  };
}

const pair = (setCookie: string) => setCookie.split(';')[0] as string;
const ours = (list: string[]) => list.filter((c) => c.startsWith(SESSION));

/** The app's cookies all there, each once and unchanged, and one of ours beside them: nothing else. */
function expectKeptAndOne(list: string[], app: string[], pattern: RegExp): string {
  for (const cookie of app)
    expect(
      list.filter((c) => c === cookie),
      `app cookie ${cookie} in ${JSON.stringify(list)}`,
    ).toHaveLength(1);
  const mine = ours(list);
  expect(mine, `exactly one ${SESSION} in ${JSON.stringify(list)}`).toHaveLength(1);
  expect(mine[0]).toMatch(pattern);
  expect(list).toHaveLength(app.length + 1);
  return mine[0] as string;
}

const ADAPTERS = [
  ['node:http', startNode],
  ['express', startExpress],
  ['fastify', startFastify],
  ['hono', startHono],
] as const;

describe.each(ADAPTERS)('%s: one Set-Cookie for the session cookie, app cookies kept', (_name, start) => {
  const manager = createSessionManager({ store: createMemoryStore(), keys: [generateSigningKey()], sweepInterval: 0 });
  let app: Running;
  beforeAll(async () => {
    app = await start(manager);
  });
  afterAll(() => app.close());

  const me = (cookie: string) => call(app.base, '/me', { cookie });
  const liveCookie = async () => {
    const reply = await call(app.base, '/login');
    expect(reply.status).toBe(200);
    return pair(expectKeptAndOne(reply.setCookie, [], LIVE));
  };
  /** A well-formed cookie of a session that was revoked. */
  const revokedCookie = async () => {
    const cookie = await liveCookie();
    expect((await call(app.base, '/logout', { cookie })).json.revoked).toBe(true);
    expect((await me(cookie)).status).toBe(401);
    return cookie;
  };

  // Attack 1
  it.each([
    ['no session cookie', async () => undefined],
    ['a malformed session cookie', async () => MALFORMED],
    ['a revoked session cookie', revokedCookie],
    ['a live session cookie', liveCookie],
  ])('login over %s: look-alike app cookies survive, one __Host-session, live', async (_what, cookieOf) => {
    const cookie = await cookieOf();
    const reply = await call(app.base, '/login', { cookie, body: { cookies: LOOKALIKES } });
    expect(reply.status).toBe(200);
    const session = pair(expectKeptAndOne(reply.setCookie, LOOKALIKES, LIVE));
    // Ours is the last: a browser that applied them all in order ends with it too.
    expect(reply.setCookie.at(-1)).toMatch(LIVE);
    // What a browser sends back: every look-alike beside ours. The case variant `__host-session`
    // is left out here: latchkey reads it as a second copy of its name (AMBIGUOUS, by design, see
    // createCookieReader), which the next test records.
    const jar = LOOKALIKES.map(pair).filter((c) => !c.startsWith('__host-session='));
    const check = await me(`${jar.join('; ')}; ${session}`);
    expect(check.status).toBe(200);
    expect(check.json.userId).toBe('olga');
    expect((await me(session)).json.userId).toBe('olga');
    if (cookie !== undefined && cookie !== MALFORMED) expect((await me(cookie)).status).toBe(401); // the old one is gone
  });

  it("recorded: a case variant __host-session beside ours reads as no session (401), by the reader's design", async () => {
    const session = await liveCookie();
    expect((await me(session)).status).toBe(200);
    expect((await me(`__host-session=lower; ${session}`)).status).toBe(401);
    expect((await me(`${session}; __Host-session2=two; __Host-session-x=x; x__Host-session=y`)).status).toBe(200);
  });

  // Attack 2
  it.each([
    ['no session cookie', undefined, [PLANTED, 'app=1; Path=/']],
    ['a malformed session cookie', MALFORMED, [PLANTED, 'app=1; Path=/']],
    ['a malformed session cookie, planted last', MALFORMED, ['app=1; Path=/', PLANTED]],
    [
      'a malformed session cookie, planted twice',
      MALFORMED,
      [PLANTED, 'app=1; Path=/', '__Host-session=again; Path=/'],
    ],
  ])('login over %s replaces a __Host-session the app planted', async (_what, cookie, cookies) => {
    const reply = await call(app.base, '/login', { cookie, body: { cookies } });
    expect(reply.status).toBe(200);
    const session = pair(expectKeptAndOne(reply.setCookie, ['app=1; Path=/'], LIVE));
    expect(session).not.toContain('planted');
    expect((await me(session)).json.userId).toBe('olga');
  });

  // Attack 3
  it.each([
    ['a live session cookie', liveCookie, true],
    ['a revoked session cookie', revokedCookie, false],
    ['a malformed session cookie', async () => MALFORMED, false],
  ])('logout with %s: one expiry, app cookies kept, Clear-Site-Data', async (_what, cookieOf, revoked) => {
    const cookie = await cookieOf();
    const reply = await call(app.base, '/logout', { cookie, body: { cookies: [...LOOKALIKES, PLANTED] } });
    expect(reply.status).toBe(200);
    expect(reply.json.revoked).toBe(revoked);
    expectKeptAndOne(reply.setCookie, LOOKALIKES, EXPIRED);
    expect(reply.headers.get('clear-site-data')).toBe(CLEAR_SITE_DATA);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect((await me(cookie)).status).toBe(401);
  });

  // Attack 4
  it.each([
    ['look-alike app cookies', LOOKALIKES, LOOKALIKES],
    ['a planted __Host-session', [PLANTED, 'app=1; Path=/'], ['app=1; Path=/']],
  ])('reauthenticate a live session with %s: one __Host-session, new and fresh', async (_what, cookies, kept) => {
    const old = await liveCookie();
    const reply = await call(app.base, '/reauthenticate', { cookie: old, body: { cookies } });
    expect(reply.status).toBe(200);
    expect(reply.json.reauthenticated).toBe(true);
    const session = pair(expectKeptAndOne(reply.setCookie, kept, LIVE));
    expect(session).not.toBe(old);
    expect((await call(app.base, '/fresh', { cookie: session })).status).toBe(200);
    expect((await me(session)).json.userId).toBe('olga');
    expect((await me(old)).status).toBe(401); // rotated: the old token is dead
  });

  it('reauthenticate without a live session sets no session cookie, only the expiry of a dead one', async () => {
    const none = await call(app.base, '/reauthenticate', { body: { cookies: ['app=1; Path=/'] } });
    expect(none.json.reauthenticated).toBe(false);
    expect(none.setCookie).toEqual(['app=1; Path=/']);
    const dead = await call(app.base, '/reauthenticate', {
      cookie: await revokedCookie(),
      body: { cookies: ['app=1; Path=/'] },
    });
    expect(dead.json.reauthenticated).toBe(false);
    expectKeptAndOne(dead.setCookie, ['app=1; Path=/'], EXPIRED);
  });

  // An app cookie string with a leading space (some helpers build `${a}; ${b}` and trim nothing):
  // the client trims it, so unless addSetCookie trims too it reads as a second __Host-session.
  it('a planted __Host-session with a leading space is replaced too', async () => {
    const reply = await call(app.base, '/login', { cookie: MALFORMED, body: { cookies: [` ${PLANTED}`] } });
    const mine = ours(reply.setCookie);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatch(LIVE);
  });
});

describe('fastify only', () => {
  const manager = createSessionManager({ store: createMemoryStore(), keys: [generateSigningKey()], sweepInterval: 0 });
  let app: Running;
  beforeAll(async () => {
    app = await startFastify(manager);
  });
  afterAll(() => app.close());

  // Attack 6
  it.each([
    ['no session cookie', undefined],
    ['a malformed session cookie', MALFORMED],
  ])(
    "reply.header('set-cookie', [...]) before login, over %s: all kept, one live __Host-session",
    async (_what, cookie) => {
      const cookies = [...LOOKALIKES, PLANTED];
      const reply = await call(app.base, '/login-array', { cookie, body: { cookies } });
      expect(reply.status).toBe(200);
      const session = pair(expectKeptAndOne(reply.setCookie, LOOKALIKES, LIVE));
      expect((await call(app.base, '/me', { cookie: session })).json.userId).toBe('olga');
    },
  );

  it('the array the app passed is not changed by login (Fastify copies it; addSetCookie does not mutate)', async () => {
    const cookies = ['app=1; Path=/'];
    // Twice over the same route: a shared array that grew would show up as a duplicate.
    for (let i = 0; i < 2; i++) {
      const reply = await call(app.base, '/login-array', { cookie: MALFORMED, body: { cookies } });
      expectKeptAndOne(reply.setCookie, cookies, LIVE);
    }
  });

  // Beside the brief: cookies on reply.raw (the Node response). Recorded as observed.
  it('reply.raw.setHeader cookies before login: kept without a dead cookie; lost with one (Fastify writeHead)', async () => {
    const cookies = ['app=1; Path=/'];
    const clean = await call(app.base, '/login-raw-header', { body: { cookies } });
    expectKeptAndOne(clean.setCookie, cookies, LIVE);
    const dead = await call(app.base, '/login-raw-header', { cookie: MALFORMED, body: { cookies } });
    // The hook put the expiry on the reply; reply.getHeader then reads the reply's value only, so
    // the raw one is not seen, and removeHeader drops it from the raw response too.
    expect(dead.setCookie).toEqual([expect.stringMatching(LIVE)]);
  });
});

describe('hono only: a handler that returns a raw Response', () => {
  const manager = createSessionManager({ store: createMemoryStore(), keys: [generateSigningKey()], sweepInterval: 0 });
  let app: Running;
  beforeAll(async () => {
    app = await startHono(manager);
  });
  afterAll(() => app.close());

  // Attack 5
  it.each([
    ['no session cookie', undefined],
    ['a malformed session cookie', MALFORMED],
  ])(
    'over %s: our cookie and the app cookies set with c.header still arrive, one __Host-session',
    async (_what, cookie) => {
      const reply = await call(app.base, '/login-raw', { cookie, body: { cookies: [...LOOKALIKES, PLANTED] } });
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ userId: 'olga' });
      const session = pair(expectKeptAndOne(reply.setCookie, LOOKALIKES, LIVE));
      expect((await call(app.base, '/me', { cookie: session })).json.userId).toBe('olga');
    },
  );

  it("a Set-Cookie on the raw Response itself is dropped: Hono's `set res` replaces it with the context's cookies", async () => {
    const reply = await call(app.base, '/login-raw-own', {
      cookie: MALFORMED,
      body: { cookies: ['app=1; Path=/'], rawCookie: 'raw=1; Path=/' },
    });
    expect(reply.status).toBe(200);
    expect(reply.setCookie.some((c) => c.startsWith('raw='))).toBe(false);
    expectKeptAndOne(reply.setCookie, ['app=1; Path=/'], LIVE);
    // A planted __Host-session on the raw Response is dropped the same way: ours stays, alone.
    const planted = await call(app.base, '/login-raw-own', { cookie: MALFORMED, body: { rawCookie: PLANTED } });
    expectKeptAndOne(planted.setCookie, [], LIVE);
  });
});
