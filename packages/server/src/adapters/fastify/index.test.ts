import Fastify from 'fastify';
import { runAdapterContract } from '../../test/adapter-contract.js';
import { createFastifySessions, errorHandler, getSession, handleClientError } from './index.js';

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
