/**
 * The real servers these tests talk to. Locally a suite whose server is missing is skipped with a
 * message saying how to start it; under CI=true it fails instead, so nothing is skipped in CI.
 */
import { createConnection } from 'node:net';

export const POSTGRES_URL = process.env.LATCHKEY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.LATCHKEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';

const HOW = {
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  redis: 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
} as const;

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** True when the service answers; false (with a message) when a local run may skip it. */
export async function serviceAvailable(name: keyof typeof HOW, port: number): Promise<boolean> {
  if (await reachable(port)) return true;
  if (process.env.CI === 'true') throw new Error(`${name} is not reachable on 127.0.0.1:${port}; CI must start it`);
  console.warn(`skipping the ${name} tests: nothing on 127.0.0.1:${port}. Start it with: ${HOW[name]}`);
  return false;
}
