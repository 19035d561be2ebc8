/**
 * One benchmark server, configured by its environment, so every case runs the same way:
 *   FRAMEWORK = node | express | fastify | hono (on @hono/node-server)
 *   MECH      = latchkey | express-session-memory | express-session-sqlite(-published) | express-session-redis
 *             | jsonwebtoken-string | jsonwebtoken-keyobject | jose | iron-session
 *             | better-auth | better-auth-cookie-cache
 *             | sqlite-read (node only: the SQLite store's SELECT alone, a ceiling; STORE=sqlite)
 *             | memory-read (node only: one Map look-up and Cache-Control: no-store, the floor of any check)
 *   (latchkey's store: STORE, EXCLUSIVE, CACHE, SQLITE_FILE, MAX_STALENESS_MS — see lib/backends.ts;
 *   TOUCH_INTERVAL: the manager's touchInterval in seconds, its default unless set)
 * Routes: GET /bare (no auth work), GET /auth (the mechanism's check), POST /login (issues a
 * session: a cookie, or `{token}` for the bearer mechanisms). Usage: app.ts <port>
 * Both GET routes build the same body, `{"userId":"bench-user"}`, per request: the bare route does
 * the route's own work (a JSON answer naming the user), so the difference between the two is the
 * mechanism's check alone. Up to the run of 2026-12-01, 20:24, the bare route sent a constant, and about 1 µs of
 * JSON.stringify per request counted against every mechanism.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import createPublishedStore from 'better-sqlite3-session-store';
import RedisStore from 'connect-redis';
import express from 'express';
import session from 'express-session';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { getIronSession } from 'iron-session';
import { jwtVerify, SignJWT } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { createSessionManager } from 'latchkey';
import { createExpressSessions, getSession as getExpressSession } from 'latchkey/express';
import { createFastifySessions, getSession as getFastifySession } from 'latchkey/fastify';
import { createHonoSessions, getSession as getHonoSession, type SessionEnv } from 'latchkey/hono';
import { createNodeSessions } from 'latchkey/node';
import { createSqliteStore } from 'latchkey/sqlite';
import { createSqliteSessionStore } from '../anchors/express-session-sqlite.js';
import { BENCH_KEY, openFromEnv, REDIS_URL } from '../lib/backends.js';

export const JWT_SECRET = 'a-bench-secret-of-thirty-two-bytes!!';
const port = Number(process.argv[2]);
const { FRAMEWORK: framework = 'node', MECH: mech = 'latchkey' } = process.env;
const ok = JSON.stringify({ ok: true });
/** What an authenticated route answers, built per request as every /auth route builds it. */
const bareBody = () => JSON.stringify({ userId: 'bench-user' });
const ready = () => process.send?.('ready');

async function latchkey() {
  const { store } = await openFromEnv(process.env);
  const touch = process.env.TOUCH_INTERVAL;
  return createSessionManager({
    store,
    keys: [BENCH_KEY],
    sweepInterval: 0,
    touchInterval: touch === undefined ? undefined : Number(touch),
  });
}

/** better-sqlite3-session-store, the published better-sqlite3 store for express-session, in WAL mode. */
function publishedSqliteStore(at: number): session.Store {
  const db = new Database(join(tmpdir(), `express-session-published-${at}.db`));
  db.pragma('journal_mode = WAL');
  const SqliteStore = createPublishedStore(session) as new (options: { client: Database.Database }) => session.Store;
  return new SqliteStore({ client: db });
}

