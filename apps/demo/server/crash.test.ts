/**
 * Crash safety over 20 SIGKILL/restart cycles, on the SQLite file and on PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runCrashCycles } from '../reliability/crash.js';
import { dropSharedPrefix } from '../test/postgres.js';

const pgUp = await new Promise<boolean>((resolve) => {
  const s = createConnection({ host: '127.0.0.1', port: 5432 });
  s.once('connect', () => {
    s.destroy();
    resolve(true);
  });
  s.once('error', () => resolve(false));
});
if (!pgUp && process.env.CI === 'true')
  throw new Error('PostgreSQL is not reachable on 127.0.0.1:5432; CI must start it');
if (!pgUp)
  console.warn(
    'skipping the PostgreSQL crash test: start it with pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  );

describe('crash safety', { timeout: 240_000 }, () => {
  it('SQLite: 20 SIGKILLs mid-storm lose no acknowledged session, undo no acknowledged logout, and leave the file intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-crash-'));
    try {
      const result = await runCrashCycles({ cycles: 20, dataDir: dir, sqliteIntegrity: true });
      const sum = (k: 'loginsAcked' | 'logoutsAcked' | 'unknown' | 'checkedLive' | 'checkedLoggedOut') =>
        result.cycles.reduce((s, c) => s + c[k], 0);
      console.log(
        `crash (SQLite): 20 cycles, ${sum('loginsAcked')} logins and ${sum('logoutsAcked')} logouts acknowledged, ${sum('unknown')} cut off; ${sum('checkedLive')} session checks and ${sum('checkedLoggedOut')} logout checks after restarts; lost ${result.lostSessions}, undone ${result.undoneLogouts}`,
      );
      expect(result.lostSessions).toBe(0);
      expect(result.undoneLogouts).toBe(0);
      expect(result.cycles.map((c) => c.integrity)).toEqual(Array(20).fill('ok'));
      const acked = result.cycles.reduce((s, c) => s + c.loginsAcked, 0);
      const logouts = result.cycles.reduce((s, c) => s + c.logoutsAcked, 0);
      expect(acked).toBeGreaterThan(100); // the storm did something each time
      expect(logouts).toBeGreaterThan(20);
      expect(result.cycles.reduce((s, c) => s + c.unknown, 0)).toBeGreaterThan(0); // the kill did cut requests off
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(pgUp)('PostgreSQL: the same over 20 cycles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-crash-pg-'));
    const prefix = `lk_crash_${randomBytes(3).toString('hex')}`;
    const url = process.env.LATCHKEY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
    try {
      const result = await runCrashCycles({
        cycles: 20,
        dataDir: dir,
        sqliteIntegrity: false,
        env: { LATCHKEY_STORE: 'postgres', LATCHKEY_POSTGRES_URL: url, LATCHKEY_SHARED_PREFIX: prefix },
      });
      console.log(
        `crash (PostgreSQL): 20 cycles, ${result.cycles.reduce((s, c) => s + c.loginsAcked, 0)} logins and ${result.cycles.reduce((s, c) => s + c.logoutsAcked, 0)} logouts acknowledged; lost ${result.lostSessions}, undone ${result.undoneLogouts}`,
      );
      expect(result.lostSessions).toBe(0);
      expect(result.undoneLogouts).toBe(0);
      expect(result.cycles.reduce((s, c) => s + c.loginsAcked, 0)).toBeGreaterThan(100);
    } finally {
      const pool = new pg.Pool({ connectionString: url });
      await dropSharedPrefix(pool, prefix);
      await pool.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
