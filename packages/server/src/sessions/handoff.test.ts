/**
 * The handoff from `validateNow` to the `validate` of the same request (#18): when the fast path
 * stands aside, the slow path takes what it learned instead of doing it again. Each test fails on
 * the code before the handoff (two store reads, two MAC checks, two cache hits), or attacks the
 * handoff itself (a left-over entry served after a revocation, or to another token).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createDeviceBinding } from '../dbsc/binding.js';
import { createSessionFlow } from '../http/session-flow.js';
import { createCachedStore } from '../stores/cached.js';
import { sampleBinding } from '../stores/conformance.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionStore } from '../stores/store.js';
import { MINUTE, manualClock } from '../test/clock.js';
import { generateSigningKey } from './key-ring.js';
import { createSessionManager, internalsOf } from './manager.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-handoff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const sqlite = () => createSqliteStore(new Database(join(dir, `s${files++}.db`)));

/** The store, with every read counted; `answersAtOnce: false` takes its `getNow` away (PostgreSQL, Redis). */
function counted(store: SessionStore, answersAtOnce = true) {
  const reads = { count: 0 };
  const { getNow, get, ...rest } = store;
  const wrapped: SessionStore = {
    ...rest,
    get(id, options) {
      reads.count++;
      return get.call(store, id, options);
    },
  };
  if (answersAtOnce && getNow !== undefined) {
    wrapped.getNow = (id, options) => {
      reads.count++;
      return getNow.call(store, id, options);
    };
  }
  return { store: wrapped, reads };
}

async function setup(store: SessionStore) {
  const clock = manualClock();
  const sessions = createSessionManager({
    store,
    keys: [generateSigningKey()],
    now: clock.now,
    sweepInterval: 0,
    touchInterval: 60,
  });
  const flow = createSessionFlow(sessions);
  const login = await flow.login(undefined, 'u1');
  const cookie = /^(__Host-session=[^;]*)/.exec(login.headers['set-cookie'] ?? '')?.[1];
  if (cookie === undefined) throw new Error('no cookie');
  const id = login.session.id;
  /** One request as the adapters make it: the fast path, else the slow one at once. */
  const request = async (method = 'GET') =>
    flow.authenticateNow(cookie, method, '/') ?? (await flow.authenticate(cookie, method, '/'));
  return { clock, sessions, flow, cookie, id, request };
}

