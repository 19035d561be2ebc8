/**
 * The reference server's real login (argon2id on libuv's pool, session creation), for the login
 * storm. Adds two bench-only routes: POST /__bench/eld/reset starts recording event-loop delay;
 * GET /__bench/eld returns its percentiles in ms. Usage: login-storm.ts <port> <password>
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createSessionManager } from 'latchkey';
import { createMemoryStore } from 'latchkey/memory';
import { createLoginThrottle } from 'latchkey/password';
import { buildApp } from '../../apps/demo/server/app.js';
import { createNotes } from '../../apps/demo/server/notes.js';
import { createUsers } from '../../apps/demo/server/users.js';
import { BENCH_KEY } from '../lib/backends.js';

const [port, password] = process.argv.slice(2);
const db = new Database(':memory:');
const users = createUsers(db);
await users.upsert('demo', password as string);
const sessions = createSessionManager({
  store: createMemoryStore(),
  keys: [BENCH_KEY],
  sweepInterval: 0,
  maxSessionsPerUser: 10_000,
});
const app = await buildApp({
  sessions,
  users,
  notes: createNotes(db),
  origins: [`http://127.0.0.1:${port}`],
  // The storm is 50 clients logging in to one account from one address at once: a real account
  // never does that. The throttle counts every attempt before its check, so 50 at once look like a
  // burst of guesses (past the 5 free ones, one per back-off period), and its in-flight caps (2 per
  // account, 8 per address) would refuse most of them. All of that is lifted here: the storm
  // measures the hashing path with the throttle's bookkeeping still in it.
  throttle: createLoginThrottle({
    freeFailures: 1_000_000,
    clientFailures: 1_000_000,
    inFlightPerAccount: 1000,
    inFlightPerClient: 1000,
  }),
  logger: false,
});
const delay = monitorEventLoopDelay({ resolution: 1 });
app.post('/__bench/eld/reset', async () => {
  delay.disable();
  delay.reset();
  delay.enable();
  return { ok: true };
});
app.get('/__bench/eld', async () => ({
  p50: delay.percentile(50) / 1e6,
  p99: delay.percentile(99) / 1e6,
  max: delay.max / 1e6,
}));
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.send?.('ready');
