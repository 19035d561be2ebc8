/**
 * A deliberately careless site for the audit's tests: every problem in `planted` is put there on
 * purpose, and everything else is done right, so a correct audit reports exactly `planted` and
 * nothing more.
 *
 * Two servers on 127.0.0.1: the site itself, and a stand-in CDN on another port (another origin, as
 * in the storage lab). Planted, and why each is there:
 *
 * - `bundle-dev-origin`: `/static/app.js` keeps `http://localhost:4200/api`, the article's Angular
 *   dev server left in a production build. The bundle never calls it.
 * - `bundle-secret`: the same bundle gives a config key a GitHub personal access token (`ghp_` and
 *   36 letters and digits, made up) in the form secretlint's preset-recommend reports. This file
 *   builds it from two halves, so the repository itself holds no string a secret scanner matches.
 * - `bundle-source-map`: the bundle ends with `//# sourceMappingURL=app.js.map`, and the map is
 *   served.
 * - `script-sri`: `/` loads `<cdn>/widget.js` with no `integrity` attribute.
 * - `cookie-httponly`: `/` sets `__Host-sid` without HttpOnly. It is otherwise sound: Secure (Chromium
 *   accepts Secure cookies from http://127.0.0.1), SameSite=Strict, `__Host-` with Path=/ and no
 *   Domain, and no Max-Age or Expires.
 * - `csp-unsafe-inline`: script-src holds 'unsafe-inline'. The rest of the policy is right:
 *   object-src 'none', base-uri 'none', frame-ancestors 'none', and the CDN by its exact origin.
 *
 * Done right, so none of the other rules should fire: X-Frame-Options DENY, nosniff on every
 * response, Referrer-Policy strict-origin-when-cross-origin, no X-XSS-Protection, no HSTS (the site is
 * plain HTTP, where the rule does not apply), nothing written to Web Storage, IndexedDB or Cache
 * Storage, no global but the widget's harmless `window.widget`, and no JWT, password or other host
 * in the bundle. The session id is still in `document.cookie` because of the missing HttpOnly: that
 * is `cookie-httponly`, not a second finding.
 *
 * `requests` lists `host + path` of every request either server answers, so a test can check the
 * audit stayed where it should. The page also links to `https://example.com/elsewhere`, which the
 * audit must never open; that host is not served here, so watch for it in the browser instead.
 */
import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RuleId } from '../rules.js';

export interface CarelessSite {
  /** The site, such as `http://127.0.0.1:41234`. */
  origin: string;
  /** The stand-in CDN that serves `/widget.js`: the same host on another port. */
  thirdPartyOrigin: string;
  /** The rules the audit must report, and no others. */
  planted: RuleId[];
  /** `host + path` of every request either server received, in order (`127.0.0.1:41234/about`). */
  requests: string[];
  /** A third origin the home page links to: the audit must never send it a request. */
  elsewhereOrigin: string;
  /** `host + path` of every request the third origin received: empty after a correct audit. */
  elsewhere: string[];
  close(): Promise<void>;
}

const PLANTED: RuleId[] = [
  'bundle-dev-origin',
  'bundle-secret',
  'bundle-source-map',
  'script-sri',
  'cookie-httponly',
  'csp-unsafe-inline',
];

/** Made up. Built from halves so that this file does not trip secret scanners; the bundle has it whole. */
const GITHUB_TOKEN = ['ghp', 'Y40GaNnicu8gXumfXRJztuOj9I0W5v6inN8A'].join('_');

/** Built from parts: a whole comment here would send Vite looking for this file's own map. */
const SOURCE_MAP_COMMENT = ['//#', 'sourceMappingURL=app.js.map'].join(' ');

const APP_JS = `/*! careless-co web app 1.4.2 (production build) */
(function () {
  "use strict";
  const API_BASE = "http://localhost:4200/api";
  const config = {
    apiBase: API_BASE,
    githubToken: "${GITHUB_TOKEN}",
    retries: 3,
  };
  function loadProfile() {
    return fetch(config.apiBase + "/profile", { credentials: "include" }).then(function (response) {
      return response.json();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    const button = document.getElementById("profile");
    if (button) button.addEventListener("click", loadProfile);
  });
})();
${SOURCE_MAP_COMMENT}
`;

