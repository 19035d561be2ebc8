/**
 * The HTTP hardening policy, free of any framework: what happens to every request before routing.
 * The four adapters (`createExpressHardening`, `createFastifyHardening`, `createHonoHardening`,
 * `createNodeHardening`) only move its headers and answers in and out, so the policy lives here once.
 *
 * Per request, `check` gives the response headers and at most one refusal:
 * - the security headers with a fresh CSP nonce (H1–H7), `Vary: Sec-Fetch-Site, Origin` (X1), and
 *   `Cache-Control: no-store` under the `noStore` path prefixes (C7);
 * - 400 `BAD_REQUEST` for HTTP/1.1 without `Host` (RFC 9112 §3.2: "A server MUST respond with a
 *   400 (Bad Request) status code to any HTTP/1.1 request message that lacks a Host header field");
 * - 403 `CSRF_REJECTED` from the CSRF guard (X1, X2), before any body is read or handler runs;
 * - 415 `UNSUPPORTED_MEDIA_TYPE` with `jsonOnly` for an unsafe request whose body is not JSON (X3):
 *   form, multipart and text bodies are what a cross-site `<form>` sends without a preflight.
 *
 * It also answers the CSP report route itself (`POST <reportPath>` → 204, at most 16 KiB read),
 * so the policy never sends browsers to a route the app does not have (H2). A `POST` to that path
 * is exempt from the CSRF guard and, under `jsonOnly`, takes `application/csp-report` and
 * `application/reports+json` too; any other method there is guarded like every other route.
 */
import { ConfigurationError } from '../errors.js';
import { checkBoolean, checkFunction, checkNumber, checkOptions, describe } from '../lib/options.js';
import { announcedOver, readAtMost } from '../lib/read-body.js';
import { CSRF_VARY, type CsrfGuard, type CsrfRequest, createCsrfGuard } from './csrf.js';
import type { HttpErrorCode } from './error-codes.js';
import {
  type CspViolation,
  createSecurityHeaders,
  parseCspReport,
  type SecurityHeaders,
  type SecurityHeadersOptions,
} from './headers.js';
import { NO_STORE } from './session-flow.js';

/** `R` is the framework's own request (`isHttps` and `onReport` receive it). */
export interface HardeningOptions<R = unknown> {
  /** The security headers: a policy from `createSecurityHeaders`, or its options. Default `createSecurityHeaders()`. */
  headers?: SecurityHeaders | SecurityHeadersOptions;
  /**
   * Required. The app's own origins (`{ origins: ['https://app.example.org'] }`) or a guard from
   * `createCsrfGuard`; `false` only if your own code guards every unsafe route (an explicit choice).
   */
  csrf: CsrfGuard | { origins: readonly string[] } | false;
  /** Exact paths the CSRF guard skips, such as a token endpoint that takes no cookie. Default none. */
  csrfExempt?: readonly string[];
  /**
   * The CSP report route, answered by the hook (`POST` to the headers' `reportPath`, 204). Default
   * on; `onReport` gets the violations, safe to log. `false` when your app answers that path itself:
   * either way a `POST` to the report path is exempt from the CSRF guard and takes the report types
   * under `jsonOnly`. `maxPerMinute` (default 120) caps the reports handed to `onReport`: the route
   * takes anonymous posts, and a flood must not flood the log; the excess is answered 204 and dropped.
   */
  cspReport?: { onReport?: (violations: CspViolation[], request: R) => void; maxPerMinute?: number } | false;
  /** Refuse unsafe requests whose body is not `application/json` (or `application/*+json`) with 415. Default false. */
  jsonOnly?: boolean;
  /**
   * Path prefixes whose answers get `Cache-Control: no-store`, e.g. `['/api']`, however the request
   * spells the path (`/API`, `/%61pi`). Default none.
   */
  noStore?: readonly string[];
  /** Whether the request came over HTTPS (HSTS goes only there). Default: the adapter's reading of the socket. */
  isHttps?: (request: R) => boolean;
}

/** What `check` reads of a request; adapters fill it from their framework's request. */
export interface HardeningRequest extends CsrfRequest {
  /** The request target as received: path and query. */
  readonly url: string;
  /** `'1.1'`, `'1.0'`…; omit where the server checks `Host` itself. */
  readonly httpVersion?: string | undefined;
  /** The adapter's own reading of the socket; `isHttps` overrides it. */
  readonly https: boolean;
}

/** What `Hardening.check` decides for one request: the headers to set, and whether to answer now. */
export interface HardeningVerdict {
  /** This response's CSP nonce, for the `nonce` attribute of script and style tags. */
  nonce: string;
  /** Set them on the response, whatever `answer` says. Lower-case names. */
  headers: Record<string, string>;
  /** `null`: go on to the app. A code: answer it now. `'csp-report'`: answer with `receiveReport`. */
  answer: HttpErrorCode | 'csp-report' | null;
}

