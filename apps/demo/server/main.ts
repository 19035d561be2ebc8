/**
 * Starts the reference server on the embedded SQLite store.
 *   PORT (default 3000), HOST (default localhost), LATCHKEY_DATA_DIR (default ./data),
 *   LATCHKEY_SESSION_KEYS (base64url keys, newest first, comma-separated; default: a key generated
 *   once and kept in the data folder), LATCHKEY_DEMO_PASSWORD (default: generated and printed).
 * HTTPS: with LATCHKEY_TLS_CERT and LATCHKEY_TLS_KEY (PEM files) the app is served over HTTPS on
 *   HTTPS_PORT (default 3443), and PORT answers every request with a redirect there.
 *   LATCHKEY_PUBLIC_HOST (default HOST) is the host name put in that redirect. Over HTTPS, sessions
 *   are device-bound in browsers that do DBSC (latchkey/dbsc); LATCHKEY_DBSC=0 turns that off.
 * LATCHKEY_ORIGINS: the exact origins the app is reached at (comma-separated), for the CSRF guard's
 *   Origin fallback. Default: http(s)://localhost and 127.0.0.1 on the ports above.
 * LATCHKEY_WEB_ROOT: the web app's build (default apps/demo/web/dist, made by `npm run build`).
 * LATCHKEY_SW_KILL=1: serve a service worker that unregisters itself (a broken worker's kill switch).
 * LATCHKEY_LAB=1: the storage lab at /lab, with its stand-in CDN on LAB_CDN_PORT (default: any free port).
 * LATCHKEY_TRUSTED_PROXIES: addresses or CIDR ranges of reverse proxies whose X-Forwarded-For and
 *   X-Forwarded-Proto are believed (default: none).
 * LATCHKEY_STORE (sqlite, postgres or redis; default sqlite) says where latchkey's state lives, for
 *   many instances behind a load balancer: see stores.ts. LATCHKEY_POSTGRES_URL and
 *   LATCHKEY_REDIS_URL (default the local servers), LATCHKEY_SHARED_PREFIX (default latchkey) names
 *   their tables and keys. GET /healthz answers while the process runs, GET /readyz while its
 *   stores answer too.
 * LATCHKEY_REDIS_URL with the default sqlite store: share the login throttle, the registration limit
 *   and the access-token revocations with every other instance through this Redis;
 *   LATCHKEY_REDIS_PREFIX names its keys.
 * LATCHKEY_REQUEST_TIMEOUT_MS, LATCHKEY_HEADERS_TIMEOUT_MS, LATCHKEY_KEEP_ALIVE_TIMEOUT_MS,
 *   LATCHKEY_MAX_CONNECTIONS, LATCHKEY_MAX_CONNECTIONS_PER_ADDRESS: the server's deadlines and
 *   connection caps (latchkey/http createServerLimits; defaults 30 s, 10 s, 5 s, 4096, 256).
 * LATCHKEY_REGISTRATIONS_PER_CLIENT: sign-up and password-reset requests a client address may make
 *   per hour (default 10).
 * Mail (sign-up, password reset, e-mail change): LATCHKEY_SMTP_URL (`smtp://user:pass@host:587`,
 *   `smtps://…:465`) and LATCHKEY_MAIL_FROM (the sender's bare address) send through that server.
 *   Without them, outside production, mail goes to the dev inbox at /dev/mail and each link is
 *   printed on the console; with NODE_ENV=production the server refuses to start without them.
 *   LATCHKEY_PUBLIC_URL: the origin the links point to (default: the first of the origins).
 *   LATCHKEY_MAILS_PER_ADDRESS: mails one address may get per 10 minutes, whatever the flow (default 1).
 * LATCHKEY_LOGIN_IN_FLIGHT: lifts the throttle's in-flight caps (load and reliability runs only).
 * Passkeys: on when the public URL (or the first origin) has a domain name, `localhost` included;
 *   the relying party id is that name (LATCHKEY_PASSKEY_RP_ID overrides it), and every origin on it
 *   is accepted. Reached only by IP address, the server offers no passkeys (WebAuthn needs a name).
 */
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createSessionManager, generateSigningKey } from 'latchkey';
import { createHttpsRedirect } from 'latchkey/http';
import { createDevInbox, createSmtpMailer, type DevInbox, type SmtpMailer } from 'latchkey/mail';
import { createPasskeys } from 'latchkey/passkeys';
import { createLoginThrottle, createRateLimit } from 'latchkey/password';
import {
  createAccessTokens,
  createRefreshTokens,
  exportAccessTokenKey,
  generateAccessTokenKey,
  importAccessTokenKey,
} from 'latchkey/tokens';
import { createTotp } from 'latchkey/totp';
import { DEMO_ISSUER, DOWNSTREAM_AUDIENCE } from '../downstream/service.js';
import { APP_NAME } from './accounts.js';
import { buildApp } from './app.js';
import { startStandInCdn } from './lab.js';
import { createNotes } from './notes.js';
import { createSignIns } from './sign-ins.js';
import { openStores, storeKind } from './stores.js';
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

