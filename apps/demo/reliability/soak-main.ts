/** `npm run soak [-- --seconds 600]`: the soak on a fresh server; prints the report as JSON. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { soak } from './soak.js';

const i = process.argv.indexOf('--seconds');
const seconds = i >= 0 ? Number(process.argv[i + 1]) : 600;
const dir = mkdtempSync(join(tmpdir(), 'latchkey-soak-'));
try {
  // LATCHKEY_VERIFIED_TOKENS passes through: 0 shows the heap without the verified-token cache.
  const passthrough = process.env.LATCHKEY_VERIFIED_TOKENS;
  const report = await soak({
    seconds,
    dataDir: dir,
    env: passthrough ? { LATCHKEY_VERIFIED_TOKENS: passthrough } : {},
  });
  console.log(JSON.stringify(report, null, 2));
  const growth = (report.heapEndMB - report.heapAfterWarmupMB) / report.heapAfterWarmupMB;
  process.exitCode = report.errors > 0 || growth > 0.1 ? 1 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
