/**
 * The Chromium the audit's tests drive: the apt package at /usr/bin/chromium (or
 * LATCHKEY_CHROMIUM). Locally a missing one skips the browser suites with the install command;
 * under CI=true it fails instead.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') throw new Error(`Chromium not found at ${CHROMIUM}; CI must install it`);
  console.warn(
    `skipping the audit's browser tests: no Chromium at ${CHROMIUM}. Install it with: apt-get install -y chromium`,
  );
  return false;
}
