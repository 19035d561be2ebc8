/**
 * latchkey/dbsc attacked over a real socket: node:http (`createNodeSessions` + `answerDevice`), a
 * SQLite file store, and a manual clock given to the session manager (the binding reads it).
 * Every test checks values and effects: the status and error code, whether a bound cookie was
 * set, and the binding as the store keeps it (`listUserSessions`).
 */
import { createHash, createHmac, sign as cryptoSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNodeSessions,
  errorHandler,
  getSession,
  handleClientError,
  notFound,
  readJson,
} from '../adapters/node/index.js';
import { ConfigurationError } from '../errors.js';
import { generateSigningKey } from '../sessions/key-ring.js';
import {
  createSessionManager,
  internalsOf,
  type SessionManager,
  type SessionManagerOptions,
} from '../sessions/manager.js';
import { createMemoryStore } from '../stores/memory.js';
import { createSqliteStore } from '../stores/sqlite.js';
import type { SessionBinding, SessionStore } from '../stores/store.js';
import { MINUTE, manualClock, SECOND } from '../test/clock.js';
import { cookiePair, type Reply, send, sendRaw } from '../test/http.js';
import { createDeviceBinding, type DeviceBinding, type DeviceBindingOptions } from './binding.js';
import { mintChallenge } from './challenge.js';
import { createSoftDeviceKey, readChallengeHeader, readRegistrationHeader, type SoftDeviceKey } from './testing.js';

// ---------------------------------------------------------------------------------------------
// Hand-made JWS, for proofs the soft device key will not make (alg none, HS256, private jwk, short RSA).

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
type Signer = (input: string) => string;
const es256 =
  (key: KeyObject): Signer =>
  (input) =>
    cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
const rs256 =
  (key: KeyObject): Signer =>
  (input) =>
    cryptoSign('sha256', Buffer.from(input), key).toString('base64url');
const hs256 =
  (secret: string | Buffer): Signer =>
  (input) =>
    createHmac('sha256', secret).update(input).digest('base64url');
function jws(header: Record<string, unknown>, payload: unknown, signer: Signer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signer(input)}`;
}
const publicJwk = (key: KeyObject) => key.export({ format: 'jwk' }) as JWK;

/** RFC 7638 by hand (required members, lexicographic order, no spaces), not through jose. */
function rfc7638(jwk: JWK): string {
  const text =
    jwk.kty === 'EC'
      ? `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`
      : `{"e":"${jwk.e}","kty":"RSA","n":"${jwk.n}"}`;
  return createHash('sha256').update(text).digest('base64url');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
const expectConfigError = (fn: () => unknown) => {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(ConfigurationError);
  expect((error as ConfigurationError).code).toBe('CONFIG_INVALID');
};

// ---------------------------------------------------------------------------------------------
// The app: answerDevice first, then authenticate, then the routes. A path under /api/ is the same
// route without the prefix (for a binding whose `enforce` covers /api/ only).

function json(res: ServerResponse, body: unknown): void {
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

interface App {
  base: string;
  port: number;
  close(): Promise<void>;
}

async function startApp(manager: SessionManager, deviceBinding?: DeviceBinding): Promise<App> {
  const auth = createNodeSessions(manager, { deviceBinding });
  const server = createServer(async (req, res) => {
    try {
      if (await auth.answerDevice(req, res)) return;
      await auth.authenticate(req, res);
      // The usual node:http routing: WHATWG URL resolves dot segments, %2e and absolute-form targets.
      const raw = new URL(req.url ?? '/', 'http://app.test').pathname;
      const path = raw.startsWith('/api/') ? raw.slice(4) : raw;
      const route = `${req.method} ${path}`;
      if (route === 'POST /login') {
        const { userId } = (await readJson(req)) as { userId: string };
        const session = await auth.login(req, res, userId);
        return json(res, { userId, sessionId: session.id });
      }
      if (route === 'GET /me') {
        const session = auth.requireSession(req, res);
        return void (session && json(res, { userId: session.userId, sessionId: session.id }));
      }
      if (route === 'POST /logout') return json(res, { revoked: await auth.logout(req, res) });
      if (route === 'POST /reauthenticate') {
        const session = await auth.reauthenticate(req, res);
        return json(res, { reauthenticated: session !== null, sessionId: session?.id ?? null });
      }
      if (path.startsWith('/public/')) return json(res, { sessionId: getSession(req)?.id ?? null });
      notFound(res);
    } catch (error) {
      errorHandler(error, res);
    }
  });
  server.on('clientError', handleClientError);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const REGISTER = '/device/register';
const REFRESH = '/device/refresh';
const PATHS = { registerPath: REGISTER, refreshPath: REFRESH } as const;
const BOUND_SET_COOKIE =
  /^__Host-bound=\d+\.[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; Secure; HttpOnly; SameSite=Strict$/;

/** The calls a browser (or a thief) makes, against one app. */
function client(app: () => App) {
  const post = (path: string, headers: Record<string, string | string[]>, body?: unknown) =>
    send(`${app().base}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
  return {
    post,
    get: (path: string, cookie?: string) =>
      send(`${app().base}${path}`, cookie === undefined ? {} : { headers: { cookie } }),
    async login(userId: string, cookie?: string) {
      const reply = await post('/login', cookie === undefined ? {} : { cookie }, { userId });
      expect(reply.status).toBe(200);
      return {
        reply,
        cookie: cookiePair(reply.setCookie[0]),
        id: reply.json.sessionId as string,
        offer: readRegistrationHeader(reply.headers['secure-session-registration'] as string),
      };
    },
    register: (cookie: string | undefined, proof?: string | string[]) =>
      post(REGISTER, {
        ...(cookie === undefined ? {} : { cookie }),
        ...(proof === undefined ? {} : { 'secure-session-response': proof }),
      }),
    ask: (cookie: string, id: string) => post(REFRESH, { cookie, 'sec-secure-session-id': id }),
    refresh: (cookie: string, id: string, proof: string | string[]) =>
      post(REFRESH, { cookie, 'sec-secure-session-id': id, 'secure-session-response': proof }),
    me: (cookie?: string) => send(`${app().base}/me`, cookie === undefined ? {} : { headers: { cookie } }),
  };
}

const code = (reply: Reply) => reply.json?.error?.code as string | undefined;

