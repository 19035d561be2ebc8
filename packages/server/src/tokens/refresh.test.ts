/**
 * The rotation rules of `createRefreshTokens`, over the memory store. What every store must do for
 * them (atomic rotation, one successor for concurrent refreshes, reuse ending the family) is the
 * conformance suite's (conformance.ts), run on each store in refresh-memory.test.ts and
 * refresh-sqlite.test.ts.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { createMemoryStore } from '../stores/memory.js';
import { createRefreshTokens, type RefreshEvent, type RefreshTokensOptions } from './refresh.js';
import { createMemoryRefreshStore } from './refresh-memory.js';

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;

function setup(options: Partial<RefreshTokensOptions> = {}) {
  let clock = T0;
  const events: RefreshEvent[] = [];
  const store = createMemoryRefreshStore();
  const refresh = createRefreshTokens({ store, now: () => clock, onEvent: (e) => events.push(e), ...options });
  return {
    refresh,
    store,
    events,
    tick: (ms: number) => {
      clock += ms;
    },
  };
}
const next = (result: Awaited<ReturnType<ReturnType<typeof createRefreshTokens>['rotate']>>) => {
  expect(result.ok).toBe(true);
  return result.ok ? result.token : '';
};

describe('refresh tokens', () => {
  it('are <id>.<secret>, rotate on every use, and keep their user and family', async () => {
    const { refresh } = setup();
    const first = await refresh.issue('user-1');
    expect(first).toEqual({
      token: expect.stringMatching(/^[\w-]{22}\.[\w-]{43}$/),
      familyId: expect.any(String),
      expiresAt: T0 + 14 * DAY,
    });
    const second = await refresh.rotate(first.token);
    expect(second).toEqual({
      ok: true,
      token: expect.any(String),
      userId: 'user-1',
      familyId: first.familyId,
      expiresAt: T0 + 14 * DAY,
    });
    expect(next(second)).not.toBe(first.token);
    await expect(refresh.issue('')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses a refresh after the family or the user was revoked, and after the idle or absolute limit', async () => {
    const { refresh, tick } = setup();
    const a = await refresh.issue('user-3');
    expect(await refresh.revokeFamily(a.familyId)).toBe(true);
    expect(await refresh.rotate(a.token)).toEqual({ ok: false, reason: 'revoked' });
    const b = await refresh.issue('user-3');
    const c = await refresh.issue('user-3');
    expect(await refresh.revokeUser('user-3')).toBe(2);
    expect(await refresh.rotate(b.token)).toEqual({ ok: false, reason: 'revoked' });
    expect(await refresh.rotate(c.token)).toEqual({ ok: false, reason: 'revoked' });
    const d = await refresh.issue('user-4');
    tick(14 * DAY); // idle limit
    expect(await refresh.rotate(d.token)).toEqual({ ok: false, reason: 'expired' });
    // Used every 13 days, a family still ends 30 days after login.
    let token = (await refresh.issue('user-4')).token;
    for (let day = 13; day < 30; day += 13) {
      tick(13 * DAY);
      token = next(await refresh.rotate(token));
    }
    tick(5 * DAY);
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
    const r2 = next(await refresh.rotate(next(await refresh.rotate(r0.token))));
    // Still inside R0's grace window, but its successor R1 is spent: only R2 is live.
    expect(await refresh.rotate(r0.token)).toEqual({ ok: false, reason: 'reused' });
    expect(events).toEqual([{ type: 'reuse', familyId: r0.familyId, userId: 'user-7', at: T0 }]);
    expect(await refresh.rotate(r2)).toEqual({ ok: false, reason: 'revoked' });
    expect(await store.heads(r0.familyId)).toHaveLength(1); // nothing new was minted for the replay
  });

  it('with no grace period, even an immediate second refresh of one token is reuse', async () => {
    const { refresh, tick } = setup({ gracePeriod: 0 });
    const r0 = await refresh.issue('user-10');
    next(await refresh.rotate(r0.token));
    tick(1);
    expect(await refresh.rotate(r0.token)).toEqual({ ok: false, reason: 'reused' });
  });

  it('C: lists live families with their last use, and revokes one (its owner only) or all', async () => {
    const { refresh, tick } = setup();
    const a = await refresh.issue('user-8');
    tick(60_000);
    const b = await refresh.issue('user-8');
    await refresh.issue('user-9');
    tick(60_000);
    next(await refresh.rotate(a.token));
    expect(await refresh.listFamilies('user-8')).toEqual([
      { id: b.familyId, createdAt: T0 + 60_000, lastUsedAt: T0 + 60_000, expiresAt: T0 + 60_000 + 30 * DAY },
      { id: a.familyId, createdAt: T0, lastUsedAt: T0 + 120_000, expiresAt: T0 + 30 * DAY },
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
    tick(14 * DAY);
    expect(await refresh.listFamilies('user-9')).toEqual([]);
  });
});

describe('createRefreshTokens checks its options at construction', () => {
  const store = createMemoryRefreshStore();
  const message = (options: unknown) => {
    try {
      createRefreshTokens(options as RefreshTokensOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigurationError');
  };

  it('refuses timeouts it cannot honour, naming the unit when seconds were given as milliseconds', () => {
    expect(message({ store, gracePeriod: 120 })).toMatch(/gracePeriod must be a whole number of seconds from 0 to 60/);
    expect(message({ store, idleTimeout: 100, absoluteTimeout: 50 })).toMatch(
      /idleTimeout \(100 s\) must not exceed absoluteTimeout \(50 s\)/,
    );
    expect(message({ store, idleTimeout: 1_209_600_000 })).toMatch(/idleTimeout is in seconds; .* \(use 1209600\)/);
    expect(message({ store, idleTimeout: 3_600_000 })).toMatch(/idleTimeout is in seconds; .* \(use 3600\)/);
    expect(message({ store, idleTimeout: 0 })).toMatch(/idleTimeout must be/);
  });

  it('refuses an unknown option, with the name it probably meant', () => {
    expect(message({ store, gracePeriode: 5 })).toMatch(/unknown option "gracePeriode"; did you mean "gracePeriod"/);
    expect(message({ store, ttl: 60 })).toMatch(/did you mean "absoluteTimeout"/);
  });

  it('refuses a store that does not meet the contract, and says what to pass', () => {
    expect(message({})).toMatch(/store is required: pass createSqliteRefreshStore\(db\)/);
    expect(message({ store: {} })).toMatch(/lacks createFamily, get, rotate.*runRefreshStoreConformance/);
    const db = new Database(':memory:');
    expect(message({ store: db })).toMatch(
      /is a SQLite Database, not a refresh store: pass createSqliteRefreshStore\(db\)/,
    );
    db.close();
    expect(message({ store: Promise.resolve(store) })).toMatch(/is a Promise: await it first/);
    expect(message({ store: createMemoryRefreshStore })).toMatch(/is a function: call it/);
    expect(message({ store: createMemoryStore() })).toMatch(/looks like a session store/);
    expect(message({ store, onEvent: 'log' })).toMatch(/onEvent must be a function/);
  });
});