/**
 * The hardening policy, free of any framework, from `createHardening`; `R` is the framework's
 * request. The four adapters call it on every request: use it directly only to write an adapter
 * for another framework.
 *
 * @example
 * const { headers, answer } = hardening.check(request, req);
 * for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
 * if (answer === null) return next(); // else a code to answer, or 'csp-report': answer with receiveReport
 */
export interface Hardening<R = unknown> {
  /** The path whose `POST` the hook answers as the CSP report route, or `false`. */
  readonly reportPath: string | false;
  /** The headers alone, for answers given outside the hook (a framework's own early errors). */
  headersFor(request: HardeningRequest, native: R): Pick<HardeningVerdict, 'nonce' | 'headers'>;
  /** The headers for this request's answer and at most one refusal, before routing; `native` goes to `isHttps`. */
  check(request: HardeningRequest, native: R): HardeningVerdict;
  /**
   * Reads a CSP report body (at most 16 KiB; the rest is left unread) and hands its violations to
   * `onReport`. Resolves to `null` (answer 204) or the code to answer instead.
   */
  receiveReport(
    request: HardeningRequest,
    body: AsyncIterable<Uint8Array> | null,
    native: R,
  ): Promise<HttpErrorCode | null>;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const REPORT_LIMIT = 16 * 1024;
const REPORT_TYPES = new Set(['application/csp-report', 'application/reports+json', 'application/json']);
const OPTIONS = ['headers', 'csrf', 'csrfExempt', 'cspReport', 'jsonOnly', 'noStore', 'isHttps'];
const CSRF_FIX =
  "pass csrf: { origins: ['https://app.example.org'] } (your app's own origins), or csrf: false if your own code guards every unsafe route";

/** `type/subtype` of a Content-Type, lower case, without parameters (RFC 9110 §8.3.1). */
function mediaType(value: string | string[] | undefined): string {
  if (typeof value !== 'string') return '';
  const end = value.indexOf(';');
  return (end === -1 ? value : value.slice(0, end)).trim().toLowerCase();
}

/** RFC 9112 §6.3: without Transfer-Encoding or a non-zero Content-Length, a request has no body. */
function hasBody(headers: HardeningRequest['headers']): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

const isJson = (type: string) => type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type);

function paths(where: string, name: string, value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((p) => typeof p === 'string' && /^\/[\w\-./~%]*$/.test(p)))
    throw new ConfigurationError(`${where}: ${name} must be an array of paths that start with "/", such as ['/api']`);
  return value;
}

/** The URL's path, without the query. */
const pathOf = (url: string) => {
  const end = url.indexOf('?');
  return end === -1 ? url : url.slice(0, end);
};

