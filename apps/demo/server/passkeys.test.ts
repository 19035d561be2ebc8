/**
 * Passkeys on the reference server over real HTTP (#16, M2), with latchkey's software
 * authenticator: registration needs a fresh session, a passkey alone signs in (even an account
 * with two-factor codes on), it steps a session up, and the attacks of the issue are refused: a
 * challenge reused, another browser's sign-in flow, a phishing origin, a counter going backwards,
 * a disabled account. The same flows run in Chromium with its virtual authenticator (webapp.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createDevInbox } from 'latchkey/mail';
import { createPasskeys, type PasskeyOptionsJSON } from 'latchkey/passkeys';
import { createSqlitePasskeyStore } from 'latchkey/passkeys/sqlite';
import { createSoftAuthenticator } from 'latchkey/passkeys/testing';
import { createLoginThrottle, createRateLimit } from 'latchkey/password';
import { createSqliteStore } from 'latchkey/sqlite';
import { createTotp } from 'latchkey/totp';
import { createSqliteTotpStore } from 'latchkey/totp/sqlite';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const ORIGIN = 'https://notes.test';
const PASSWORD = 'correct horse battery staple';
const dir = mkdtempSync(join(tmpdir(), 'latchkey-passkeys-'));
const db = new Database(join(dir, 'latchkey.db'));
let t = 1_900_000_000_000;
const now = () => t;
const sessions = createSessionManager({
  store: createSqliteStore(db),
  keys: [generateSigningKey()],
  sweepInterval: 0,
  now,
});
const users = createUsers(db);
const totp = createTotp({
  store: createSqliteTotpStore(db),
  keys: [generateSigningKey()],
  issuer: 'latchkey notes',
  throttle: createLoginThrottle(),
  now,
});
const inbox = createDevInbox();
const passkeys = createPasskeys({
  store: createSqlitePasskeyStore(db),
  rpId: 'notes.test',
  rpName: 'latchkey notes',
  origins: [ORIGIN],
  now,
});
let app: Awaited<ReturnType<typeof buildApp>>;
let base = '';

beforeAll(async () => {
  await users.upsert('ann', PASSWORD, 'ann@example.org');
  await users.upsert('bob', PASSWORD, 'bob@example.org');
  app = await buildApp({
    sessions,
    users,
    notes: createNotes(db),
    origins: [ORIGIN],
    publicUrl: ORIGIN,
    throttle: createLoginThrottle(),
    totp,
    passkeys,
    passkeyLimit: createRateLimit({ name: 'passkey', perClient: { points: 40, duration: 60 } }),
    devInbox: inbox,
    logger: false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const send = (method: string, path: string, body?: unknown, cookie?: string, origin = ORIGIN) =>
  fetch(`${base}${path}`, {
    method,
    headers: {
      origin,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(cookie ? { cookie } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
// biome-ignore lint/suspicious/noExplicitAny: JSON of several shapes
const json = async (res: Response): Promise<any> => res.json();
const named = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0] as string)
    .find((c) => c.startsWith(`${name}=`) && c.length > name.length + 1) ?? '';
const login = async (username = 'ann') =>
  named(await send('POST', '/api/auth/login', { username, password: PASSWORD }), '__Host-session');
const options = async (res: Response) => (await json(res)).options as PasskeyOptionsJSON;

/** Signs in with the passkey: options (and the flow's cookie), the authenticator's answer, the session. */
async function signIn(key: ReturnType<typeof createSoftAuthenticator>) {
  const started = await send('POST', '/api/auth/passkey/options', {});
  const flow = named(started, '__Host-passkey-flow');
  return send('POST', '/api/auth/passkey', { response: key.authenticate(await options(started)) }, flow);
}

