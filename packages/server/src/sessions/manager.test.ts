import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  InvalidArgumentError,
  KeyError,
  SessionDataError,
  StoreUnavailableError,
} from '../errors.js';
import { createMemoryStore } from '../stores/memory.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionStore } from '../stores/store.js';
import { HOUR, MINUTE, manualClock, SECOND } from '../test/clock.js';
import { createKeyRing, generateSigningKey } from './key-ring.js';
import { createSessionManager, type SessionManagerOptions } from './manager.js';
import { generateTokenParts, signToken } from './token.js';

const key = generateSigningKey();
const dir = mkdtempSync(join(tmpdir(), 'latchkey-manager-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A real SQLite file per test, and a count of the writes that touch() makes. */
function setup(options: Partial<SessionManagerOptions> = {}) {
  const clock = manualClock();
  const db = new Database(join(dir, `m${files++}.db`));
  const sqlite = createSqliteStore(db);
  let touches = 0;
  const store: SessionStore = {
    ...sqlite,
    touch(...args) {
      touches++;
      return sqlite.touch(...args);
    },
  };
  const sessions = createSessionManager({ store, keys: [key], now: clock.now, sweepInterval: 0, ...options });
  return { clock, db, store, sessions, touches: () => touches };
}

describe('session manager', () => {
  it('creates a session that validates, with device info', async () => {
    const { sessions, clock } = setup();
    const { token, session } = await sessions.createSession('u1', {
      userAgent: 'UA/1',
      ip: '198.51.100.4',
      data: { theme: 'dark' },
    });
    const valid = await sessions.validateToken(token);
    expect(valid).toMatchObject({
      id: session.id,
      userId: 'u1',
      userAgent: 'UA/1',
      ip: '198.51.100.4',
      data: { theme: 'dark' },
    });
    expect(valid?.createdAt).toBe(clock.now());
    expect(valid?.expiresAt).toBe(clock.now() + 30 * MINUTE);
    expect(valid?.absoluteExpiresAt).toBe(clock.now() + 12 * HOUR);
    expect(valid).not.toHaveProperty('secretHash');
    expect(token.startsWith(`${session.id}.`)).toBe(true);
  });

  it('T1: past the idle limit the session is gone and its row deleted', async () => {
    const { sessions, clock, store } = setup({ idleTimeout: 600 });
    const { token, session } = await sessions.createSession('u1');
    clock.advance(600 * SECOND - 1);
    expect(await sessions.validateToken(token)).not.toBeNull();
    clock.advance(600 * SECOND);
    expect(await sessions.validateToken(token)).toBeNull();
    expect(await store.get(session.id)).toBeNull();
  });

  it('T1: activity slides the idle limit but never past the absolute limit', async () => {
    const { sessions, clock, store } = setup({ idleTimeout: 600, absoluteTimeout: 3600, touchInterval: 60 });
    const { token, session } = await sessions.createSession('u1');
    for (let t = 0; t < 3600 - 300; t += 300) {
      clock.advance(300 * SECOND);
      const valid = await sessions.validateToken(token);
      expect(valid).not.toBeNull();
      expect(valid?.expiresAt).toBeLessThanOrEqual(session.absoluteExpiresAt);
    }
    clock.set(session.absoluteExpiresAt - 1);
    expect(await sessions.validateToken(token)).not.toBeNull();
    expect((await store.get(session.id))?.expiresAt).toBe(session.absoluteExpiresAt);
    clock.advance(1);
    expect(await sessions.validateToken(token)).toBeNull();
    expect(await store.get(session.id)).toBeNull();
  });

  it('writes lastSeenAt at most once per touch interval', async () => {
    const { sessions, clock, touches } = setup({ touchInterval: 60 });
    const { token } = await sessions.createSession('u1');
    for (let i = 0; i < 100; i++) {
      clock.advance(500);
      await sessions.validateToken(token);
    }
    expect(touches()).toBe(0); // 50 s of requests: no write
    clock.advance(10 * SECOND);
    const valid = await sessions.validateToken(token);
    expect(touches()).toBe(1);
    expect(valid?.lastSeenAt).toBe(clock.now());
    await sessions.validateToken(token);
    expect(touches()).toBe(1);
  });

  it('time: clock jumps back and forth never revive a session or stretch the absolute limit', async () => {
    const { sessions, clock } = setup({ idleTimeout: 600, absoluteTimeout: 3600 });
    const start = clock.now();
    const { token } = await sessions.createSession('u1');
    clock.set(start - 5 * HOUR); // backwards: still the same session, no write into the future
    expect(await sessions.validateToken(token)).not.toBeNull();
    clock.set(start + 4000 * SECOND); // past absolute
    expect(await sessions.validateToken(token)).toBeNull();
    clock.set(start + 10 * SECOND); // back again: the row is gone, nothing revives it
    expect(await sessions.validateToken(token)).toBeNull();
  });

  it('F1: rotation kills the old id at once and keeps user, data and absolute limit', async () => {
    const { sessions, clock } = setup();
    const first = await sessions.createSession('u1', { data: { cart: [1, 2] } });
    clock.advance(5 * MINUTE);
    const rotated = await sessions.rotateSession(first.token, { reauthenticated: true });
    expect(rotated).not.toBeNull();
    expect(await sessions.validateToken(first.token)).toBeNull();
    const valid = await sessions.validateToken(rotated?.token as string);
    expect(valid?.id).not.toBe(first.session.id);
    expect(valid).toMatchObject({
      userId: 'u1',
      data: { cart: [1, 2] },
      absoluteExpiresAt: first.session.absoluteExpiresAt,
    });
    expect(valid?.authenticatedAt).toBe(clock.now());
    expect(await sessions.rotateSession(first.token)).toBeNull();
  });

  it('revokes one session, all of a user, or all but the current', async () => {
    const { sessions } = setup();
    const a = await sessions.createSession('u1');
    const b = await sessions.createSession('u1');
    const c = await sessions.createSession('u1');
    const other = await sessions.createSession('u2');
    expect(await sessions.revokeSession(a.session.id)).toBe(true);
    expect(await sessions.validateToken(a.token)).toBeNull();
    expect(await sessions.revokeOtherSessions('u1', c.session.id)).toBe(1);
    expect(await sessions.validateToken(b.token)).toBeNull();
    expect(await sessions.validateToken(c.token)).not.toBeNull();
    expect(await sessions.revokeUserSessions('u1')).toBe(1);
    expect(await sessions.validateToken(c.token)).toBeNull();
    expect(await sessions.listUserSessions('u1')).toEqual([]);
    expect(await sessions.validateToken(other.token)).not.toBeNull();
  });

  it("lists a user's live sessions with device info, dropping expired ones", async () => {
    const { sessions, clock, store } = setup({ idleTimeout: 600 });
    const old = await sessions.createSession('u1', { userAgent: 'Old/1', ip: '192.0.2.1' });
    clock.advance(500 * SECOND);
    const fresh = await sessions.createSession('u1', { userAgent: 'New/2', ip: '192.0.2.2' });
    let list = await sessions.listUserSessions('u1');
    expect(list.map((s) => [s.id, s.userAgent, s.ip])).toEqual([
      [old.session.id, 'Old/1', '192.0.2.1'],
      [fresh.session.id, 'New/2', '192.0.2.2'],
    ]);
    expect(list.every((s) => typeof s.createdAt === 'number' && typeof s.lastSeenAt === 'number')).toBe(true);
    clock.advance(200 * SECOND);
    list = await sessions.listUserSessions('u1');
    expect(list.map((s) => s.id)).toEqual([fresh.session.id]);
    expect(await store.get(old.session.id)).toBeNull();
  });

  it('T3: the per-user cap evicts the oldest session', async () => {
    const { sessions, clock } = setup({ maxSessionsPerUser: 3 });
    const issued = [];
    for (let i = 0; i < 4; i++) {
      issued.push(await sessions.createSession('u1'));
      clock.advance(SECOND);
    }
    expect(await sessions.validateToken(issued[0]?.token as string)).toBeNull();
    for (const s of issued.slice(1)) expect(await sessions.validateToken(s.token)).not.toBeNull();
    expect(await sessions.listUserSessions('u1')).toHaveLength(3);
  });

  it('keeps small JSON data and refuses what is not', async () => {
    const { sessions } = setup({ maxDataBytes: 64 });
    const { token, session } = await sessions.createSession('u1');
    expect(await sessions.updateSessionData(session.id, { step: 2, ok: true })).toBe(true);
    expect((await sessions.validateToken(token))?.data).toEqual({ step: 2, ok: true });
    await expect(sessions.updateSessionData(session.id, { big: 'x'.repeat(100) })).rejects.toBeInstanceOf(
      SessionDataError,
    );
    await expect(sessions.updateSessionData(session.id, [] as never)).rejects.toThrow(SessionDataError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(sessions.updateSessionData(session.id, cyclic)).rejects.toThrow(SessionDataError);
    await expect(sessions.updateSessionData(session.id, { n: 1n })).rejects.toMatchObject({
      code: 'SESSION_DATA_INVALID',
    });
    expect(await sessions.updateSessionData('no-such-id', {})).toBe(false);
  });

  it('a leaked store row cannot be replayed: the secret must hash to the stored value', async () => {
    const { sessions, db } = setup();
    const { session } = await sessions.createSession('u1');
    const row = db.prepare('SELECT id, secret_hash FROM latchkey_sessions').get() as {
      id: string;
      secret_hash: string;
    };
    expect(row.id).toBe(session.id);
    // Even an insider with the signing key cannot mint a token for the row without the secret.
    const ring = createKeyRing([key]);
    const forged = signToken({ id: row.id, secret: row.secret_hash.slice(0, 22) }, ring);
    expect(await sessions.validateToken(forged)).toBeNull();
    const random = signToken({ ...generateTokenParts(), id: row.id }, ring);
    expect(await sessions.validateToken(random)).toBeNull();
  });

  it('sweeps expired sessions on a timer', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { sessions, clock, db } = setup({ sweepInterval: 60, idleTimeout: 600 });
      await sessions.createSession('u1');
      await sessions.createSession('u2');
      clock.advance(601 * SECOND);
      const count = () => db.prepare('SELECT COUNT(*) FROM latchkey_sessions').pluck().get();
      expect(count()).toBe(2);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(count()).toBe(0);
      sessions.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a failing store rejects with StoreUnavailableError, never a session', async () => {
    const { sessions, db } = setup();
    const { token } = await sessions.createSession('u1');
    db.close();
    await expect(sessions.validateToken(token)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(sessions.createSession('u1')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('a remembered (already verified) token is still checked against the store every time', async () => {
    for (const verifiedTokens of [10_000, 0]) {
      const { sessions, clock, store } = setup({ verifiedTokens, idleTimeout: 600 });
      const a = await sessions.createSession('u1');
      const b = await sessions.createSession('u1');
      for (let i = 0; i < 3; i++) expect(await sessions.validateToken(a.token)).not.toBeNull();
      await sessions.revokeSession(a.session.id);
      expect(await sessions.validateToken(a.token)).toBeNull(); // revoked: gone despite the memo
      expect(await sessions.validateToken(b.token)).not.toBeNull();
      clock.advance(601 * SECOND);
      expect(await sessions.validateToken(b.token)).toBeNull(); // expired: gone despite the memo
      expect(await store.get(b.session.id)).toBeNull();
      // A look-alike of a remembered token is a different string: it takes the full check.
      const c = await sessions.createSession('u1');
      await sessions.validateToken(c.token);
      expect(
        await sessions.validateToken(`${c.token.slice(0, 30)}${c.token[30] === 'A' ? 'B' : 'A'}${c.token.slice(31)}`),
      ).toBeNull();
    }
  });

  it('expected failures are null, not errors', async () => {
    const { sessions } = setup();
    for (const bad of ['', 'x', 'a.b.c', '...', null, undefined, 42, {}]) {
      expect(await sessions.validateToken(bad as string)).toBeNull();
    }
  });

  it('throws on misuse and bad configuration, with codes', async () => {
    const store = createMemoryStore();
    const make = (o: Partial<SessionManagerOptions>) =>
      createSessionManager({ store, keys: [key], sweepInterval: 0, ...o });
    expect(() => make({ idleTimeout: 0 })).toThrow(ConfigurationError);
    expect(() => make({ absoluteTimeout: 401 * 24 * 3600 })).toThrow(/absoluteTimeout/);
    expect(() => make({ idleTimeout: 3600, absoluteTimeout: 60 })).toThrow(/absoluteTimeout/);
    expect(() => make({ cookie: { sameSite: 'none' as 'lax' } })).toThrow(ConfigurationError);
    expect(() => make({ cookie: { name: 'bad name;' } })).toThrow(ConfigurationError);
    expect(() => make({ keys: ['short'] })).toThrow(KeyError);
    expect(() => make({ idleTimeout: Number.NaN })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const sessions = make({});
    await expect(sessions.createSession('')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(sessions.createSession('x'.repeat(256))).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' });
    await expect(sessions.revokeOtherSessions('u1', '')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
