/**
 * Type-level test: the CSRF guard takes each framework's own request object as it is, under strict
 * TypeScript (tsc checks this file in `npm run typecheck`; vitest runs the calls too).
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request as ExpressRequest } from 'express';
import Fastify, { type FastifyRequest } from 'fastify';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type CsrfRequest, createCsrfGuard } from './csrf.js';

describe('CsrfRequest accepts the frameworks’ request objects', () => {
  const guard = createCsrfGuard({ origins: ['http://127.0.0.1'] });

  it('type-checks with node:http, Express and Fastify requests', () => {
    expectTypeOf<IncomingMessage>().toExtend<CsrfRequest>();
    expectTypeOf<ExpressRequest>().toExtend<CsrfRequest>();
    expectTypeOf<FastifyRequest['raw']>().toExtend<CsrfRequest>();
    expectTypeOf(guard.allows).parameter(0).toEqualTypeOf<CsrfRequest>();
  });

  it('decides on a real node:http request and a Fastify request.raw', async () => {
    const seen: boolean[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      seen.push(guard.allows(req));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const post = (origin: string) =>
      new Promise<void>((resolve, reject) =>
        httpRequest({ port, method: 'POST', headers: { origin }, agent: false }, (res) =>
          res.resume().on('end', resolve),
        )
          .on('error', reject)
          .end(),
      );
    await post('http://127.0.0.1');
    await post('http://evil.example');
    server.close();
    expect(seen).toEqual([true, false]);

    const app = Fastify();
    app.post('/', async (request) => ({ allowed: guard.allows(request.raw) }));
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'sec-fetch-site': 'cross-site' } });
    expect(res.json()).toEqual({ allowed: false });
  });
});
