/**
 * `wipe()`: what logout leaves behind on this device, removed. The server's
 * `Clear-Site-Data: "cache", "cookies", "storage"` does the same where the browser honours it,
 * but Safari ignores it and a response served by a service worker skips it, so the client wipes
 * itself too (L2).
 */
import { deleteLocalStores } from './local-store.js';

/** What `wipe()` removed. */
export interface WipeReport {
  databases: string[];
  caches: string[];
  serviceWorkers: number;
}

/**
 * Removes what a logged-in user left on this device: every IndexedDB database, every Cache
 * Storage cache, every service worker of the origin, and Web Storage.
 *
 * @example
 * api.on('logged-out', async () => {
 *   await wipe();
 *   showLogin();
 * });
 */
export async function wipe(): Promise<WipeReport> {
  const databases = await deleteLocalStores();
  const caches = typeof globalThis.caches === 'object' ? await globalThis.caches.keys() : [];
  await Promise.all(caches.map((name) => globalThis.caches.delete(name)));
  let serviceWorkers = 0;
  if (typeof navigator === 'object' && 'serviceWorker' in navigator) {
    const registrations = await navigator.serviceWorker.getRegistrations();
    await Promise.all(registrations.map((r) => r.unregister()));
    serviceWorkers = registrations.length;
  }
  // latchkey never writes Web Storage; something else on the page may have.
  if (typeof localStorage === 'object') localStorage.clear();
  if (typeof sessionStorage === 'object') sessionStorage.clear();
  return { databases, caches, serviceWorkers };
}