/**
 * Where mail goes: the SMTP server of LATCHKEY_SMTP_URL, or (development only) the dev inbox. Decided
 * first, so a production server without mail stops before it opens anything, with the fix.
 */
function mail(): { smtp: SmtpMailer; inbox?: undefined } | { inbox: DevInbox; smtp?: undefined } {
  const url = env.LATCHKEY_SMTP_URL;
  const from = env.LATCHKEY_MAIL_FROM;
  if (url && from) return { smtp: createSmtpMailer({ url, from, fromName: 'latchkey notes' }) };
  const fix = url
    ? 'LATCHKEY_SMTP_URL is set but LATCHKEY_MAIL_FROM is not: set it to the sender address, e.g. LATCHKEY_MAIL_FROM=no-reply@notes.example'
    : from
      ? 'LATCHKEY_MAIL_FROM is set but LATCHKEY_SMTP_URL is not: set it to your mail server, e.g. LATCHKEY_SMTP_URL=smtp://user:password@smtp.example.com:587'
      : undefined;
  if (fix || env.NODE_ENV === 'production') {
    process.stderr.write(
      `latchkey reference server: ${
        fix ??
        'NODE_ENV=production needs a mail server for sign-up and password reset: set LATCHKEY_SMTP_URL (smtp://user:password@smtp.example.com:587) and LATCHKEY_MAIL_FROM (no-reply@notes.example). The dev inbox is never served in production.'
      }\n`,
    );
    process.exit(1);
  }
  return { inbox: createDevInbox({ max: 1000 }) };
}
const mailTo = mail();

mkdirSync(dataDir, { recursive: true, mode: 0o700 });
chmodSync(dataDir, 0o700); // mkdir's mode does nothing for a folder that exists already

/**
 * A secret kept (mode 0600) beside the data: made on first run, then read. Created with `wx` (fail
 * if it exists): instances started together on one data folder must all end up with the one that
 * was written first, not each with its own.
 */
