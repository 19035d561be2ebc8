/// <reference lib="webworker" />
/**
 * The service worker: it precaches the app shell (the build's HTML, JS, CSS and icons) so the app
 * opens offline, and nothing else. It never caches `/api` responses (B4): account data would
 * outlive logout in Cache Storage, which ignores Cache-Control.
 *
 * Navigations go to the network first: every page the server sends carries a fresh CSP nonce (a
 * page served from a cache would repeat a spent one, known to anyone who saw it once). Only when
 * the network fails does the precached shell answer, with the CSP header and nonce it was
 * stored with; the app then reads notes from IndexedDB.
 */
import { cleanupOutdatedCaches, matchPrecache, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string; revision: string | null }> };

cleanupOutdatedCaches();
// Registered first, because the first matching route wins: otherwise the precache route would
// answer navigations to `/` and `/index.html` from the cache.
registerRoute(
  new NavigationRoute(
    async ({ request, event }) => {
      try {
        // Navigation preload: the browser has already sent the request while this worker woke.
        const preloaded = (await (event as FetchEvent).preloadResponse) as Response | undefined;
        return preloaded ?? (await fetch(request));
      } catch {
        return (await matchPrecache('index.html')) ?? Response.error();
      }
    },
    { denylist: [/^\/api\//, /^\/avatars\//] },
  ),
);
precacheAndRoute(self.__WB_MANIFEST);

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) =>
  event.waitUntil(Promise.all([self.registration.navigationPreload?.enable(), self.clients.claim()])),
);
