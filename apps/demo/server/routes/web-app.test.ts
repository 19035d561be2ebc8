/**
 * The web app's build as served: the nonce put into the HTML, and each file's caching (hashed
 * assets for a year, the icon an hour, the service worker never without a check).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { createFastifyHardening, notFound } from 'latchkey/fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webAppRoutes } from './web-app.js';

const root = mkdtempSync(join(tmpdir(), 'latchkey-webroot-'));

async function serve(killServiceWorker: boolean): Promise<FastifyInstance> {
  const app = Fastify();
  app.addHook('onRequest', createFastifyHardening({ csrf: { origins: ['http://localhost'] } }));
  app.setNotFoundHandler(notFound);
  await app.register(webAppRoutes, { root, killServiceWorker });
  return app;
}

beforeAll(() => {
  mkdirSync(join(root, 'assets'));
  writeFileSync(
    join(root, 'index.html'),
    '<html><head><script type="module" src="/assets/app-1.js"></script><link rel="stylesheet" href="/assets/app-1.css"></head></html>',
  );
  writeFileSync(join(root, 'assets', 'app-1.js'), 'console.log(1)');
  writeFileSync(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(root, 'sw.js'), '// the real worker');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('web app routes', () => {
  it('puts this response’s nonce on every script and stylesheet tag of every app path, never stored', async () => {
    const app = await serve(false);
    for (const path of ['/', '/index.html', '/login', '/notes', '/account']) {
      const res = await app.inject(path);
      const nonce = /'nonce-([^']+)'/.exec(String(res.headers['content-security-policy']))?.[1];
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toBe(
        `<html><head><script nonce="${nonce}" type="module" src="/assets/app-1.js"></script>` +
          `<link rel="stylesheet" nonce="${nonce}" href="/assets/app-1.css"></head></html>`,
      );
    }
    await app.close();
  });

  it('caches hashed assets for a year, the icon an hour and the service worker never unchecked', async () => {
    const app = await serve(false);
    const cacheOf = async (path: string) => {
      const res = await app.inject(path);
      return [res.statusCode, res.headers['cache-control']];
    };
    expect(await cacheOf('/assets/app-1.js')).toEqual([200, 'public, max-age=31536000, immutable']);
    expect(await cacheOf('/favicon.svg')).toEqual([200, 'public, max-age=3600']);
    expect(await cacheOf('/sw.js')).toEqual([200, 'no-cache']);
    expect((await app.inject('/sw.js')).body).toBe('// the real worker');
    // A file the build does not have is the JSON 404, not the page.
    const miss = await app.inject('/assets/missing.js');
    expect(miss.statusCode).toBe(404);
    expect(miss.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No such resource.' } });
    await app.close();
  });

  it('B4: the kill switch serves a worker that empties Cache Storage and unregisters itself', async () => {
    const app = await serve(true);
    const res = await app.inject('/sw.js');
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toContain('caches.delete(name)');
    expect(res.body).toContain('self.registration.unregister()');
    await app.close();
  });
});
