import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { createDeviceBinding } from '../../dbsc/binding.js';
import { createServerLimits } from '../../http/server-limits.js';
import { generateSigningKey } from '../../sessions/key-ring.js';
import { createSessionManager } from '../../sessions/manager.js';
import { createMemoryStore } from '../../stores/memory.js';
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

describe('createExpressSessions with a device binding', () => {
  it('warns once when the binding paths are outside the mount point, where the browser would get 404s', async () => {
    const sessions = createSessionManager({
      store: createMemoryStore(),
      keys: [generateSigningKey()],
      sweepInterval: 0,
    });
    const outside = createDeviceBinding(sessions); // defaults: /auth/device/… while mounted at /api
    const inside = createDeviceBinding(sessions, { registerPath: '/api/d/register', refreshPath: '/api/d/refresh' });
    const warnings: Error[] = [];
    const listen = (warning: Error) => warnings.push(warning);
    process.on('warning', listen);
    try {
      for (const [deviceBinding, expected] of [
        [outside, 1],
        [inside, 0],
      ] as const) {
        warnings.length = 0;
        const app = express();
        app.use('/api', createExpressSessions(sessions, { deviceBinding }).middleware);
        app.get('/api/x', (_req, res) => res.json({ ok: true }));
        const server = createServer(app);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        for (let i = 0; i < 2; i++) expect((await fetch(`${base}/api/x`)).status).toBe(200);
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings).toHaveLength(expected);
        if (expected === 1) {
          expect((warnings[0] as Error & { code?: string }).code).toBe('CONFIG_INVALID');
          expect(warnings[0]?.message).toContain('/auth/device/register and /auth/device/refresh are outside /api');
        }
      }
    } finally {
      process.off('warning', listen);
    }
  });
});
