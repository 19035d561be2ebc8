/**
 * Starts the downstream service: DOWNSTREAM_PORT (default 3001), HOST (default localhost),
 * LATCHKEY_JWKS_URL (default http://localhost:3000/.well-known/jwks.json). The reference server
 * starts it by itself unless LATCHKEY_DOWNSTREAM_URL points at one already running.
 */
import type { AddressInfo } from 'node:net';
import { createDownstream } from './service.js';

const jwksUrl = new URL(process.env.LATCHKEY_JWKS_URL ?? 'http://localhost:3000/.well-known/jwks.json');
const server = createDownstream({ jwksUrl });
server.listen(Number(process.env.DOWNSTREAM_PORT ?? 3001), process.env.HOST ?? 'localhost', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`downstream service: http://localhost:${port} (keys from ${jwksUrl.href})\n`);
  process.send?.({ port });
});
// Started by the reference server: when it goes (even by SIGKILL), the IPC channel closes; go too.
process.once('disconnect', () => process.exit(0));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close(() => process.exit(0)));
