import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runAdapterContract } from '../../test/adapter-contract.js';
import { createNodeSessions, handleClientError, sendError, sendFailure } from './index.js';

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

runAdapterContract('node:http', async (sessions) => {
  const auth = createNodeSessions(sessions);
  const json = (res: import('node:http').ServerResponse, body: unknown) => {
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/bare') return json(res, { ok: true });
      if (req.url === '/login' && req.method === 'POST') {
        const body = (await readJson(req)) as { userId: string };
        await auth.login(req, res, body.userId);
        return json(res, { userId: body.userId });
      }
      if (req.url === '/logout' && req.method === 'POST') return json(res, { revoked: await auth.logout(req, res) });
      if (req.url === '/me') {
        const session = await auth.authenticate(req, res);
        if (session === null) return sendError(res, 'SESSION_REQUIRED');
        return json(res, { userId: session.userId, sessionId: session.id });
      }
      sendError(res, 'NOT_FOUND');
    } catch (error) {
      sendFailure(res, error);
    }
  });
  server.on('clientError', handleClientError);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
