/**
 * The one-page login form served at `/` when the server runs without the web app's build: a
 * username, a password, "Log in", "Log out" and who is logged in. Its script and stylesheet are
 * files of their own (`/login-page.js`, `/login-page.css`), never inline: the page needs nothing
 * the CSP's `'self'` does not already allow.
 *
 *   GET /                → the page (text/html, never stored: it carries this response's nonce)
 *   GET /login-page.js   → its script
 *   GET /login-page.css  → its stylesheet
 */
import type { FastifyPluginAsync } from 'fastify';
import { getNonce } from 'latchkey/fastify';

const SCRIPT = `const out = document.getElementById('out');
const call = async (path, body) => {
  const res = await fetch(path, { method: body === undefined && path.endsWith('/me') ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};
const show = async () => { const me = await call('/api/me'); out.textContent = me.status === 200 ? 'Logged in as ' + me.body.user.username : 'Not logged in'; };
document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault(); const f = new FormData(e.target);
  const r = await call('/api/auth/login', { username: f.get('username'), password: f.get('password') });
  if (r.status !== 200) out.textContent = r.body.error.message; else await show();
});
document.getElementById('logout').addEventListener('click', async () => { await call('/api/auth/logout', {}); await show(); });
show();
`;

const STYLE =
  'body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}' +
  'label{display:block;margin:.5rem 0}output{display:block;margin-top:1rem}\n';

/**
 * The page itself. The nonce on its tags is not needed while the CSP allows `'self'`; it keeps the
 * page working under a nonce-only policy too.
 */
function loginPage(nonce: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>latchkey reference server</title><link rel="stylesheet" href="/login-page.css" nonce="${nonce}"></head>
<body><h1>latchkey reference server</h1>
<form id="login"><label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Log in</button> <button type="button" id="logout">Log out</button></form><output id="out" aria-live="polite"></output>
<script src="/login-page.js" nonce="${nonce}"></script></body></html>`;
}

/**
 * @example
 * if (!options.webRoot) await app.register(loginPageRoutes);
 */
export const loginPageRoutes: FastifyPluginAsync = async (app) => {
  app.get('/', async (request, reply) =>
    // no-store: a stored copy would carry a spent nonce.
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(loginPage(getNonce(request))),
  );
  app.get('/login-page.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(SCRIPT),
  );
  app.get('/login-page.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(STYLE),
  );
};