/** A GET with the request target exactly as given (no client-side URL normalisation); status and JSON body. */
async function rawGet(port: number, target: string, cookie: string) {
  const { status, text } = await sendRaw(
    port,
    Buffer.from(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: ${cookie}\r\n\r\n`),
  );
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, json };
}

// ---------------------------------------------------------------------------------------------

describe('latchkey/dbsc over node:http and a SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-dbsc-'));
  const db = new Database(join(dir, 'sessions.db'));
  const clock = manualClock(Date.now());
  const manager = createSessionManager({
    store: createSqliteStore(db),
    keys: [generateSigningKey()],
    sweepInterval: 0,
    now: clock.now,
    maxSessionsPerUser: 50,
  });
  const binding = createDeviceBinding(manager, PATHS);
  let app: App;
  const c = client(() => app);

  const stored = async (userId: string, id: string): Promise<SessionBinding | null | undefined> => {
    const found = (await manager.listUserSessions(userId)).find((s) => s.id === id);
    return found === undefined ? undefined : (found.binding ?? null);
  };

  /** A session registered with a fresh key; the clock then moves on a second, as it would. */
  async function bound(userId: string, algorithm: 'ES256' | 'RS256' = 'ES256') {
    const login = await c.login(userId);
    const device = await createSoftDeviceKey(algorithm);
    const reply = await c.register(login.cookie, await device.register(login.offer.challenge));
    expect(reply.status).toBe(200);
    expect(reply.setCookie[0]).toMatch(BOUND_SET_COOKIE);
    clock.advance(SECOND);
    const boundCookie = cookiePair(reply.setCookie[0]);
    return { ...login, device, bound: boundCookie, both: `${login.cookie}; ${boundCookie}` };
  }

  /** Asks for a refresh challenge (the clock moves on first, so it is newer than the last one answered). */
  async function challengeFor(cookie: string, id: string): Promise<string> {
    clock.advance(SECOND);
    const ask = await c.ask(cookie, id);
    expect(ask.status).toBe(403);
    expect(ask.setCookie).toEqual([]);
    const parsed = readChallengeHeader(ask.headers['secure-session-challenge'] as string);
    expect(parsed.id).toBe(id);
    return parsed.challenge;
  }

  /** The refusal of a proof: the status and code, no bound cookie, the binding unchanged. */
  async function expectRefused(
    reply: Reply,
    status: number,
    errorCode: string,
    userId: string,
    id: string,
    before: SessionBinding | null | undefined,
  ) {
    expect(reply.status).toBe(status);
    expect(code(reply)).toBe(errorCode);
    expect(reply.setCookie).toEqual([]);
    expect(await stored(userId, id)).toEqual(before);
  }

  beforeAll(async () => {
    app = await startApp(manager, binding);
  });
  afterAll(async () => {
    await app.close();
    manager.close();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('happy paths', () => {
    it('ES256: registration binds the key (RFC 7638 thumbprint, algorithm), visible in listUserSessions; refresh renews', async () => {
      const t0 = clock.now();
      const { cookie, id, offer, reply: login } = await c.login('es-alice');
      expect(login.headers['cache-control']).toBe('no-store');
      expect(offer.algorithms).toEqual(['ES256', 'RS256']);
      expect(offer.path).toBe(REGISTER);
      expect(await stored('es-alice', id)).toBeNull();
      // Unbound: the session cookie alone is enough, as before.
      expect((await c.me(cookie)).json).toEqual({ userId: 'es-alice', sessionId: id });

      const device = await createSoftDeviceKey('ES256');
      const registered = await c.register(cookie, await device.register(offer.challenge));
      expect(registered.status).toBe(200);
      expect(registered.headers['cache-control']).toBe('no-store');
      expect(registered.json).toEqual({
        session_identifier: id,
        refresh_url: REFRESH,
        scope: { include_site: false, scope_specification: [] },
        credentials: [
          { type: 'cookie', name: '__Host-bound', attributes: 'Path=/; Secure; HttpOnly; SameSite=Strict' },
        ],
      });
      expect(registered.setCookie).toHaveLength(1);
      expect(registered.setCookie[0]).toMatch(BOUND_SET_COOKIE);
      const { x, y } = device.publicJwk;
      expect(await stored('es-alice', id)).toEqual({
        publicKey: { kty: 'EC', crv: 'P-256', x, y },
        algorithm: 'ES256',
        thumbprint: rfc7638(device.publicJwk),
        boundAt: t0,
        provenAt: t0,
      });

      const boundCookie = cookiePair(registered.setCookie[0]);
      expect((await c.me(`${cookie}; ${boundCookie}`)).json).toEqual({ userId: 'es-alice', sessionId: id });
      const alone = await c.me(cookie);
      expect(alone.status).toBe(401);
      expect(code(alone)).toBe('SESSION_REQUIRED');

      const challenge = await challengeFor(cookie, id);
      const issued = clock.now();
      clock.advance(SECOND);
      const renewed = await c.refresh(cookie, id, await device.refresh(challenge));
      expect(renewed.status).toBe(200);
      expect(renewed.json.session_identifier).toBe(id);
      expect(renewed.setCookie[0]).toMatch(BOUND_SET_COOKIE);
      expect((await stored('es-alice', id))?.provenAt).toBe(issued);
      expect((await c.me(`${cookie}; ${cookiePair(renewed.setCookie[0])}`)).status).toBe(200);
    });

    it('RS256: registration binds the RSA key; refresh with it renews the bound cookie', async () => {
      const t0 = clock.now();
      const { cookie, id, offer } = await c.login('rs-bob');
      const device = await createSoftDeviceKey('RS256');
      const registered = await c.register(cookie, await device.register(offer.challenge));
      expect(registered.status).toBe(200);
      expect(registered.setCookie[0]).toMatch(BOUND_SET_COOKIE);
      const { n, e } = device.publicJwk;
      const binding = await stored('rs-bob', id);
      expect(binding).toEqual({
        publicKey: { kty: 'RSA', n, e },
        algorithm: 'RS256',
        thumbprint: rfc7638(device.publicJwk),
        boundAt: t0,
        provenAt: t0,
      });
      const [listed] = (await manager.listUserSessions('rs-bob')).filter((s) => s.id === id);
      expect(listed?.binding?.thumbprint).toBe(rfc7638(device.publicJwk));

      clock.advance(SECOND);
      const challenge = await challengeFor(cookie, id);
      const renewed = await c.refresh(cookie, id, await device.refresh(challenge));
      expect(renewed.status).toBe(200);
      expect((await c.me(`${cookie}; ${cookiePair(renewed.setCookie[0])}`)).status).toBe(200);
    });

    it('hand-signed ES256 and 2048-bit RS256 proofs pass (so the crafted refusals below are meaningful)', async () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const a = await c.login('crafted-ok');
      const ok = await c.register(
        a.cookie,
        jws(
          { alg: 'ES256', typ: 'dbsc+jwt', jwk: publicJwk(ec.publicKey) },
          { jti: a.offer.challenge },
          es256(ec.privateKey),
        ),
      );
      expect(ok.status).toBe(200);
      expect((await stored('crafted-ok', a.id))?.thumbprint).toBe(rfc7638(publicJwk(ec.publicKey)));

      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const b = await c.login('crafted-ok');
      const okRsa = await c.register(
        b.cookie,
        jws(
          { alg: 'RS256', typ: 'dbsc+jwt', jwk: publicJwk(rsa.publicKey) },
          { jti: b.offer.challenge },
          rs256(rsa.privateKey),
        ),
      );
      expect(okRsa.status).toBe(200);
      expect((await stored('crafted-ok', b.id))?.algorithm).toBe('RS256');

      // And a hand-signed refresh proof with the bound key.
      clock.advance(SECOND);
      const challenge = await challengeFor(a.cookie, a.id);
      const renewed = await c.refresh(
        a.cookie,
        a.id,
        jws({ alg: 'ES256', typ: 'dbsc+jwt' }, { jti: challenge }, es256(ec.privateKey)),
      );
      expect(renewed.status).toBe(200);
      expect(renewed.setCookie[0]).toMatch(BOUND_SET_COOKIE);
    });
  });

  describe('refresh proofs under attack', () => {
    it('a proof signed by another key is refused, with or without that key in its header', async () => {
      const s = await bound('forge-1');
      const before = await stored('forge-1', s.id);
      const challenge = await challengeFor(s.cookie, s.id);
      const thief = await createSoftDeviceKey('ES256');
      await expectRefused(
        await c.refresh(s.cookie, s.id, await thief.refresh(challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'forge-1',
        s.id,
        before,
      );
      // The header's own key is ignored at refresh: naming the thief's key does not help.
      await expectRefused(
        await c.refresh(s.cookie, s.id, await thief.register(challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'forge-1',
        s.id,
        before,
      );
      // The challenge is still good for the key holder: the forgeries spent nothing.
      expect((await c.refresh(s.cookie, s.id, await s.device.refresh(challenge))).status).toBe(200);
    });

    it('a replayed proof, and the same challenge signed again, are spent', async () => {
      const s = await bound('replay-1');
      const challenge = await challengeFor(s.cookie, s.id);
      const proof = await s.device.refresh(challenge);
      const first = await c.refresh(s.cookie, s.id, proof);
      expect(first.status).toBe(200);
      const after = await stored('replay-1', s.id);
      clock.advance(SECOND);
      const replay = await c.refresh(s.cookie, s.id, proof);
      await expectRefused(replay, 403, 'DEVICE_CHALLENGE_EXPIRED', 'replay-1', s.id, after);
      // A spent challenge comes back with a new one to sign.
      expect(readChallengeHeader(replay.headers['secure-session-challenge'] as string).id).toBe(s.id);
      // ECDSA signs anew each time: a second signature over the same challenge is a new string, still spent.
      const again = await s.device.refresh(challenge);
      expect(again).not.toBe(proof);
      await expectRefused(
        await c.refresh(s.cookie, s.id, again),
        403,
        'DEVICE_CHALLENGE_EXPIRED',
        'replay-1',
        s.id,
        after,
      );
    });

    it('a proof raced five times at once earns exactly one bound cookie', async () => {
      const s = await bound('race-refresh');
      const challenge = await challengeFor(s.cookie, s.id);
      const proof = await s.device.refresh(challenge);
      const replies = await Promise.all([1, 2, 3, 4, 5].map(() => c.refresh(s.cookie, s.id, proof)));
      expect(replies.map((r) => r.status).sort()).toEqual([200, 403, 403, 403, 403]);
      expect(replies.filter((r) => r.setCookie.length > 0)).toHaveLength(1);
      for (const r of replies.filter((x) => x.status === 403)) expect(code(r)).toBe('DEVICE_CHALLENGE_EXPIRED');
    });

    it('two Sec-Secure-Session-Id headers name no session', async () => {
      const s = await bound('twice-id');
      const challenge = await challengeFor(s.cookie, s.id);
      const reply = await c.post(REFRESH, {
        cookie: s.cookie,
        'sec-secure-session-id': [s.id, s.id],
        'secure-session-response': await s.device.refresh(challenge),
      });
      expect(reply.status).toBe(200);
      expect(reply.json.continue).toBe(false);
      expect(reply.setCookie).toEqual([]);
    });

    it('an older outstanding challenge is spent once a newer one is answered', async () => {
      const s = await bound('older-1');
      const older = await challengeFor(s.cookie, s.id);
      const newer = await challengeFor(s.cookie, s.id);
      expect((await c.refresh(s.cookie, s.id, await s.device.refresh(newer))).status).toBe(200);
      const after = await stored('older-1', s.id);
      await expectRefused(
        await c.refresh(s.cookie, s.id, await s.device.refresh(older)),
        403,
        'DEVICE_CHALLENGE_EXPIRED',
        'older-1',
        s.id,
        after,
      );
    });

    it("a challenge minted for session A does not refresh session B (B's cookie, B's id, B's key)", async () => {
      const a = await bound('cross-1');
      const b = await bound('cross-1');
      const challengeA = await challengeFor(a.cookie, a.id);
      const beforeB = await stored('cross-1', b.id);
      await expectRefused(
        await c.refresh(b.cookie, b.id, await b.device.refresh(challengeA)),
        400,
        'DEVICE_PROOF_INVALID',
        'cross-1',
        b.id,
        beforeB,
      );
      // A's own proof pushed through B's session: wrong key and wrong session.
      await expectRefused(
        await c.refresh(b.cookie, b.id, await a.device.refresh(challengeA)),
        400,
        'DEVICE_PROOF_INVALID',
        'cross-1',
        b.id,
        beforeB,
      );
      // B's cookie with A's id: not this session, so the browser is told to stop; nothing moves.
      const mixed = await c.refresh(b.cookie, a.id, await a.device.refresh(challengeA));
      expect(mixed.status).toBe(200);
      expect(mixed.json).toEqual({ session_identifier: a.id, continue: false });
      expect(mixed.setCookie).toEqual([]);
      expect(await stored('cross-1', b.id)).toEqual(beforeB);
      // A's challenge is still A's to answer.
      expect((await c.refresh(a.cookie, a.id, await a.device.refresh(challengeA))).status).toBe(200);
    });

    it('a challenge and key of user X do not refresh a session of user Y', async () => {
      const x = await bound('user-x');
      const y = await bound('user-y');
      const challengeX = await challengeFor(x.cookie, x.id);
      const before = await stored('user-y', y.id);
      await expectRefused(
        await c.refresh(y.cookie, y.id, await x.device.refresh(challengeX)),
        400,
        'DEVICE_PROOF_INVALID',
        'user-y',
        y.id,
        before,
      );
    });

    it('wrong algorithms: RS256 against an ES256 binding, alg none, HS256 keyed with the public key, ES384', async () => {
      const s = await bound('alg-1', 'ES256');
      const before = await stored('alg-1', s.id);
      const challenge = await challengeFor(s.cookie, s.id);
      const rsa = await createSoftDeviceKey('RS256');
      const refusals = [
        await rsa.refresh(challenge),
        `${b64({ alg: 'none', typ: 'dbsc+jwt' })}.${b64({ jti: challenge })}.`,
        `${b64({ alg: 'none', typ: 'dbsc+jwt' })}.${b64({ jti: challenge })}.AAAA`,
        jws({ alg: 'HS256', typ: 'dbsc+jwt' }, { jti: challenge }, hs256(JSON.stringify(s.device.publicJwk))),
        jws({ alg: 'HS256', typ: 'dbsc+jwt' }, { jti: challenge }, hs256(before?.thumbprint ?? '')),
        jws(
          { alg: 'HS256', typ: 'dbsc+jwt' },
          { jti: challenge },
          hs256(Buffer.from(s.device.publicJwk.x ?? '', 'base64url')),
        ),
        jws({ alg: 'ES384', typ: 'dbsc+jwt' }, { jti: challenge }, hs256('x')),
        jws({ alg: 'es256', typ: 'dbsc+jwt' }, { jti: challenge }, hs256('x')),
      ];
      for (const proof of refusals) {
        await expectRefused(await c.refresh(s.cookie, s.id, proof), 400, 'DEVICE_PROOF_INVALID', 'alg-1', s.id, before);
      }
      expect((await c.refresh(s.cookie, s.id, await s.device.refresh(challenge))).status).toBe(200);
    });

    it('an RS256 binding refuses an ES256 proof', async () => {
      const s = await bound('alg-2', 'RS256');
      const before = await stored('alg-2', s.id);
      const challenge = await challengeFor(s.cookie, s.id);
      const ec = await createSoftDeviceKey('ES256');
      await expectRefused(
        await c.refresh(s.cookie, s.id, await ec.refresh(challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'alg-2',
        s.id,
        before,
      );
    });

    it('a wrong typ, a missing or non-string jti are refused', async () => {
      const s = await bound('claims-1');
      const before = await stored('claims-1', s.id);
      const challenge = await challengeFor(s.cookie, s.id);
      const proofs = [
        await s.device.refresh(challenge, { typ: 'JWT' }),
        await s.device.refresh(challenge, { typ: 'DBSC+JWT' }),
        await s.device.refresh(challenge, { typ: '' }),
        await s.device.refresh(challenge, { payload: {} }),
        await s.device.refresh(challenge, { payload: { nonce: challenge } }),
        await s.device.refresh(challenge, { payload: { jti: 12345 } }),
        await s.device.refresh(challenge, { payload: { jti: [challenge] } }),
        await s.device.refresh(challenge, { payload: { jti: { value: challenge } } }),
        await s.device.refresh(challenge, { payload: { jti: null } }),
        await s.device.refresh(challenge, { payload: { jti: `${challenge} ` } }),
      ];
      for (const proof of proofs) {
        await expectRefused(
          await c.refresh(s.cookie, s.id, proof),
          400,
          'DEVICE_PROOF_INVALID',
          'claims-1',
          s.id,
          before,
        );
      }
      expect((await c.refresh(s.cookie, s.id, await s.device.refresh(challenge))).status).toBe(200);
    });

    it('a registration challenge does not answer a refresh', async () => {
      const login = await c.login('purpose-1');
      const device = await createSoftDeviceKey();
      expect((await c.register(login.cookie, await device.register(login.offer.challenge))).status).toBe(200);
      clock.advance(SECOND);
      const before = await stored('purpose-1', login.id);
      await expectRefused(
        await c.refresh(login.cookie, login.id, await device.refresh(login.offer.challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'purpose-1',
        login.id,
        before,
      );
    });

    it('a refresh challenge does not answer a registration', async () => {
      const login = await c.login('purpose-2');
      // The only refresh challenges the server mints are for bound sessions; mint one for this
      // unbound session directly, as the server would, with the manager's key ring.
      const ring = internalsOf(manager)?.ring;
      if (ring === undefined) throw new Error('no internals');
      const refreshChallenge = mintChallenge(ring, 'refresh', login.id, clock.now());
      const device = await createSoftDeviceKey();
      await expectRefused(
        await c.register(login.cookie, await device.register(refreshChallenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'purpose-2',
        login.id,
        null,
      );
      // And a refresh challenge of a bound session, put to its own registration endpoint: refused (bound already).
      const s = await bound('purpose-2');
      const challenge = await challengeFor(s.cookie, s.id);
      const before = await stored('purpose-2', s.id);
      const other = await createSoftDeviceKey();
      await expectRefused(
        await c.register(s.cookie, await other.register(challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'purpose-2',
        s.id,
        before,
      );
    });

    it('a challenge older than challengeTtl is expired; one exactly challengeTtl old still answers', async () => {
      const s = await bound('ttl-1');
      const challenge = await challengeFor(s.cookie, s.id);
      clock.advance(MINUTE + 1);
      const before = await stored('ttl-1', s.id);
      const late = await c.refresh(s.cookie, s.id, await s.device.refresh(challenge));
      await expectRefused(late, 403, 'DEVICE_CHALLENGE_EXPIRED', 'ttl-1', s.id, before);
      const next = readChallengeHeader(late.headers['secure-session-challenge'] as string).challenge;
      clock.advance(MINUTE);
      expect((await c.refresh(s.cookie, s.id, await s.device.refresh(next))).status).toBe(200);
    });

    it('a challenge from the future (the clock stepped back) is refused', async () => {
      const s = await bound('future-1');
      const challenge = await challengeFor(s.cookie, s.id);
      const t = clock.now();
      clock.set(t - 10 * SECOND); // beyond the 5 s of skew allowed between instances
      const before = await stored('future-1', s.id);
      await expectRefused(
        await c.refresh(s.cookie, s.id, await s.device.refresh(challenge)),
        403,
        'DEVICE_CHALLENGE_EXPIRED',
        'future-1',
        s.id,
        before,
      );
      clock.set(t);
      expect((await c.refresh(s.cookie, s.id, await s.device.refresh(challenge))).status).toBe(200);
    });

    it('garbage and oversized Secure-Session-Response headers are 4xx, never 500', async () => {
      const s = await bound('garbage-1');
      const before = await stored('garbage-1', s.id);
      const challenge = await challengeFor(s.cookie, s.id);
      const valid = await s.device.refresh(challenge);
      const [h, p] = valid.split('.') as [string, string, string];
      const garbage = [
        '',
        'garbage',
        'a.b.c',
        '..',
        `${h}.${p}`,
        `${valid}.AAAA`,
        `${b64('not json')}.${p}.AAAA`,
        `${b64([1, 2, 3])}.${p}.AAAA`,
        `${b64(null)}.${p}.AAAA`,
        `${h}.${b64('not json')}.AAAA`,
        `${h}.${p}.${'A'.repeat(86)}`,
        `${h}.${p}.!!!!`,
        `${h}.${b64({ jti: challenge, pad: 'x'.repeat(9000) })}.AAAA`,
        `Bearer ${valid}`,
        valid.replace(/\./g, '%2E'),
      ];
      for (const proof of garbage) {
        await expectRefused(
          await c.refresh(s.cookie, s.id, proof),
          400,
          'DEVICE_PROOF_INVALID',
          'garbage-1',
          s.id,
          before,
        );
      }
      // A proof over 8 kB is refused before any crypto, even when properly signed.
      const padded = await s.device.refresh(challenge, { payload: { jti: challenge, pad: 'x'.repeat(9000) } });
      await expectRefused(
        await c.refresh(s.cookie, s.id, padded),
        400,
        'DEVICE_PROOF_INVALID',
        'garbage-1',
        s.id,
        before,
      );
      // Over Node's header limit: 431 from the parser, never 500.
      const huge = await sendRaw(
        app.port,
        Buffer.from(
          `POST ${REFRESH} HTTP/1.1\r\nHost: a\r\nCookie: ${s.cookie}\r\nSec-Secure-Session-Id: ${s.id}\r\nSecure-Session-Response: ${'A'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`,
        ),
      );
      expect(huge.status).toBe(431);
      // Bytes that are not UTF-8 (latin1 on the wire).
      const latin = await sendRaw(
        app.port,
        Buffer.concat([
          Buffer.from(
            `POST ${REFRESH} HTTP/1.1\r\nHost: a\r\nConnection: close\r\nCookie: ${s.cookie}\r\nSec-Secure-Session-Id: ${s.id}\r\nSecure-Session-Response: `,
          ),
          Buffer.from([0xff, 0xfe, 0xe9, 0x2e, 0xe9, 0x2e, 0xe9]),
          Buffer.from('\r\nContent-Length: 0\r\n\r\n'),
        ]),
      );
      expect(latin.status).toBe(400);
      expect(latin.text).toContain('DEVICE_PROOF_INVALID');
      expect(await stored('garbage-1', s.id)).toEqual(before);
      // Through it all the challenge stayed good.
      expect((await c.refresh(s.cookie, s.id, valid)).status).toBe(200);
    });

    it('two Secure-Session-Response headers are refused, even two copies of a valid proof', async () => {
      const s = await bound('twice-1');
      const before = await stored('twice-1', s.id);
      const challenge = await challengeFor(s.cookie, s.id);
      const proof = await s.device.refresh(challenge);
      await expectRefused(
        await c.refresh(s.cookie, s.id, [proof, proof]),
        400,
        'DEVICE_PROOF_INVALID',
        'twice-1',
        s.id,
        before,
      );
      const thief = await createSoftDeviceKey();
      await expectRefused(
        await c.refresh(s.cookie, s.id, [await thief.refresh(challenge), proof]),
        400,
        'DEVICE_PROOF_INVALID',
        'twice-1',
        s.id,
        before,
      );
      expect((await c.refresh(s.cookie, s.id, proof)).status).toBe(200);
    });

    it('refresh without the session cookie, without Sec-Secure-Session-Id, or for an unbound session: continue false', async () => {
      const s = await bound('nocookie-1');
      const before = await stored('nocookie-1', s.id);
      const noCookie = await c.post(REFRESH, { 'sec-secure-session-id': s.id });
      expect(noCookie.json).toEqual({ session_identifier: s.id, continue: false });
      expect(noCookie.headers['secure-session-challenge']).toBeUndefined();
      const noId = await c.post(REFRESH, { cookie: s.cookie });
      expect(noId.json).toEqual({ session_identifier: '', continue: false });
      const unbound = await c.login('nocookie-1');
      const reply = await c.ask(unbound.cookie, unbound.id);
      expect(reply.json).toEqual({ session_identifier: unbound.id, continue: false });
      expect(reply.setCookie).toEqual([]);
      expect(await stored('nocookie-1', s.id)).toEqual(before);
    });
  });

  describe('registration under attack', () => {
    it('without a session (none, forged, revoked): 401 SESSION_REQUIRED, nothing bound', async () => {
      const login = await c.login('reg-nosession');
      const device = await createSoftDeviceKey();
      const proof = await device.register(login.offer.challenge);
      for (const cookie of [
        undefined,
        '__Host-session=forged.value.here',
        `${login.cookie}x`,
        `${login.cookie}; ${login.cookie}`,
      ]) {
        const reply = await c.register(cookie, proof);
        expect(reply.status).toBe(401);
        expect(code(reply)).toBe('SESSION_REQUIRED');
        expect(reply.setCookie).toEqual([]);
      }
      expect(await stored('reg-nosession', login.id)).toBeNull();
      await manager.revokeSession(login.id);
      const revoked = await c.register(login.cookie, proof);
      expect(revoked.status).toBe(401);
      expect(code(revoked)).toBe('SESSION_REQUIRED');
    });

    it('a second registration on a bound session is refused and the first key stays', async () => {
      const login = await c.login('reg-twice');
      const first = await createSoftDeviceKey();
      expect((await c.register(login.cookie, await first.register(login.offer.challenge))).status).toBe(200);
      const before = await stored('reg-twice', login.id);
      expect(before?.thumbprint).toBe(rfc7638(first.publicJwk));
      const second = await createSoftDeviceKey();
      await expectRefused(
        await c.register(login.cookie, await second.register(login.offer.challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-twice',
        login.id,
        before,
      );
      // The same key again too: one registration per session id.
      await expectRefused(
        await c.register(login.cookie, await first.register(login.offer.challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-twice',
        login.id,
        before,
      );
    });

    it('a captured registration proof replayed onto another session is refused', async () => {
      const a = await c.login('reg-replay');
      const b = await c.login('reg-replay');
      const device = await createSoftDeviceKey();
      const proofA = await device.register(a.offer.challenge);
      await expectRefused(await c.register(b.cookie, proofA), 400, 'DEVICE_PROOF_INVALID', 'reg-replay', b.id, null);
      // Onto a session of another user too.
      const other = await c.login('reg-replay-other');
      await expectRefused(
        await c.register(other.cookie, proofA),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-replay-other',
        other.id,
        null,
      );
      // It still binds the session it was made for.
      expect((await c.register(a.cookie, proofA)).status).toBe(200);
      expect((await stored('reg-replay', a.id))?.thumbprint).toBe(rfc7638(device.publicJwk));
    });

    it("a key already bound to another of the user's sessions is refused", async () => {
      const a = await c.login('reg-samekey');
      const b = await c.login('reg-samekey');
      const device = await createSoftDeviceKey();
      expect((await c.register(a.cookie, await device.register(a.offer.challenge))).status).toBe(200);
      await expectRefused(
        await c.register(b.cookie, await device.register(b.offer.challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-samekey',
        b.id,
        null,
      );
      // B can still bind a key of its own.
      const own = await createSoftDeviceKey();
      expect((await c.register(b.cookie, await own.register(b.offer.challenge))).status).toBe(200);
    });

    it('concurrent registrations of different keys: exactly one wins, and the stored key is the winner', async () => {
      const login = await c.login('reg-race');
      const devices = await Promise.all([1, 2, 3, 4, 5].map(() => createSoftDeviceKey()));
      const proofs = await Promise.all(devices.map((d) => d.register(login.offer.challenge)));
      const replies = await Promise.all(proofs.map((proof) => c.register(login.cookie, proof)));
      const winners = replies.flatMap((r, i) => (r.status === 200 ? [i] : []));
      expect(winners).toHaveLength(1);
      const winner = winners[0] as number;
      for (const [i, r] of replies.entries()) {
        if (i === winner) continue;
        expect(r.status).toBe(400);
        expect(code(r)).toBe('DEVICE_PROOF_INVALID');
        expect(r.setCookie).toEqual([]);
      }
      expect((await stored('reg-race', login.id))?.thumbprint).toBe(
        rfc7638((devices[winner] as SoftDeviceKey).publicJwk),
      );
      // Only the winner's bound cookie is worth anything.
      const boundCookie = cookiePair((replies[winner] as Reply).setCookie[0]);
      expect((await c.me(`${login.cookie}; ${boundCookie}`)).status).toBe(200);
    });

    it('a jwk with a private "d" member is refused', async () => {
      const login = await c.login('reg-private');
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const privateJwk = ec.privateKey.export({ format: 'jwk' }) as JWK;
      expect(typeof privateJwk.d).toBe('string');
      const proof = jws(
        { alg: 'ES256', typ: 'dbsc+jwt', jwk: privateJwk },
        { jti: login.offer.challenge },
        es256(ec.privateKey),
      );
      await expectRefused(
        await c.register(login.cookie, proof),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-private',
        login.id,
        null,
      );
      // Through the soft key's override too, and with an RSA private key.
      const soft = await createSoftDeviceKey();
      await expectRefused(
        await c.register(
          login.cookie,
          await soft.register(login.offer.challenge, { jwk: { ...soft.publicJwk, d: privateJwk.d } }),
        ),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-private',
        login.id,
        null,
      );
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rsaProof = jws(
        { alg: 'RS256', typ: 'dbsc+jwt', jwk: rsa.privateKey.export({ format: 'jwk' }) },
        { jti: login.offer.challenge },
        rs256(rsa.privateKey),
      );
      await expectRefused(
        await c.register(login.cookie, rsaProof),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-private',
        login.id,
        null,
      );
    });

    it('an RSA key under 2048 bits, or over 4096 (each check dearer), is refused', async () => {
      const login = await c.login('reg-short-rsa');
      for (const modulusLength of [1024, 2040, 4104]) {
        const rsa = generateKeyPairSync('rsa', { modulusLength });
        const proof = jws(
          { alg: 'RS256', typ: 'dbsc+jwt', jwk: publicJwk(rsa.publicKey) },
          { jti: login.offer.challenge },
          rs256(rsa.privateKey),
        );
        await expectRefused(
          await c.register(login.cookie, proof),
          400,
          'DEVICE_PROOF_INVALID',
          'reg-short-rsa',
          login.id,
          null,
        );
      }
    });

    it('registration proofs with a wrong alg, typ, jti or key are refused', async () => {
      const login = await c.login('reg-bad');
      const ch = login.offer.challenge;
      const soft = await createSoftDeviceKey();
      const rsaSoft = await createSoftDeviceKey('RS256');
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const jwk = publicJwk(ec.publicKey);
      const proofs = [
        `${b64({ alg: 'none', typ: 'dbsc+jwt', jwk })}.${b64({ jti: ch })}.`,
        `${b64({ alg: 'none', typ: 'dbsc+jwt', jwk })}.${b64({ jti: ch })}.AAAA`,
        jws({ alg: 'HS256', typ: 'dbsc+jwt', jwk: { kty: 'oct', k: b64('secret') } }, { jti: ch }, hs256('secret')),
        jws({ alg: 'HS256', typ: 'dbsc+jwt', jwk }, { jti: ch }, hs256(JSON.stringify(jwk))),
        // The header names one key, another signed: the proof of possession fails.
        jws({ alg: 'ES256', typ: 'dbsc+jwt', jwk }, { jti: ch }, es256(other.privateKey)),
        // An EC key labelled RS256, an RSA key labelled ES256.
        jws({ alg: 'RS256', typ: 'dbsc+jwt', jwk }, { jti: ch }, es256(ec.privateKey)),
        await rsaSoft.register(ch, { jwk: soft.publicJwk }),
        // P-384 is not offered.
        jws({ alg: 'ES384', typ: 'dbsc+jwt', jwk: publicJwk(p384.publicKey) }, { jti: ch }, es256(p384.privateKey)),
        jws({ alg: 'ES256', typ: 'dbsc+jwt', jwk: publicJwk(p384.publicKey) }, { jti: ch }, es256(p384.privateKey)),
        // Without a jwk, or a jwk that is not a key.
        await soft.refresh(ch),
        jws({ alg: 'ES256', typ: 'dbsc+jwt', jwk: 'key' }, { jti: ch }, es256(ec.privateKey)),
        jws({ alg: 'ES256', typ: 'dbsc+jwt', jwk: null }, { jti: ch }, es256(ec.privateKey)),
        jws({ alg: 'ES256', typ: 'dbsc+jwt', jwk: [jwk] }, { jti: ch }, es256(ec.privateKey)),
        jws({ alg: 'ES256', typ: 'dbsc+jwt', jwk: { ...jwk, x: 'AAAA' } }, { jti: ch }, es256(ec.privateKey)),
        jws({ alg: 'ES256', typ: 'dbsc+jwt', jwk: { ...jwk, crv: 'P-384' } }, { jti: ch }, es256(ec.privateKey)),
        // Wrong typ, bad jti.
        await soft.register(ch, { typ: 'JWT' }),
        jws({ alg: 'ES256', jwk }, { jti: ch }, es256(ec.privateKey)),
        await soft.register(ch, { payload: {} }),
        await soft.register(ch, { payload: { jti: 42 } }),
        await soft.register(ch, { payload: { jti: [ch] } }),
        await soft.register(ch, { payload: { jti: true } }),
        await soft.register(`${ch}x`),
        // Garbage.
        '',
        'garbage',
        'a.b.c',
        `${b64({ alg: 'ES256', typ: 'dbsc+jwt', jwk })}.${b64({ jti: ch })}`,
        `${b64('[')}.${b64({ jti: ch })}.AAAA`,
      ];
      for (const proof of proofs) {
        await expectRefused(
          await c.register(login.cookie, proof),
          400,
          'DEVICE_PROOF_INVALID',
          'reg-bad',
          login.id,
          null,
        );
      }
      const padded = await soft.register(ch, { payload: { jti: ch, pad: 'x'.repeat(9000) } });
      await expectRefused(
        await c.register(login.cookie, padded),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-bad',
        login.id,
        null,
      );
      const none = await c.register(login.cookie);
      await expectRefused(none, 400, 'DEVICE_PROOF_INVALID', 'reg-bad', login.id, null);
      // Two headers, even two copies of a good proof.
      const good = await soft.register(ch);
      await expectRefused(
        await c.register(login.cookie, [good, good]),
        400,
        'DEVICE_PROOF_INVALID',
        'reg-bad',
        login.id,
        null,
      );
      const huge = await sendRaw(
        app.port,
        Buffer.from(
          `POST ${REGISTER} HTTP/1.1\r\nHost: a\r\nCookie: ${login.cookie}\r\nSecure-Session-Response: ${'A'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`,
        ),
      );
      expect(huge.status).toBe(431);
      expect(await stored('reg-bad', login.id)).toBeNull();
      // After all that, the offer still binds.
      expect((await c.register(login.cookie, good)).status).toBe(200);
    });

    it('a registration challenge older than challengeTtl, or from the future, is expired', async () => {
      const late = await c.login('reg-ttl');
      clock.advance(MINUTE + 1);
      const device = await createSoftDeviceKey();
      await expectRefused(
        await c.register(late.cookie, await device.register(late.offer.challenge)),
        403,
        'DEVICE_CHALLENGE_EXPIRED',
        'reg-ttl',
        late.id,
        null,
      );
      const onTime = await c.login('reg-ttl');
      clock.advance(MINUTE);
      expect((await c.register(onTime.cookie, await device.register(onTime.offer.challenge))).status).toBe(200);

      const future = await c.login('reg-ttl');
      const t = clock.now();
      clock.set(t - 10 * SECOND); // beyond the 5 s of skew allowed between instances
      const other = await createSoftDeviceKey();
      await expectRefused(
        await c.register(future.cookie, await other.register(future.offer.challenge)),
        403,
        'DEVICE_CHALLENGE_EXPIRED',
        'reg-ttl',
        future.id,
        null,
      );
      clock.set(t);
      expect((await c.register(future.cookie, await other.register(future.offer.challenge))).status).toBe(200);
    });
  });

  describe('enforcement', () => {
    it('a bound session without its bound cookie is 401, and its session cookie is not expired', async () => {
      const s = await bound('enf-1');
      const alone = await c.me(s.cookie);
      expect(alone.status).toBe(401);
      expect(code(alone)).toBe('SESSION_REQUIRED');
      expect(alone.setCookie).toEqual([]);
      expect(alone.headers['cache-control']).toBe('no-store');
      // The session is untouched: the key holder still gets in.
      expect((await c.me(s.both)).json).toEqual({ userId: 'enf-1', sessionId: s.id });
      expect((await stored('enf-1', s.id))?.thumbprint).toBe(rfc7638(s.device.publicJwk));
    });

    it("a thief's refused requests do not keep the session alive (no idle-timeout slide); the owner's do", async () => {
      const s = await bound('enf-idle');
      const lastSeen = async () => (await manager.listUserSessions('enf-idle')).find((x) => x.id === s.id)?.lastSeenAt;
      const before = await lastSeen();
      clock.advance(5 * 60 * SECOND); // past the touch interval
      expect((await c.me(s.cookie)).status).toBe(401);
      expect((await c.ask(s.cookie, s.id)).status).toBe(403); // a refresh without a proof
      // Logout, step-up and a login of the thief's own, each carrying the copied session cookie.
      expect((await c.post('/logout', { cookie: s.cookie })).json).toEqual({ revoked: false });
      expect((await c.post('/reauthenticate', { cookie: s.cookie })).json.reauthenticated).toBe(false);
      await c.login('enf-idle-thief', s.cookie);
      expect(await lastSeen()).toBe(before);
      expect((await c.me(s.both)).status).toBe(200);
      expect(await lastSeen()).toBe(clock.now());
    });

    it("the bound cookie follows the session cookie's SameSite: Lax with a Lax session cookie", async () => {
      const lax = createSessionManager({
        store: createMemoryStore(),
        keys: [generateSigningKey()],
        sweepInterval: 0,
        cookie: { sameSite: 'lax' },
      });
      const laxApp = await startApp(lax, createDeviceBinding(lax, PATHS));
      try {
        const laxClient = client(() => laxApp);
        const login = await laxClient.login('lax-1');
        const device = await createSoftDeviceKey();
        const reply = await laxClient.register(login.cookie, await device.register(login.offer.challenge));
        expect(reply.setCookie[0]).toMatch(/; SameSite=Lax$/);
        expect(reply.json.credentials[0].attributes).toBe('Path=/; Secure; HttpOnly; SameSite=Lax');
      } finally {
        await laxApp.close();
      }
    });

    it("a bound cookie from another session does not pass (same user or another user's)", async () => {
      const a = await bound('enf-2');
      const b = await bound('enf-2');
      const z = await bound('enf-2-other');
      for (const boundCookie of [b.bound, z.bound]) {
        const reply = await c.me(`${a.cookie}; ${boundCookie}`);
        expect(reply.status).toBe(401);
        expect(reply.setCookie).toEqual([]);
      }
      expect((await c.me(a.both)).status).toBe(200);
    });

    it('an expired bound cookie does not pass; a refreshed one does', async () => {
      const s = await bound('enf-3');
      clock.advance(590 * SECOND);
      expect((await c.me(s.both)).status).toBe(200);
      clock.advance(11 * SECOND);
      const expired = await c.me(s.both);
      expect(expired.status).toBe(401);
      expect(expired.setCookie).toEqual([]);
      const challenge = await challengeFor(s.cookie, s.id);
      const renewed = await c.refresh(s.cookie, s.id, await s.device.refresh(challenge));
      expect(renewed.status).toBe(200);
      expect((await c.me(`${s.cookie}; ${cookiePair(renewed.setCookie[0])}`)).status).toBe(200);
    });

    it('a tampered bound cookie does not pass', async () => {
      const s = await bound('enf-4');
      const [name, value] = s.bound.split('=') as [string, string];
      const [expires, mac] = value.split('.') as [string, string];
      const flip = (text: string, at: number) =>
        `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
      const tampered = [
        `${expires}.${flip(mac, 0)}`,
        `${expires}.${flip(mac, mac.length - 1)}`,
        `${Number(expires) + 86_400}.${mac}`,
        `${Number(expires) - 1}.${mac}`,
        `0${expires}.${mac}`,
        `${expires}.${mac}x`,
        `${expires}`,
        mac,
        '',
        `${expires}.${mac}`.toUpperCase(),
      ];
      for (const forged of tampered) {
        const reply = await c.me(`${s.cookie}; ${name}=${forged}`);
        expect(reply.status).toBe(401);
        expect(reply.setCookie).toEqual([]);
      }
      // A session token in the bound cookie's place is no bound cookie either.
      expect((await c.me(`${s.cookie}; ${name}=${s.cookie.split('=')[1]}`)).status).toBe(401);
      expect((await c.me(s.both)).status).toBe(200);
    });

    it('two bound cookies in the header are refused, even two copies of the right one', async () => {
      const s = await bound('enf-5');
      const other = await bound('enf-5');
      for (const cookie of [
        `${s.cookie}; ${s.bound}; ${s.bound}`,
        `${s.cookie}; ${s.bound}; ${other.bound}`,
        `${s.cookie}; ${other.bound}; ${s.bound}`,
        `${s.bound}; ${s.cookie}; ${s.bound.replace('__Host-bound', '__host-bound')}`,
      ]) {
        const reply = await c.me(cookie);
        expect(reply.status).toBe(401);
        expect(reply.setCookie).toEqual([]);
      }
      // Two Cookie header lines: Node joins them with "; ", so it is the same case.
      const lines = await send(`${app.base}/me`, { headers: { cookie: [`${s.cookie}; ${s.bound}`, s.bound] } });
      expect(lines.status).toBe(401);
      expect((await c.me(s.both)).status).toBe(200);
    });

    it('an unbound session needs no bound cookie (as before DBSC)', async () => {
      const login = await c.login('enf-6');
      expect((await c.me(login.cookie)).json).toEqual({ userId: 'enf-6', sessionId: login.id });
      // A stray bound cookie of another session changes nothing for it.
      const other = await bound('enf-6');
      expect((await c.me(`${login.cookie}; ${other.bound}`)).status).toBe(200);
    });
  });

  describe('the enforce option', () => {
    let exemptApp: App;
    const e = client(() => exemptApp);
    beforeAll(async () => {
      exemptApp = await startApp(
        manager,
        createDeviceBinding(manager, { ...PATHS, enforce: ({ path }) => !path.startsWith('/public/') }),
      );
    });
    afterAll(() => exemptApp.close());

    it('exempts the paths it returns false for, and only those (a query string is not the path)', async () => {
      const login = await e.login('exempt-1');
      const device = await createSoftDeviceKey();
      expect((await e.register(login.cookie, await device.register(login.offer.challenge))).status).toBe(200);
      const pub = await e.get('/public/info', login.cookie);
      expect(pub.status).toBe(200);
      expect(pub.json).toEqual({ sessionId: login.id });
      expect((await e.get('/public/info?x=1', login.cookie)).json).toEqual({ sessionId: login.id });
      expect((await e.me(login.cookie)).status).toBe(401);
      const sneaky = await e.get('/me?next=/public/info', login.cookie);
      expect(sneaky.status).toBe(401);
    });

    it('is not fooled by targets the router resolves to another path (dot segments, %2e, absolute form)', async () => {
      const login = await e.login('exempt-2');
      const device = await createSoftDeviceKey();
      const reg = await e.register(login.cookie, await device.register(login.offer.challenge));
      expect(reg.status).toBe(200);
      const both = `${login.cookie}; ${cookiePair(reg.setCookie[0])}`;
      const targets = [
        '/public/../me',
        '/public/%2e%2e/me',
        '/public/.%2E/me',
        '/public/./../me',
        `http://127.0.0.1:${exemptApp.port}/public/../me`,
      ];
      // The router resolves each to /me: the key holder reads /me through every one...
      for (const target of targets) {
        expect((await rawGet(exemptApp.port, target, both)).json).toEqual({ userId: 'exempt-2', sessionId: login.id });
      }
      // ...and the thief through none.
      for (const target of targets) {
        const reply = await rawGet(exemptApp.port, target, login.cookie);
        expect({ target, status: reply.status }).toEqual({ target, status: 401 });
      }
      // The plain exempt path still works with the session cookie alone.
      expect((await rawGet(exemptApp.port, '/public/info', login.cookie)).json).toEqual({ sessionId: login.id });
    });
  });

  describe('lifecycle', () => {
    it('rotation (reauthenticate) ends the binding: the new session is unbound and offered anew; the old id continues no more', async () => {
      const s = await bound('life-rotate');
      const rotated = await c.post('/reauthenticate', { cookie: s.both });
      expect(rotated.status).toBe(200);
      expect(rotated.json.reauthenticated).toBe(true);
      const newId = rotated.json.sessionId as string;
      expect(newId).not.toBe(s.id);
      const newCookie = cookiePair(rotated.setCookie.find((line) => line.startsWith('__Host-session=')));
      const offer = readRegistrationHeader(rotated.headers['secure-session-registration'] as string);
      expect(offer.path).toBe(REGISTER);
      const sessions = await manager.listUserSessions('life-rotate');
      expect(sessions.map((x) => x.id)).toEqual([newId]);
      expect(sessions[0]?.binding).toBeNull();
      // The new session needs no bound cookie until it registers.
      expect((await c.me(newCookie)).json).toEqual({ userId: 'life-rotate', sessionId: newId });
      // The browser refreshes the old DBSC session with the new cookie (or the old): told to stop.
      for (const cookie of [newCookie, s.cookie, `${newCookie}; ${s.bound}`]) {
        const reply = await c.ask(cookie, s.id);
        expect(reply.status).toBe(200);
        expect(reply.json).toEqual({ session_identifier: s.id, continue: false });
        expect(reply.setCookie).toEqual([]);
      }
      // The old bound cookie is worth nothing next to the new session... which is unbound anyway.
      expect((await c.me(s.both)).status).toBe(401);
      // The new session registers a key of its own (the old one included is fine: it is no longer bound).
      const fresh = await createSoftDeviceKey();
      expect((await c.register(newCookie, await fresh.register(offer.challenge))).status).toBe(200);
      expect((await stored('life-rotate', newId))?.thumbprint).toBe(rfc7638(fresh.publicJwk));
    });

    it('revokeSession ends the binding', async () => {
      const s = await bound('life-revoke');
      expect(await manager.revokeSession(s.id)).toBe(true);
      const me = await c.me(s.both);
      expect(me.status).toBe(401);
      expect(me.setCookie[0]).toMatch(/^__Host-session=; Max-Age=0/);
      expect((await c.ask(s.cookie, s.id)).json).toEqual({ session_identifier: s.id, continue: false });
      expect(await stored('life-revoke', s.id)).toBeUndefined();
    });

    it('logout with both cookies ends the session and the binding', async () => {
      const s = await bound('life-logout');
      const out = await c.post('/logout', { cookie: s.both });
      expect(out.json).toEqual({ revoked: true });
      expect(out.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
      expect(await stored('life-logout', s.id)).toBeUndefined();
      expect((await c.ask(s.cookie, s.id)).json).toEqual({ session_identifier: s.id, continue: false });
      expect((await c.me(s.both)).status).toBe(401);
    });

    it("a thief with the session cookie alone cannot log the victim out, nor rotate or replace the victim's session", async () => {
      const s = await bound('life-thief');
      const before = await stored('life-thief', s.id);

      const out = await c.post('/logout', { cookie: s.cookie });
      expect(out.json).toEqual({ revoked: false });
      expect(await stored('life-thief', s.id)).toEqual(before);
      expect((await c.me(s.both)).status).toBe(200);

      const reauth = await c.post('/reauthenticate', { cookie: s.cookie });
      expect(reauth.json).toEqual({ reauthenticated: false, sessionId: null });
      expect(reauth.setCookie).toEqual([]);
      expect(reauth.headers['secure-session-registration']).toBeUndefined();
      expect((await manager.listUserSessions('life-thief')).map((x) => x.id)).toEqual([s.id]);
      expect((await c.me(s.both)).status).toBe(200);

      // A login (of the thief's own account, or the victim's with a phished password) does not revoke it.
      const thiefLogin = await c.login('mallory', s.cookie);
      expect(thiefLogin.id).not.toBe(s.id);
      const victimLogin = await c.login('life-thief', s.cookie);
      const ids = (await manager.listUserSessions('life-thief')).map((x) => x.id);
      expect(ids).toEqual([s.id, victimLogin.id]);
      expect(await stored('life-thief', s.id)).toEqual(before);
      expect((await c.me(s.both)).json).toEqual({ userId: 'life-thief', sessionId: s.id });
      // The key holder's own logout still works.
      expect((await c.post('/logout', { cookie: s.both })).json).toEqual({ revoked: true });
    });

    it('a login by the key holder (both cookies) revokes the previous session, as without DBSC', async () => {
      const s = await bound('life-relogin');
      const again = await c.login('life-relogin', s.both);
      expect((await manager.listUserSessions('life-relogin')).map((x) => x.id)).toEqual([again.id]);
    });
  });

  describe('when enforce exempts everything but /api/', () => {
    // A common shape: only the API needs the bound cookie. Login, logout and step-up are still the
    // key holder's alone, whatever `enforce` says of other paths.
    let apiApp: App;
    const a = client(() => apiApp);
    beforeAll(async () => {
      apiApp = await startApp(
        manager,
        createDeviceBinding(manager, { ...PATHS, enforce: ({ path }) => path.startsWith('/api/') }),
      );
    });
    afterAll(() => apiApp.close());

    it("a thief's logout, login or reauthenticate does not revoke or rotate the victim's session", async () => {
      const login = await a.login('api-victim');
      const device = await createSoftDeviceKey();
      const reg = await a.register(login.cookie, await device.register(login.offer.challenge));
      expect(reg.status).toBe(200);
      const both = `${login.cookie}; ${cookiePair(reg.setCookie[0])}`;
      const before = await stored('api-victim', login.id);
      expect((await a.get('/api/me', login.cookie)).status).toBe(401);
      expect((await a.get('/api/me', both)).status).toBe(200);

      const out = await a.post('/api/logout', { cookie: login.cookie });
      expect(out.json).toEqual({ revoked: false });
      expect(await stored('api-victim', login.id)).toEqual(before);

      const reauth = await a.post('/api/reauthenticate', { cookie: login.cookie });
      expect(reauth.json).toEqual({ reauthenticated: false, sessionId: null });
      expect(await stored('api-victim', login.id)).toEqual(before);

      await a.post('/api/login', { cookie: login.cookie }, { userId: 'mallory' });
      expect(await stored('api-victim', login.id)).toEqual(before);
      expect((await a.get('/api/me', both)).json).toEqual({ userId: 'api-victim', sessionId: login.id });

      // The key holder's logout does revoke it.
      expect((await a.post('/api/logout', { cookie: both })).json).toEqual({ revoked: true });
      expect(await stored('api-victim', login.id)).toBeUndefined();
    });

    it('an enforced path reached through another spelling of the target still needs the bound cookie', async () => {
      const login = await a.login('api-spelling');
      const device = await createSoftDeviceKey();
      const reg = await a.register(login.cookie, await device.register(login.offer.challenge));
      expect(reg.status).toBe(200);
      const both = `${login.cookie}; ${cookiePair(reg.setCookie[0])}`;
      // The router resolves each of these to /api/me: the key holder gets in through every one...
      const targets = [
        '/api/me',
        `http://127.0.0.1:${apiApp.port}/api/me`,
        '/x/../api/me',
        '/x/%2e%2e/api/me',
        '/./api/me',
      ];
      for (const target of targets) {
        expect((await rawGet(apiApp.port, target, both)).json).toEqual({ userId: 'api-spelling', sessionId: login.id });
      }
      // ...and the thief through none.
      for (const target of targets) {
        const reply = await rawGet(apiApp.port, target, login.cookie);
        expect({ target, status: reply.status }).toEqual({ target, status: 401 });
      }
    });
  });

  describe('an ES256-only binding', () => {
    let esApp: App;
    const es = client(() => esApp);
    beforeAll(async () => {
      esApp = await startApp(manager, createDeviceBinding(manager, { ...PATHS, algorithms: ['ES256', 'ES256'] }));
    });
    afterAll(() => esApp.close());

    it('offers ES256 alone and refuses an RS256 registration', async () => {
      const login = await es.login('es-only');
      expect(login.offer.algorithms).toEqual(['ES256']);
      const rsa = await createSoftDeviceKey('RS256');
      await expectRefused(
        await es.register(login.cookie, await rsa.register(login.offer.challenge)),
        400,
        'DEVICE_PROOF_INVALID',
        'es-only',
        login.id,
        null,
      );
      const ec = await createSoftDeviceKey('ES256');
      expect((await es.register(login.cookie, await ec.register(login.offer.challenge))).status).toBe(200);
    });
  });

  describe('the endpoints', () => {
    it('answer 405 to anything but POST, and leave near-miss paths to the app', async () => {
      const s = await bound('ep-1');
      for (const method of ['GET', 'PUT', 'DELETE', 'HEAD']) {
        for (const path of [REGISTER, REFRESH, `${REGISTER}?x=1`]) {
          const reply = await send(`${app.base}${path}`, { method, headers: { cookie: s.cookie } });
          expect(reply.status).toBe(405);
          expect(reply.headers.allow).toBe('POST');
          if (method !== 'HEAD') expect(code(reply)).toBe('METHOD_NOT_ALLOWED');
          expect(reply.setCookie).toEqual([]);
        }
      }
      // Not the endpoint: the app's own 404 (after authenticate), never an answer from the binding.
      const near = await c.post(`${REGISTER}/`, { cookie: s.both });
      expect(near.status).toBe(404);
      expect((await stored('ep-1', s.id))?.thumbprint).toBe(rfc7638(s.device.publicJwk));
    });
  });
});

