import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { runAdapterContract } from '../../test/adapter-contract.js';
import { createExpressSessions, errorHandler, getSession, handleClientError } from './index.js';

runAdapterContract('express', async (sessions) => {
  const auth = createExpressSessions(sessions);
  const app = express();
  app.disable('x-powered-by');
  app.get('/bare', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(express.json());
  app.use(auth.middleware);
  app.post('/login', async (req, res) => {
    await auth.login(req, res, req.body.userId);
    res.json({ userId: req.body.userId });
  });
  app.post('/logout', async (req, res) => {
    res.json({ revoked: await auth.logout(req, res) });
  });
  app.get('/me', auth.requireSession, (req, res) => {
    const session = getSession(req);
    res.json({ userId: session?.userId, sessionId: session?.id });
  });
  app.use(errorHandler);
  const server = createServer(app).on('clientError', handleClientError);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
