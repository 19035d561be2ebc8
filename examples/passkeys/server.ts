// Passkeys added to the Express example: register one from a fresh session, sign in with the
// passkey alone, step up with one. Run: node --env-file=.env --import tsx passkeys/server.ts
import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import express from 'express';
import { createSessionManager } from 'latchkey';
import * as lk from 'latchkey/express';
import { createPasskeys } from 'latchkey/passkeys';
import { createSqlitePasskeyStore } from 'latchkey/passkeys/sqlite';
import { createPasswordLogin } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { findUser, findUserById, publicUser } from '../shared/users.js';

const db = new Database(process.env.DB_FILE ?? 'sessions.db');
const sessions = createSessionManager({ store: createSqliteStore(db), keys: [process.env.SESSION_KEY] });
const auth = lk.createExpressSessions(sessions);
const login = createPasswordLogin({ findUser });
const port = Number(process.env.PORT ?? 3000);
// A domain name, `localhost` included: WebAuthn has no relying party for an IP address.
const origin = process.env.ORIGIN ?? `http://localhost:${port}`;
const passkeys = createPasskeys({
  store: createSqlitePasskeyStore(db),
  rpId: new URL(origin).hostname,
  rpName: 'Example',
  origins: [origin],
});

const app = express().disable('x-powered-by');
app.use(lk.createExpressHardening({ csrf: { origins: [origin] }, jsonOnly: true, noStore: ['/api'] }));
app.use(express.json(), auth.middleware);

app.post('/api/login', async (req, res) => {
  const result = await login.check(req.body, req.ip ?? '');
  if (!result.ok) return lk.sendError(res, result.error, result.headers);
  await auth.login(req, res, result.user.id);
  res.json({ user: publicUser(result.user) });
});

// Registration needs a fresh session; its challenge is bound to this session's id.
app.post('/api/passkeys/options', auth.requireFreshSession, async (req, res) => {
  const session = lk.getSession(req);
  const user = await findUserById(session?.userId ?? '');
  if (!session || !user) return lk.sendError(res, 'SESSION_REQUIRED');
  const started = await passkeys.registrationOptions({ id: user.id, name: user.name }, session.id);
  if (!started.ok) return lk.sendError(res, started.error);
  res.json({ options: started.options });
});
app.post('/api/passkeys', auth.requireFreshSession, async (req, res) => {
  const session = lk.getSession(req);
  if (!session) return lk.sendError(res, 'SESSION_REQUIRED');
  const added = await passkeys.verifyRegistration(session.userId, session.id, req.body?.response, {
    name: req.body?.name,
  });
  if (!added.ok) return lk.sendError(res, added.error);
  res.json({ passkey: added.passkey });
});

// Sign-in with the passkey alone: the options set a cookie that binds the challenge to this browser.
app.post('/api/passkey-login/options', async (_req, res) => {
  const started = await passkeys.signInOptions();
  res.set(started.headers).json({ options: started.options });
});
app.post('/api/passkey-login', async (req, res) => {
  const proof = await passkeys.verifySignIn(req.headers.cookie, req.body?.response);
  if (!proof.ok) return lk.sendError(res, proof.error, proof.headers);
  const user = await findUserById(proof.userId);
  if (!user) return lk.sendError(res, 'PASSKEY_INVALID', proof.headers);
  await auth.login(req, res, user.id);
  res.append('set-cookie', proof.headers['set-cookie']); // after the session's cookie: expires the flow's
  res.json({ user: publicUser(user) });
});

// Step-up: a passkey is as fresh a proof as the password typed again.
app.post('/api/reauthenticate/passkey/options', auth.requireSession, async (req, res) => {
  const session = lk.getSession(req);
  if (!session) return lk.sendError(res, 'SESSION_REQUIRED');
  const started = await passkeys.stepUpOptions(session.userId, session.id);
  if (!started.ok) return lk.sendError(res, started.error);
  res.json({ options: started.options });
});
app.post('/api/reauthenticate/passkey', auth.requireSession, async (req, res) => {
  const session = lk.getSession(req);
  if (!session) return lk.sendError(res, 'SESSION_REQUIRED');
  const proof = await passkeys.verifyStepUp(session.userId, session.id, req.body?.response);
  if (!proof.ok) return lk.sendError(res, proof.error);
  await auth.reauthenticate(req, res); // a new session id, fresh for step-up
  res.json({ fresh: true });
});

app.get('/api/me', auth.requireSession, async (req, res) => {
  const user = await findUserById(lk.getSession(req)?.userId ?? '');
  if (!user) return lk.sendError(res, 'SESSION_REQUIRED');
  res.json({ user: publicUser(user) });
});
app.use(lk.notFound, lk.errorHandler);

const server = createServer(app).on('clientError', lk.handleClientError);
server.listen(port, '127.0.0.1', () => console.log(`listening on ${origin}`));
