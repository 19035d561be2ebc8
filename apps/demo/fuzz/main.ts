/**
 * `npm run fuzz -- --requests 1000000 [--seed N] [--concurrency C]`: fuzzes a fresh reference
 * server (its own process, a throw-away SQLite file) and prints the report as JSON. Exits 1 on
 * any 5xx, hang, crash or unauthenticated success.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { login, startServerProcess } from '../test/server-process.js';
import { fuzz } from './fuzz.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const dir = mkdtempSync(join(tmpdir(), 'latchkey-fuzz-'));
const password = 'fuzzing demo password';
const server = await startServerProcess({ LATCHKEY_DATA_DIR: dir, LATCHKEY_DEMO_PASSWORD: password });
try {
  const token = await login(server.base, 'demo', password);
  const report = await fuzz(
    { host: '127.0.0.1', port: server.port, origin: server.base, validToken: token },
    {
      requests: arg('requests', 10_000),
      seed: arg('seed', 1),
      concurrency: arg('concurrency', 32),
      alive: server.alive,
    },
  );
  const crashed = !server.alive();
  console.log(JSON.stringify({ ...report, serverErrors: report.serverErrors.slice(0, 20), crashed }, null, 2));
  process.exitCode = report.serverErrors.length > 0 || report.unauthenticatedSuccesses.length > 0 || crashed ? 1 : 0;
} finally {
  await server.kill();
  rmSync(dir, { recursive: true, force: true });
}
