/**
 * What any script on a page can reach, read from inside the page as such a script would:
 * localStorage, sessionStorage, every IndexedDB database and store, Cache Storage (JSON and text
 * responses), document.cookie, and the globals the page's own code left on `window` (those a
 * fresh same-origin frame does not have). Plain JavaScript in a string: it runs in the page, and a
 * string is not rewritten by the TypeScript toolchain (which would add helpers the page lacks).
 */

/** What the page script returns. Every value is JSON-safe and bounded. */
export interface PageState {
  localStorage: Record<string, string>;
  sessionStorage: Record<string, string>;
  /** `database/store` → values (at most 200 per store). */
  indexedDB: Record<string, unknown[]>;
  /** cache name → response URL → body (JSON or text, at most 64 KiB each). */
  caches: Record<string, Record<string, string>>;
  cookie: string;
  /** Global name → a JSON-safe copy (depth 4). */
  globals: Record<string, unknown>;
  /** `<script src>` elements: their URL and integrity attribute. */
  scripts: Array<{ src: string; integrity: string | null }>;
  /** `<a href>` targets, absolute. */
  links: string[];
  /** Policies from `<meta http-equiv="Content-Security-Policy">`. */
  metaCsp: string[];
}

export const READ_PAGE_STATE = `(async () => {
  const copy = (value, depth) => {
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    if (depth > 4) return undefined;
    if (value instanceof Date) return value.toISOString();
    if (typeof value !== 'object') return undefined;
    if (typeof Node !== 'undefined' && value instanceof Node) return undefined;
    if (typeof Window !== 'undefined' && value instanceof Window) return undefined;
    if (Array.isArray(value)) return value.slice(0, 100).map((v) => copy(v, depth + 1));
    const out = {};
    let n = 0;
    for (const key of Object.keys(value)) {
      if (n++ >= 100) break;
      try { const v = copy(value[key], depth + 1); if (v !== undefined) out[key] = v; } catch {}
    }
    return out;
  };
  const storage = (s) => { const out = {}; try { for (let i = 0; i < s.length; i++) { const k = s.key(i); out[k] = s.getItem(k); } } catch {} return out; };
  const state = { localStorage: storage(localStorage), sessionStorage: storage(sessionStorage), indexedDB: {}, caches: {}, cookie: document.cookie, globals: {}, scripts: [], links: [], metaCsp: [] };
  try {
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      const db = await new Promise((ok, ko) => { const r = indexedDB.open(info.name); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); r.onupgradeneeded = () => { r.transaction.abort(); }; });
      for (const store of Array.from(db.objectStoreNames)) {
        state.indexedDB[info.name + '/' + store] = await new Promise((ok) => {
          const r = db.transaction(store).objectStore(store).getAll(undefined, 200);
          r.onsuccess = () => ok(r.result.map((v) => copy(v, 0)));
          r.onerror = () => ok([]);
        });
      }
      db.close();
    }
  } catch {}
  try {
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      state.caches[name] = {};
      for (const request of (await cache.keys()).slice(0, 200)) {
        const response = await cache.match(request);
        const type = response ? response.headers.get('content-type') || '' : '';
        if (response && /json|text\\/plain/.test(type)) state.caches[name][request.url] = (await response.text()).slice(0, 65536);
        else state.caches[name][request.url] = '';
      }
    }
  } catch {}
  try {
    const frame = document.createElement('iframe');
    frame.style.display = 'none';
    document.documentElement.appendChild(frame);
    const builtIn = new Set(Object.getOwnPropertyNames(frame.contentWindow));
    frame.remove();
    for (const name of Object.getOwnPropertyNames(window)) {
      if (builtIn.has(name) || /^(?:webkit|on)/.test(name)) continue;
      try { const v = copy(window[name], 0); if (v !== undefined && typeof window[name] !== 'function') state.globals[name] = v; } catch {}
    }
  } catch {}
  for (const s of document.querySelectorAll('script[src]')) state.scripts.push({ src: s.src, integrity: s.getAttribute('integrity') });
  for (const a of document.querySelectorAll('a[href]')) state.links.push(a.href);
  for (const m of document.querySelectorAll('meta[http-equiv]'))
    if ((m.getAttribute('http-equiv') || '').toLowerCase() === 'content-security-policy') state.metaCsp.push(m.getAttribute('content') || '');
  return state;
})()`;
