/**
 * The API client against a real HTTP server whose routes are not latchkey's demo's: the client
 * must only know what the app passes it. Node's fetch keeps no cookies, so the server keeps one
 * "session" flag, which is what a cookie would carry.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ApiError,
  type ApiEvents,
  ClientArgumentError,
  createApiClient,
  LatchkeyClientError,
  OfflineError,
} from './index.js';

interface Account {
  id: string;
  email: string;
}
interface Me {
  account: Account;
  expiresAt: number;
}
type Routes = {
  credentials: { email: string; password: string; remember: boolean };
  login: { account: Account };
  me: Me;
  registration: { email: string; password: string; inviteCode: string };
};
const endpoints = { login: '/auth/sign-in', logout: '/auth/sign-out', me: '/whoami', register: '/auth/sign-up' };
const ACCOUNT: Account = { id: 'u1', email: 'ada@example.com' };
const EXPIRES_AT = 1_767_225_600_000;

let loggedIn = false;
const seen: { method?: string; url?: string; type?: string; body: string }[] = [];
const sessionRequired = '{"error":{"code":"SESSION_REQUIRED","message":"Log in to continue."}}';
const server = createServer(async (req: IncomingMessage, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
  res.setHeader('content-type', 'application/json');
  const route = `${req.method} ${req.url}`;
  if (route === 'POST /auth/sign-in') {
    if (JSON.parse(body).password !== 'right') {
      res.statusCode = 401;
      return res.end('{"error":{"code":"INVALID_CREDENTIALS","message":"Wrong email or password."}}');
    }
    loggedIn = true;
    return res.end(JSON.stringify({ account: ACCOUNT }));
  }
  if (route === 'POST /auth/sign-up') {
    loggedIn = true;
    res.statusCode = 201;
    return res.end(JSON.stringify({ account: ACCOUNT }));
  }
  if (route === 'POST /auth/sign-out') {
    loggedIn = false;
    return res.end('{"ok":true}');
  }
  if (route === 'GET /whoami' || route === 'GET /things') {
    if (!loggedIn) {
      res.statusCode = 401;
      return res.end(sessionRequired);
    }
    return res.end(JSON.stringify(route === 'GET /whoami' ? { account: ACCOUNT, expiresAt: EXPIRES_AT } : [1, 2]));
  }
  if (route === 'GET /proxy-error') {
    res.statusCode = 502;
    res.setHeader('content-type', 'text/html');
    return res.end('<html>Bad gateway</html>');
  }
  res.statusCode = 404;
  res.end('{"error":{"code":"NOT_FOUND","message":"No such resource."}}');
});
let base = '';
let tab = 0;
/** Two clients on one BroadcastChannel: two tabs of the app. */
function twoTabs() {
  const channel = `test-tabs-${tab++}`;
  const here = createApiClient<Routes>({ baseUrl: base, endpoints, channel });
  const there = createApiClient<Routes>({ baseUrl: base, endpoints, channel });
  const events: { here: ApiEvents['logged-out'][]; there: ApiEvents['logged-out'][] } = { here: [], there: [] };
  here.on('logged-out', (e) => events.here.push(e));
  there.on('logged-out', (e) => events.there.push(e));
  const close = () => {
    here.close();
    there.close();
  };
  return { here, there, events, close };
}
/** Lets BroadcastChannel messages arrive. */
const settle = () => new Promise((r) => setTimeout(r, 50));

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  loggedIn = false;
  seen.length = 0;
});

