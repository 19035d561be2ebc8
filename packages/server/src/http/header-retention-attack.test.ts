/**
 * A client's headers must not stay in this process's memory. In V8, a string cut from a header
 * (a token from Cookie, an address from X-Forwarded-For, the first 512 characters of User-Agent)
 * is a view onto the whole header, so whatever keeps the cut string keeps the whole header alive:
 * every cookie the browser sent beside ours, up to the server's header limit. Kept past a request
 * are: the verified-token memo, the cached store's entries, the session the app is given (its id),
 * a session's device details in a store that holds records in memory, and the throttles' in-memory
 * counters (keyed by address). Over real HTTP, with 6 KB of other header on each request, what each
 * costs must stay its own size, not a header's: a client with many sessions or addresses and fat
 * headers otherwise grows every instance's heap by up to 16 KB per session or address.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeSessions } from '../adapters/node/index.js';
import { createRateLimit } from '../password/rate-limit.js';
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager, type SessionManager } from '../sessions/manager.js';
import { createCachedStore } from '../stores/cached.js';
import { createMemoryStore } from '../stores/memory.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { Session, SessionStore } from '../stores/store.js';
import { send } from '../test/http.js';
import { createTrustedProxies } from './proxy.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = () => {
  gc();
  gc();
  return getHeapStatistics().used_heap_size;
};

const SESSIONS = 1500;
const WARM = 100;
const OTHER_COOKIES = 6000;
/** Other header text, different on every request, as browsers send: nothing can be shared between requests. */
let request = 0;
const filler = () => `${String(request++).padStart(8, '0')}${'a'.repeat(OTHER_COOKIES)}`;
const dir = mkdtempSync(join(tmpdir(), 'latchkey-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** GET answers 200 for a live session (kept in `kept`, as an app may keep it); POST /login logs in. */
async function serve(sessions: SessionManager, kept: Session[] = []): Promise<{ server: Server; base: string }> {
  const auth = createNodeSessions(sessions);
  const server = createServer({ maxHeaderSize: 16_384 }, async (req, res) => {
    if (req.method === 'POST') {
      kept.push(await auth.login(req, res, `user-${request}`));
      res.end();
      return;
    }
    const session = await auth.authenticate(req, res);
    if (session !== null) kept.push(session);
    res.statusCode = session === null ? 401 : 200;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * Heap held per session once each was read `reads` times, each read with its own 6 KB of other
 * cookies; with `keep`, the app keeps every session it is given.
 */
async function heldPerSession(store: SessionStore, reads: number, keep = false): Promise<number> {
  const sessions = createSessionManager({ store, keys: [generateSigningKey()], sweepInterval: 0 });
  const tokens: string[] = [];
  for (let i = 0; i < WARM + SESSIONS; i++) tokens.push((await sessions.createSession(`user-${i}`)).token);
  const kept: Session[] = [];
  const { server, base } = await serve(sessions, keep ? kept : []);
  const statuses = new Set<number>();
  const readAll = async (some: string[]) => {
    for (let at = 0; at < some.length; at += 25) {
      await Promise.all(
        some.slice(at, at + 25).map(async (token) => {
          for (let r = 0; r < reads; r++) {
            const cookie = `_analytics=${filler()}; ${sessions.cookie.name}=${token}; theme=dark`;
            statuses.add((await send(`${base}/`, { headers: { cookie } })).status);
          }
        }),
      );
    }
  };
  try {
    await readAll(tokens.slice(0, WARM)); // what the first requests allocate once (code, buffers) is not per session
    const before = heapUsed();
    await readAll(tokens.slice(WARM));
    expect([...statuses]).toEqual([200]);
    expect(kept.length).toBe(keep ? (WARM + SESSIONS) * reads : 0);
    return (heapUsed() - before) / SESSIONS;
  } finally {
    server.close();
  }
}

/** Heap held per call of `each`, after as many warm-up calls. `each` gets a fresh 6 KB of header text and a counter. */
async function heldPerCall(each: (other: string, i: number) => Promise<void>): Promise<number> {
  for (let i = 0; i < WARM; i++) await each(filler(), i);
  const before = heapUsed();
  for (let i = WARM; i < WARM + SESSIONS; i += 25) {
    await Promise.all(Array.from({ length: 25 }, (_, j) => each(filler(), i + j)));
  }
  return (heapUsed() - before) / SESSIONS;
}

describe('what the request path keeps holds no client header alive', () => {
  it('the verified-token memo keeps the token, not the Cookie header it came in', async () => {
    const store = createSqliteStore(new Database(join(dir, 'memo.db')), { exclusive: true });
    const held = await heldPerSession(store, 1);
    // A session's memo entry is a 89-character token and a list slot: a few hundred bytes.
    expect(held).toBeLessThan(1500);
  });

  it('the cached store keeps records and ids, not the Cookie headers they were read for', async () => {
    const backing = createSqliteStore(new Database(join(dir, 'cached.db')), { exclusive: true });
    const store = await createCachedStore(backing, { maxStalenessMs: 600_000, maxEntries: SESSIONS * 2 });
    // Two reads: the cache admits a session on its second read in a window.
    const held = await heldPerSession(store, 2);
    expect(store.stats.misses).toBeGreaterThanOrEqual(SESSIONS);
    expect(held).toBeLessThan(2500);
  });

  it('the session the app is given keeps no header alive (its id was cut from the cookie)', async () => {
    const store = createSqliteStore(new Database(join(dir, 'kept.db')), { exclusive: true });
    const held = await heldPerSession(store, 2, true); // the first read proves the token, the second uses the memo
    expect(held).toBeLessThan(2500);
  });

  it("a session's device details keep no header alive in a store that holds records in memory", async () => {
    const sessions = createSessionManager({ store: createMemoryStore(), keys: [generateSigningKey()] });
    const kept: Session[] = [];
    const { server, base } = await serve(sessions, kept);
    try {
      // The User-Agent is clipped to 512 characters: a slice, and so a view onto all 6 KB.
      const held = await heldPerCall(async (other) => {
        expect((await send(`${base}/login`, { method: 'POST', headers: { 'user-agent': other } })).status).toBe(200);
      });
      expect(kept[0]?.userAgent).toHaveLength(512);
      expect(held).toBeLessThan(2500);
    } finally {
      server.close();
    }
  });

  it("the throttles' in-memory counters keep the client's address, not the X-Forwarded-For it came in", async () => {
    const limit = createRateLimit({ name: 'retention', perClient: { points: 5, duration: 3600 } });
    const proxies = createTrustedProxies(['loopback']);
    const server = createServer({ maxHeaderSize: 16_384 }, async (req, res) => {
      res.statusCode = (await limit.take(proxies.clientAddress(req))).allowed ? 200 : 429;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // Each request from its own address, behind a proxy that appends to what the client sent.
      const held = await heldPerCall(async (other, i) => {
        const address = `203.${100 + (i >> 12)}.${100 + ((i >> 6) & 63)}.${100 + (i & 63)}`;
        const reply = await send(`${base}/`, { headers: { 'x-forwarded-for': `${other}, ${address}` } });
        expect(reply.status).toBe(200);
      });
      expect(held).toBeLessThan(2500);
    } finally {
      server.close();
    }
  });
});
