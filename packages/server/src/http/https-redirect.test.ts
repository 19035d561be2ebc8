import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { sendRaw } from '../test/http.js';
import { createHttpsRedirect } from './https-redirect.js';

describe('createHttpsRedirect', () => {
  const server = createServer(createHttpsRedirect('https://app.example.org'));
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const location = async (target: string, host = 'evil.example') => {
    const reply = await sendRaw(
      port,
      Buffer.from(`POST ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    return { status: reply.status, location: /\r\nlocation: ([^\r]*)/i.exec(reply.text)?.[1] };
  };

  it('H1: redirects with 308 to the configured origin, never to the Host header', async () => {
    expect(await location('/api/me?x=1')).toEqual({ status: 308, location: 'https://app.example.org/api/me?x=1' });
  });

  it('keeps the redirect on our origin for protocol-relative and absolute-form targets', async () => {
    expect((await location('//evil.example/x')).location).toBe('https://app.example.org/');
    expect((await location('http://evil.example/x')).location).toBe('https://app.example.org/');
  });

  it('a target that is not an https origin fails at start-up with the fix', () => {
    for (const bad of ['http://app.example.org', 'app.example.org', '', 'javascript:alert(1)']) {
      expect(() => createHttpsRedirect(bad)).toThrow(ConfigurationError);
      expect(() => createHttpsRedirect(bad)).toThrow(/https origin .* such as https:\/\/app\.example\.org/);
    }
  });
});