describe('passkeys on the reference server', () => {
  const phone = createSoftAuthenticator({ origin: ORIGIN, backupEligible: true, backedUp: true });

  it('says it offers passkeys', async () => {
    expect(await json(await send('GET', '/api/auth/methods'))).toEqual({ passkeys: true });
  });

  it('registration needs a fresh session; then a passkey is listed', async () => {
    const session = await login();
    t += 11 * 60_000; // past freshFor
    const stale = await send('POST', '/api/account/passkeys/options', {}, session);
    expect([stale.status, (await json(stale)).error.code]).toEqual([403, 'REAUTHENTICATION_REQUIRED']);
    const fresh = await login();
    const started = await send('POST', '/api/account/passkeys/options', {}, fresh);
    expect(started.status).toBe(200);
    const added = await send(
      'POST',
      '/api/account/passkeys',
      { response: phone.register(await options(started)), name: 'Phone' },
      fresh,
    );
    expect(added.status).toBe(200);
    expect((await json(added)).passkey).toMatchObject({ name: 'Phone', syncable: true, backedUp: true });
    // The owner is told (a passkey planted from a borrowed browser would outlive a password reset).
    await expect
      .poll(() => inbox.list().filter((m) => m.subject === 'A passkey was added to your latchkey notes account'))
      .toHaveLength(1);
    expect(inbox.list()[0]?.text).toContain('a passkey named "Phone" was added');
    const listed = (await json(await send('GET', '/api/account/passkeys', undefined, fresh))).passkeys;
    expect(listed.map((p: { name: string }) => p.name)).toEqual(['Phone']);
    expect(JSON.stringify(listed)).not.toMatch(/publicKey|counter/);
  });

  it("a registration answer is bound to the session that asked: another of the user's sessions cannot use it", async () => {
    const a = await login();
    const b = await login();
    const started = await send('POST', '/api/account/passkeys/options', {}, a);
    const key = createSoftAuthenticator({ origin: ORIGIN });
    const res = await send('POST', '/api/account/passkeys', { response: key.register(await options(started)) }, b);
    expect([res.status, (await json(res)).error.code]).toEqual([400, 'PASSKEY_CHALLENGE_EXPIRED']);
  });

  it('the passkey alone signs in, with a session cookie and no two-factor step even with TOTP on', async () => {
    // Ann turns two-factor codes on: a password login now stops at the second step.
    const fresh = await login();
    const enrol = await json(await send('POST', '/api/account/totp/enrol', undefined, fresh));
    const code = TOTP.generate({ secret: Secret.fromBase32(enrol.secret), timestamp: t });
    expect((await send('POST', '/api/account/totp/confirm', { code }, fresh)).status).toBe(200);
    expect(await json(await send('POST', '/api/auth/login', { username: 'ann', password: PASSWORD }))).toEqual({
      secondFactor: 'totp',
    });

    const res = await signIn(phone);
    expect(res.status).toBe(200);
    expect((await json(res)).user.username).toBe('ann');
    const session = named(res, '__Host-session');
    expect(session).not.toBe('');
    expect(res.headers.getSetCookie().join('\n')).toMatch(/__Host-passkey-flow=; Max-Age=0/);
    const me = await json(await send('GET', '/api/me', undefined, session));
    expect(me.user.username).toBe('ann');
  });

  it("the sign-in flow is bound to the browser that began it: another's cookie, none, or a reused one fail", async () => {
    const started = await send('POST', '/api/auth/passkey/options', {});
    const answer = phone.authenticate(await options(started));
    const thief = await send('POST', '/api/auth/passkey/options', {});
    const elsewhere = await send(
      'POST',
      '/api/auth/passkey',
      { response: answer },
      named(thief, '__Host-passkey-flow'),
    );
    expect([elsewhere.status, (await json(elsewhere)).error.code]).toEqual([401, 'PASSKEY_INVALID']);
    const none = await send('POST', '/api/auth/passkey', { response: answer });
    expect([none.status, (await json(none)).error.code]).toEqual([400, 'PASSKEY_CHALLENGE_EXPIRED']);
    const flow = named(started, '__Host-passkey-flow');
    expect((await send('POST', '/api/auth/passkey', { response: answer }, flow)).status).toBe(200);
    const replay = await send('POST', '/api/auth/passkey', { response: answer }, flow);
    expect([replay.status, (await json(replay)).error.code]).toEqual([400, 'PASSKEY_CHALLENGE_EXPIRED']);
  });

  it('answers for a phishing origin and a cloned authenticator are refused', async () => {
    const proxy = createSoftAuthenticator({ origin: 'https://notes.test.login-check.example' });
    proxy.credentials.push(...phone.credentials);
    const phished = await signIn(proxy);
    expect([phished.status, (await json(phished)).error.code]).toEqual([401, 'PASSKEY_INVALID']);

    const counted = createSoftAuthenticator({ origin: ORIGIN });
    const fresh = await login('bob');
    const started = await send('POST', '/api/account/passkeys/options', {}, fresh);
    await send('POST', '/api/account/passkeys', { response: counted.register(await options(started)) }, fresh);
    expect((await signIn(counted)).status).toBe(200);
    expect((await signIn(counted)).status).toBe(200);
    const cred = counted.credentials[0];
    if (cred) cred.counter = 0; // a clone, behind the original
    const cloned = await signIn(counted);
    expect([cloned.status, (await json(cloned)).error.code]).toEqual([401, 'PASSKEY_INVALID']);
  });

  it("step-up with the passkey gives a fresh session (new cookie); another account's passkey does not", async () => {
    const session = named(await signIn(phone), '__Host-session');
    t += 11 * 60_000;
    expect((await send('POST', '/api/account/passkeys/options', {}, session)).status).toBe(403);
    const started = await send('POST', '/api/auth/reauthenticate/passkey/options', {}, session);
    const bobsKey = createSoftAuthenticator({ origin: ORIGIN });
    const bob = await login('bob');
    const reg = await send('POST', '/api/account/passkeys/options', {}, bob);
    await send('POST', '/api/account/passkeys', { response: bobsKey.register(await options(reg)) }, bob);
    const opts = await options(started);
    const wrong = await send(
      'POST',
      '/api/auth/reauthenticate/passkey',
      { response: bobsKey.authenticate(opts) },
      session,
    );
    expect([wrong.status, (await json(wrong)).error.code]).toEqual([401, 'PASSKEY_INVALID']);

    const again = await send('POST', '/api/auth/reauthenticate/passkey/options', {}, session);
    const res = await send(
      'POST',
      '/api/auth/reauthenticate/passkey',
      { response: phone.authenticate(await options(again)) },
      session,
    );
    expect(res.status).toBe(200);
    const fresh = named(res, '__Host-session');
    expect(fresh).not.toBe(session);
    expect((await send('GET', '/api/me', undefined, session)).status).toBe(401); // the old id is dead
    expect((await send('POST', '/api/account/passkeys/options', {}, fresh)).status).toBe(200);
  });

  it('renames and deletes (fresh session), and a deleted passkey signs nobody in', async () => {
    const fresh = named(await signIn(phone), '__Host-session');
    const [mine] = (await json(await send('GET', '/api/account/passkeys', undefined, fresh))).passkeys;
    const renamed = await send('PATCH', `/api/account/passkeys/${mine.id}`, { name: 'Old phone' }, fresh);
    expect(renamed.status).toBe(200);
    const bad = await send('PATCH', `/api/account/passkeys/${mine.id}`, { name: 'x'.repeat(65) }, fresh);
    expect(bad.status).toBe(400);
    // Bob cannot delete Ann's passkey: the same answer as for one that does not exist.
    const bob = await login('bob');
    const theirs = await send('DELETE', `/api/account/passkeys/${mine.id}`, undefined, bob);
    expect([theirs.status, (await json(theirs)).error.code]).toEqual([404, 'NOT_FOUND']);
    expect((await send('DELETE', `/api/account/passkeys/${mine.id}`, undefined, fresh)).status).toBe(200);
    const gone = await signIn(phone);
    expect([gone.status, (await json(gone)).error.code]).toEqual([401, 'PASSKEY_INVALID']);
  });

  it('malformed bodies are 400 with a code, never a 500', async () => {
    const session = await login('bob');
    for (const body of [{}, { response: 'x' }, { response: null }, { response: {}, extra: 1 }]) {
      const started = await send('POST', '/api/auth/passkey/options', {});
      const res = await send('POST', '/api/auth/passkey', body, named(started, '__Host-passkey-flow'));
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toMatch(/^[A-Z_]+$/);
    }
    const weird = await send('POST', '/api/auth/passkey', { response: { id: 1, rawId: [], type: {}, response: 5 } });
    expect(weird.status).toBe(400);
    const huge = await send('DELETE', `/api/account/passkeys/${'a'.repeat(2000)}`, undefined, session);
    expect(huge.status).toBe(400);
    const cross = await send('POST', '/api/auth/passkey/options', {}, undefined, 'https://evil.test');
    expect(cross.status).toBe(403);
  });
});

