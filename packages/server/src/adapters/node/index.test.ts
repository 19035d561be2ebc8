import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { codeForError } from '../../http/error-codes.js';
import { createServerLimits } from '../../http/server-limits.js';
import { runAdapterContract } from '../../test/adapter-contract.js';
import {
  createNodeHardening,
  createNodeSessions,
  errorHandler,
  getNonce,
  handleClientError,
  notFound,
  readJson,
  sendError,
} from './index.js';

function json(res: ServerResponse, body: unknown): void {
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

runAdapterContract('node:http', async (sessions, fixture, options) => {
  const auth = createNodeSessions(sessions, options);
  const hardening = createNodeHardening({
    ...fixture.hardening,
    isHttps: (req) => fixture.https(req.headers['x-test-https']),
  });
  const limits = createServerLimits();
  const server = createServer(limits.serverOptions, async (req, res) => {
    try {
      if (await hardening(req, res)) return;
      if (await auth.answerDevice(req, res)) return;
      const path = (req.url ?? '/').split('?', 1)[0];
      const route = `${req.method} ${path}`;
      if (route === 'GET /bare') return json(res, { ok: true });
      if (route === 'GET /misconfigured') return void (auth.requireSession(req, res) && json(res, { ok: true }));
      await auth.authenticate(req, res);
      if (route === 'POST /login') {
        const body = (await readJson(req)) as { userId: string; remember?: boolean; appCookie?: boolean };
        if (body.appCookie === true) res.setHeader('set-cookie', 'app=1; Path=/'); // the app's own, set first
        const { userId, remember } = body;
        await auth.login(req, res, userId, { remember });
        return json(res, { userId });
      }
      if (route === 'GET /me') {
        const session = auth.requireSession(req, res);
        return void (session && json(res, { userId: session.userId, sessionId: session.id }));
      }
      if (route === 'POST /logout') return json(res, { revoked: await auth.logout(req, res) });
      if (route === 'POST /reauthenticate')
        return json(res, { reauthenticated: (await auth.reauthenticate(req, res)) !== null });
      if (route === 'POST /fresh') return void (auth.requireFreshSession(req, res) && json(res, { ok: true }));
      if (route === 'POST /echo' || route === 'POST /exempt') {
        fixture.ran(path as string);
        return json(res, { ok: true });
      }
      if (route === 'GET /api/data') return json(res, { ok: true });
      if (route === 'GET /page') {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        return void res.end(`<script nonce="${getNonce(req)}"></script>`);
      }
      if (route === 'GET /teapot') return sendError(res, fixture.teapot.answer, fixture.teapot.headers);
      if (route === 'GET /fail') throw new Error(fixture.secret);
      notFound(res);
    } catch (error) {
      errorHandler(error, res);
    }
  });
  limits.apply(server);
  server.on('clientError', handleClientError);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

describe('readJson', () => {
  const request = (body: string, headers: Record<string, string> = {}) =>
    Object.assign(Readable.from([Buffer.from(body)]), { headers }) as unknown as IncomingMessage;
  const codeOf = (promise: Promise<unknown>) => promise.then(() => 'none', codeForError);

  it('parses JSON up to the limit; past it 413, and junk or prototype poisoning 400', async () => {
    expect(await readJson(request('{"a":[1,{"b":null}]}'))).toEqual({ a: [1, { b: null }] });
    expect(await codeOf(readJson(request('x'.repeat(11)), { limit: 10 }))).toBe('PAYLOAD_TOO_LARGE');
    expect(await codeOf(readJson(request('{}', { 'content-length': '200000' })))).toBe('PAYLOAD_TOO_LARGE');
    for (const junk of ['', '{', "{'a':1}", '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{}}}'])
      expect(await codeOf(readJson(request(junk))), junk).toBe('INVALID_JSON');
    expect(await readJson(request('{"constructor":"fine"}'))).toEqual({ constructor: 'fine' });
  });

  it('a deeply nested body within the limit is JSON like any other, never a 500', async () => {
    // 50,000 levels fit in 100 KiB. A JSON.parse reviver recurses per level and overflowed the
    // stack (RangeError → 500); express.json and Fastify parse this body.
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    expect(await codeOf(readJson(request(deep)))).toBe('none');
    const poisoned = `${'['.repeat(50_000)}{"__proto__":{"admin":true}}${']'.repeat(50_000)}`;
    expect(await codeOf(readJson(request(poisoned)))).toBe('INVALID_JSON');
  });
});
