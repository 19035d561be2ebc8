import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createSecurityHeaders } from '../../http/headers.js';
import { createServerLimits } from '../../http/server-limits.js';
import { runAdapterContract } from '../../test/adapter-contract.js';
import { sendRaw } from '../../test/http.js';
import {
  createFastifyHardening,
  createFastifySessions,
  errorHandler,
  getNonce,
  getSession,
  handleClientError,
  notFound,
  sendError,
} from './index.js';

runAdapterContract('fastify', async (sessions, fixture, options) => {
  const auth = createFastifySessions(sessions, options);
  const hardening = createFastifyHardening({
    ...fixture.hardening,
    isHttps: (request) => fixture.https(request.headers['x-test-https']),
  });
  const limits = createServerLimits();
  const app = Fastify({
    http: limits.serverOptions,
    clientErrorHandler: handleClientError,
    frameworkErrors: hardening.frameworkErrors,
  });
  limits.apply(app.server);
  app.setErrorHandler(errorHandler).setNotFoundHandler(notFound);
  app.addHook('onRequest', hardening);
  app.get('/bare', async () => ({ ok: true }));
  app.get('/misconfigured', { preHandler: auth.requireSession }, async () => ({ ok: true }));
  await app.register(async (scope) => {
    scope.addHook('onRequest', auth.onRequest);
    if (options?.deviceBinding !== undefined) auth.deviceRoutes(scope);
    scope.post<{ Body: { userId: string; remember?: boolean; appCookie?: boolean } }>(
      '/login',
      async (request, reply) => {
        if (request.body.appCookie === true) reply.header('set-cookie', 'app=1; Path=/'); // the app's own, set first
        await auth.login(request, reply, request.body.userId, { remember: request.body.remember });
        return { userId: request.body.userId };
      },
    );
    scope.get('/me', { preHandler: auth.requireSession }, async (request) => {
      const session = getSession(request);
      return { userId: session?.userId, sessionId: session?.id };
    });
    scope.post('/logout', async (request, reply) => ({ revoked: await auth.logout(request, reply) }));
    scope.post('/reauthenticate', async (request, reply) => ({
      reauthenticated: (await auth.reauthenticate(request, reply)) !== null,
    }));
    scope.post('/fresh', { preHandler: auth.requireFreshSession }, async () => ({ ok: true }));
    for (const path of ['/echo', '/exempt'])
      scope.post(path, async () => {
        fixture.ran(path);
        return { ok: true };
      });
    scope.get('/api/data', async () => ({ ok: true }));
    scope.get('/page', async (request, reply) =>
      reply.type('text/html; charset=utf-8').send(`<script nonce="${getNonce(request)}"></script>`),
    );
    scope.get('/teapot', async (_request, reply) => sendError(reply, fixture.teapot.answer, fixture.teapot.headers));
    scope.get('/fail', async () => {
      throw new Error(fixture.secret);
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
});

describe('createFastifyHardening', () => {
  it('covers the answers Fastify gives before routing: a URL it cannot decode gets the headers and a coded body', async () => {
    const hardening = createFastifyHardening({ headers: createSecurityHeaders(), csrf: false });
    const app = Fastify({ frameworkErrors: hardening.frameworkErrors });
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
