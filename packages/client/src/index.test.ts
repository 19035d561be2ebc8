import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, createApiClient } from './index.js';

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
    expect(await api.login('demo', 'pw')).toEqual({ user: { id: '1', username: 'demo' } });
    expect(seen.at(-1)).toEqual({
      method: 'POST',
      url: '/api/auth/login',
      type: 'application/json',
      body: '{"username":"demo","password":"pw"}',
    });
    await api.logout();
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/api/auth/logout', body: '' });
  });

  it('turns an error body into an ApiError with its code', async () => {
    const api = createApiClient({ baseUrl: base });
    const error = await api.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'SESSION_REQUIRED' });
  });
});
