/**
 * `authenticateNow`, the path most requests take without a promise, against `authenticate`, the
 * path that may wait: on every store shape they must give the same answer, and the one that does
 * not wait must stand aside (undefined) whenever an answer needs a write or a read it cannot make
 * at once: an expired session to delete, a slide that is due, an unsafe method behind a cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager } from '../sessions/manager.js';
import { createCachedStore } from '../stores/cached.js';
import { createMemoryStore } from '../stores/memory.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionStore } from '../stores/store.js';
import { MINUTE, manualClock, SECOND } from '../test/clock.js';
import { createSessionFlow } from './session-flow.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-now-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const sqlite = () => createSqliteStore(new Database(join(dir, `s${files++}.db`)));
/** A store that can only answer by promise, as PostgreSQL and Redis. */
const waiting = (store: SessionStore): SessionStore => {
  const { getNow: _, ...rest } = store;
  return rest;
};

const shapes: [string, () => Promise<SessionStore>][] = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', async () => sqlite()],
  ['a store that only waits', async () => waiting(sqlite())],
  ['cached over sqlite', () => createCachedStore(sqlite())],
  ['cached over a store that only waits', () => createCachedStore(waiting(sqlite()))],
];

const cookieOf = (setCookie: string | undefined) =>
  `__Host-session=${/^__Host-session=([^;]*)/.exec(setCookie ?? '')?.[1]}`;

describe.each(shapes)('authenticateNow on %s', (_name, open) => {
  async function setup() {
    const clock = manualClock();
    const store = await open();
    const sessions = createSessionManager({
      store,
      keys: [generateSigningKey()],
      sweepInterval: 0,
      now: clock.now,
      idleTimeout: 30 * 60,
      absoluteTimeout: 8 * 60 * 60,
      touchInterval: 60,
    });
    return { clock, store, sessions, flow: createSessionFlow(sessions) };
  }

  it('gives what authenticate gives, or stands aside, over a random walk of clocks, logins and revocations', async () => {
    const { clock, sessions, flow } = await setup();
    const cookies: string[] = ['__Host-session=garbage', `__Host-session=${'A'.repeat(89)}`];
    let answered = 0;
    let stoodAside = 0;
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    for (let step = 0; step < 600; step++) {
      const pick = random(10);
      if (pick === 0) cookies.push(cookieOf((await flow.login(undefined, `u${random(3)}`)).headers['set-cookie']));
      else if (pick === 1) clock.advance(random(40) * SECOND);
      else if (pick === 2 && random(4) === 0) clock.advance(random(40) * MINUTE);
      else if (pick === 3 && random(3) === 0) await sessions.revokeUserSessions(`u${random(3)}`);
      else {
        const cookie = cookies[random(cookies.length)];
        const method = random(4) === 0 ? 'POST' : 'GET';
        const now = flow.authenticateNow(cookie, method, '/');
        // Nothing was written: if it answered, the waiting path must give the same answer now.
        const waited = await flow.authenticate(cookie, method, '/');
        if (now === undefined) stoodAside++;
        else {
          answered++;
          expect(now).toEqual(waited);
        }
      }
    }
    expect(answered).toBeGreaterThan(10); // forged cookies at least, on every store
    expect(stoodAside).toBeGreaterThan(0);
  });

  it('no cookie, and a cookie that is not a live session, are answered at once', async () => {
    const { flow } = await setup();
    expect(flow.authenticateNow(undefined)).toEqual({ session: null, headers: {} });
    const dead = flow.authenticateNow('__Host-session=nope', 'GET', '/');
    expect(dead?.session).toBeNull();
    expect(dead?.headers['set-cookie']).toMatch(/^__Host-session=; Max-Age=0;/);
    expect(flow.authenticateNow('__Host-session=a; __HOST-session=b')?.session ?? null).toBeNull();
  });

  it('stands aside when the slide is due and when the session expired: both are writes', async () => {
    const { clock, flow, store } = await setup();
    const cookie = cookieOf((await flow.login(undefined, 'u1')).headers['set-cookie']);
    // Fills a cache, if any (a session is held from its second read).
    for (let i = 0; i < 2; i++) await flow.authenticate(cookie, 'GET', '/');
    expect(flow.authenticateNow(cookie, 'GET', '/')?.session?.userId ?? 'waits').toMatch(/^(u1|waits)$/);
    clock.advance(61 * SECOND);
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined(); // the slide is due
    const slid = await flow.authenticate(cookie, 'GET', '/');
    expect(slid.session?.lastSeenAt).toBe(clock.now());
    clock.advance(31 * MINUTE);
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined(); // expired: deleting it is a write
    expect((await flow.authenticate(cookie, 'GET', '/')).session).toBeNull();
    const id = slid.session?.id as string;
    expect(await store.get(id, { fresh: true })).toBeNull(); // deleted on sight, by the waiting path
  });

  it('reads the clock once for a request it answers: the expiry and the slide are judged at one instant', async () => {
    const clock = manualClock();
    let reads = 0;
    const sessions = createSessionManager({
      store: await open(),
      keys: [generateSigningKey()],
      sweepInterval: 0,
      now: () => {
        reads++;
        return clock.now();
      },
    });
    const flow = createSessionFlow(sessions);
    const cookie = cookieOf((await flow.login(undefined, 'u1')).headers['set-cookie']);
    for (let i = 0; i < 2; i++) await flow.authenticate(cookie, 'GET', '/'); // held by a cache, if any
    reads = 0;
    const answered = flow.authenticateNow(cookie, 'GET', '/');
    // #18: each read of the clock costs the request path about 0.1 µs; it read it twice.
    if (_name === 'a store that only waits') expect(answered).toBeUndefined();
    else {
      expect(answered?.session?.userId).toBe('u1');
      expect(reads).toBe(1);
    }
    // A forged cookie is answered without the clock.
    reads = 0;
    expect(flow.authenticateNow('__Host-session=forged', 'GET', '/')?.session).toBeNull();
    expect(reads).toBe(0);
  });
});

