import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createSecurityHeaders } from '../../http/headers.js';
import { createServerLimits } from '../../http/server-limits.js';
import { runAdapterContract } from '../../test/adapter-contract.js';
import { sendRaw } from '../../test/http.js';
import { createFastifyHardening, createFastifySessions, errorHandler, getSession, handleClientError } from './index.js';

runAdapterContract('fastify', async (sessions) => {
  const auth = createFastifySessions(sessions);
  const app = Fastify({ clientErrorHandler: handleClientError });
  app.setErrorHandler(errorHandler);
  app.get('/bare', async () => ({ ok: true }));
  await app.register(async (scope) => {
    scope.addHook('onRequest', auth.onRequest);
    scope.post<{ Body: { userId: string } }>('/login', async (request, reply) => {
      await auth.login(request, reply, request.body.userId);
      return { userId: request.body.userId };
    });
    scope.post('/logout', async (request, reply) => ({ revoked: await auth.logout(request, reply) }));
    scope.get('/me', { preHandler: auth.requireSession }, async (request) => {
      const session = getSession(request);
      return { userId: session?.userId, sessionId: session?.id };
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: () => app.close(),
  };
});

describe('createFastifyHardening', () => {
  it('covers the answers Fastify gives before routing: a URL it cannot decode gets the headers and a coded body', async () => {
    const hardening = createFastifyHardening({ headers: createSecurityHeaders() });
    const limits = createServerLimits();
    const app = Fastify({ frameworkErrors: hardening.frameworkErrors, http: limits.serverOptions });
    limits.apply(app.server);
    app.addHook('onRequest', hardening);
    app.get('/api/me', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const response = (
        await sendRaw(port, Buffer.from('GET /api/me%3Cscript%3E% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
      ).text;
      const [head = '', body = ''] = response.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 400/);
      expect(head).toMatch(/content-security-policy: default-src 'self'/i);
      expect(head).toMatch(/x-content-type-options: nosniff/i);
      expect(head).toMatch(/cache-control: no-store/i);
      expect(JSON.parse(body)).toEqual({ error: { code: 'BAD_REQUEST', message: 'The request is malformed.' } });
      // HTTP/1.1 without Host: refused by the hook, with the headers (Node's own check is off).
      const noHost = (await sendRaw(port, Buffer.from('GET /api/me HTTP/1.1\r\nConnection: close\r\n\r\n'))).text;
      expect(noHost).toMatch(/^HTTP\/1\.1 400/);
      expect(noHost).toMatch(/content-security-policy: default-src 'self'/i);
      expect(noHost).toContain('"code":"BAD_REQUEST"');
      // Without it, Fastify's default answer quotes the path back and has no security header.
      const plain = Fastify();
      plain.get('/api/me', async () => ({ ok: true }));
      const res = await plain.inject({ method: 'GET', url: '/api/me%3Cscript%3E%' });
      expect(res.body).toContain('script');
      expect(res.headers['content-security-policy']).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