describe('a passkey without user verification (an app on userVerification: preferred)', () => {
  // A passkey the authenticator did not verify the user for is possession only: a two-factor
  // account still owes its code after it, as after a password; an account without codes signs in.
  const db2 = new Database(join(dir, 'preferred.db'));
  const users2 = createUsers(db2);
  const totp2 = createTotp({
    store: createSqliteTotpStore(db2),
    keys: [generateSigningKey()],
    issuer: 'latchkey notes',
    throttle: createLoginThrottle(),
    now,
  });
  let app2: Awaited<ReturnType<typeof buildApp>>;
  let base2 = '';
  const post = (path: string, body: unknown, cookie?: string) =>
    fetch(`${base2}${path}`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    await users2.upsert('dee', PASSWORD, 'dee@example.org');
    await users2.upsert('eve', PASSWORD, 'eve@example.org');
    app2 = await buildApp({
      sessions: createSessionManager({
        store: createSqliteStore(db2),
        keys: [generateSigningKey()],
        sweepInterval: 0,
        now,
      }),
      users: users2,
      notes: createNotes(db2),
      origins: [ORIGIN],
      publicUrl: ORIGIN,
      throttle: createLoginThrottle(),
      totp: totp2,
      passkeys: createPasskeys({
        store: createSqlitePasskeyStore(db2),
        rpId: 'notes.test',
        rpName: 'latchkey notes',
        origins: [ORIGIN],
        userVerification: 'preferred',
        now,
      }),
      devInbox: createDevInbox(),
      logger: false,
    });
    await app2.listen({ port: 0, host: '127.0.0.1' });
    const address = app2.server.address();
    base2 = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await app2.close();
    db2.close();
  });

  /** Registers a passkey of `key` for `username` through the routes, after a password login. */
  async function register(username: string, key: ReturnType<typeof createSoftAuthenticator>) {
    const session = named(await post('/api/auth/login', { username, password: PASSWORD }), '__Host-session');
    const started = await post('/api/account/passkeys/options', {}, session);
    const added = await post('/api/account/passkeys', { response: key.register(await options(started)) }, session);
    expect(added.status).toBe(200);
  }
  /** Signs in with the passkey alone; the answer. */
  async function passkeySignIn(key: ReturnType<typeof createSoftAuthenticator>) {
    const flowStart = await post('/api/auth/passkey/options', {});
    const flow = named(flowStart, '__Host-passkey-flow');
    return post('/api/auth/passkey', { response: key.authenticate(await options(flowStart)) }, flow);
  }

  it('an account without two-factor codes is signed in by it', async () => {
    const key = createSoftAuthenticator({ origin: ORIGIN, userVerified: false });
    await register('eve', key);
    const res = await passkeySignIn(key);
    expect(res.status).toBe(200);
    expect((await json(res)).user.username).toBe('eve');
    expect(named(res, '__Host-session')).not.toBe('');
  });

  it('an account with two-factor codes gets the code step, not a session, and the code finishes it', async () => {
    const key = createSoftAuthenticator({ origin: ORIGIN, userVerified: false });
    await register('dee', key);
    const dee = users2.find('dee');
    const started = await totp2.enrol(dee?.id ?? '', 'dee@example.org');
    if (!started.ok) throw new Error(started.error);
    const code = () => TOTP.generate({ secret: Secret.fromBase32(started.secret), timestamp: t });
    expect((await totp2.confirm(dee?.id ?? '', code(), '192.0.2.1')).ok).toBe(true);
    t += 30_000;
    // Her password login now stops at the code step; the passkey without verification must too.
    const res = await passkeySignIn(key);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ secondFactor: 'totp' });
    expect(named(res, '__Host-session')).toBe('');
    const step = named(res, '__Host-second-factor');
    expect(step).not.toBe('');
    t += 30_000;
    const done = await post('/api/auth/second-factor', { code: code() }, step);
    expect(done.status).toBe(200);
    expect((await json(done)).user.username).toBe('dee');
  });
});
