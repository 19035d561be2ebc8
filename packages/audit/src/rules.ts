/**
 * Every check the audit makes: its id (stable: SARIF rule ids, `--json` and docs/audit.md use it),
 * its severity, what it means in a sentence, the fix, and where to read why.
 */

/** From worst to mildest; `--fail-on` takes one of them. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
/** How bad a finding is: `critical`, `high`, `medium`, `low` or `info`. */
export type Severity = (typeof SEVERITIES)[number];

/**
 * One check of the audit, with the texts the report prints for it.
 *
 * @example
 * RULES['storage-jwt'].fix; // 'Keep the session on the server and give the browser an HttpOnly, …'
 */
export interface Rule {
  /** Stable id, such as `storage-jwt`. */
  id: string;
  severity: Severity;
  /** One line: what was found. */
  title: string;
  /** Why it matters, in a sentence. */
  why: string;
  /** What to do about it. */
  fix: string;
  /** A page that explains it (the storage lab, OWASP, MDN). */
  help: string;
}

const LAB = 'https://github.com/latchkey-dev/latchkey/blob/main/docs/storage-lab.md';
const CHEAT = 'https://cheatsheetseries.owasp.org/cheatsheets';
const MDN = 'https://developer.mozilla.org/en-US/docs/Web';

const list = [
  // Where the login lives: anything a script on the page can read.
  {
    id: 'storage-jwt',
    severity: 'high',
    title: 'A JWT is kept where any script on the page can read it',
    why: 'A cross-site scripting hole or one compromised third-party script reads it and replays it from anywhere until it expires; the server cannot tell.',
    fix: 'Keep the session on the server and give the browser an HttpOnly, Secure, SameSite=Strict cookie (latchkey does this); never put a token in Web Storage, IndexedDB or a global.',
    help: LAB,
  },
  {
    id: 'storage-jwt-lifetime',
    severity: 'medium',
    title: 'A JWT readable by scripts lives longer than an hour',
    why: 'A stolen token works for its whole lifetime; a long one turns a moment of XSS into days of access.',
    fix: 'Move the token out of the page; where a JWT must exist, keep it minutes long and on the server.',
    help: LAB,
  },
  {
    id: 'storage-token',
    severity: 'high',
    title: 'A bearer token is kept where any script on the page can read it',
    why: 'Whoever holds a bearer token is the user: a script that reads it can send it away and use it elsewhere.',
    fix: 'Keep the credential in an HttpOnly cookie and the secret on the server.',
    help: LAB,
  },
  {
    id: 'storage-secret',
    severity: 'critical',
    title: 'An API key or private key is readable by scripts on the page',
    why: 'Anything in the page is public: every visitor and every script can read and reuse the key.',
    fix: 'Revoke the key, and call the API from your server (a backend for frontend) so the key never reaches the browser.',
    help: LAB,
  },
  {
    id: 'storage-password',
    severity: 'critical',
    title: 'A password is kept where any script on the page can read it',
    why: 'A stored password outlives the login and is reused across sites: one script that reads it owns the account and maybe others.',
    fix: 'Never store a password in the browser; send it once over HTTPS at login and forget it.',
    help: LAB,
  },
  {
    id: 'storage-personal-data',
    severity: 'low',
    title: 'Personal data is kept in browser storage',
    why: 'Storage outlives the session and any script on the page can read it: on a shared computer the next user can too.',
    fix: 'Keep only what the page needs offline, and wipe it at logout (Clear-Site-Data: "storage").',
    help: LAB,
  },
  // Cookies as the browser holds them.
  {
    id: 'cookie-httponly',
    severity: 'high',
    title: 'A session cookie is readable by scripts (no HttpOnly)',
    why: 'Any script on the page reads it from document.cookie and can send it away.',
    fix: 'Set HttpOnly on the session cookie.',
    help: `${CHEAT}/Session_Management_Cheat_Sheet.html#httponly-attribute`,
  },
  {
    id: 'cookie-secure',
    severity: 'high',
    title: 'A session cookie may travel over plain HTTP (no Secure)',
    why: 'One request over HTTP, on a hostile network, hands the session to whoever listens.',
    fix: 'Set Secure on the session cookie (and serve the site over HTTPS only).',
    help: `${CHEAT}/Session_Management_Cheat_Sheet.html#secure-attribute`,
  },
  {
    id: 'cookie-samesite',
    severity: 'medium',
    title: 'A session cookie is sent on cross-site requests (SameSite=None)',
    why: 'Other sites can make the browser send requests that carry the session (cross-site request forgery).',
    fix: 'Set SameSite=Strict (or Lax if cross-site links must land logged in) on the session cookie.',
    help: `${MDN}/HTTP/Reference/Headers/Set-Cookie#samesitesamesite-value`,
  },
  {
    id: 'cookie-host-prefix',
    severity: 'low',
    title: 'A session cookie has no __Host- prefix',
    why: 'Without it a sibling subdomain, or a page on plain HTTP, can set a cookie of the same name and fix or shadow the session.',
    fix: 'Name it __Host-<name>, with Secure, Path=/ and no Domain.',
    help: `${MDN}/HTTP/Reference/Headers/Set-Cookie#cookie_prefixes`,
  },
  {
    id: 'cookie-lifetime',
    severity: 'low',
    title: 'A session cookie lives longer than 30 days',
    why: 'A long-lived session cookie keeps a forgotten or stolen login working for months.',
    fix: 'End sessions on the server after an idle and an absolute timeout, and give the cookie no longer a Max-Age.',
    help: `${CHEAT}/Session_Management_Cheat_Sheet.html#session-expiration`,
  },
  // Headers of documents and scripts.
  {
    id: 'csp-missing',
    severity: 'high',
    title: 'No Content-Security-Policy',
    why: 'Without a policy any injected or compromised script runs, and can reach every secret the page holds.',
    fix: "Send a policy with a nonce: script-src 'nonce-…' 'strict-dynamic'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'.",
    help: `${CHEAT}/Content_Security_Policy_Cheat_Sheet.html`,
  },
  {
    id: 'csp-unsafe-inline',
    severity: 'high',
    title: "The CSP allows 'unsafe-inline' scripts",
    why: 'An injected <script> or event handler runs: the policy does not stop cross-site scripting.',
    fix: "Replace 'unsafe-inline' with a per-response nonce or hashes in script-src.",
    help: `${CHEAT}/Content_Security_Policy_Cheat_Sheet.html`,
  },
  {
    id: 'csp-unsafe-eval',
    severity: 'medium',
    title: "The CSP allows 'unsafe-eval'",
    why: 'Strings become code: a DOM injection that reaches eval or new Function runs.',
    fix: "Remove 'unsafe-eval'; build without eval (most bundlers can).",
    help: `${CHEAT}/Content_Security_Policy_Cheat_Sheet.html`,
  },
  {
    id: 'csp-wildcard',
    severity: 'medium',
    title: 'The CSP allows scripts from any host (a wildcard or a bare scheme)',
    why: 'Any file on any allowed host, including ones an attacker uploads, runs as your page.',
    fix: "List exact origins, or better use a nonce with 'strict-dynamic'.",
    help: `${CHEAT}/Content_Security_Policy_Cheat_Sheet.html`,
  },
  {
    id: 'csp-object-src',
    severity: 'medium',
    title: "The CSP does not restrict plugins (no object-src 'none')",
    why: 'Without it, <object> and <embed> fall back to default-src and can load script-capable content.',
    fix: "Add object-src 'none'.",
    help: `${MDN}/HTTP/Reference/Headers/Content-Security-Policy/object-src`,
  },
  {
    id: 'csp-base-uri',
    severity: 'low',
    title: 'The CSP does not restrict <base> (no base-uri)',
    why: 'An injected <base> tag redirects every relative script URL to the attacker, even under a nonce policy.',
    fix: "Add base-uri 'none' (or 'self').",
    help: `${MDN}/HTTP/Reference/Headers/Content-Security-Policy/base-uri`,
  },
  {
    id: 'framing',
    severity: 'medium',
    title: 'The page may be framed by other sites (no frame-ancestors, no X-Frame-Options)',
    why: 'Another site can load it in an invisible frame and trick the user into clicks (clickjacking).',
    fix: "Add frame-ancestors 'none' to the CSP (and X-Frame-Options: DENY for old browsers).",
    help: `${CHEAT}/Clickjacking_Defense_Cheat_Sheet.html`,
  },
  {
    id: 'nosniff',
    severity: 'low',
    title: 'No X-Content-Type-Options: nosniff',
    why: 'Browsers may guess a response is a script or a page and run content that was meant as data.',
    fix: 'Send X-Content-Type-Options: nosniff on every response.',
    help: `${MDN}/HTTP/Reference/Headers/X-Content-Type-Options`,
  },
  {
    id: 'referrer-policy',
    severity: 'low',
    title: 'No Referrer-Policy, or one that sends full URLs to other sites',
    why: 'URLs with tokens or personal data leak to every third party the page links to or loads from.',
    fix: 'Send Referrer-Policy: strict-origin-when-cross-origin (or no-referrer).',
    help: `${MDN}/HTTP/Reference/Headers/Referrer-Policy`,
  },
  {
    id: 'hsts',
    severity: 'medium',
    title: 'No Strict-Transport-Security on HTTPS',
    why: 'A user who types the address or follows an http:// link makes one plain request an attacker can intercept and downgrade.',
    fix: 'Send Strict-Transport-Security: max-age=31536000; includeSubDomains on HTTPS responses.',
    help: `${CHEAT}/HTTP_Strict_Transport_Security_Cheat_Sheet.html`,
  },
  {
    id: 'xss-protection',
    severity: 'low',
    title: 'X-XSS-Protection turns on the old XSS auditor',
    why: 'The auditor is gone from browsers, and where it remains it has been used to leak data from pages.',
    fix: 'Send X-XSS-Protection: 0, or nothing, and rely on the CSP.',
    help: `${MDN}/HTTP/Reference/Headers/X-XSS-Protection`,
  },
  // Scripts from elsewhere.
  {
    id: 'script-sri',
    severity: 'medium',
    title: 'A script from another origin is loaded without Subresource Integrity',
    why: 'Whoever controls that host (or breaks into it) runs code in your page: the article’s compromised CDN.',
    fix: 'Self-host the file, or pin it with integrity="sha384-…" crossorigin="anonymous".',
    help: LAB,
  },
  // What the production bundle leaks.
  {
    id: 'bundle-dev-origin',
    severity: 'medium',
    title: 'A script holds a development origin (localhost, a private address, .local)',
    why: 'A dev server left in the build points calls at a machine that is not yours in production, and tells attackers about your network.',
    fix: 'Read API origins from the build environment, and fail the build when a development origin remains.',
    help: LAB,
  },
  {
    id: 'bundle-source-map',
    severity: 'low',
    title: 'A source map is published',
    why: 'It gives anyone your original source, comments and all, which makes finding holes easier.',
    fix: 'Do not deploy .map files (or serve them only to your error tracker).',
    help: `${MDN}/HTTP/Reference/Headers/SourceMap`,
  },
  {
    id: 'bundle-secret',
    severity: 'critical',
    title: 'A script contains a secret (an API key, a private key, a credential)',
    why: 'Every visitor downloads it: the key is public from the first deploy.',
    fix: 'Revoke the key now, and keep it on the server; the browser calls your server, which calls the API.',
    help: LAB,
  },
  {
    id: 'bundle-jwt',
    severity: 'high',
    title: 'A script contains a JWT',
    why: 'A token compiled into code is shared by every visitor and never expires on its own schedule.',
    fix: 'Remove it from the build and revoke it; issue tokens per user, on the server.',
    help: LAB,
  },
  {
    id: 'bundle-password',
    severity: 'high',
    title: 'A script contains a password in a configuration object',
    why: 'Every visitor downloads it.',
    fix: 'Remove it from the build, change the password, and keep credentials on the server.',
    help: LAB,
  },
  // About the run itself.
  {
    id: 'audit-incomplete',
    severity: 'info',
    title: 'Part of the site was not audited',
    why: 'A page limit, a time limit, or a page that failed to load cut the audit short.',
    fix: 'Raise --max-pages or --timeout, or audit the missing pages directly.',
    help: 'https://github.com/latchkey-dev/latchkey/blob/main/docs/audit.md',
  },
] as const satisfies readonly Rule[];

/** The id of a rule: `storage-jwt`, `csp-missing`, `bundle-secret`, … (docs/audit.md lists them all). */
export type RuleId = (typeof list)[number]['id'];

/** Every rule, by id. */
export const RULES: Readonly<Record<RuleId, Rule>> = Object.freeze(
  Object.fromEntries(list.map((rule) => [rule.id, Object.freeze({ ...rule })])) as Record<RuleId, Rule>,
);
