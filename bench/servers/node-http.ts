/**
 * The benchmark server: bare node:http with two routes, so both are measured in one process.
 *   GET /bare → {"ok":true}                      (no session work)
 *   GET /auth → {"userId":...} or 401            (cookie → mac → SQLite look-up → hash compare)
 * Usage: node --import tsx bench/servers/node-http.ts <sqlite file> <port> [exclusive]
 */
import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import { createSessionManager } from 'latchkey';
import { createNodeSessions, sendError, sendFailure } from 'latchkey/node';
import { createSqliteStore } from 'latchkey/sqlite';
import { BENCH_KEY } from '../lib/fixture.js';

const [file, port, mode] = process.argv.slice(2);
const store = createSqliteStore(new Database(file as string), { exclusive: mode === 'exclusive' });
const sessions = createSessionManager({ store, keys: [BENCH_KEY], sweepInterval: 0 });
const auth = createNodeSessions(sessions);
const BARE = JSON.stringify({ ok: true });

createServer(async (req, res) => {
  if (req.url === '/bare') {
    res.setHeader('content-type', 'application/json');
    return res.end(BARE);
  }
  try {
    const session = await auth.authenticate(req, res);
    if (session === null) return sendError(res, 'SESSION_REQUIRED');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ userId: session.userId }));
  } catch (error) {
    sendFailure(res, error);
  }
}).listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
