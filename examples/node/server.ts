// latchkey on plain node:http: the same app as examples/express. Run: node --env-file=.env --import tsx node/server.ts
import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import { createSessionManager } from 'latchkey';
import { createServerLimits } from 'latchkey/http';
import * as lk from 'latchkey/node';
import { createPasswordLogin } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { findUser, findUserById, publicUser } from '../shared/users.js';

const sessions = createSessionManager({
  store: createSqliteStore(new Database(process.env.DB_FILE ?? 'sessions.db')),
  keys: [process.env.SESSION_KEY], // unset → a start-up error that says how to make one
});
const auth = lk.createNodeSessions(sessions);
const login = createPasswordLogin({ findUser });
const port = Number(process.env.PORT ?? 3000);
const origin = process.env.ORIGIN ?? `http://localhost:${port}`; // exactly what the address bar shows
const hardening = lk.createNodeHardening({ csrf: { origins: [origin] }, jsonOnly: true, noStore: ['/api'] });
const json = (res: import('node:http').ServerResponse, body: unknown) =>
  res.setHeader('content-type', 'application/json; charset=utf-8').end(JSON.stringify(body));

const limits = createServerLimits(); // request, header and keep-alive deadlines; a connection cap
const server = createServer(limits.serverOptions, async (req, res) => {
  try {
    if (await hardening(req, res)) return; // refused (CSRF, 415…) or a CSP report: answered
    await auth.authenticate(req, res);
    const route = `${req.method} ${req.url?.split('?')[0]}`;
    if (route === 'POST /api/login') {
      const result = await login.check(await lk.readJson(req), req.socket.remoteAddress ?? '');
      if (!result.ok) return lk.sendError(res, result.error, result.headers);
      await auth.login(req, res, result.user.id); // a new session id; any old one is revoked
      return json(res, { user: publicUser(result.user) });
    }
    if (route === 'POST /api/logout') return json(res, { loggedOut: await auth.logout(req, res) });
    if (route === 'GET /api/me') {
      const user = auth.requireSession(req, res) && (await findUserById(lk.getSession(req)?.userId ?? ''));
      return user ? json(res, { user: publicUser(user) }) : res.writableEnded || lk.sendError(res, 'SESSION_REQUIRED');
    }
    lk.notFound(res);
  } catch (error) {
    lk.errorHandler(error, res); // bad JSON 400, store down 503, anything else 500: never a stack trace
  }
});
limits.apply(server.on('clientError', lk.handleClientError));
server.listen(port, '127.0.0.1', () => console.log(`listening on ${origin}`));
