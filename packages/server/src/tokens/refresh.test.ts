import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { createMemoryRefreshStore, createRefreshTokens, type RefreshEvent, type RefreshStore } from './refresh.js';
import { createSqliteRefreshStore } from './refresh-sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-refresh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function cases(name: string, makeStore: () => { store: RefreshStore; dump: () => string; second?: RefreshStore }) {
  describe(name, () => {
    const setup = (options: { gracePeriod?: number } = {}) => {
      let clock = 1_800_000_000_000;
      const events: RefreshEvent[] = [];
      const made = makeStore();
      const make = (store: RefreshStore) =>
        createRefreshTokens({ store, now: () => clock, onEvent: (e) => events.push(e), ...options });
      return {
        refresh: make(made.store),
        other: made.second ? make(made.second) : undefined,
        store: made.store,
        dump: made.dump,
        events,
        tick: (ms: number) => {
          clock += ms;
        },
      };
    };

    it('rotates on every use; a spent token replayed after the grace window revokes the whole family', async () => {
      const { refresh, store, events, tick } = setup();
      const first = await refresh.issue('user-1');
      expect(first.token).toMatch(/^[\w-]{22}\.[\w-]{43}$/);
      const second = await refresh.rotate(first.token);
      expect(second).toMatchObject({ ok: true, userId: 'user-1', familyId: first.familyId });
      const secondToken = second.ok ? second.token : '';
      expect(secondToken).not.toBe(first.token);
      tick(11_000); // past the 10 s grace window
      expect(await refresh.rotate(first.token)).toEqual({ ok: false, reason: 'reused' });
      expect(events).toEqual([{ type: 'reuse', familyId: first.familyId, userId: 'user-1', at: expect.any(Number) }]);
      // The thief's copy and the user's current token are both dead now.
      expect(await refresh.rotate(secondToken)).toEqual({ ok: false, reason: 'revoked' });
      expect(await store.liveFamilies('user-1', Date.now())).toEqual([]);
    });

    it('two concurrent refreshes inside the grace window both succeed, with the same successor: one live head', async () => {
      const { refresh, other, store } = setup();
      const first = await refresh.issue('user-2');
      const [a, b] = await Promise.all([refresh.rotate(first.token), (other ?? refresh).rotate(first.token)]);
      expect(a.ok && b.ok).toBe(true);
      expect(a.ok && b.ok && a.token === b.token).toBe(true);
      const heads = await store.heads(first.familyId);
      expect(heads).toHaveLength(1);
      // The successor works once, as usual.
      const next = await refresh.rotate(a.ok ? a.token : '');
      expect(next.ok).toBe(true);
    });

    it('refuses a refresh after the family or the user was revoked, and after the idle or absolute limit', async () => {
      const { refresh, tick } = setup();
      const a = await refresh.issue('user-3');
      await refresh.revokeFamily(a.familyId);
      expect(await refresh.rotate(a.token)).toEqual({ ok: false, reason: 'revoked' });
      const b = await refresh.issue('user-3');
      const c = await refresh.issue('user-3');
      expect(await refresh.revokeUser('user-3')).toBe(2);
      expect((await refresh.rotate(b.token)).ok).toBe(false);
      expect((await refresh.rotate(c.token)).ok).toBe(false);
      const d = await refresh.issue('user-4');
      tick(14 * 86_400_000); // idle limit
      expect(await refresh.rotate(d.token)).toEqual({ ok: false, reason: 'expired' });
      // Used every 13 days, a family still ends 30 days after login.
      let token = (await refresh.issue('user-4')).token;
      for (let day = 13; day < 30; day += 13) {
        tick(13 * 86_400_000);
        const r = await refresh.rotate(token);
        expect(r.ok).toBe(true);
        token = r.ok ? r.token : '';
      }
      tick(5 * 86_400_000);
      expect(await refresh.rotate(token)).toEqual({ ok: false, reason: 'expired' });
    });

    it('treats a wrong secret as invalid without revoking anything (guessing cannot end a user’s family)', async () => {
      const { refresh, events } = setup();
      const a = await refresh.issue('user-5');
      const [id, secret = ''] = a.token.split('.');
      const flipped = `${id}.${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
      for (const bad of [flipped, `${id}.`, 'x.y', '', `${a.token}x`, 42 as unknown as string])
        expect(await refresh.rotate(bad)).toEqual({ ok: false, reason: 'invalid' });
      expect(events).toEqual([]);
      expect((await refresh.rotate(a.token)).ok).toBe(true);
    });

    it('B: a token spent two rotations back gets no successor that is spent too: that is reuse', async () => {
      const { refresh, events, store } = setup();
      const r0 = await refresh.issue('user-7');
      const r1 = await refresh.rotate(r0.token);
      const r2 = await refresh.rotate(r1.ok ? r1.token : '');
      expect(r2.ok).toBe(true);
      // Still inside R0's grace window, but its successor R1 is spent: only R2 is live.
      expect(await refresh.rotate(r0.token)).toEqual({ ok: false, reason: 'reused' });
      expect(events).toEqual([{ type: 'reuse', familyId: r0.familyId, userId: 'user-7', at: expect.any(Number) }]);
      expect(await refresh.rotate(r2.ok ? r2.token : '')).toEqual({ ok: false, reason: 'revoked' });
      expect(await store.heads(r0.familyId)).toHaveLength(1); // nothing new was minted for the replay
    });

    it('C: lists live families with their last use, and revokes one (its owner only) or all', async () => {
      const { refresh, tick } = setup();
      const start = 1_800_000_000_000;
      const a = await refresh.issue('user-8');
      tick(60_000);
      const b = await refresh.issue('user-8');
      await refresh.issue('user-9');
      tick(60_000);
      expect((await refresh.rotate(a.token)).ok).toBe(true);
      const listed = await refresh.listFamilies('user-8');
      expect(listed.sort((x, y) => x.createdAt - y.createdAt)).toEqual([
        { id: a.familyId, createdAt: start, lastUsedAt: start + 120_000, expiresAt: start + 2_592_000_000 },
        { id: b.familyId, createdAt: start + 60_000, lastUsedAt: start + 60_000, expiresAt: start + 2_592_060_000 },
      ]);
      // Someone else's family id does nothing, and says so.
      expect(await refresh.revokeFamily(b.familyId, { userId: 'user-9' })).toBe(false);
      expect(await refresh.revokeFamily(b.familyId, { userId: 'user-8' })).toBe(true);
      expect(await refresh.revokeFamily(b.familyId)).toBe(false); // already revoked
      expect((await refresh.listFamilies('user-8')).map((f) => f.id)).toEqual([a.familyId]);
      expect(await refresh.revokeUser('user-8')).toBe(1);
      expect(await refresh.listFamilies('user-8')).toEqual([]);
      expect(await refresh.listFamilies('user-9')).toHaveLength(1);
      // A family whose head went unused past the idle limit is not listed as live.
      tick(14 * 86_400_000);
      expect(await refresh.listFamilies('user-9')).toEqual([]);
    });

    it('keeps neither a token nor a successor in readable form in the store', async () => {
      const { refresh, dump } = setup();
      const a = await refresh.issue('user-6');
      const b = await refresh.rotate(a.token);
      const text = dump();
      for (const token of [a.token, b.ok ? b.token : ''])
        for (const part of token.split('.').slice(1)) expect(text).not.toContain(part);
    });
  });
}

cases('refresh tokens in memory', () => {
  const store = createMemoryRefreshStore();
  return { store, dump: () => '' };
});

cases('refresh tokens in SQLite (two connections to one file)', () => {
  const file = join(dir, `refresh-${n++}.db`);
  const a = new Database(file);
  a.pragma('journal_mode = WAL');
  const b = new Database(file);
  b.pragma('busy_timeout = 2000');
  const store = createSqliteRefreshStore(a);
  return {
    store,
    second: createSqliteRefreshStore(b),
    dump: () =>
      JSON.stringify([
        a.prepare('SELECT * FROM latchkey_refresh_tokens').all(),
        a.prepare('SELECT * FROM latchkey_refresh_families').all(),
      ]),
  };
});

it('C: a SQLite file from before lastUsedAt gets the column, and its families read as never rotated', async () => {
  const db = new Database(join(dir, `refresh-${n++}.db`));
  const made = Date.now() - 1000;
  db.exec(`
    CREATE TABLE latchkey_refresh_families (
      id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, revoked_at INTEGER
    );
    INSERT INTO latchkey_refresh_families VALUES ('old-family', 'user-1', ${made}, ${made + 86_400_000}, NULL);
  `);
  const refresh = createRefreshTokens({ store: createSqliteRefreshStore(db) });
  createSqliteRefreshStore(db); // opening twice is harmless
  expect(await refresh.listFamilies('user-1')).toEqual([
    { id: 'old-family', createdAt: made, lastUsedAt: made, expiresAt: made + 86_400_000 },
  ]);
  const fresh = await refresh.issue('user-1');
  expect((await refresh.rotate(fresh.token)).ok).toBe(true);
  expect((await refresh.listFamilies('user-1')).map((f) => f.id)).toEqual([fresh.familyId, 'old-family']);
  expect(() => createSqliteRefreshStore(db, { tablePrefix: 'x; DROP TABLE y' })).toThrow(ConfigurationError);
  db.close();
});

it('refuses timeouts it cannot honour', () => {
  const store = createMemoryRefreshStore();
  expect(() => createRefreshTokens({ store, gracePeriod: 120 })).toThrow(ConfigurationError);
  expect(() => createRefreshTokens({ store, idleTimeout: 100, absoluteTimeout: 50 })).toThrow(ConfigurationError);
});
