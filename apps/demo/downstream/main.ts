/**
 * Starts the downstream service: DOWNSTREAM_PORT (default 3001), HOST (default localhost),
 * LATCHKEY_JWKS_URL (default http://localhost:3000/.well-known/jwks.json). The reference server
 * starts it by itself unless LATCHKEY_DOWNSTREAM_URL points at one already running.
 * Revoked tokens: read from the reference server's revocation list: in PostgreSQL with
 * LATCHKEY_STORE=postgres (tables named LATCHKEY_REVOCATIONS_PREFIX at LATCHKEY_POSTGRES_URL), in Redis with
 * LATCHKEY_STORE=redis or LATCHKEY_REDIS_URL (keys under LATCHKEY_REDIS_PREFIX, default
 * LATCHKEY_SHARED_PREFIX or `latchkey`), else in the SQLite file LATCHKEY_REVOCATIONS_DB (default
 * <LATCHKEY_DATA_DIR or ./data>/revocations.db), which the server makes: a missing file is an
 * error, never "nothing is revoked".
 */
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { AccessTokenRevocations } from 'latchkey/tokens';
import { createRedisRevocations } from 'latchkey/tokens/redis';
import { createSqliteRevocations } from 'latchkey/tokens/sqlite';
import { createDownstream } from './service.js';

const env = process.env;
const jwksUrl = new URL(env.LATCHKEY_JWKS_URL ?? 'http://localhost:3000/.well-known/jwks.json');

async function revocationList(): Promise<{ revocations: AccessTokenRevocations; from: string }> {
  if (env.LATCHKEY_STORE === 'postgres') {
    const { default: pg } = await import('pg');
    const { createPostgresRevocations } = await import('latchkey/tokens/postgres');
    const pool = new pg.Pool({
      connectionString: env.LATCHKEY_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      max: 2,
      connectionTimeoutMillis: 2000,
    });
    pool.on('error', () => undefined);
    const tablePrefix = env.LATCHKEY_REVOCATIONS_PREFIX ?? 'latchkey_access_';
    return {
      revocations: createPostgresRevocations(pool, { tablePrefix }),
      from: `postgres tables ${tablePrefix}*`,
    };
  }
  if (env.LATCHKEY_REDIS_URL || env.LATCHKEY_STORE === 'redis') {
    const { Redis } = await import('ioredis');
    const redis = new Redis(env.LATCHKEY_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const key = `${env.LATCHKEY_REDIS_PREFIX ?? env.LATCHKEY_SHARED_PREFIX ?? 'latchkey'}:access-revocations`;
    return { revocations: createRedisRevocations(redis, { key }), from: `redis key ${key}` };
  }
  const file = resolve(env.LATCHKEY_REVOCATIONS_DB ?? join(env.LATCHKEY_DATA_DIR ?? 'data', 'revocations.db'));
  const db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return { revocations: createSqliteRevocations(db), from: file };
}

const { revocations, from } = await revocationList();
await revocations.ready();
const server = createDownstream({ jwksUrl, revocations });
server.listen(Number(env.DOWNSTREAM_PORT ?? 3001), env.HOST ?? 'localhost', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(
    `downstream service: http://localhost:${port} (keys from ${jwksUrl.href}, revocations from ${from})\n`,
  );
  process.send?.({ port });
});
// Started by the reference server: when it goes (even by SIGKILL), the IPC channel closes; go too.
process.once('disconnect', () => process.exit(0));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close(() => process.exit(0)));
