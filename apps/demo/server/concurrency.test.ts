/** Concurrency invariants over 10,000 operations across two server processes (#9). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runConcurrency } from '../reliability/concurrency.js';

it('10,000 parallel logins, logouts, revoke-alls, password changes and refreshes on two processes keep every invariant', {
  timeout: 300_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-conc-'));
  try {
    const report = await runConcurrency({ dataDir: dir, operations: 10_000 });
    console.log(
      `concurrency: ${JSON.stringify(report.operations)}; ${report.checkedRevoked} revoked sessions checked; ${report.families} refresh families`,
    );
    expect(report.total).toBeGreaterThanOrEqual(10_000);
    expect(report.unexpected).toEqual([]);
    expect(report.checkedRevoked).toBeGreaterThan(1000);
    expect(report.revokedStillValid).toBe(0);
    expect(report.maxSessionsPerUser).toBeLessThanOrEqual(10);
    expect(report.maxSessionsPerUser).toBeGreaterThan(1);
    expect(report.familiesWithTwoHeads).toBe(0);
    expect(report.families).toBeGreaterThan(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
