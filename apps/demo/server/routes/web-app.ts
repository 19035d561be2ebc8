/**
 * The web app's production build (apps/demo/web/dist): hashed assets under `/assets/` cached for a
 * year, `/favicon.svg`, the service worker `/sw.js` never cached, and the HTML for every app path
 * (`/`, `/index.html`, `/login`, `/register`, `/forgot`, `/notes`, `/sessions`, `/account`, and the
 * pages the mailed links open: `/verify`, `/reset`, `/confirm-email`, `/undo-email-change`) with this
 * response's CSP nonce on its script and style tags, never stored by a cache (a stored page would
 * carry a spent nonce).
 */
import { readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { getNonce } from 'latchkey/fastify';

export interface WebAppRoutesOptions {
  /** The build folder: index.html, favicon.svg, sw.js and assets/. */
  root: string;
  /**
   * B4's kill switch: serve a service worker that unregisters itself and empties Cache Storage,
   * for when a broken worker was shipped. Browsers check /sw.js at least daily and on navigation.
   */
  killServiceWorker: boolean;
}

const KILL_SWITCH = `self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil((async () => {
  for (const name of await caches.keys()) await caches.delete(name);
  await self.registration.unregister();
  for (const client of await self.clients.matchAll()) client.navigate(client.url);
})()));
`;

/**
 * @example
 * await app.register(webAppRoutes, { root: 'apps/demo/web/dist', killServiceWorker: false });
 */
export const webAppRoutes: FastifyPluginAsync<WebAppRoutesOptions> = async (app, { root, killServiceWorker }) => {
  const [head = '', ...rest] = readFileSync(join(root, 'index.html'), 'utf8')
    .replace(/<script /g, '<script nonce="\u0000" ')
    .replace(/<link rel="stylesheet"/g, '<link rel="stylesheet" nonce="\u0000"')
    .split('\u0000');
  const html = (nonce: string) => head + rest.map((part) => nonce + part).join('');
  // Hashed build assets under /assets/ only: everything else (/api/… included) never reaches the
  // file system, and a miss there is the JSON 404.
  const assets = join(root, 'assets');
  await app.register(fastifyStatic, {
    root: assets,
    prefix: '/assets/',
    index: false,
    // setHeaders runs for every sendFile of this plugin too: only hashed assets are immutable, or
    // the service worker (and its kill switch) would be cached for a year.
    setHeaders: (reply, path) => {
      if (path.startsWith(`${assets}${sep}`)) reply.header('cache-control', 'public, max-age=31536000, immutable');
    },
  });
  const file = (name: string, cacheControl: string) => async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.header('cache-control', cacheControl).sendFile(name, root, { cacheControl: false });
  app.get('/favicon.svg', file('favicon.svg', 'public, max-age=3600'));
  if (killServiceWorker)
    app.get('/sw.js', async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(KILL_SWITCH),
    );
  else app.get('/sw.js', file('sw.js', 'no-cache'));
  const page = async (request: FastifyRequest, reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(html(getNonce(request)));
  for (const path of [
    '/',
    '/index.html',
    '/login',
    '/register',
    '/forgot',
    '/verify',
    '/reset',
    '/confirm-email',
    '/undo-email-change',
    '/notes',
    '/sessions',
    '/account',
  ])
    app.get(path, page);
};