describe('authenticateNow behind a cache', () => {
  it('an unsafe method never takes a cached session: a revocation by another instance is seen at once', async () => {
    const backing = createMemoryStore();
    const clock = manualClock();
    const keys = [generateSigningKey()];
    const make = async (store: SessionStore) =>
      createSessionFlow(createSessionManager({ store, keys, sweepInterval: 0, now: clock.now }));
    // Two instances over one store, with no bus: each may serve a cached session for up to 60 s.
    const a = await make(await createCachedStore(waiting(backing), { maxStalenessMs: 60_000 }));
    const b = await make(await createCachedStore(waiting(backing), { maxStalenessMs: 60_000 }));
    const cookie = cookieOf((await a.login(undefined, 'u1')).headers['set-cookie']);
    // A session is held from its second read (the cache's admission): b caches it.
    for (let i = 0; i < 2; i++) expect((await b.authenticate(cookie, 'GET', '/')).session?.userId).toBe('u1');
    expect(b.authenticateNow(cookie, 'GET', '/')?.session?.userId).toBe('u1');
    await a.logout(cookie);
    // GET may be stale within the bound (documented); POST reads past the cache.
    const post = b.authenticateNow(cookie, 'POST', '/');
    expect(post?.session ?? null).toBeNull();
    expect((await b.authenticate(cookie, 'POST', '/')).session).toBeNull();
  });

  it('a store that fails throws from authenticateNow, so the adapters answer 503, never "logged in"', async () => {
    const db = new Database(join(dir, 'failing.db'));
    const flow = createSessionFlow(
      createSessionManager({ store: createSqliteStore(db), keys: [generateSigningKey()], sweepInterval: 0 }),
    );
    const cookie = cookieOf((await flow.login(undefined, 'u1')).headers['set-cookie']);
    expect(flow.authenticateNow(cookie, 'GET', '/')?.session?.userId).toBe('u1');
    db.close();
    expect(() => flow.authenticateNow(cookie, 'GET', '/')).toThrow(
      expect.objectContaining({ code: 'STORE_UNAVAILABLE' }),
    );
  });
});
