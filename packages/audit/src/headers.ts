/**
 * The security headers of a document (and nosniff on scripts): CSP, framing, nosniff,
 * Referrer-Policy, HSTS on HTTPS, X-XSS-Protection. One finding per missing or weak header.
 */
import { type Finding, finding } from './findings.js';

/** Header names in lower case, as Playwright gives them. */
export type Headers = Readonly<Record<string, string>>;

/** A CSP as directives → source lists (lower case); the last of several policies wins nothing: all apply. */
export function parseCsp(policy: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name === undefined || name === '' || directives.has(name.toLowerCase())) continue;
    directives.set(
      name.toLowerCase(),
      sources.map((s) => (s.startsWith("'") ? s.toLowerCase() : s)),
    );
  }
  return directives;
}

const WIDE = new Set(['*', 'http:', 'https:', 'data:', 'blob:', 'filesystem:']);

/** The findings of one CSP (header or meta); `policies` are every policy the document got. */
export function checkCsp(url: string, policies: readonly string[], hasXfo: boolean): Finding[] {
  if (policies.length === 0) {
    const out = [finding('csp-missing', url, 'The document has no Content-Security-Policy header or meta tag.')];
    if (!hasXfo) out.push(finding('framing', url, 'Neither frame-ancestors nor X-Frame-Options is set.'));
    return out;
  }
  const parsed = policies.map(parseCsp);
  // Several policies all apply: a source is allowed only if every policy allows it. A problem is
  // real when every policy that governs scripts has it; a directive is present if any policy has it.
  const scriptLists = parsed
    .map((p) => p.get('script-src') ?? p.get('default-src'))
    .filter((l): l is string[] => l !== undefined);
  const out: Finding[] = [];
  if (scriptLists.length === 0) {
    out.push(
      finding('csp-missing', url, 'The CSP has neither script-src nor default-src: scripts are not restricted.'),
    );
  } else {
    const every = (test: (list: string[]) => boolean) => scriptLists.every(test);
    // With a nonce or a hash, CSP2+ browsers ignore 'unsafe-inline' (it is there for old ones).
    const hashOrNonce = (l: string[]) => l.some((s) => /^'(?:nonce-|sha256-|sha384-|sha512-)/.test(s));
    if (every((l) => l.includes("'unsafe-inline'") && !hashOrNonce(l)))
      out.push(finding('csp-unsafe-inline', url, "script-src allows 'unsafe-inline' without a nonce or hash."));
    if (every((l) => l.includes("'unsafe-eval'")))
      out.push(finding('csp-unsafe-eval', url, "script-src allows 'unsafe-eval'."));
    // With 'strict-dynamic', CSP3 browsers ignore host and scheme sources.
    const wide = (l: string[]) =>
      !l.includes("'strict-dynamic'") && l.some((s) => WIDE.has(s) || /^(?:https?:\/\/)?\*/.test(s));
    if (every(wide)) {
      const sources = [...new Set(scriptLists.flat().filter((s) => WIDE.has(s) || /^(?:https?:\/\/)?\*/.test(s)))];
      out.push(finding('csp-wildcard', url, `script-src allows ${sources.join(' ')}.`));
    }
  }
  const has = (directive: string) => parsed.some((p) => p.has(directive));
  const objectNone = parsed.some((p) => {
    const list = p.get('object-src') ?? p.get('default-src');
    return list !== undefined && list.length === 1 && list[0] === "'none'";
  });
  if (!objectNone) out.push(finding('csp-object-src', url, "Neither object-src nor default-src is 'none'."));
  if (!has('base-uri')) out.push(finding('csp-base-uri', url, 'The CSP has no base-uri.'));
  if (!has('frame-ancestors') && !hasXfo)
    out.push(finding('framing', url, 'Neither frame-ancestors nor X-Frame-Options is set.'));
  return out;
}

/** Every header check of one document. `metaCsp`: policies from `<meta http-equiv>` tags. */
export function checkDocumentHeaders(url: string, headers: Headers, metaCsp: readonly string[] = []): Finding[] {
  const split = (value: string | undefined) =>
    value === undefined ? [] : value.split('\n').filter((v) => v.trim() !== '');
  const xfo = (headers['x-frame-options'] ?? '').trim().toLowerCase();
  const hasXfo = xfo === 'deny' || xfo === 'sameorigin';
  const out = checkCsp(url, [...split(headers['content-security-policy']), ...metaCsp], hasXfo);
  if ((headers['x-content-type-options'] ?? '').trim().toLowerCase() !== 'nosniff')
    out.push(finding('nosniff', url, 'The document has no X-Content-Type-Options: nosniff.'));
  const referrer = (headers['referrer-policy'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .at(-1);
  if (referrer === undefined) out.push(finding('referrer-policy', url, 'No Referrer-Policy header.'));
  else if (referrer === 'unsafe-url' || referrer === 'no-referrer-when-downgrade')
    out.push(finding('referrer-policy', url, `Referrer-Policy is ${referrer}: full URLs go to other sites.`));
  if (url.startsWith('https:')) {
    const hsts = /max-age=(\d+)/i.exec(headers['strict-transport-security'] ?? '');
    if (hsts === null) out.push(finding('hsts', url, 'No Strict-Transport-Security header on an HTTPS document.'));
    else if (Number(hsts[1]) < 15_552_000)
      out.push(finding('hsts', url, `Strict-Transport-Security max-age is ${hsts[1]} s, under 180 days.`));
  }
  const xss = headers['x-xss-protection'];
  if (xss !== undefined && xss.trim() !== '0')
    out.push(finding('xss-protection', url, `X-XSS-Protection is "${xss.trim().slice(0, 40)}", not 0.`));
  return out;
}

/** A script served without nosniff can be the target of a content-type confusion. */
export function checkScriptHeaders(url: string, headers: Headers): Finding[] {
  return (headers['x-content-type-options'] ?? '').trim().toLowerCase() === 'nosniff'
    ? []
    : [finding('nosniff', url, 'The script has no X-Content-Type-Options: nosniff.')];
}
