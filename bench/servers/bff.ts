/**
 * The reference server with tokens and the backend-for-frontend, for the BFF overhead bench.
 * Usage: bff.ts <port> <downstreamPort> <password>
 */
import Database from 'better-sqlite3';
import { createSessionManager } from 'latchkey';
import { createMemoryStore } from 'latchkey/memory';
import {
  createAccessTokens,
  createMemoryRefreshStore,
  createRefreshTokens,
  generateAccessTokenKey,
} from 'latchkey/tokens';
import { DEMO_ISSUER, DOWNSTREAM_AUDIENCE } from '../../apps/demo/downstream/service.js';
import { buildApp } from '../../apps/demo/server/app.js';
import { createNotes } from '../../apps/demo/server/notes.js';
import { createUsers } from '../../apps/demo/server/users.js';
import { BENCH_KEY } from '../lib/backends.js';

const [port, downstreamPort, password] = process.argv.slice(2);
const db = new Database(':memory:');
const users = createUsers(db);
await users.upsert('demo', password as string);
const app = await buildApp({
  sessions: createSessionManager({ store: createMemoryStore(), keys: [BENCH_KEY], sweepInterval: 0 }),
  users,
  notes: createNotes(db),
  origins: [`http://127.0.0.1:${port}`],
  tokens: {
    access: createAccessTokens({
      issuer: DEMO_ISSUER,
      audience: DOWNSTREAM_AUDIENCE,
      keys: [await generateAccessTokenKey()],
    }),
    refresh: createRefreshTokens({ store: createMemoryRefreshStore() }),
    revokeSubject: () => undefined,
  },
  downstreamUrl: `http://127.0.0.1:${downstreamPort}`,
  logger: false,
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.send?.('ready');
