import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, createApiClient, OfflineError } from './index.js';

const seen: { method?: string; url?: string; type?: string; body: string }[] = [];
const server = createServer(async (req: IncomingMessage, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
  res.setHeader('content-type', 'application/json');
  if (req.url === '/api/me') {
    res.statusCode = 401;
    return res.end('{"error":{"code":"SESSION_REQUIRED","message":"Log in to continue."}}');
  }
  res.end(req.url === '/api/auth/login' ? '{"user":{"id":"1","username":"demo"}}' : '{"ok":true}');
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('api client', () => {
  it('posts JSON credentials and returns the user, holding no token', async () => {
    const api = createApiClient({ baseUrl: base });
    expect(await api.login('demo', 'pw')).toEqual({ user: { id: '1', username: 'demo' } }); // as the server sent it
    expect(seen.at(-1)).toEqual({
      method: 'POST',
      url: '/api/auth/login',
      type: 'application/json',
      body: '{"username":"demo","password":"pw"}',
    });
    await api.logout();
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/api/auth/logout', body: '' });
  });

  it('turns an error body into an ApiError with its code, and a 401 into one logged-out event, in every tab', async () => {
    const api = createApiClient({ baseUrl: base, channel: 'test-tabs' });
    const otherTab = createApiClient({ baseUrl: base, channel: 'test-tabs' });
    const here: string[] = [];
    const there: string[] = [];
    api.on('logged-out', () => here.push('logged-out'));
    otherTab.on('logged-out', () => there.push('logged-out'));
    const error = await api.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'SESSION_REQUIRED' });
    await api.me().catch(() => undefined); // a second 401: still one event
    await new Promise((r) => setTimeout(r, 50));
    expect(here).toEqual(['logged-out']);
    expect(there).toEqual(['logged-out']);
    api.close();
    otherTab.close();
  });

  it('tells offline apart from logged out', async () => {
    const dead = createApiClient({ baseUrl: 'http://127.0.0.1:1', channel: false });
    const events: unknown[] = [];
    dead.on('connectivity', (online) => events.push(online));
    dead.on('logged-out', () => events.push('logged-out'));
    const error = await dead.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OfflineError);
    expect(dead.online).toBe(false);
    expect(events).toEqual([false]);
  });
});
