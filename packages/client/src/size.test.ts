/**
 * The size budget: @latchkey/client with everything it imports (idb included), bundled and
 * minified as an app would ship it, must stay under 4 KiB gzipped. CI runs this with the tests.
 */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

export const BUDGET_GZIP_BYTES = 4 * 1024;

it(`bundles to under ${BUDGET_GZIP_BYTES} bytes gzipped`, async () => {
  const result = await build({
    entryPoints: [new URL('./index.ts', import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`@latchkey/client: ${code.length} bytes minified, ${gzipped} bytes gzipped`);
  expect(gzipped).toBeLessThan(BUDGET_GZIP_BYTES);
  expect(gzipped).toBeGreaterThan(1000); // the bundle really holds the client and idb
});

it('the passkeys entry (with @simplewebauthn/browser) bundles to under the same budget, and is not in the main one', async () => {
  const bundle = async (entry: string) =>
    (
      await build({
        entryPoints: [new URL(entry, import.meta.url).pathname],
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        write: false,
        logLevel: 'silent',
      })
    ).outputFiles[0]?.contents ?? new Uint8Array();
  const passkeys = await bundle('./passkeys.ts');
  const gzipped = gzipSync(passkeys, { level: 9 }).length;
  console.log(`@latchkey/client/passkeys: ${passkeys.length} bytes minified, ${gzipped} bytes gzipped`);
  expect(gzipped).toBeLessThan(BUDGET_GZIP_BYTES);
  expect(new TextDecoder().decode(await bundle('./index.ts'))).not.toContain('navigator.credentials');
});