describe('the handoff from the fast path to the slow one', () => {
  it('a request whose slide is due reads the store once, and slides', async () => {
    const { store, reads } = counted(sqlite());
    const { clock, flow, cookie, request } = await setup(store);
    reads.count = 0;
    expect((await request()).session).not.toBeNull();
    expect(reads.count).toBe(1);
    clock.advance(2 * MINUTE);
    reads.count = 0;
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined(); // the slide is due
    const slid = (await flow.authenticate(cookie, 'GET', '/')).session;
    expect(slid?.lastSeenAt).toBe(clock.now());
    expect(reads.count).toBe(1); // two before the handoff
    // The slide was written: the next request answers at once and sees it.
    reads.count = 0;
    expect(flow.authenticateNow(cookie, 'GET', '/')?.session?.lastSeenAt).toBe(clock.now());
    expect(reads.count).toBe(1);
  });

  it('a cached store counts one hit for a request whose slide is due', async () => {
    const cached = await createCachedStore(sqlite());
    const { clock, request } = await setup(cached);
    await request();
    await request(); // held from the second read
    clock.advance(2 * MINUTE);
    const before = { ...cached.stats };
    expect((await request()).session?.lastSeenAt).toBe(clock.now());
    expect(cached.stats.hits - before.hits + (cached.stats.misses - before.misses)).toBe(1);
  });

  it('over a store that only waits, the MAC is checked once and the store read once, on first sight', async () => {
    const { store, reads } = counted(sqlite(), false);
    for (const shape of ['plain', 'cached'] as const) {
      const { sessions, request } = await setup(shape === 'plain' ? store : await createCachedStore(store));
      const ring = internalsOf(sessions)?.ring;
      if (ring === undefined) throw new Error('no internals');
      const verify = vi.spyOn(ring, 'verify');
      reads.count = 0;
      expect((await request()).session?.userId).toBe('u1');
      expect(verify).toHaveBeenCalledTimes(1); // twice before the handoff
      expect(reads.count).toBe(1);
      // Proven now: the next requests check no MAC.
      await request();
      expect(verify).toHaveBeenCalledTimes(1);
    }
  });

  // Attacks the handoff: an entry the slow path never took must not serve a later request.
  it('an entry left behind is gone before any I/O: a revocation in between is seen', async () => {
    const { clock, sessions, flow, cookie, id } = await setup(sqlite());
    clock.advance(2 * MINUTE);
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined(); // stood aside, handed off
    await new Promise((resolve) => setImmediate(resolve)); // no slow path: the caller went away
    expect(await sessions.revokeSession(id)).toBe(true);
    expect((await flow.authenticate(cookie, 'GET', '/')).session).toBeNull();
  });

  it('an entry left behind in the same run never serves another token', async () => {
    const store = sqlite();
    const { clock, flow, cookie } = await setup(store);
    const other = createSessionFlow(
      createSessionManager({ store, keys: [generateSigningKey()], now: clock.now, sweepInterval: 0 }),
    );
    clock.advance(2 * MINUTE);
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined();
    // Same manager, another cookie: a forged one and one naming nothing get nothing of the entry.
    const forged = `${cookie.slice(0, -1)}${cookie.endsWith('A') ? 'B' : 'A'}`;
    expect((await flow.authenticate(forged, 'GET', '/')).session).toBeNull();
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined();
    expect((await flow.authenticate('__Host-session=nothing', 'GET', '/')).session).toBeNull();
    // Another manager has its own (empty) handoff.
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined();
    expect((await other.authenticate(cookie, 'GET', '/')).session).toBeNull();
    // And the owner still gets its session after all that.
    expect((await flow.authenticate(cookie, 'GET', '/')).session?.lastSeenAt).toBe(clock.now());
  });

  it('an unsafe method does not take what a safe one read', async () => {
    const { store, reads } = counted(sqlite());
    const { clock, flow, cookie } = await setup(store);
    clock.advance(2 * MINUTE);
    expect(flow.authenticateNow(cookie, 'GET', '/')).toBeUndefined();
    reads.count = 0;
    expect((await flow.authenticate(cookie, 'POST', '/')).session).not.toBeNull();
    expect(reads.count).toBe(1); // its own fresh read
  });

  // Attacks found by a review of the first version, which handed over "accepted" too.
  describe('a bound session, a thief with the session cookie only, the slide due', () => {
    async function bound() {
      const clock = manualClock();
      const sessions = createSessionManager({
        store: sqlite(),
        keys: [generateSigningKey()],
        now: clock.now,
        sweepInterval: 0,
        touchInterval: 60,
      });
      // An app that exempts one path from the bound cookie, as docs/dbsc.md allows.
      const flow = createSessionFlow(sessions, {
        deviceBinding: createDeviceBinding(sessions, { enforce: ({ path }) => path !== '/api/beacon' }),
      });
      const inner = internalsOf(sessions);
      if (inner === undefined) throw new Error('no internals');
      const login = await flow.login(undefined, 'u1');
      const cookie = /^(__Host-session=[^;]*)/.exec(login.headers['set-cookie'] ?? '')?.[1] as string;
      expect(await inner.setBinding?.(login.session.id, sampleBinding(), null)).toBe(true);
      clock.advance(2 * MINUTE);
      return { sessions, flow, inner, cookie, token: cookie.slice('__Host-session='.length) };
    }

    // A custom integration may run a step of the flow in the same run as an exempt request's
    // quick path: the step must still refuse the thief (no path is exempt for login, logout, step-up).
    for (const step of ['logout', 'reauthenticate', 'login'] as const) {
      it(`${step} right after authenticateNow on an exempt path still refuses the thief`, async () => {
        const { sessions, flow, cookie, token } = await bound();
        expect(flow.authenticateNow(cookie, 'POST', '/api/beacon')).toBeUndefined(); // handed off
        if (step === 'logout') expect((await flow.logout(cookie)).revoked).toBe(false);
        else if (step === 'reauthenticate') expect(await flow.reauthenticate(cookie)).toBeNull();
        else await flow.login(cookie, 'thief-account');
        expect((await sessions.validateToken(token))?.userId).toBe('u1'); // the owner's session lives
      });
    }

    it('validate asks its own accept after a validateNow that had none', async () => {
      const { inner, token } = await bound();
      expect(inner.validateNow(token, undefined, undefined)).toBeUndefined();
      expect(await inner.validate(token, undefined, () => false)).toBe(false);
    });
  });
});