describe('latchkey/dbsc when the store is down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-dbsc-down-'));
  const db = new Database(join(dir, 'sessions.db'));
  const clock = manualClock(Date.now());
  const manager = createSessionManager({
    store: createSqliteStore(db),
    keys: [generateSigningKey()],
    sweepInterval: 0,
    now: clock.now,
  });
  let app: App;
  const c = client(() => app);
  beforeAll(async () => {
    app = await startApp(manager, createDeviceBinding(manager, PATHS));
  });
  afterAll(async () => {
    await app.close();
    manager.close();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 STORE_UNAVAILABLE on both endpoints and everywhere else, never logged in', async () => {
    const bound = await c.login('down-1');
    const device = await createSoftDeviceKey();
    const reg = await c.register(bound.cookie, await device.register(bound.offer.challenge));
    expect(reg.status).toBe(200);
    const both = `${bound.cookie}; ${cookiePair(reg.setCookie[0])}`;
    clock.advance(SECOND);
    const ask = await c.ask(bound.cookie, bound.id);
    const { challenge } = readChallengeHeader(ask.headers['secure-session-challenge'] as string);
    const pending = await c.login('down-2');
    const pendingProof = await (await createSoftDeviceKey()).register(pending.offer.challenge);

    db.close();
    const replies = [
      await c.register(pending.cookie, pendingProof),
      await c.ask(bound.cookie, bound.id),
      await c.refresh(bound.cookie, bound.id, await device.refresh(challenge)),
      await c.me(both),
      await c.me(pending.cookie),
      await c.post('/login', {}, { userId: 'down-3' }),
      await c.post('/logout', { cookie: both }),
    ];
    for (const reply of replies) {
      expect(reply.status).toBe(503);
      expect(code(reply)).toBe('STORE_UNAVAILABLE');
      expect(reply.setCookie).toEqual([]);
      expect(reply.json.userId).toBeUndefined();
    }
  });
});