function keptSecret(name: string, make: () => string): string {
  const file = join(dataDir, name);
  try {
    writeFileSync(file, `${make()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // Another instance may have created the file an instant ago: wait for its content.
  for (let i = 0; i < 50; i++) {
    const text = readFileSync(file, 'utf8').trim();
    if (text) return text;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  throw new Error(`${file} is empty: delete it and start again`);
}

/** Keys from the environment, or one generated on first run and kept (mode 0600) beside the data. */
function sessionKeys(): string[] {
  if (env.LATCHKEY_SESSION_KEYS) return list(env.LATCHKEY_SESSION_KEYS);
  return [keptSecret('session-key', generateSigningKey)];
}

/** A random 32-byte secret generated on first run and kept (mode 0600) beside the data. */
function secretFile(name: string): Buffer {
  return Buffer.from(
    keptSecret(name, () => randomBytes(32).toString('base64url')),
    'base64url',
  );
}

// The database holds accounts, sessions and (encrypted) API keys: readable by this user only. SQLite
// gives its -wal and -shm files the database file's mode, so creating the file 0600 covers them.
const dbFile = join(dataDir, 'latchkey.db');
closeSync(openSync(dbFile, 'a', 0o600));
chmodSync(dbFile, 0o600); // a file made by an older version was 0644
for (const extra of ['-wal', '-shm']) if (existsSync(dbFile + extra)) chmodSync(dbFile + extra, 0o600);
const db = new Database(dbFile);
// With shared stores, or LATCHKEY_SQLITE_SHARED=1, several instances on this host open the file:
// WAL so readers never wait for a writer, and a busy timeout so writers queue instead of failing.
const kind = storeKind(env.LATCHKEY_STORE);
if (kind !== 'sqlite' || env.LATCHKEY_SQLITE_SHARED === '1') {
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
}
/**
 * Access-token revocations (sqlite mode), shared with the downstream (its own process), which
 * refuses a revoked token within a second: a SQLite file of their own beside the data (latchkey.db
 * may be locked exclusive). The downstream opens the same one.
 */
const revocationsFile = join(dataDir, 'revocations.db');
const stores = await openStores({
  env,
  db,
  revocationsPath: revocationsFile,
  revocationsFile: () => {
    closeSync(openSync(revocationsFile, 'a', 0o600));
    const file = new Database(revocationsFile);
    file.pragma('journal_mode = WAL');
    file.pragma('busy_timeout = 5000');
    return file;
  },
});
const sessions = createSessionManager({
  store: stores.sessions,
  keys: sessionKeys(),
  // LATCHKEY_VERIFIED_TOKENS: size of the verified-token cache (default 10,000; 0 turns it off).
  ...(env.LATCHKEY_VERIFIED_TOKENS ? { verifiedTokens: Number(env.LATCHKEY_VERIFIED_TOKENS) } : {}),
  // LATCHKEY_FRESH_FOR: seconds a proof keeps a session fresh for step-up (default 600; tests shorten it).
  ...(env.LATCHKEY_FRESH_FOR ? { freshFor: Number(env.LATCHKEY_FRESH_FOR) } : {}),
});
const users = createUsers(db, { apiKeySecret: secretFile('api-key-secret') });

/** Where counters live: Redis or PostgreSQL when instances share them, so they count across all. */
const limits = stores.limits;
const limitPrefix = stores.limitPrefix;
// LATCHKEY_LOGIN_IN_FLIGHT lifts the throttle's in-flight caps (2 per account, 8 per address): for
// load and reliability runs whose many clients share one address; never in production.
const inFlight = env.LATCHKEY_LOGIN_IN_FLIGHT ? Number(env.LATCHKEY_LOGIN_IN_FLIGHT) : undefined;
const throttle = createLoginThrottle({
  ...limits,
  prefix: `${limitPrefix}:throttle`,
  ...(inFlight ? { inFlightPerAccount: inFlight, inFlightPerClient: inFlight } : {}),
});
const registrations = createRateLimit({
  name: 'register',
  perClient: { points: Number(env.LATCHKEY_REGISTRATIONS_PER_CLIENT ?? 10), duration: 3600 },
  global: { points: Math.max(1000, Number(env.LATCHKEY_REGISTRATIONS_PER_CLIENT ?? 0)), duration: 3600 },
  ...limits,
  prefix: `${limitPrefix}:rate`,
});
// One mail per address per 10 minutes (latchkey/accounts' default), counted across instances.
const addressLimit = createRateLimit({
  name: 'accounts-address',
  perClient: { points: Number(env.LATCHKEY_MAILS_PER_ADDRESS ?? 1), duration: 600 },
  ...limits,
  prefix: `${limitPrefix}:rate`,
});
const ms = (name: string) => (env[name] ? Number(env[name]) : undefined);

/**
 * The access-token signing key: generated once, kept as a private JWK (mode 0600) beside the data,
 * so every instance on this data folder signs with it and serves the same key set.
 */
async function accessKey() {
  const fresh = JSON.stringify(await exportAccessTokenKey(await generateAccessTokenKey()));
  return importAccessTokenKey(JSON.parse(keptSecret('access-token-key.json', () => fresh)));
}
const revocations = stores.revocations;
await revocations.ready();
const tokens = {
  access: createAccessTokens({
    issuer: DEMO_ISSUER,
    audience: DOWNSTREAM_AUDIENCE,
    keys: [await accessKey()],
    revocations,
  }),
  refresh: createRefreshTokens({ store: stores.refresh }),
  revokeSubject: async (userId: string) => {
    await revocations.revokeSubject(userId);
  },
};

const given = env.LATCHKEY_DEMO_PASSWORD;
// A random password for the seeded demo account when none is given (printed below).
const demoPassword = given && given.length > 0 ? given : randomBytes(12).toString('base64url');
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
const appOrigins =
  origins.length > 0 ? origins : [`${scheme}://localhost:${appPort}`, `${scheme}://127.0.0.1:${appPort}`];

/** Passkeys on the public URL's domain name, for the origins on it; none when it is an IP address. */
function passkeysFor() {
  const rpId = env.LATCHKEY_PASSKEY_RP_ID ?? new URL(env.LATCHKEY_PUBLIC_URL ?? appOrigins[0] ?? '').hostname;
  if (/^[\d.]+$|^\[|:/.test(rpId)) return undefined;
  const on = appOrigins.filter((o) => {
    const h = new URL(o).hostname;
    return h === rpId || h.endsWith(`.${rpId}`);
  });
  return createPasskeys({ store: stores.passkeys, rpId, rpName: APP_NAME, origins: on });
}

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
      ...stores.downstreamEnv, // where the revocations are: the SQLite file, Redis or PostgreSQL
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
// Development: each mail's links on the console too (never in the log), for a terminal-only setup.
mailTo.inbox?.onMessage((m) =>
  process.stdout.write(`mail to ${m.to}: ${m.subject}\n${m.links.map((link) => `  ${link}\n`).join('')}`),
);
const passkeys = passkeysFor();
const app = await buildApp({
  sessions,
  users,
  ...(mailTo.smtp ? { mailer: mailTo.smtp } : { devInbox: mailTo.inbox }),
  oneTimeStore: stores.oneTime,
  ...(env.LATCHKEY_PUBLIC_URL ? { publicUrl: env.LATCHKEY_PUBLIC_URL } : {}),
  notes: createNotes(db),
  tokens,
  throttle,
  registrations,
  addressLimit,
  logKey: secretFile('log-key'),
  signIns: createSignIns(db, secretFile('sign-in-key')),
  // Two-factor secrets sealed under the session keys, in the same file.
  totp: createTotp({
    store: stores.totp,
    keys: sessionKeys(),
    issuer: APP_NAME,
    // The codes' own count (shared when instances share stores), apart from the logins'.
    throttle: createLoginThrottle({ ...limits, prefix: `${limitPrefix}:totp-throttle` }),
  }),
  ...(passkeys ? { passkeys } : {}),
  limits: {
    ...(ms('LATCHKEY_REQUEST_TIMEOUT_MS') ? { requestTimeout: ms('LATCHKEY_REQUEST_TIMEOUT_MS') } : {}),
    ...(ms('LATCHKEY_HEADERS_TIMEOUT_MS') ? { headersTimeout: ms('LATCHKEY_HEADERS_TIMEOUT_MS') } : {}),
    ...(ms('LATCHKEY_KEEP_ALIVE_TIMEOUT_MS') ? { keepAliveTimeout: ms('LATCHKEY_KEEP_ALIVE_TIMEOUT_MS') } : {}),
    ...(ms('LATCHKEY_MAX_CONNECTIONS') ? { maxConnections: ms('LATCHKEY_MAX_CONNECTIONS') } : {}),
    ...(ms('LATCHKEY_MAX_CONNECTIONS_PER_ADDRESS')
      ? { maxConnectionsPerAddress: ms('LATCHKEY_MAX_CONNECTIONS_PER_ADDRESS') }
      : {}),
  },
  downstreamUrl: bff.url,
  ...(lab ? { lab: { cdn: lab, selfUrl: () => `${scheme}://127.0.0.1:${appPort}` } } : {}),
  ...(webRoot ? { webRoot } : {}),
  killServiceWorker: env.LATCHKEY_SW_KILL === '1',
  origins: appOrigins,
  trustedProxies: list(env.LATCHKEY_TRUSTED_PROXIES),
  ...(tls ? { https: tls } : {}),
  ...(env.LATCHKEY_DBSC === '0' ? { deviceBound: false } : {}),
  logger: { level: env.LOG_LEVEL ?? 'info' },
  readiness: stores.readiness,
});
// LATCHKEY_MEMORY_PROBE=1 (soak runs only, with node --expose-gc): memory after a full GC.
if (env.LATCHKEY_MEMORY_PROBE === '1')
  app.get('/__probe/memory', async () => {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed };
  });
await app.listen({ port: appPort, host });
// A wrong password or host shows at start-up, as a warning: the server runs, and the queue retries.
void mailTo.smtp
  ?.verify()
  .catch((error: Error) =>
    app.log.warn({ event: 'mail.unreachable', reason: error.message }, 'mail server not reachable'),
  );

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
    `data: ${join(dataDir, 'latchkey.db')}${kind === 'sqlite' ? '' : ` (accounts and notes); latchkey's state: ${kind}`}\n` +
    `downstream service (behind /bff/api): ${bff.url}\n` +
    (mailTo.inbox
      ? `mail: dev inbox at ${scheme}://localhost:${appPort}/dev/mail (no LATCHKEY_SMTP_URL; links are printed here too)\n`
      : 'mail: through LATCHKEY_SMTP_URL\n') +
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

// Started by a parent with an IPC channel (npm run cluster, the tests): when the parent goes, even
// by SIGKILL, the channel closes; stop as on SIGTERM rather than serve on as an orphan.
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    redirect?.close();
    bff.stop?.();
    lab?.server.close();
    void app.close().then(async () => {
      await stores.close().catch(() => undefined);
      sessions.close();
      db.close();
      process.exit(0);
    });
  });
}
