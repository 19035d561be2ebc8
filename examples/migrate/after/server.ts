// The article's app after the migration: the server keeps the session; the browser gets an
// HttpOnly cookie it cannot read, and every answer the security headers.
import Database from 'better-sqlite3';
import express from 'express';
import { createSessionManager } from 'latchkey';
import * as lk from 'latchkey/express';
import { createLoginThrottle } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { checkPassword } from './users.js';

const sessions = createSessionManager({
  store: createSqliteStore(new Database(process.env.DB_FILE ?? 'sessions.db')),
  keys: [process.env.SESSION_KEY], // npx latchkey keygen
});
const auth = lk.createExpressSessions(sessions);
const throttle = createLoginThrottle();
const app = express().disable('x-powered-by');
app.use(
  lk.createExpressHardening({ csrf: { origins: [process.env.ORIGIN ?? 'http://localhost:3000'] }, noStore: ['/api'] }),
);
app.use(express.json());
app.use(express.static(new URL('./web/dist', import.meta.url).pathname));
app.use('/api', auth.middleware);

app.post('/api/auth/login', async (req, res) => {
  const result = await throttle.attempt(String(req.body.username), req.ip ?? '', () =>
    checkPassword(req.body.username, req.body.password),
  );
  if (!result.ok) return lk.sendError(res, result.reason === 'throttled' ? 'TOO_MANY_ATTEMPTS' : 'INVALID_CREDENTIALS');
  await auth.login(req, res, result.value.id, { data: { username: result.value.username } });
  res.json({ success: true, user: result.value });
});

app.post('/api/auth/logout', async (req, res) => {
  res.json({ success: await auth.logout(req, res) });
});

app.get('/api/me', auth.requireSession, (req, res) => {
  const session = lk.getSession(req);
  res.json({ user: { id: session?.userId, username: session?.data.username } });
});
app.use(lk.notFound, lk.errorHandler);

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
