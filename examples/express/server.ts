// latchkey on Express 5: a password login with the throttle, logout, a protected route, the
// security headers, the CSRF guard and coded JSON errors. Run: node --env-file=.env --import tsx express/server.ts
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import express from 'express';
import { createSessionManager } from 'latchkey';
import * as lk from 'latchkey/express';
import { createServerLimits } from 'latchkey/http';
import { createPasswordLogin } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { findUser, findUserById, publicUser } from '../shared/users.js';

const sessions = createSessionManager({
  store: createSqliteStore(new Database(process.env.DB_FILE ?? 'sessions.db')),
  keys: [process.env.SESSION_KEY], // unset → a start-up error that says how to make one
});
const auth = lk.createExpressSessions(sessions);
const login = createPasswordLogin({ findUser });
const port = Number(process.env.PORT ?? 3000);
const origin = process.env.ORIGIN ?? `http://localhost:${port}`; // exactly what the address bar shows

const app = express().disable('x-powered-by');
app.use(lk.createExpressHardening({ csrf: { origins: [origin] }, jsonOnly: true, noStore: ['/api'] }));
app.use(express.static(fileURLToPath(new URL('../web/dist', import.meta.url)))); // the front end
app.use(express.json(), auth.middleware);

app.post('/api/login', async (req, res) => {
  const result = await login.check(req.body, req.ip ?? '');
  if (!result.ok) return lk.sendError(res, result.error, result.headers);
  await auth.login(req, res, result.user.id); // a new session id; any old one is revoked
  res.json({ user: publicUser(result.user) });
});
app.post('/api/logout', async (req, res) => {
  res.json({ loggedOut: await auth.logout(req, res) }); // + Clear-Site-Data
});
app.get('/api/me', auth.requireSession, async (req, res) => {
  const user = await findUserById(lk.getSession(req)?.userId ?? '');
  if (!user) return lk.sendError(res, 'SESSION_REQUIRED');
  res.json({ user: publicUser(user) });
});
app.use(lk.notFound, lk.errorHandler);

const limits = createServerLimits(); // request, header and keep-alive deadlines; a connection cap
const server = createServer(limits.serverOptions, app).on('clientError', lk.handleClientError);
limits.apply(server);
server.listen(port, '127.0.0.1', () => console.log(`listening on ${origin}`));
