/**
 * The web app's build: React, then the service worker. The worker is bundled by esbuild as a
 * classic IIFE script (Chromium rejects a classic worker that ends in `export default`, which is
 * what vite-plugin-pwa emits on Vite 8) with workbox's precaching modules, and the precache list
 * (every file of this build, with a content hash where the name has none) is written into it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { build } from 'esbuild';
import { defineConfig, type Plugin } from 'vite';

function serviceWorker(): Plugin {
  let outDir = '';
  let root = '';
  return {
    name: 'latchkey-service-worker',
    apply: 'build',
    configResolved(config) {
      root = config.root;
      outDir = resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files = (readdirSync(outDir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
        .filter((f) => f.isFile() && /\.(html|js|css|svg)$/.test(f.name))
        .map((f) => relative(outDir, join(f.parentPath, f.name)).split('\\').join('/'));
      const manifest = files.map((url) => ({
        url,
        // Hashed names (assets/index-1q_85wpo.js) are their own revision; others get one.
        revision: url.startsWith('assets/')
          ? null
          : createHash('sha256')
              .update(readFileSync(join(outDir, url)))
              .digest('hex')
              .slice(0, 16),
      }));
      await build({
        entryPoints: [join(root, 'src/sw.ts')],
        outfile: join(outDir, 'sw.js'),
        bundle: true,
        minify: true,
        format: 'iife',
        target: 'es2022',
        define: { 'self.__WB_MANIFEST': JSON.stringify(manifest), 'process.env.NODE_ENV': '"production"' },
        logLevel: 'warning',
      });
    },
  };
}

export default defineConfig({
  // latchkey's packages resolve to their sources through the root tsconfig.json's `paths`.
  resolve: { tsconfigPaths: true },
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false } },
  plugins: [react(), serviceWorker()],
});
