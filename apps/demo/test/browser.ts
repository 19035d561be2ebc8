/**
 * Headless Chromium for the browser tests: the apt package at /usr/bin/chromium (or
 * LATCHKEY_CHROMIUM), driven by playwright-core. Locally, a missing Chromium skips the suite with
 * the install command; under CI=true it fails instead.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') throw new Error(`Chromium not found at ${CHROMIUM}; CI must install it`);
  console.warn(`skipping the browser tests: no Chromium at ${CHROMIUM}. Install it with: apt-get install -y chromium`);
  return false;
}

/**
 * Headless Chromium. With `dbsc`, the base64 SHA-256 of a test certificate's public key (SPKI):
 * Device Bound Session Credentials on (software keys, as ../shared/TOOLCHAIN.md found), and that
 * certificate trusted, since Chromium does DBSC over HTTPS only. Playwright's own
 * `--enable-features` is dropped, or it would override ours.
 */
export function launchChromium(options: { dbsc?: string } = {}): Promise<Browser> {
  const dbsc =
    options.dbsc === undefined
      ? []
      : [
          '--enable-features=DeviceBoundSessions,EnableBoundSessionCredentialsSoftwareKeysForManualTesting',
          `--ignore-certificate-errors-spki-list=${options.dbsc}`,
        ];
  return chromium.launch({
    executablePath: CHROMIUM,
    ...(options.dbsc === undefined ? {} : { ignoreDefaultArgs: ['--enable-features'] }),
    args: [
      ...dbsc,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
