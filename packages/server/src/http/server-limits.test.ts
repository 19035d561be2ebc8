import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { handleClientError } from './client-error.js';
import { createServerLimits } from './server-limits.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

describe('createServerLimits', () => {
  it('has deadlines by default and sets every one on a server', () => {
    const limits = createServerLimits();
    expect(limits).toMatchObject({
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 5_000,
      idleTimeout: 60_000,
      maxConnections: 4_096,
      maxConnectionsPerAddress: 256,
      maxRequestsPerSocket: Number.POSITIVE_INFINITY,
    });
    expect(limits.serverOptions.requireHostHeader).toBe(false); // the framework answers it, with headers
    expect(limits.serverOptions.connectionsCheckingInterval).toBeLessThanOrEqual(1_000);
    const server = createServer(limits.serverOptions);
    servers.push(server);
    server.requestTimeout = 0; // what Fastify sets by default
    limits.apply(server);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.headersTimeout).toBe(10_000);
    expect(server.keepAliveTimeout).toBe(5_000);
    expect(server.maxConnections).toBe(4_096);
    expect(server.maxRequestsPerSocket).toBe(0); // none: Node answers past it with a bare 503
    expect(server.timeout).toBe(60_000);
  });

  it('refuses a configuration that turns a deadline off or contradicts itself, with the fix in the message', () => {
    expect(() => createServerLimits({ requestTimeout: 0 })).toThrow(ConfigurationError);
    expect(() => createServerLimits({ maxConnections: 1.5 })).toThrow(
      /server limit maxConnections must be a whole number from 1/,
    );
    expect(() => createServerLimits({ maxConnections: Number.POSITIVE_INFINITY })).toThrow(ConfigurationError);
    expect(createServerLimits({ maxConnectionsPerAddress: Number.POSITIVE_INFINITY }).maxConnectionsPerAddress).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(() => createServerLimits({ requestTimeout: 1_000, headersTimeout: 2_000 })).toThrow(
      /headersTimeout must not exceed requestTimeout/,
    );
    // A short request deadline lowers the default headers deadline with it.
    expect(createServerLimits({ requestTimeout: 3_000 }).headersTimeout).toBe(3_000);
  });

  it('cuts off a body that drips in, with a 408 and a JSON code, within a second of the deadline', async () => {
    const limits = createServerLimits({ requestTimeout: 1_000 });
    const server = createServer(limits.serverOptions, (req, res) => {
      req.resume();
      req.on('end', () => res.end('done'));
    }).on('clientError', handleClientError);
    servers.push(server);
    limits.apply(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let out = '';
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n'),
      );
      const drip = setInterval(() => socket.writable && socket.write('x'), 200);
      socket.setEncoding('latin1');
      socket.on('data', (c) => {
        out += c;
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(drip);
        resolve(out);
      });
    });
    const took = Date.now() - started;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
    expect(answer).toMatch(/content-security-policy: default-src 'none'/);
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(2_600);
  });

  it('keeps one address from taking every connection', async () => {
    const limits = createServerLimits({ maxConnectionsPerAddress: 5 });
    const server = createServer(limits.serverOptions, (_req, res) => res.end('ok'));
    servers.push(server);
    limits.apply(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const held = Array.from({ length: 12 }, () => {
      const socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      socket.on('error', () => undefined);
      return socket;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(held.filter((s) => !s.destroyed).length).toBe(5);
    // Another address is still served, and a freed slot is reusable.
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const again = Array.from({ length: 5 }, () =>
      connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }).on('error', () => undefined),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(again.filter((s) => !s.destroyed).length).toBe(5);
    for (const s of again) s.destroy();
  });

  it('apply refuses an HTTP/2 server with the reason, rather than setting limits it does not read', () => {
    const h2 = createHttp2Server();
    expect(() => createServerLimits().apply(h2)).toThrow(ConfigurationError);
    expect(() => createServerLimits().apply(h2)).toThrow(/node:http or node:https server/);
  });
});