if (framework === 'express') {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/bare', (_req, res) => {
    res.type('json').send(bareBody());
  });
  if (mech === 'latchkey') {
    const auth = createExpressSessions(await latchkey());
    app.use(auth.middleware);
    app.post('/login', async (req, res) => {
      await auth.login(req, res, 'bench-user');
      res.type('json').send(ok);
    });
    app.get('/auth', auth.requireSession, (req, res) => {
      res.type('json').send(JSON.stringify({ userId: getExpressSession(req)?.userId }));
    });
  } else {
    const store =
      mech === 'express-session-sqlite'
        ? createSqliteSessionStore(new Database(join(tmpdir(), `express-session-${port}.db`)))
        : mech === 'express-session-sqlite-published'
          ? publishedSqliteStore(port)
          : mech === 'express-session-redis'
            ? new RedisStore({ client: new Redis(REDIS_URL), prefix: `lkbench-es:${port}:` })
            : new session.MemoryStore();
    // The settings that write least: no resave, no empty sessions.
    app.use(
      session({ secret: JWT_SECRET, store, resave: false, saveUninitialized: false, cookie: { maxAge: 1_800_000 } }),
    );
    app.post('/login', (req, res) => {
      (req.session as unknown as { userId: string }).userId = 'bench-user';
      res.type('json').send(ok);
    });
    app.get('/auth', (req, res) => {
      const userId = (req.session as unknown as { userId?: string }).userId;
      if (!userId) res.status(401).end();
      else res.type('json').send(JSON.stringify({ userId }));
    });
  }
  app.listen(port, '127.0.0.1', ready);
} else if (framework === 'fastify') {
  const app = Fastify();
  app.get('/bare', async (_request, reply) => reply.type('application/json').send(bareBody()));
  const auth = createFastifySessions(await latchkey());
  await app.register(async (scope) => {
    scope.addHook('onRequest', auth.onRequest);
    scope.post('/login', async (request, reply) => {
      await auth.login(request, reply, 'bench-user');
      return reply.type('application/json').send(ok);
    });
    scope.get('/auth', { preHandler: auth.requireSession }, async (request, reply) =>
      reply.type('application/json').send(JSON.stringify({ userId: getFastifySession(request)?.userId })),
    );
  });
  await app.listen({ port, host: '127.0.0.1' });
  ready();
} else if (framework === 'hono') {
  const app = new Hono<SessionEnv>();
  app.get('/bare', (c) => c.body(bareBody(), 200, { 'content-type': 'application/json' }));
  const auth = createHonoSessions(await latchkey());
  // The session middleware on the routes that use it, as the adapter's example does for /api/*.
  app.use('/login', auth.middleware);
  app.use('/auth', auth.middleware);
  app.post('/login', async (c) => {
    await auth.login(c, 'bench-user');
    return c.body(ok, 200, { 'content-type': 'application/json' });
  });
  app.get('/auth', auth.requireSession, (c) =>
    c.body(JSON.stringify({ userId: getHonoSession(c)?.userId }), 200, { 'content-type': 'application/json' }),
  );
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, ready);
} else {
  type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<string | null>;
  /** The user the request's credential names, or `null`: the handler awaits it once. */
  let check: (req: IncomingMessage, res: ServerResponse) => Promise<{ userId: string } | null>;
  let login: Handler;
  const bearer = (req: IncomingMessage) => req.headers.authorization?.slice(7) ?? '';
  if (mech === 'latchkey') {
    const auth = createNodeSessions(await latchkey());
    // latchkey's own promise, awaited once in the handler as the README's node:http example does.
    check = (req, res) => auth.authenticate(req, res);
    login = async (req, res) => (await auth.login(req, res, 'bench-user')).userId;
  } else if (mech === 'sqlite-read') {
    // Not a mechanism: the store's read alone, as a ceiling for latchkey without the cache. The
    // session row the cookie names, by the store's own SELECT on the same file (exclusive), with
    // no MAC, no expiry check and no slide; the answer carries the Cache-Control latchkey's does.
    const db = new Database(process.env.SQLITE_FILE as string);
    const sessions = createSessionManager({
      store: createSqliteStore(db, { exclusive: true }),
      keys: [BENCH_KEY],
      sweepInterval: 0,
    });
    const read = db
      .prepare(`SELECT secret_hash, user_id, created_at, last_seen_at, expires_at, absolute_expires_at,
         authenticated_at, user_agent, ip, data, remembered, binding FROM latchkey_sessions WHERE id = ?`)
      .raw();
    const NAME = '__Host-session=';
    check = async (req, res) => {
      const cookie = req.headers.cookie ?? '';
      const at = cookie.indexOf(NAME) + NAME.length;
      const row = at < NAME.length ? undefined : (read.get(cookie.slice(at, at + 22)) as unknown[] | undefined);
      res.setHeader('cache-control', 'no-store');
      return row === undefined ? null : { userId: row[1] as string };
    };
    login = async (_req, res) => {
      const { token } = await sessions.createSession('bench-user');
      res.setHeader('set-cookie', `${NAME}${token}; Path=/; Secure; HttpOnly; SameSite=Strict`);
      return 'bench-user';
    };
  } else if (mech === 'memory-read') {
    // Not a mechanism: the least any server-side session check can do, as a ceiling for latchkey
    // with the cache. The cookie's value looked up in a Map, and the Cache-Control: no-store that an
    // answer carrying account data must have (C7). No MAC, no expiry, no revocation, no copy.
    const held = new Map<string, { userId: string }>();
    const NAME = '__Host-session=';
    check = async (req, res) => {
      const cookie = req.headers.cookie ?? '';
      const at = cookie.indexOf(NAME);
      const found = at < 0 ? undefined : held.get(cookie.slice(at + NAME.length));
      res.setHeader('cache-control', 'no-store');
      return found ?? null;
    };
    login = async (_req, res) => {
      const token = randomBytes(66).toString('base64url'); // 88 characters, about a latchkey token's length
      held.set(token, { userId: 'bench-user' });
      res.setHeader('set-cookie', `${NAME}${token}; Path=/; Secure; HttpOnly; SameSite=Strict`);
      return 'bench-user';
    };
  } else if (mech === 'jsonwebtoken-string' || mech === 'jsonwebtoken-keyobject') {
    // The article's pattern: jwt.verify on a Bearer header; with the secret as a string, or as
    // a KeyObject built once.
    const key = mech === 'jsonwebtoken-string' ? JWT_SECRET : createSecretKey(Buffer.from(JWT_SECRET));
    check = async (req) => {
      try {
        const claims = jsonwebtoken.verify(bearer(req), key, { algorithms: ['HS256'] }) as { username: string };
        return { userId: claims.username };
      } catch {
        return null;
      }
    };
    login = async () =>
      jsonwebtoken.sign({ username: 'bench-user', id: 1, employerType: 'x' }, JWT_SECRET, { expiresIn: '15m' });
  } else if (mech === 'jose') {
    const key = new TextEncoder().encode(JWT_SECRET);
    check = async (req) => {
      try {
        return { userId: (await jwtVerify(bearer(req), key, { algorithms: ['HS256'] })).payload.username as string };
      } catch {
        return null;
      }
    };
    login = async () =>
      new SignJWT({ username: 'bench-user' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('15m').sign(key);
  } else if (mech === 'better-auth' || mech === 'better-auth-cookie-cache') {
    // better-auth on the same better-sqlite3 (WAL), email and password, its own tables migrated.
    const { betterAuth } = await import('better-auth');
    const { getMigrations } = await import('better-auth/db/migration');
    const db = new Database(join(tmpdir(), `better-auth-${port}.db`));
    db.pragma('journal_mode = WAL');
    const origin = `http://127.0.0.1:${port}`;
    const options = {
      database: db,
      secret: JWT_SECRET,
      baseURL: origin,
      emailAndPassword: { enabled: true },
      session: { cookieCache: { enabled: mech === 'better-auth-cookie-cache', maxAge: 300 } },
    };
    const auth = betterAuth(options);
    await (await getMigrations(options)).runMigrations();
    let users = 0;
    login = async (_req, res) => {
      const signUp = await auth.handler(
        new Request(`${origin}/api/auth/sign-up/email`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin },
          body: JSON.stringify({
            email: `bench${users++}@example.com`,
            password: 'a long bench password',
            name: 'Bench',
          }),
        }),
      );
      res.setHeader('set-cookie', signUp.headers.getSetCookie());
      return 'bench-user';
    };
    check = async (req) => {
      const found = await auth.api.getSession({ headers: new Headers({ cookie: req.headers.cookie ?? '' }) });
      return found === null ? null : { userId: found.user.id };
    };
  } else {
    const options = { password: JWT_SECRET, cookieName: 'iron', cookieOptions: { secure: true } };
    check = async (req, res) => {
      const { userId } = await getIronSession<{ userId?: string }>(req, res, options);
      return userId === undefined ? null : { userId };
    };
    login = async (req, res) => {
      const s = await getIronSession<{ userId?: string }>(req, res, options);
      s.userId = 'bench-user';
      await s.save();
      return s.userId;
    };
  }
  createServer(async (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/bare') return res.end(bareBody());
    try {
      if (req.url === '/login') {
        const issued = await login(req, res);
        return res.end(mech.startsWith('j') ? JSON.stringify({ token: issued }) : ok);
      }
      const userId = (await check(req, res))?.userId;
      if (userId === undefined) {
        res.statusCode = 401;
        return res.end();
      }
      res.end(JSON.stringify({ userId }));
    } catch {
      res.statusCode = 503;
      res.end();
    }
  }).listen(port, '127.0.0.1', ready);
}