/** `scheme://authority` of an absolute-form request target (RFC 9112 §3.2.2), as URL parsers end it. */
const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\/[^/\\?#]*/i;

/**
 * The path as the most lenient router reads it: Fastify and Hono percent-decode (`/%61pi` is
 * `/api`), Express ignores case (`/API` is `/api`), some collapse `//`; Express and Fastify route an
 * absolute-form target (`GET http://host/api/me`) by its path, and WHATWG URL (Hono, a
 * `new URL(req.url, base)` router) resolves dot segments and reads `\` as `/` (`/x/../api`,
 * `/api\me`). `noStore` matches this form, so no spelling of a path reaches an `/api` route without
 * no-store; one no-store too many is harmless. Exemptions stay exact: a spelling that misses one
 * is refused, never let through.
 */
function looseForm(target: string): string {
  let path = target.replace(ABSOLUTE_FORM, '');
  if (path.includes('%')) {
    try {
      path = decodeURIComponent(path);
    } catch {
      // Not valid percent-encoding: no router decodes it either; compare it as sent.
    }
  }
  try {
    // Only the path: a decoded `?` or `#` is part of it, not the start of a query or fragment.
    const escaped = path.replace(/[?#]/g, encodeURIComponent);
    path = new URL(`http://h${escaped.startsWith('/') || escaped.startsWith('\\') ? '' : '/'}${escaped}`).pathname;
  } catch {
    // Not a path a URL parser takes: compare it as it is.
  }
  return path.replace(/\/{2,}/g, '/').toLowerCase();
}

/**
 * @param where the name of the calling function, for configuration messages.
 * @example
 * const hardening = createHardening({ csrf: { origins: ['https://app.example.org'] }, noStore: ['/api'] });
 * const request = { method: req.method, url: req.url, headers: req.headers, httpVersion: req.httpVersion, https: false };
 * const { headers, answer } = hardening.check(request, req);
 */
export function createHardening<R>(input: HardeningOptions<R>, where = 'createHardening'): Hardening<R> {
  const options = checkOptions(where, input, OPTIONS);
  const policy: SecurityHeaders =
    typeof (options.headers as SecurityHeaders | undefined)?.forResponse === 'function'
      ? (options.headers as SecurityHeaders)
      : createSecurityHeaders(options.headers as SecurityHeadersOptions | undefined);

  if (options.csrf === undefined) throw new ConfigurationError(`${where} needs a CSRF guard: ${CSRF_FIX}`);
  let csrf: CsrfGuard | null;
  if (options.csrf === false) csrf = null;
  else if (typeof (options.csrf as CsrfGuard).allows === 'function') csrf = options.csrf as CsrfGuard;
  else if (Array.isArray((options.csrf as { origins?: unknown }).origins))
    csrf = createCsrfGuard(checkOptions('csrf', options.csrf as { origins: readonly string[] }, ['origins']));
  else throw new ConfigurationError(`${where}: csrf is ${describe(options.csrf)} without origins; ${CSRF_FIX}`);

  let onReport: ((violations: CspViolation[], request: R) => void) | undefined;
  let reportBudget = 120;
  /** Reports handed on in the current minute: a fixed window, enough to keep a flood out of the log. */
  const window = { start: 0, count: 0 };
  /** The route the hook answers; `false` when `cspReport: false` (the app answers it) or none. */
  let reportPath: string | false = false;
  if (options.cspReport !== false) {
    const report = checkOptions('cspReport', options.cspReport, ['onReport', 'maxPerMinute']);
    if (report.onReport !== undefined) onReport = checkFunction('cspReport.onReport', report.onReport);
    reportBudget = checkNumber('cspReport.maxPerMinute', report.maxPerMinute, {
      default: 120,
      min: 1,
      max: 100_000,
      integer: true,
    });
    if (policy.reportPath === false && options.cspReport !== undefined)
      throw new ConfigurationError(
        `${where}: cspReport needs a report path, but the headers policy has reportPath: false; drop cspReport or set a reportPath`,
      );
    reportPath = policy.reportPath;
  }
  const exempt = new Set(paths(where, 'csrfExempt', options.csrfExempt));
  const noStore = paths(where, 'noStore', options.noStore).map((p) => {
    const loose = looseForm(p);
    return loose.endsWith('/') ? loose : `${loose}/`;
  });
  // Browsers send CSP reports without credentials, and the route only logs: whoever answers it
  // (the hook, or the app with `cspReport: false`), the guard and jsonOnly leave it alone.
  const reportTarget = policy.reportPath;
  const jsonOnly = checkBoolean('jsonOnly', options.jsonOnly, false);
  const isHttps =
    options.isHttps === undefined ? undefined : checkFunction<(request: R) => boolean>('isHttps', options.isHttps);

  const secure = (request: HardeningRequest, native: R, path: string) => {
    const { nonce, headers } = policy.forResponse(isHttps === undefined ? request.https : isHttps(native));
    headers.vary = CSRF_VARY;
    if (noStore.length > 0) {
      const loose = `${looseForm(path)}/`;
      if (noStore.some((prefix) => loose.startsWith(prefix))) headers['cache-control'] = NO_STORE;
    }
    return { nonce, headers };
  };

  return {
    reportPath,
    headersFor: (request, native) => secure(request, native, pathOf(request.url)),

    check(request, native) {
      const path = pathOf(request.url);
      const { nonce, headers } = secure(request, native, path);
      // Browsers send reports only with POST. Another method on the report path goes on to the
      // app's router (an `/api/:id` route, say), so it is guarded like any other request.
      const report = request.method === 'POST' && path === reportTarget;
      let answer: HardeningVerdict['answer'] = null;
      if (request.httpVersion === '1.1' && request.headers.host === undefined) answer = 'BAD_REQUEST';
      else if (reportPath !== false && report) answer = 'csp-report';
      else if (csrf !== null && !report && !exempt.has(path) && !csrf.allows(request)) answer = 'CSRF_REJECTED';
      else if (jsonOnly && !SAFE.has(request.method ?? '') && hasBody(request.headers)) {
        const type = mediaType(request.headers['content-type']);
        if (!isJson(type) && !(report && REPORT_TYPES.has(type))) answer = 'UNSUPPORTED_MEDIA_TYPE';
      }
      return { nonce, headers, answer };
    },

    async receiveReport(request, body, native) {
      if (!REPORT_TYPES.has(mediaType(request.headers['content-type']))) return 'UNSUPPORTED_MEDIA_TYPE';
      if (announcedOver(request.headers['content-length'], REPORT_LIMIT)) return 'PAYLOAD_TOO_LARGE';
      const text = body === null ? '' : await readAtMost(body, REPORT_LIMIT);
      if (text === null) return 'PAYLOAD_TOO_LARGE';
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return 'INVALID_JSON';
      }
      const violations = parseCspReport(parsed);
      if (violations.length === 0 || onReport === undefined) return null;
      const now = Date.now();
      if (now - window.start >= 60_000) Object.assign(window, { start: now, count: 0 });
      if (++window.count <= reportBudget) onReport(violations, native);
      return null;
    },
  };
}
