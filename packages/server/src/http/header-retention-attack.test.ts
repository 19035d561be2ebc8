/**
 * A client's other cookies must not stay in this process's memory. In V8, a token cut from a
 * Cookie header is a view onto the whole header string, so a map that keeps the token (or the id
 * cut from it) keeps the whole header alive: every cookie the browser sent beside ours, up to the
 * server's header limit. Both maps on the request path keep such strings: the verified-token memo
 * and the cached store's entries. Over real HTTP, with 6 KB of other cookies on each request, the
 * heap a held session costs must stay a session's size, not a header's. A client with many
 * sessions and fat headers otherwise grows every instance's heap by up to 16 KB per session.
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
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager, type SessionManager } from '../sessions/manager.js';
import { createCachedStore } from '../stores/cached.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionStore } from '../stores/store.js';
import { send } from '../test/http.js';

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
const dir = mkdtempSync(join(tmpdir(), 'latchkey-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serve(sessions: SessionManager): Promise<{ server: Server; base: string }> {
  const auth = createNodeSessions(sessions);
  const server = createServer({ maxHeaderSize: 16_384 }, async (req, res) => {
    const session = await auth.authenticate(req, res);
    res.statusCode = session === null ? 401 : 200;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Heap held per session once each was read `reads` times, each read with its own 6 KB of other cookies. */
async function heldPerSession(store: SessionStore, reads: number): Promise<number> {
  const sessions = createSessionManager({ store, keys: [generateSigningKey()], sweepInterval: 0 });
  const tokens: string[] = [];
  for (let i = 0; i < WARM + SESSIONS; i++) tokens.push((await sessions.createSession(`user-${i}`)).token);
  const { server, base } = await serve(sessions);
  let request = 0;
  const statuses = new Set<number>();
  const readAll = async (some: string[]) => {
    for (let at = 0; at < some.length; at += 25) {
      await Promise.all(
        some.slice(at, at + 25).map(async (token) => {
          for (let r = 0; r < reads; r++) {
            // A different header each time, as browsers send: nothing can be shared between requests.
            const other = `${String(request++).padStart(8, '0')}${'a'.repeat(OTHER_COOKIES)}`;
            const cookie = `_analytics=${other}; ${sessions.cookie.name}=${token}; theme=dark`;
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
    return (heapUsed() - before) / SESSIONS;
  } finally {
    server.close();
  }
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
});
