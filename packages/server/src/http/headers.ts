/**
 * The security headers policy (H1–H7): one object, built once, that gives every response the same
 * headers — 404s and errors included — with a fresh CSP nonce each time.
 *
 * - CSP: scripts and styles only from our origin or carrying this response's nonce; no
 *   `unsafe-inline`, `object-src 'none'`, `base-uri 'none'`, `frame-ancestors 'none'`; violations
 *   are reported to `reportPath`.
 * - HSTS only on responses that went out over HTTPS: over plain http the browser ignores it, and
 *   on `http://localhost` it would pin every port of localhost to https.
 * - `X-XSS-Protection: 0`. The article asks for `1`; current guidance (OWASP, helmet, MDN) is `0`:
 *   the filter it switched on was removed from browsers because attackers could use it to
 *   selectively disable scripts and to leak page content. CSP does that job properly.
 */
import { randomFillSync } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { checkBoolean, checkOptions } from '../lib/options.js';

/** Options of `createSecurityHeaders`. */
export interface SecurityHeadersOptions {
  /**
   * Directives to add to `DEFAULT_CSP`, or to replace one of its directives whole (so repeat
   * `'self'` if you still want it), e.g. `{ 'img-src': ["'self'", 'https://cdn.example'] }`.
   * Default none. `'unsafe-inline'` and `'unsafe-eval'` throw: a policy with them does not stop
   * injected scripts.
   */
  csp?: Record<string, readonly string[]>;
  /**
   * Where browsers send CSP violation reports (same origin). Default `/api/csp-report`; `false` for
   * none. The adapters' hardening hook answers `POST` there itself (its `cspReport` option).
   */
  reportPath?: string | false;
  /** Seconds for Strict-Transport-Security. Default and minimum 31536000 (1 year, with includeSubDomains). */
  hstsMaxAge?: number;
  /** Add `preload` to HSTS. Only after you submitted the domain to the preload list. Default false. */
  hstsPreload?: boolean;
}

/**
 * The security headers policy, from `createSecurityHeaders`: built once, then asked for each
 * response's headers. The adapters' hardening uses one; call it yourself only without them.
 *
 * @example
 * const { nonce, headers } = policy.forResponse(true);
 * res.writeHead(200, headers).end(`<script nonce="${nonce}" src="/app.js"></script>`);
 */
export interface SecurityHeaders {
  /** Where this policy tells browsers to send CSP reports, or `false` when it names none. */
  readonly reportPath: string | false;
  /**
   * Headers for one response, lower-case names. `nonce` is new on every call: put it in the
   * `nonce` attribute of each script and style tag of an HTML response.
   */
  forResponse(https: boolean): { nonce: string; headers: Record<string, string> };
}

/** The directives latchkey starts from; `NONCE` is replaced by `'nonce-…'` per response. */
export const DEFAULT_CSP: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'default-src': ["'self'"],
  'script-src': ["'self'", 'NONCE'],
  'style-src': ["'self'", 'NONCE'],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
});

/** Headers that never change. */
const STATIC: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY', // the article's choice; frame-ancestors is the modern equivalent
  'referrer-policy': 'same-origin',
  'x-xss-protection': '0',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'x-permitted-cross-domain-policies': 'none',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
});

const POOL_SIZE = 16 * 256;

/**
 * @example
 * const policy = createSecurityHeaders();
 * const { nonce, headers } = policy.forResponse(request.socket.encrypted === true);
 */