describe('api client: the app decides the routes and the types', () => {
  it("posts the app's own credentials to its login route and returns its answers as sent", async () => {
    const api = createApiClient<Routes>({ baseUrl: base, endpoints, channel: false });
    expect(api.loggedIn).toBe(false);
    const credentials = { email: 'ada@example.com', password: 'right', remember: true };
    expect(await api.login(credentials)).toEqual({ account: ACCOUNT });
    expect(seen.at(-1)).toEqual({
      method: 'POST',
      url: '/auth/sign-in',
      type: 'application/json',
      body: JSON.stringify(credentials),
    });
    expect(api.loggedIn).toBe(true);
    // The me route's answer, timestamps as the server sends them (latchkey's are ms numbers).
    expect(await api.me()).toEqual({ account: ACCOUNT, expiresAt: EXPIRES_AT });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/whoami', body: '' });
    expect(await api.request('/things')).toEqual([1, 2]);
    await api.logout();
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/auth/sign-out', type: undefined, body: '' });
    expect(api.loggedIn).toBe(false);

    expectTypeOf(api.login).parameter(0).toEqualTypeOf<Routes['credentials']>();
    expectTypeOf(api.login(credentials)).resolves.toEqualTypeOf<{ account: Account }>();
    expectTypeOf(api.register).parameter(0).toEqualTypeOf<Routes['registration']>();
    expectTypeOf(api.me()).resolves.toEqualTypeOf<Me | null>();
  });

  it('registers through the register route, which counts as a login', async () => {
    const api = createApiClient<Routes>({ baseUrl: base, endpoints, channel: false });
    expect(await api.register({ email: 'ada@example.com', password: 'right', inviteCode: 'x1' })).toEqual({
      account: ACCOUNT,
    });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/auth/sign-up', type: 'application/json' });
    expect(api.loggedIn).toBe(true);
  });

  it('sends every request same-origin, uncached, with nothing but JSON headers', async () => {
    const inits: RequestInit[] = [];
    const api = createApiClient({
      endpoints,
      baseUrl: base,
      channel: false,
      fetch: (input, init) => {
        if (init) inits.push(init);
        return fetch(input, init);
      },
    });
    await api.login({ email: 'ada@example.com', password: 'right', remember: false });
    await api.me();
    expect(inits.map((i) => [i.credentials, i.cache, i.headers])).toEqual([
      ['same-origin', 'no-store', { accept: 'application/json', 'content-type': 'application/json' }],
      ['same-origin', 'no-store', { accept: 'application/json' }],
    ]);
  });

  it('refuses options it cannot use, naming the fix', () => {
    const attempts: [unknown, RegExp][] = [
      [undefined, /pass an options object with your routes/],
      [{}, /endpoints is missing/],
      [{ endpoints: { login: '/l', logout: '/o' } }, /endpoints\.me must be the path of your me route/],
      [{ endpoints: { login: '/l', logout: '/o', me: '' } }, /endpoints\.me must be the path/],
      [
        { endpoints: { ...endpoints, refresh: '/r' } },
        /unknown endpoint "refresh"; the endpoints are login, logout, me, register/,
      ],
      [{ endpoints, secret: 'x' }, /unknown option "secret"; the options are endpoints, baseUrl, fetch, channel/],
      [{ endpoints, baseUrl: new URL('http://x') }, /baseUrl must be a string/],
      [{ endpoints, channel: true }, /channel must be a string or false/],
    ];
    for (const [options, message] of attempts) {
      const error = (() => {
        try {
          createApiClient(options as never);
        } catch (e) {
          return e;
        }
      })();
      expect(error, String(message)).toBeInstanceOf(ClientArgumentError);
      expect(error).toMatchObject({ code: 'ARGUMENT_INVALID', name: 'ClientArgumentError', message });
    }
  });

  it('refuses register() when the app has no register route', async () => {
    const api = createApiClient({ endpoints: { login: '/l', logout: '/o', me: '/m' }, baseUrl: base, channel: false });
    const error = await api.register({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientArgumentError);
    expect((error as Error).message).toMatch(/no register endpoint; pass it to createApiClient/);
    expect(seen).toEqual([]);
  });
});

describe('api client: logged out, nobody logged in, offline', () => {
  it('a visitor who never logged in gets me() === null, and no tab hears "logged-out"', async () => {
    const { here, events, close } = twoTabs();
    expect(await here.me()).toBeNull();
    expect(await here.me()).toBeNull();
    const error = await here.request('/things').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, code: 'SESSION_REQUIRED' });
    await settle();
    expect(events).toEqual({ here: [], there: [] });
    expect(here.loggedIn).toBe(false);
    close();
  });

  it('a session that ends after a login fires one "logged-out" here and in every other tab', async () => {
    const { here, events, close } = twoTabs();
    await here.login({ email: 'ada@example.com', password: 'right', remember: false });
    loggedIn = false; // the server ended it: expired, or revoked from another device
    const error = await here.request('/things').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'SESSION_REQUIRED', message: 'Log in to continue.' });
    expect(await here.me()).toBeNull(); // a second 401: still one event
    await settle();
    expect(events).toEqual({
      here: [{ reason: 'session-ended', otherTab: false }],
      there: [{ reason: 'session-ended', otherTab: true }],
    });
    expect(here.loggedIn).toBe(false);
    close();
  });

  it('a me() that found a session counts as logged in; a wrong password does not', async () => {
    const { here, events, close } = twoTabs();
    const wrong = await here.login({ email: 'ada@example.com', password: 'wrong', remember: false }).catch((e) => e);
    expect(wrong).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    expect(here.loggedIn).toBe(false);
    loggedIn = true; // a session from an earlier visit
    expect(await here.me()).toEqual({ account: ACCOUNT, expiresAt: EXPIRES_AT });
    loggedIn = false;
    expect(await here.me()).toBeNull();
    expect(events.here).toEqual([{ reason: 'session-ended', otherTab: false }]);
    close();
  });

  it('a state the app restored (assumeLoggedIn) ends with "logged-out" too', async () => {
    const { here, events, close } = twoTabs();
    here.assumeLoggedIn(); // e.g. opened offline on the last account's local data
    expect(here.loggedIn).toBe(true);
    expect(await here.me()).toBeNull();
    expect(events.here).toEqual([{ reason: 'session-ended', otherTab: false }]);
    close();
  });

  it('logout tells every tab, once, even when the server cannot be reached', async () => {
    const { here, there, events, close } = twoTabs();
    await here.login({ email: 'ada@example.com', password: 'right', remember: false });
    await there.me();
    await here.logout();
    await settle();
    expect(events).toEqual({
      here: [{ reason: 'logout', otherTab: false }],
      there: [{ reason: 'logout', otherTab: true }],
    });
    expect(there.loggedIn).toBe(false);
    close();

    const dead = createApiClient({ endpoints, baseUrl: 'http://127.0.0.1:1', channel: false });
    const reasons: string[] = [];
    dead.on('logged-out', (e) => reasons.push(e.reason));
    dead.assumeLoggedIn();
    expect(await dead.logout().catch((e: unknown) => e)).toBeInstanceOf(OfflineError);
    expect(reasons).toEqual(['logout']);
  });

  it('tells offline apart from logged out, and says when the server is back', async () => {
    let reachable = false;
    const api = createApiClient({
      endpoints,
      baseUrl: base,
      channel: false,
      fetch: (input, init) => fetch(reachable ? input : 'http://127.0.0.1:1/', init),
    });
    const events: unknown[] = [];
    api.on('connectivity', (online) => events.push(online));
    api.on('logged-out', () => events.push('logged-out'));
    api.assumeLoggedIn();
    const error = await api.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OfflineError);
    expect(error).toBeInstanceOf(LatchkeyClientError);
    expect(error).toMatchObject({ code: 'OFFLINE', name: 'OfflineError' });
    expect(api.online).toBe(false);
    expect(api.loggedIn).toBe(true); // unknown, not logged out
    reachable = true;
    await api.request('/proxy-error').catch(() => undefined);
    expect(api.online).toBe(true);
    expect(events).toEqual([false, true]);
  });

  it('gives an error body without a code the code HTTP_ERROR, keeping the status', async () => {
    const api = createApiClient({ endpoints, baseUrl: base, channel: false });
    const error = await api.request('/proxy-error').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 502, code: 'HTTP_ERROR', body: undefined });
    const missing = await api.request('/nowhere').catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 'NOT_FOUND', body: { error: { code: 'NOT_FOUND' } } });
  });
});
