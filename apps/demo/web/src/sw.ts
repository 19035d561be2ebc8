/// <reference lib="webworker" />
/**
 * The service worker: it precaches the app shell (the build's HTML, JS, CSS and icons) so the app
 * opens offline, and nothing else. It never caches `/api` responses (B4): account data would
 * outlive logout in Cache Storage, which ignores Cache-Control. Navigations fall back to the
 * cached shell; the app then reads notes from IndexedDB.
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string; revision: string | null }> };

cleanupOutdatedCaches();
precacheAndRoute(self.__WB_MANIFEST);
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), { denylist: [/^\/api\//, /^\/avatars\//] }));

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