export function createSecurityHeaders(input?: SecurityHeadersOptions): SecurityHeaders {
  const options = checkOptions('createSecurityHeaders', input, ['csp', 'reportPath', 'hstsMaxAge', 'hstsPreload']);
  const preload = checkBoolean('hstsPreload', options.hstsPreload, false);
  const reportPath = options.reportPath ?? '/api/csp-report';
  if (reportPath !== false && !/^\/[\w\-./]*$/.test(reportPath))
    throw new ConfigurationError('reportPath must be a same-origin path such as /api/csp-report');
  const maxAge = options.hstsMaxAge ?? 31_536_000;
  if (!Number.isInteger(maxAge) || maxAge < 31_536_000)
    throw new ConfigurationError('hstsMaxAge must be at least one year (31536000 s)');
  const directives: Record<string, readonly string[]> = { ...DEFAULT_CSP, ...options.csp };
  for (const [name, values] of Object.entries(directives)) {
    // A policy with unsafe-inline is no defence against injected scripts: refuse to build one.
    if (
      values.some(
        (v) => v === "'unsafe-inline'" || v === "'unsafe-eval'" || /[;,\r\n]/.test(v) || !/^[a-z-]+$/.test(name),
      )
    )
      throw new ConfigurationError(`CSP directive ${name} has an unsafe or malformed value`);
  }
  let csp = Object.entries(directives)
    .map(([name, values]) => [name, ...values].join(' '))
    .join('; ');
  if (reportPath !== false) csp += `; report-uri ${reportPath}; report-to csp`;
  const [before, ...rest] = csp.split('NONCE');
  const parts = [before ?? '', ...rest];
  const hsts = `max-age=${maxAge}; includeSubDomains${preload ? '; preload' : ''}`;
  const reporting = reportPath === false ? undefined : `csp="${reportPath}"`;

  // 128-bit nonces, drawn from the CSPRNG in batches: one syscall per 256 responses.
  const pool = Buffer.alloc(POOL_SIZE);
  let offset = POOL_SIZE;
  const nextNonce = () => {
    if (offset === POOL_SIZE) {
      randomFillSync(pool);
      offset = 0;
    }
    offset += 16;
    return pool.toString('base64', offset - 16, offset);
  };

  return {
    reportPath,
    forResponse(https) {
      const nonce = nextNonce();
      const headers: Record<string, string> = { ...STATIC, 'content-security-policy': parts.join(`'nonce-${nonce}'`) };
      if (reporting) headers['reporting-endpoints'] = reporting;
      if (https) headers['strict-transport-security'] = hsts;
      return { nonce, headers };
    },
  };
}

/**
 * One violation from a browser's CSP report, as `parseCspReport` gives it and the hardening's
 * `cspReport.onReport` receives it. Fields are cut short, control characters and line breaks
 * become U+FFFD, and URLs lose their query and fragment (they may hold tokens), so it is safe to log.
 */
export interface CspViolation {
  /** The directive that was violated, such as `script-src-elem`; at most 100 characters. */
  directive: string;
  /** The URL (or keyword, such as `inline`) that was blocked; at most 200 characters. */
  blocked: string;
  /** The page the violation happened on; at most 200 characters. */
  document: string;
  /** `enforce` or `report`, as the browser sent it (empty when it sent none); at most 100 characters. */
  disposition: string;
}

/**
 * Control and format characters (bidi overrides among them) and Unicode line breaks. Anyone can
 * post a report (no cookie, no CSRF check) and its fields go to a log: with these a report could
 * forge log lines or hide text in a terminal. Browsers' own values (directive names, serialized
 * URLs) never hold them.
 */
const UNLOGGABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const loggable = (value: string, max: number) => value.slice(0, max).replace(UNLOGGABLE, '\ufffd');

/** A URL without its query and fragment (they may hold tokens), at most 200 characters. */
function safeUrl(value: unknown): string {
  if (typeof value !== 'string') return '';
  return loggable(value.split(/[?#]/, 1)[0] ?? '', 200);
}
const word = (value: unknown) => (typeof value === 'string' ? loggable(value, 100) : '');

/**
 * The violations in a CSP report body, in either format browsers send: `application/csp-report`
 * (`{"csp-report": {...}}`) or the Reporting API's `application/reports+json` (an array). What
 * comes back is safe to log: URLs lose their query strings, every field is cut short, at most 20.
 */
export function parseCspReport(body: unknown): CspViolation[] {
  const out: CspViolation[] = [];
  const add = (r: Record<string, unknown>) => {
    if (out.length >= 20) return;
    out.push({
      directive: word(r['effective-directive'] ?? r.effectiveDirective ?? r['violated-directive']),
      blocked: safeUrl(r['blocked-uri'] ?? r.blockedURL),
      document: safeUrl(r['document-uri'] ?? r.documentURL),
      disposition: word(r.disposition),
    });
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (Array.isArray(body)) {
    for (const report of body)
      if (isObject(report) && report.type === 'csp-violation' && isObject(report.body)) add(report.body);
  } else if (isObject(body) && isObject(body['csp-report'])) {
    add(body['csp-report']);
  }
  return out;
}
