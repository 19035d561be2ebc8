/**
 * One app instance for the multi-instance tests: node:http, latchkey with a cached store in front
 * of Redis or PostgreSQL, invalidation over the same backend. Configured by environment:
 *   STORE=redis|postgres  REDIS_URL  POSTGRES_URL  PREFIX  CHANNEL  SESSION_KEY  STALENESS_MS
 * Routes: POST /login {userId}; GET /me; POST /logout; POST /revoke-user {userId}.
 * Prints `listening <port>` once it serves.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createNodeSessions, errorHandler, handleClientError, notFound, sendError } from '../adapters/node/index.js';
import { createSessionManager } from '../sessions/manager.js';
import { createCachedStore, type InvalidationBus } from '../stores/cached.js';
import { createPostgresStore } from '../stores/postgres.js';
import { createPostgresInvalidation } from '../stores/postgres-invalidation.js';
import { createRedisStore } from '../stores/redis.js';
import { createRedisInvalidation } from '../stores/redis-invalidation.js';
import type { SessionStore } from '../stores/store.js';

const env = process.env;
const prefix = env.PREFIX ?? 'latchkey:';
let backing: SessionStore;
let bus: InvalidationBus;
if (env.STORE === 'postgres') {
  const url = env.POSTGRES_URL as string;
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 500 });
  pool.on('error', () => {});
  backing = await createPostgresStore(pool, { tablePrefix: prefix, timeoutMs: 500 });
  bus = createPostgresInvalidation({
    notify: pool,
    listener: () => new pg.Client(url),
    channel: env.CHANNEL as string,
  });
} else {
  // No offline queue: while Redis is away, commands fail at once (503) instead of waiting.
  const client = new Redis(env.REDIS_URL as string, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  client.on('error', () => {});
  await new Promise((resolve) => client.once('ready', resolve));
  backing = createRedisStore(client, { keyPrefix: prefix, timeoutMs: 500 });
  bus = createRedisInvalidation(client, { channel: env.CHANNEL as string });
}
const store = await createCachedStore(backing, { bus, maxStalenessMs: Number(env.STALENESS_MS ?? 1000) });
const sessions = createSessionManager({ store, keys: [env.SESSION_KEY as string], sweepInterval: 0 });
const auth = createNodeSessions(sessions);

async function body(req: IncomingMessage): Promise<{ userId: string }> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text) as { userId: string };
}

const server = createServer(async (req, res) => {
  try {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST' && req.url === '/login') {
      const { userId } = await body(req);
      await auth.login(req, res, userId);
      return res.end(JSON.stringify({ userId }));
    }
    if (req.method === 'POST' && req.url === '/logout')
      return res.end(JSON.stringify({ revoked: await auth.logout(req, res) }));
    if (req.method === 'POST' && req.url === '/revoke-user') {
      const { userId } = await body(req);
      return res.end(JSON.stringify({ revoked: await sessions.revokeUserSessions(userId) }));
    }
    if (req.url === '/me') {
      const session = await auth.authenticate(req, res);
      if (session === null) return sendError(res, 'SESSION_REQUIRED');
      return res.end(JSON.stringify({ userId: session.userId }));
    }
    notFound(res);
  } catch (error) {
    errorHandler(error, res);
  }
});
server.on('clientError', handleClientError);
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