const APP_JS_MAP = `${JSON.stringify({
  version: 3,
  file: 'app.js',
  sources: ['../src/app.ts'],
  names: [],
  mappings: 'AAAA',
})}\n`;

const WIDGET_JS = 'window.widget = { version: 1 };\n';

function page(title: string, body: string, scripts: string[]): string {
  const tags = scripts.map((src) => `    <script src="${src}"></script>`).join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${title} · Careless Co.</title>
${tags}
  </head>
  <body>
${body}
  </body>
</html>
`;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

function shut(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Chromium keeps connections alive; without this, close() waits for them to time out.
    server.closeAllConnections();
  });
}

/** Starts the careless site and its stand-in CDN; `close()` stops both. */
export async function startCarelessSite(): Promise<CarelessSite> {
  const requests: string[] = [];
  const record = (req: IncomingMessage) => requests.push(`${req.headers.host ?? ''}${req.url ?? ''}`);

  const cdn = createServer((req, res) => {
    record(req);
    const path = new URL(req.url ?? '/', 'http://cdn').pathname;
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/widget.js') {
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'x-content-type-options': 'nosniff',
        'access-control-allow-origin': '*',
      });
      res.end(WIDGET_JS);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
    res.end('not found\n');
  });
  const thirdPartyOrigin = await listen(cdn);
  const elsewhere: string[] = [];
  const away = createServer((req, res) => {
    elsewhere.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-content-type-options': 'nosniff' });
    res.end('<!doctype html><title>Elsewhere</title><p>Another site.</p>');
  });
  const elsewhereOrigin = await listen(away);

  const documentHeaders: OutgoingHttpHeaders = {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'self'; script-src 'self' 'unsafe-inline' ${thirdPartyOrigin}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'x-frame-options': 'DENY',
  };
  const home = page(
    'Home',
    `    <h1>Careless Co.</h1>
    <p><a href="/about">About</a></p>
    <p><a href="https://example.com/elsewhere">Elsewhere</a></p>
    <p><a href="${elsewhereOrigin}/elsewhere">A partner site</a></p>
    <button id="profile" type="button">Load my profile</button>`,
    ['/static/app.js', `${thirdPartyOrigin}/widget.js`],
  );
  const about = page(
    'About',
    `    <h1>About Careless Co.</h1>
    <p>We ship fast. <a href="/">Home</a></p>`,
    ['/static/app.js'],
  );

  const send = (res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: string) => {
    res.writeHead(status, headers);
    res.end(body);
  };

  const site = createServer((req, res) => {
    record(req);
    const path = new URL(req.url ?? '/', 'http://site').pathname;
    const readable = req.method === 'GET' || req.method === 'HEAD';
    if (readable && path === '/') {
      const cookie = `__Host-sid=${randomBytes(32).toString('base64url')}; Path=/; Secure; SameSite=Strict`;
      send(res, 200, { ...documentHeaders, 'set-cookie': cookie }, home);
    } else if (readable && path === '/about') {
      send(res, 200, documentHeaders, about);
    } else if (readable && path === '/static/app.js') {
      send(res, 200, { 'content-type': 'text/javascript; charset=utf-8', 'x-content-type-options': 'nosniff' }, APP_JS);
    } else if (readable && path === '/static/app.js.map') {
      send(
        res,
        200,
        { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff' },
        APP_JS_MAP,
      );
    } else {
      send(res, 404, documentHeaders, page('Not found', '    <h1>Not found</h1>', []));
    }
  });
  let origin: string;
  try {
    origin = await listen(site);
  } catch (error) {
    await Promise.all([shut(cdn), shut(away)]);
    throw error;
  }

  return {
    origin,
    thirdPartyOrigin,
    planted: [...PLANTED],
    requests,
    elsewhereOrigin,
    elsewhere,
    close: async () => {
      await Promise.all([shut(site), shut(cdn), shut(away)]);
    },
  };
}
