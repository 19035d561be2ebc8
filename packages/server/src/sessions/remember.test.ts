/**
 * "Remember me": an explicit choice at login for longer limits on that session only, capped, and
 * never a way around step-up. Real SQLite files; the remembered state is read back from the row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createExpressSessions } from '../adapters/express/index.js';
import { createFastifySessions } from '../adapters/fastify/index.js';
import { createHonoSessions } from '../adapters/hono/index.js';
import { createNodeSessions } from '../adapters/node/index.js';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { checkLoginOptions, createSessionFlow } from '../http/session-flow.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionStore } from '../stores/store.js';
import { DAY, HOUR, MINUTE, manualClock, SECOND } from '../test/clock.js';
import { generateSigningKey } from './key-ring.js';
import { createSessionManager, type SessionManagerOptions } from './manager.js';

const key = generateSigningKey();
const dir = mkdtempSync(join(tmpdir(), 'latchkey-remember-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function setup(options: Partial<SessionManagerOptions> = {}, store?: SessionStore) {
  const clock = manualClock();
  const backing = store ?? createSqliteStore(new Database(join(dir, `r${files++}.db`)));
  const make = (more: Partial<SessionManagerOptions> = {}) =>
    createSessionManager({ store: backing, keys: [key], now: clock.now, sweepInterval: 0, ...options, ...more });
  return { clock, store: backing, sessions: make(), make };
}

const thrown = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
};

describe('remember me', () => {
  it('is off unless asked for: an ordinary session keeps 30 min idle and 12 h absolute', async () => {
    const { sessions, clock } = setup();
    const { session } = await sessions.createSession('u1');
    expect(session.absoluteExpiresAt - clock.now()).toBe(12 * HOUR);
    expect(session.expiresAt - clock.now()).toBe(30 * MINUTE);
    expect(sessions.isRemembered(session)).toBe(false);
    const { session: unticked } = await sessions.createSession('u1', { remember: false });
    expect(sessions.isRemembered(unticked)).toBe(false);
  });

  it('remember: true gives 30 days absolute and 7 days idle by default, and says so', async () => {
    const { sessions, clock } = setup();
    expect(sessions.remember).toEqual({ absoluteTimeout: 30 * 86_400, idleTimeout: 7 * 86_400 });
    const { token, session } = await sessions.createSession('u1', { remember: true });
    expect(session.absoluteExpiresAt - clock.now()).toBe(30 * DAY);
    expect(session.expiresAt - clock.now()).toBe(7 * DAY);
    expect(sessions.isRemembered(session)).toBe(true);

    clock.advance(6 * DAY); // idle for six days: still in
    const back = await sessions.validateToken(token);
    expect(back).not.toBeNull();
    expect(sessions.isRemembered(back as never)).toBe(true);
    expect((back?.expiresAt ?? 0) - clock.now()).toBe(7 * DAY); // the slide uses the remembered idle limit
  });

  it('the idle limit still ends a remembered session, and so does the absolute one however active', async () => {
    const { sessions, clock, store } = setup();
    const idle = await sessions.createSession('u1', { remember: true });
    clock.advance(7 * DAY);
    expect(await sessions.validateToken(idle.token)).toBeNull();
    expect(await store.get(idle.session.id)).toBeNull();

    const busy = await sessions.createSession('u2', { remember: true });
    for (let day = 1; day < 30; day++) {
      clock.advance(DAY);
      expect(await sessions.validateToken(busy.token)).not.toBeNull();
    }
    clock.advance(DAY);
    expect(await sessions.validateToken(busy.token)).toBeNull();
  });

  it('an ordinary session is not stretched by the remembered limits', async () => {
    const { sessions, clock } = setup();
    const { token } = await sessions.createSession('u1');
    clock.advance(30 * MINUTE);
    expect(await sessions.validateToken(token)).toBeNull();
  });

  it('rotation keeps a session remembered, and step-up is not relaxed by it', async () => {
    const { sessions, clock } = setup();
    const first = await sessions.createSession('u1', { remember: true });
    clock.advance(2 * DAY);
    const still = await sessions.validateToken(first.token);
    expect(sessions.isFresh(still as never)).toBe(false); // two days after the password: not fresh
    const rotated = await sessions.rotateSession(first.token, { reauthenticated: true });
    expect(rotated?.session.absoluteExpiresAt).toBe(first.session.absoluteExpiresAt);
    expect(sessions.isRemembered(rotated?.session as never)).toBe(true);
    expect(rotated?.session.expiresAt).toBe(clock.now() + 7 * DAY);
    expect(sessions.isFresh(rotated?.session as never)).toBe(true);
  });

  it('the cookie lives as long as the session may: Max-Age 30 days, 12 h, and what is left after a rotation', async () => {
    const { sessions, clock } = setup();
    const flow = createSessionFlow(sessions);
    const long = await flow.login(undefined, 'u1', { remember: true });
    expect(long.headers['set-cookie']).toMatch(/; Max-Age=2592000; /);
    const short = await flow.login(undefined, 'u2', {});
    expect(short.headers['set-cookie']).toMatch(/; Max-Age=43200; /);
    clock.advance(HOUR + 500);
    const cookie = `__Host-session=${/^__Host-session=([^;]+)/.exec(long.headers['set-cookie'] as string)?.[1]}`;
    const stepped = await flow.reauthenticate(cookie);
    expect(stepped?.headers['set-cookie']).toMatch(new RegExp(`; Max-Age=${30 * 86_400 - 3600}; `));
  });

  it('limits are configurable and capped at 400 days', async () => {
    const { sessions, clock } = setup({ remember: { absoluteTimeout: 90 * 86_400, idleTimeout: 14 * 86_400 } });
    const { session } = await sessions.createSession('u1', { remember: true });
    expect(session.absoluteExpiresAt - clock.now()).toBe(90 * DAY);
    expect(session.expiresAt - clock.now()).toBe(14 * DAY);

    const over = thrown(() => setup({ remember: { absoluteTimeout: 401 * 86_400 } }));
    expect(over).toBeInstanceOf(ConfigurationError);
    expect(over.message).toMatch(/remember\.absoluteTimeout/);
    const notLonger = thrown(() => setup({ absoluteTimeout: 86_400, remember: { absoluteTimeout: 3600 } }));
    expect(notLonger.message).toBe(
      'remember.absoluteTimeout (3600 s) must be longer than absoluteTimeout (86400 s): raise it, or pass remember: false',
    );
    const idleTooLong = thrown(() => setup({ remember: { absoluteTimeout: 86_400, idleTimeout: 2 * 86_400 } }));
    expect(idleTooLong.message).toMatch(/remember\.idleTimeout/);
    const typo = thrown(() => setup({ remember: { absoluteTimout: 86_400 } as never }));
    expect(typo.message).toMatch(/absoluteTimout.*absoluteTimeout/);
    expect(setup({ remember: true }).sessions.remember).toEqual({ absoluteTimeout: 2_592_000, idleTimeout: 604_800 });
    expect(thrown(() => setup({ remember: 30 as never })).message).toBe(
      'createSessionManager: remember takes an options object; got a number',
    );
    const millis = thrown(() => setup({ remember: { absoluteTimeout: 2_592_000_000 } }));
    expect(millis.message).toMatch(/milliseconds/);
  });

  it('a default that would pass the 400-day cap turns it off; an explicit default is derived from absoluteTimeout', () => {
    expect(setup({ absoluteTimeout: 400 * 86_400, idleTimeout: 3600 }).sessions.remember).toBeNull();
    expect(setup({ absoluteTimeout: 20 * 86_400 }).sessions.remember).toEqual({
      absoluteTimeout: 40 * 86_400,
      idleTimeout: 7 * 86_400,
    });
  });

  it('remember: false refuses remember: true, and only a boolean is a choice', async () => {
    const { sessions } = setup({ remember: false });
    expect(sessions.remember).toBeNull();
    await expect(sessions.createSession('u1', { remember: true })).rejects.toThrow(InvalidArgumentError);
    const { session } = await sessions.createSession('u1', { remember: false });
    expect(sessions.isRemembered(session)).toBe(false);
    await expect(setup().sessions.createSession('u1', { remember: 'yes' as never })).rejects.toThrow(
      'remember must be true or false',
    );
  });

  it('turned off later, a remembered session falls back to the ordinary limits at once, idle and absolute', async () => {
    const { sessions, make, clock } = setup();
    const start = clock.now();
    const { token } = await sessions.createSession('u1', { remember: true });
    const stricter = make({ remember: false });
    clock.advance(29 * MINUTE);
    const seen = await stricter.validateToken(token);
    expect(stricter.isRemembered(seen as never)).toBe(false);
    expect(seen?.absoluteExpiresAt).toBe(start + 12 * HOUR); // what it is shown, and what binds it
    // Active every 29 minutes, it still ends 12 h after login, not 30 days.
    while (clock.now() + 29 * MINUTE < start + 12 * HOUR) {
      clock.advance(29 * MINUTE);
      expect(await stricter.validateToken(token)).not.toBeNull();
    }
    const flow = createSessionFlow(stricter);
    const stepped = await flow.reauthenticate(`__Host-session=${token}`);
    const maxAge = Number(/Max-Age=(\d+)/.exec(stepped?.headers['set-cookie'] ?? '')?.[1]);
    expect(maxAge).toBeLessThanOrEqual((start + 12 * HOUR - clock.now()) / 1000 + 1);
    clock.set(start + 12 * HOUR);
    expect(
      await stricter.validateToken(/__Host-session=([^;]+)/.exec(stepped?.headers['set-cookie'] ?? '')?.[1] ?? ''),
    ).toBeNull();
    // And idle: a new remembered session under the stricter manager dies after 30 idle minutes.
    const other = await sessions.createSession('u2', { remember: true });
    clock.advance(30 * MINUTE);
    expect(await stricter.validateToken(other.token)).toBeNull();
  });

  it('lowering absoluteTimeout later shortens live sessions and never makes one remembered', async () => {
    const { sessions, make, clock } = setup();
    const start = clock.now();
    const { token, session } = await sessions.createSession('u1');
    const tighter = make({ absoluteTimeout: 3600 });
    clock.advance(2 * MINUTE);
    const seen = await tighter.validateToken(token);
    expect(tighter.isRemembered(seen as never)).toBe(false);
    expect(seen?.absoluteExpiresAt).toBe(start + HOUR);
    expect(seen?.expiresAt).toBe(clock.now() + 30 * MINUTE); // the ordinary idle slide, not 7 days
    clock.advance(31 * MINUTE);
    expect(await tighter.validateToken(token)).toBeNull();
    // Active, it ends at the new hour, not at its old 12.
    const busy = await sessions.createSession('u2');
    clock.set(start + 32 * MINUTE);
    expect(await tighter.validateToken(busy.token)).not.toBeNull();
    clock.set(busy.session.createdAt + HOUR);
    expect(await tighter.validateToken(busy.token)).toBeNull();
    expect(session.remembered).toBe(false);
  });

  it('a fractional absoluteTimeout makes no session remembered (the choice is recorded, not inferred)', async () => {
    const { sessions, clock } = setup({ absoluteTimeout: 0.7 * 86_400 });
    const { token, session } = await sessions.createSession('u1');
    expect(sessions.isRemembered(session)).toBe(false);
    clock.advance(2 * MINUTE);
    expect((await sessions.validateToken(token))?.expiresAt).toBe(clock.now() + 30 * MINUTE);
    clock.advance(31 * MINUTE);
    expect(await sessions.validateToken(token)).toBeNull();
  });

  it("the adapters' login refuses the old fourth argument (session data) instead of dropping it", async () => {
    const { sessions } = setup();
    const legacy = { mfaPending: true, remember: true } as never;
    const message =
      'login\'s options take data and remember only, not "mfaPending": session data goes in { data: { … } }';
    const logins: Array<() => Promise<unknown>> = [
      () => createNodeSessions(sessions).login({} as never, {} as never, 'u1', legacy),
      () => createExpressSessions(sessions).login({} as never, {} as never, 'u1', legacy),
      () => createFastifySessions(sessions).login({} as never, {} as never, 'u1', legacy),
      () => createHonoSessions(sessions).login({} as never, 'u1', legacy),
    ];
    for (const login of logins) {
      const error = await login().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toBe(message);
    }
    expect(() => checkLoginOptions('yes')).toThrow("login's options must be an object: { data?, remember? }");
    expect(checkLoginOptions({ data: { a: 1 }, remember: true })).toEqual({ data: { a: 1 }, remember: true });
    expect(checkLoginOptions(undefined)).toEqual({});
  });

  it('the remembered state comes from the stored row: a second manager on the same file agrees', async () => {
    const { sessions, make, clock } = setup();
    const { token } = await sessions.createSession('u1', { remember: true });
    clock.advance(3 * DAY + SECOND);
    const other = make();
    const seen = await other.validateToken(token);
    expect(seen?.userId).toBe('u1');
    expect(other.isRemembered(seen as never)).toBe(true);
    expect((await other.listUserSessions('u1')).map((s) => other.isRemembered(s))).toEqual([true]);
  });
});
