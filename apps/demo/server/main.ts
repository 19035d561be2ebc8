/**
 * Starts the reference server on the embedded SQLite store.
 *   PORT (default 3000), HOST (default localhost), LATCHKEY_DATA_DIR (default ./data),
 *   LATCHKEY_SESSION_KEYS (base64url keys, newest first, comma-separated; default: a key generated
 *   once and kept in the data folder), LATCHKEY_DEMO_PASSWORD (default: generated and printed).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createSqliteStore } from 'latchkey/sqlite';
import { buildApp } from './app.js';
import { createUsers } from './users.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? 'localhost';
const dataDir = resolve(process.env.LATCHKEY_DATA_DIR ?? 'data');
mkdirSync(dataDir, { recursive: true, mode: 0o700 });

/** Keys from the environment, or one generated on first run and kept (mode 0600) beside the data. */
function sessionKeys(): string[] {
  const fromEnv = process.env.LATCHKEY_SESSION_KEYS;
  if (fromEnv) return fromEnv.split(',').map((k) => k.trim());
  const file = join(dataDir, 'session-key');
  if (!existsSync(file)) writeFileSync(file, `${generateSigningKey()}\n`, { mode: 0o600 });
  return [readFileSync(file, 'utf8').trim()];
}

const db = new Database(join(dataDir, 'latchkey.db'));
// Exclusive: this process is the file's only user, which makes each session look-up ~4x cheaper.
const sessions = createSessionManager({ store: createSqliteStore(db, { exclusive: true }), keys: sessionKeys() });
const users = createUsers(db);

const given = process.env.LATCHKEY_DEMO_PASSWORD;
const demoPassword = given && given.length > 0 ? given : randomBytes(12).toString('base64url');
await users.upsert('demo', demoPassword);

const app = await buildApp({ sessions, users, logger: { level: process.env.LOG_LEVEL ?? 'info' } });
await app.listen({ port, host });

const address = app.server.address();
const actualPort = typeof address === 'object' && address !== null ? address.port : port;
// Printed once on the console for the person who started the server; never written to the log.
process.stdout.write(
  `\nlatchkey reference server: http://localhost:${actualPort}\n` +
    `data: ${join(dataDir, 'latchkey.db')}\n` +
    (given
      ? 'demo account: demo (password from LATCHKEY_DEMO_PASSWORD)\n\n'
      : `demo account: demo / ${demoPassword}\n\n`),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(() => {
      sessions.close();
      db.close();
      process.exit(0);
    });
  });
}
