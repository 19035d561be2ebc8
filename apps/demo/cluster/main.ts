/**
 * `npm run cluster`: N reference server processes behind HAProxy, sharing their state.
 *
 *   npm run cluster -- --instances 3 --store postgres --port 8080
 *
 * --store postgres (default) or redis; the stores are the machine's own: LATCHKEY_POSTGRES_URL
 * (default postgres://postgres@127.0.0.1:5432/test) and, with redis, LATCHKEY_REDIS_URL (default
 * redis://127.0.0.1:6379). Data (the demo's accounts and notes, the kept keys) goes to
 * ./data-cluster unless LATCHKEY_DATA_DIR says otherwise. Ctrl-C stops everything.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { haproxyAvailable, startCluster } from './cluster.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '3' },
    store: { type: 'string', default: 'postgres' },
    port: { type: 'string', default: '8080' },
  },
});
const instances = Number(values.instances);
const store = values.store;
if (!Number.isInteger(instances) || instances < 1 || instances > 16) {
  process.stderr.write('--instances must be a whole number from 1 to 16\n');
  process.exit(1);
}
if (store !== 'postgres' && store !== 'redis') {
  process.stderr.write('--store must be postgres or redis\n');
  process.exit(1);
}
if (!haproxyAvailable()) {
  process.stderr.write('haproxy is not installed: apt-get install -y haproxy (Debian and Ubuntu package it)\n');
  process.exit(1);
}
const env = process.env;
const demoPassword = env.LATCHKEY_DEMO_PASSWORD || randomBytes(12).toString('base64url');
const cluster = await startCluster({
  instances,
  store,
  port: Number(values.port),
  dataDir: resolve(env.LATCHKEY_DATA_DIR ?? 'data-cluster'),
  demoPassword,
  env: { LOG_LEVEL: env.LOG_LEVEL ?? 'warn' },
}).catch((error: Error) => {
  process.stderr.write(
    `the cluster did not start: ${error.message}\nIs the store running, with its database? PostgreSQL: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, then createdb -h 127.0.0.1 -U postgres test (or set LATCHKEY_POSTGRES_URL); Redis: redis-server --daemonize yes\n`,
  );
  process.exit(1);
});
process.stdout.write(
  `\nlatchkey cluster: ${cluster.url} (HAProxy) → ${cluster.instances.map((i) => `${i.name} ${i.base}`).join(', ')}\n` +
    `state shared through ${store}; demo account: demo / ${env.LATCHKEY_DEMO_PASSWORD ? '(LATCHKEY_DEMO_PASSWORD)' : demoPassword}\n\n`,
);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cluster.stop().then(() => process.exit(0)));
