/**
 * Starts the reference server on the embedded SQLite store.
 *   PORT (default 3000), HOST (default localhost), LATCHKEY_DATA_DIR (default ./data),
 *   LATCHKEY_SESSION_KEYS (base64url keys, newest first, comma-separated; default: a key generated
 *   once and kept in the data folder), LATCHKEY_DEMO_PASSWORD (default: generated and printed).
 * HTTPS: with LATCHKEY_TLS_CERT and LATCHKEY_TLS_KEY (PEM files) the app is served over HTTPS on
 *   HTTPS_PORT (default 3443), and PORT answers every request with a redirect there.
 *   LATCHKEY_PUBLIC_HOST (default HOST) is the host name put in that redirect.
 * LATCHKEY_ORIGINS: the exact origins the app is reached at (comma-separated), for the CSRF guard's
 *   Origin fallback. Default: http(s)://localhost and 127.0.0.1 on the ports above.
 * LATCHKEY_WEB_ROOT: the web app's build (default apps/demo/web/dist, made by `npm run build`).
 * LATCHKEY_SW_KILL=1: serve a service worker that unregisters itself (a broken worker's kill switch).
 * LATCHKEY_LAB=1: the storage lab at /lab, with its stand-in CDN on LAB_CDN_PORT (default: any free port).
 * LATCHKEY_TRUSTED_PROXIES: addresses or CIDR ranges of reverse proxies whose X-Forwarded-For and
 *   X-Forwarded-Proto are believed (default: none).
 */
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createHttpsRedirect } from 'latchkey/http';
import { createSqliteStore } from 'latchkey/sqlite';
import {
  createAccessTokens,
  createMemoryRevocations,
  createRefreshTokens,
  exportAccessTokenKey,
  generateAccessTokenKey,
  importAccessTokenKey,
} from 'latchkey/tokens';
import { createSqliteRefreshStore } from 'latchkey/tokens/sqlite';
import { DEMO_ISSUER, DOWNSTREAM_AUDIENCE } from '../downstream/service.js';
import { buildApp, generatedPassword } from './app.js';
import { startStandInCdn } from './lab.js';
import { createNotes } from './notes.js';
import { createUsers } from './users.js';

const env = process.env;
const list = (value: string | undefined) =>
  value
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
    : [];
const port = Number(env.PORT ?? 3000);
const host = env.HOST ?? 'localhost';
const dataDir = resolve(env.LATCHKEY_DATA_DIR ?? 'data');
const tls =
  env.LATCHKEY_TLS_CERT && env.LATCHKEY_TLS_KEY
    ? { cert: readFileSync(env.LATCHKEY_TLS_CERT), key: readFileSync(env.LATCHKEY_TLS_KEY) }
    : undefined;
const httpsPort = Number(env.HTTPS_PORT ?? 3443);
// The web app's build: beside the sources (tsx) or beside dist/server (the built server).
const here = dirname(fileURLToPath(import.meta.url));
const webRoot = [env.LATCHKEY_WEB_ROOT, join(here, '../web/dist'), join(here, '../../web/dist')].find(
  (dir) => dir && existsSync(join(dir, 'index.html')),
);
mkdirSync(dataDir, { recursive: true, mode: 0o700 });

/** Keys from the environment, or one generated on first run and kept (mode 0600) beside the data. */
function sessionKeys(): string[] {
  if (env.LATCHKEY_SESSION_KEYS) return list(env.LATCHKEY_SESSION_KEYS);
  const file = join(dataDir, 'session-key');
  if (!existsSync(file)) writeFileSync(file, `${generateSigningKey()}\n`, { mode: 0o600 });
  return [readFileSync(file, 'utf8').trim()];
}

const db = new Database(join(dataDir, 'latchkey.db'));
/**
 * The session store: the SQLite file by default (exclusive: this process is the file's only user,
 * which makes each look-up ~4x cheaper); LATCHKEY_STORE=postgres puts sessions in PostgreSQL at
 * LATCHKEY_POSTGRES_URL (accounts and notes stay in the SQLite file); LATCHKEY_SQLITE_SHARED=1
 * lets several server processes share the SQLite file.
 */
async function sessionStore() {
  if (env.LATCHKEY_STORE === 'postgres') {
    const { default: pg } = await import('pg');
    const { createPostgresStore } = await import('latchkey/postgres');
    const pool = new pg.Pool({
      connectionString: env.LATCHKEY_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      max: 8,
    });
    return createPostgresStore(pool, { tablePrefix: env.LATCHKEY_POSTGRES_PREFIX ?? 'latchkey_' });
  }
  return createSqliteStore(db, { exclusive: env.LATCHKEY_SQLITE_SHARED !== '1' });
}
if (env.LATCHKEY_SQLITE_SHARED === '1') db.pragma('busy_timeout = 5000');
const sessions = createSessionManager({
  store: await sessionStore(),
  keys: sessionKeys(),
  // LATCHKEY_VERIFIED_TOKENS: size of the verified-token cache (default 10,000; 0 turns it off).
  ...(env.LATCHKEY_VERIFIED_TOKENS ? { verifiedTokens: Number(env.LATCHKEY_VERIFIED_TOKENS) } : {}),
});
const users = createUsers(db);

