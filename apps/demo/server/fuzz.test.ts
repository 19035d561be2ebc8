/**
 * The CI-sized fuzz run (the long one: `npm run fuzz -- --requests 1000000`, figures in
 * docs/reliability.md): random and nasty requests at every entry point of a real server process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz } from '../fuzz/fuzz.js';
import { login, type ServerProcess, startServerProcess } from '../test/server-process.js';

describe('fuzzing the reference server', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-fuzz-'));
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ LATCHKEY_DATA_DIR: dir, LATCHKEY_DEMO_PASSWORD: 'fuzzing demo password' });
  }, 60_000);
  afterAll(async () => {
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('4,000 fuzzed requests: no 5xx, no hang, no crash, nothing authenticated without the valid cookie', async () => {
    const token = await login(server.base, 'demo', 'fuzzing demo password');
    const report = await fuzz(
      { host: '127.0.0.1', port: server.port, origin: server.base, validToken: token },
      { requests: 4000, seed: Number(process.env.LATCHKEY_FUZZ_SEED ?? 7), alive: server.alive },
    );
    expect(report.serverErrors).toEqual([]);
    expect(report.unauthenticatedSuccesses).toEqual([]);
    expect(report.noResponse).toBe(0); // every request gets an answer, even CONNECT
    expect(server.alive()).toBe(true);
    // The run reached the handlers, not only the parser: some of everything.
    expect(report.byStatus['200']).toBeGreaterThan(50);
    expect(report.byStatus['401']).toBeGreaterThan(50);
    expect(report.byStatus['403']).toBeGreaterThan(50);
    expect(report.byStatus['400']).toBeGreaterThan(50);
    const health = await fetch(`${server.base}/api/me`, { headers: { cookie: `__Host-session=${token}` } });
    expect([200, 401]).toContain(health.status);
  });
});
