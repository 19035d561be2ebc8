import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { runAdapterContract } from '../../test/adapter-contract.js';
import { createHonoSessions, handleClientError, onError, type SessionEnv } from './index.js';

runAdapterContract('hono', async (sessions) => {
  const auth = createHonoSessions(sessions);
  const app = new Hono<SessionEnv>();
  app.onError(onError);
  app.get('/bare', (c) => c.json({ ok: true }));
  app.use('/login', auth.middleware);
  app.use('/logout', auth.middleware);
  app.use('/me', auth.middleware);
  app.post('/login', async (c) => {
    const body = await c.req.json<{ userId: string }>();
    await auth.login(c, body.userId);
    return c.json({ userId: body.userId });
  });
  app.post('/logout', async (c) => c.json({ revoked: await auth.logout(c) }));
  app.get('/me', auth.requireSession, (c) => {
    const session = c.get('session');
    return c.json({ userId: session?.userId, sessionId: session?.id });
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  server.on('clientError', handleClientError);
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