/** The access-token signing key: generated once, kept as a private JWK (mode 0600) beside the data. */
async function accessKey() {
  const file = join(dataDir, 'access-token-key.json');
  if (!existsSync(file))
    writeFileSync(file, JSON.stringify(await exportAccessTokenKey(await generateAccessTokenKey())), { mode: 0o600 });
  return importAccessTokenKey(JSON.parse(readFileSync(file, 'utf8')));
}
const revocations = createMemoryRevocations();
const tokens = {
  access: createAccessTokens({
    issuer: DEMO_ISSUER,
    audience: DOWNSTREAM_AUDIENCE,
    keys: [await accessKey()],
    revocations,
  }),
  refresh: createRefreshTokens({ store: createSqliteRefreshStore(db) }),
  revokeSubject: (userId: string) => revocations.revokeSubject(userId),
};

const given = env.LATCHKEY_DEMO_PASSWORD;
const demoPassword = given && given.length > 0 ? given : generatedPassword();
await users.upsert('demo', demoPassword);

async function listen(server: Server, wanted: number): Promise<number> {
  await new Promise<void>((done) => server.listen(wanted, host, done));
  return (server.address() as AddressInfo).port;
}

/** PORT=0 (tests) asks the OS for a port; the CSRF origins must name it, so pick it before building. */
async function resolvePort(wanted: number): Promise<number> {
  if (wanted !== 0) return wanted;
  const probe = createServer();
  const free = await listen(probe, 0);
  await new Promise((done) => probe.close(done));
  return free;
}

const scheme = tls ? 'https' : 'http';
const appPort = await resolvePort(tls ? httpsPort : port);
const origins = list(env.LATCHKEY_ORIGINS);

/**
 * The downstream API for the BFF: LATCHKEY_DOWNSTREAM_URL, or the demo's own service started here
 * as a child process on DOWNSTREAM_PORT (default: any free port), reading our JWKS over HTTP.
 */
async function downstream(): Promise<{ url: string; stop?: () => void }> {
  if (env.LATCHKEY_DOWNSTREAM_URL) return { url: env.LATCHKEY_DOWNSTREAM_URL };
  const built = join(here, '../downstream/main.js');
  const script = existsSync(built) ? built : join(here, '../downstream/main.ts');
  const child = fork(script, [], {
    env: {
      ...env,
      DOWNSTREAM_PORT: env.DOWNSTREAM_PORT ?? '0',
      HOST: host,
      LATCHKEY_JWKS_URL: `${scheme}://${host === 'localhost' ? '127.0.0.1' : host}:${appPort}/.well-known/jwks.json`,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`downstream service exited ${code}`)));
  });
  process.once('exit', () => child.kill());
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}
const bff = await downstream();
// LATCHKEY_LAB=1 (`npm run lab`): the storage lab and its stand-in CDN on another port.
const lab = env.LATCHKEY_LAB === '1' ? await startStandInCdn(Number(env.LAB_CDN_PORT ?? 0)) : undefined;
const app = await buildApp({
  sessions,
  users,
  notes: createNotes(db),
  tokens,
  downstreamUrl: bff.url,
  ...(lab ? { lab: { cdn: lab, selfUrl: () => `${scheme}://127.0.0.1:${appPort}` } } : {}),
  ...(webRoot ? { webRoot } : {}),
  killServiceWorker: env.LATCHKEY_SW_KILL === '1',
  origins: origins.length > 0 ? origins : [`${scheme}://localhost:${appPort}`, `${scheme}://127.0.0.1:${appPort}`],
  trustedProxies: list(env.LATCHKEY_TRUSTED_PROXIES),
  ...(tls ? { https: tls } : {}),
  logger: { level: env.LOG_LEVEL ?? 'info' },
});
// LATCHKEY_MEMORY_PROBE=1 (soak runs only, with node --expose-gc): memory after a full GC.
if (env.LATCHKEY_MEMORY_PROBE === '1')
  app.get('/__probe/memory', async () => {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed };
  });
await app.listen({ port: appPort, host });

let redirect: Server | undefined;
let redirectPort = 0;
if (tls) {
  const publicHost = env.LATCHKEY_PUBLIC_HOST ?? host;
  redirect = createServer(createHttpsRedirect(`https://${publicHost}:${appPort}`));
  redirectPort = await listen(redirect, port);
}

// Printed once on the console for the person who started the server; never written to the log.
process.stdout.write(
  `\nlatchkey reference server: ${scheme}://localhost:${appPort}\n` +
    (tls ? `http://localhost:${redirectPort} redirects to https\n` : '') +
    `data: ${join(dataDir, 'latchkey.db')}\n` +
    `downstream service (behind /bff/api): ${bff.url}\n` +
    (lab ? `storage lab: ${scheme}://localhost:${appPort}/lab (stand-in CDN: ${lab.origin})\n` : '') +
    (given
      ? 'demo account: demo (password from LATCHKEY_DEMO_PASSWORD)\n\n'
      : `demo account: demo / ${demoPassword}\n\n`),
);

// `npm run lab` on a desktop: open the lab in the default browser (a terminal-only machine just
// has the URL printed above).
if (lab && process.stdout.isTTY && env.LATCHKEY_LAB_OPEN !== '0') {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  if (process.platform !== 'linux' || env.DISPLAY || env.WAYLAND_DISPLAY)
    spawn(opener, [`${scheme}://localhost:${appPort}/lab`], { stdio: 'ignore', detached: true })
      .on('error', () => undefined)
      .unref();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    redirect?.close();
    bff.stop?.();
    lab?.server.close();
    void app.close().then(() => {
      sessions.close();
      db.close();
      process.exit(0);
    });
  });
}