describe('latchkey/dbsc configuration errors at start-up (CONFIG_INVALID)', () => {
  const make = (options: Partial<SessionManagerOptions> = {}) =>
    createSessionManager({ store: createMemoryStore(), keys: [generateSigningKey()], sweepInterval: 0, ...options });
  const manager = make();
  const bind = (options: unknown) => createDeviceBinding(manager, options as DeviceBindingOptions);

  it('a store without setBinding', () => {
    const full = createMemoryStore();
    const { setBinding, ...rest } = full;
    expect(typeof setBinding).toBe('function');
    const legacy = make({ store: rest as SessionStore });
    expectConfigError(() => createDeviceBinding(legacy));
    // The same store with it is fine.
    expect(createDeviceBinding(make({ store: full })).cookieName).toBe('__Host-bound');
  });

  it('something that is not a manager from createSessionManager', () => {
    expectConfigError(() => createDeviceBinding({ ...manager } as SessionManager));
  });

  it('equal register and refresh paths, a relative path, a path that breaks the header', () => {
    expectConfigError(() => bind({ registerPath: '/device', refreshPath: '/device' }));
    expectConfigError(() => bind({ registerPath: '/auth/device/refresh' }));
    expectConfigError(() => bind({ registerPath: 'device/register' }));
    expectConfigError(() => bind({ refreshPath: 'https://evil.test/refresh' }));
    expectConfigError(() => bind({ refreshPath: '' }));
    expectConfigError(() => bind({ registerPath: '/a";challenge="x' }));
    expectConfigError(() => bind({ registerPath: '/a b' }));
    expectConfigError(() => bind({ registerPath: 42 }));
    expect(bind({ registerPath: '/r', refreshPath: '/f' }).registerPath).toBe('/r');
  });

  it('a bound cookie name without __Host-, or the session cookie name', () => {
    expectConfigError(() => bind({ cookie: { name: 'bound' } }));
    expectConfigError(() => bind({ cookie: { name: '__Secure-bound' } }));
    expectConfigError(() => bind({ cookie: { name: '__host-bound' } }));
    expectConfigError(() => bind({ cookie: { name: '__Host-' } }));
    expectConfigError(() => bind({ cookie: { name: '__Host-a;b' } }));
    expectConfigError(() => bind({ cookie: { name: '__Host-session' } }));
    const custom = make({ cookie: { name: '__Host-sid' } });
    expectConfigError(() => createDeviceBinding(custom, { cookie: { name: '__Host-sid' } }));
    expect(createDeviceBinding(custom, { cookie: { name: '__Host-session' } }).cookieName).toBe('__Host-session');
  });

  it('maxAge and challengeTtl out of range', () => {
    for (const maxAge of [9, 3601, 0, -1, 600.5, Number.NaN, Number.POSITIVE_INFINITY, '600', 600_000]) {
      expectConfigError(() => bind({ cookie: { maxAge } }));
    }
    for (const challengeTtl of [4, 601, 0, Number.NaN, '60']) {
      expectConfigError(() => bind({ challengeTtl }));
    }
    expectConfigError(() => bind({ cookie: { maxAge: 600, domain: 'example.org' } }));
    expect(bind({ cookie: { maxAge: 10 } }).cookieName).toBe('__Host-bound');
    expect(bind({ cookie: { maxAge: 3600 } }).cookieName).toBe('__Host-bound');
  });

  it('bad algorithms, enforce that is not a function, unknown options', () => {
    for (const algorithms of [[], ['HS256'], ['none'], ['es256'], [undefined], 'ES256', ['ES256', 'PS256'], null]) {
      expectConfigError(() => bind({ algorithms }));
    }
    expectConfigError(() => bind({ enforce: true }));
    expectConfigError(() => bind({ registerpath: '/x' }));
    expectConfigError(() => bind({ ttl: 60 }));
  });

  it('a binding made for another manager, given to createNodeSessions', () => {
    const other = make();
    const binding = createDeviceBinding(other);
    expectConfigError(() => createNodeSessions(manager, { deviceBinding: binding }));
    expect(() => createNodeSessions(other, { deviceBinding: binding })).not.toThrow();
  });
});
