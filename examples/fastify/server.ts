// latchkey on Fastify 5: the same app as examples/express. Run: node --env-file=.env --import tsx fastify/server.ts
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { createSessionManager } from 'latchkey';
import * as lk from 'latchkey/fastify';
import { createServerLimits } from 'latchkey/http';
import { createPasswordLogin } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { findUser, findUserById, publicUser } from '../shared/users.js';

const sessions = createSessionManager({
  store: createSqliteStore(new Database(process.env.DB_FILE ?? 'sessions.db')),
  keys: [process.env.SESSION_KEY], // unset → a start-up error that says how to make one
});
const auth = lk.createFastifySessions(sessions);
const login = createPasswordLogin({ findUser });
const port = Number(process.env.PORT ?? 3000);
const origin = process.env.ORIGIN ?? `http://localhost:${port}`; // exactly what the address bar shows
const hardening = lk.createFastifyHardening({ csrf: { origins: [origin] }, jsonOnly: true, noStore: ['/api'] });

const limits = createServerLimits(); // request, header and keep-alive deadlines; a connection cap
const app = Fastify({
  http: limits.serverOptions,
  clientErrorHandler: lk.handleClientError,
  frameworkErrors: hardening.frameworkErrors,
});
limits.apply(app.server);
app.addHook('onRequest', hardening).addHook('onRequest', auth.onRequest);
app.setNotFoundHandler(lk.notFound).setErrorHandler(lk.errorHandler);

app.post('/api/login', async (request, reply) => {
  const result = await login.check(request.body, request.ip);
  if (!result.ok) return lk.sendError(reply, result.error, result.headers);
  await auth.login(request, reply, result.user.id); // a new session id; any old one is revoked
  return { user: publicUser(result.user) };
});
app.post('/api/logout', async (request, reply) => ({ loggedOut: await auth.logout(request, reply) }));
app.get('/api/me', { preHandler: auth.requireSession }, async (request, reply) => {
  const user = await findUserById(lk.getSession(request)?.userId ?? '');
  return user ? { user: publicUser(user) } : lk.sendError(reply, 'SESSION_REQUIRED');
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`listening on ${origin}`);
