import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Handler, Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { createServerLimits } from '../../http/server-limits.js';
import { runAdapterContract } from '../../test/adapter-contract.js';
import {
  createHonoHardening,
  createHonoSessions,
  errorHandler,
  getNonce,
  getSession,
  handleClientError,
  notFound,
  type SessionEnv,
  sendError,
} from './index.js';

runAdapterContract('hono', async (sessions, fixture, options) => {
  const auth = createHonoSessions(sessions, options);
  const app = new Hono<SessionEnv>();
  app.onError(errorHandler).notFound(notFound);
  app.use(createHonoHardening({ ...fixture.hardening, isHttps: (c) => fixture.https(c.req.header('x-test-https')) }));
  app.get('/bare', (c) => c.json({ ok: true }));
  app.get('/misconfigured', auth.requireSession, (c) => c.json({ ok: true }));
  app.use(auth.middleware);
  app.post('/login', async (c) => {
    const body = await c.req.json<{ userId: string; remember?: boolean; appCookie?: boolean }>();
    if (body.appCookie === true) setCookie(c, 'app', '1', { path: '/' }); // the app's own, set first
    await auth.login(c, body.userId, { remember: body.remember });
    return c.json({ userId: body.userId });
  });
  app.get('/me', auth.requireSession, (c) => {
    const session = getSession(c);
    return c.json({ userId: session?.userId, sessionId: session?.id });
  });
  app.post('/logout', async (c) => c.json({ revoked: await auth.logout(c) }));
  app.post('/reauthenticate', async (c) => c.json({ reauthenticated: (await auth.reauthenticate(c)) !== null }));
  app.post('/fresh', auth.requireFreshSession, (c) => c.json({ ok: true }));
  const echo: Handler<SessionEnv> = (c) => {
    fixture.ran(c.req.path);
    return c.json({ ok: true });
  };
  app.post('/echo', echo).post('/exempt', echo);
  app.get('/api/data', (c) => c.json({ ok: true }));
  app.get('/page', (c) => c.html(`<script nonce="${getNonce(c)}"></script>`));
  app.get('/teapot', (c) => sendError(c, fixture.teapot.answer, fixture.teapot.headers));
  app.get('/fail', () => {
    throw new Error(fixture.secret);
  });
  const limits = createServerLimits();
  // `hostname` is also the host @hono/node-server assumes when a request has none: then the
  // hardening sees the request and refuses it with a coded 400.
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', serverOptions: limits.serverOptions }, () =>
      resolve(s),
    );
  });
  limits.apply(server as import('node:http').Server);
  server.on('clientError', handleClientError);
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
