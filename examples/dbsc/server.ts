// Device-bound sessions added to the Express example: in a browser that does DBSC, each login binds
// the session to a key the browser cannot export, and a copied cookie jar stops working once its
// 10-minute bound cookie lapses. Browsers run it over HTTPS only; other browsers are unchanged.
// Run: node --env-file=.env --import tsx dbsc/server.ts
import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import express from 'express';
import { createSessionManager } from 'latchkey';
import { createDeviceBinding } from 'latchkey/dbsc';
import * as lk from 'latchkey/express';
import { createServerLimits } from 'latchkey/http';
import { createPasswordLogin } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { findUser, findUserById, publicUser } from '../shared/users.js';

const sessions = createSessionManager({
  store: createSqliteStore(new Database(process.env.DB_FILE ?? 'sessions.db')),
  keys: [process.env.SESSION_KEY],
});
// The two paths the browser calls; the session middleware below sees them and answers them.
const deviceBinding = createDeviceBinding(sessions, {
  registerPath: '/api/device/register',
  refreshPath: '/api/device/refresh',
});
const auth = lk.createExpressSessions(sessions, { deviceBinding });
const login = createPasswordLogin({ findUser });
const port = Number(process.env.PORT ?? 3000);
const origin = process.env.ORIGIN ?? `http://localhost:${port}`;

const app = express().disable('x-powered-by');
app.use(lk.createExpressHardening({ csrf: { origins: [origin] }, jsonOnly: true, noStore: ['/api'] }));
app.use(express.json(), auth.middleware);

app.post('/api/login', async (req, res) => {
  const result = await login.check(req.body, req.ip ?? '');
  if (!result.ok) return lk.sendError(res, result.error, result.headers);
  await auth.login(req, res, result.user.id); // + Secure-Session-Registration: the browser may bind a key
  res.json({ user: publicUser(result.user) });
});
app.post('/api/logout', async (req, res) => {
  res.json({ loggedOut: await auth.logout(req, res) }); // ends the session and its binding
});
// A bound session counts here only with its bound cookie: a thief's copy of the session cookie gets 401.
app.get('/api/me', auth.requireSession, async (req, res) => {
  const session = lk.getSession(req);
  const user = await findUserById(session?.userId ?? '');
  if (!session || !user) return lk.sendError(res, 'SESSION_REQUIRED');
  res.json({ user: publicUser(user), deviceBound: session.binding != null });
});
app.use(lk.notFound, lk.errorHandler);

const limits = createServerLimits();
const server = createServer(limits.serverOptions, app).on('clientError', lk.handleClientError);
limits.apply(server);
server.listen(port, '127.0.0.1', () => console.log(`listening on ${origin}`));
