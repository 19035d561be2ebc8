// latchkey on Hono 4 (@hono/node-server): the same app as examples/express. Run: node --env-file=.env --import tsx hono/server.ts
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { createSessionManager } from 'latchkey';
import * as lk from 'latchkey/hono';
import { createServerLimits } from 'latchkey/http';
import { createPasswordLogin } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { findUser, findUserById, publicUser } from '../shared/users.js';

const sessions = createSessionManager({
  store: createSqliteStore(new Database(process.env.DB_FILE ?? 'sessions.db')),
  keys: [process.env.SESSION_KEY], // unset → a start-up error that says how to make one
});
const auth = lk.createHonoSessions(sessions);
const login = createPasswordLogin({ findUser });
const port = Number(process.env.PORT ?? 3000);
const origin = process.env.ORIGIN ?? `http://localhost:${port}`; // exactly what the address bar shows

const app = new Hono<lk.SessionEnv>();
app.onError(lk.errorHandler).notFound(lk.notFound);
app.use(lk.createHonoHardening({ csrf: { origins: [origin] }, jsonOnly: true, noStore: ['/api'] }));
app.use('/api/*', auth.middleware);

app.post('/api/login', async (c) => {
  const ip = getConnInfo(c).remote.address ?? ''; // behind a proxy: the address it vouches for
  const result = await login.check(await c.req.json(), ip);
  if (!result.ok) return lk.sendError(c, result.error, result.headers);
  await auth.login(c, result.user.id); // a new session id; any old one is revoked
  return c.json({ user: publicUser(result.user) });
});
app.post('/api/logout', async (c) => c.json({ loggedOut: await auth.logout(c) }));
app.get('/api/me', auth.requireSession, async (c) => {
  const user = await findUserById(lk.getSession(c)?.userId ?? '');
  return user ? c.json({ user: publicUser(user) }) : lk.sendError(c, 'SESSION_REQUIRED');
});

const limits = createServerLimits(); // request, header and keep-alive deadlines; a connection cap
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1', serverOptions: limits.serverOptions });
limits.apply(server);
server.on('clientError', lk.handleClientError);
console.log(`listening on ${origin}`);
