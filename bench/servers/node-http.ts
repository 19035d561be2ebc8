/**
 * The benchmark server: bare node:http with two routes, so both are measured in one process.
 *   GET /bare → {"ok":true}                      (no session work)
 *   GET /auth → {"userId":...} or 401            (cookie → mac → store look-up → hash compare)
 * The store comes from the environment (see lib/backends.ts: STORE, EXCLUSIVE, CACHE, SQLITE_FILE).
 */
import { createServer } from 'node:http';
import { createSessionManager } from 'latchkey';
import { createNodeSessions, sendError, sendFailure } from 'latchkey/node';
import { BENCH_KEY, openFromEnv } from '../lib/backends.js';

const { store } = await openFromEnv(process.env);
const sessions = createSessionManager({ store, keys: [BENCH_KEY], sweepInterval: 0 });
const auth = createNodeSessions(sessions);

createServer(async (req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/bare') return res.end(JSON.stringify({ ok: true }));
  try {
    const session = await auth.authenticate(req, res);
    if (session === null) return sendError(res, 'SESSION_REQUIRED');
    res.end(JSON.stringify({ userId: session.userId }));
  } catch (error) {
    sendFailure(res, error);
  }
}).listen(Number(process.argv[2]), '127.0.0.1', () => process.send?.('ready'));
