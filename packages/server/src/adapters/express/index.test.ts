import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createServerLimits } from '../../http/server-limits.js';
import { runAdapterContract } from '../../test/adapter-contract.js';
import {
  createExpressHardening,
  createExpressSessions,
  errorHandler,
  getNonce,
  getSession,
  handleClientError,
  notFound,
  sendError,
} from './index.js';

runAdapterContract('express', async (sessions, fixture, options) => {
  const auth = createExpressSessions(sessions, options);
  const app = express(); // x-powered-by and ETags left on: the adapter takes care of both
  app.use(
    createExpressHardening({ ...fixture.hardening, isHttps: (req) => fixture.https(req.headers['x-test-https']) }),
  );
  app.get('/bare', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/misconfigured', auth.requireSession, (_req, res) => {
    res.json({ ok: true });
  });
  app.use(express.json(), auth.middleware);
  app.post('/login', async (req, res) => {
    if (req.body.appCookie === true) res.cookie('app', '1', { path: '/' }); // the app's own, set first
    await auth.login(req, res, req.body.userId, { remember: req.body.remember });
    res.json({ userId: req.body.userId });
  });
  app.get('/me', auth.requireSession, (req, res) => {
    const session = getSession(req);
    res.json({ userId: session?.userId, sessionId: session?.id });
  });
  app.post('/logout', async (req, res) => {
    res.json({ revoked: await auth.logout(req, res) });
  });
  app.post('/reauthenticate', async (req, res) => {
    res.json({ reauthenticated: (await auth.reauthenticate(req, res)) !== null });
  });
  app.post('/fresh', auth.requireFreshSession, (_req, res) => {
    res.json({ ok: true });
  });
  app.post(['/echo', '/exempt'], (req, res) => {
    fixture.ran(req.path);
    res.json({ ok: true });
  });
  app.get('/api/data', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/page', (req, res) => {
    res.type('html').send(`<script nonce="${getNonce(req)}"></script>`);
  });
  app.get('/teapot', (_req, res) => sendError(res, fixture.teapot.answer, fixture.teapot.headers));
  app.get('/fail', () => {
    throw new Error(fixture.secret);
  });
  app.use(notFound, errorHandler);
  const limits = createServerLimits();
  const server = createServer(limits.serverOptions, app).on('clientError', handleClientError);
  limits.apply(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
