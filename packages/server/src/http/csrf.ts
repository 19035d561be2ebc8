/**
 * The CSRF guard (OWASP CSRF cheat sheet, Fetch Metadata; X1–X3). SameSite=Strict already keeps
 * the cookie off cross-site requests; this is the second, independent wall, and the only one
 * against same-site attackers (a sibling subdomain, another port on the same host).
 *
 * For unsafe methods (anything but GET, HEAD, OPTIONS):
 * 1. `Sec-Fetch-Site` decides when present: `same-origin` and `none` (typed in the address bar)
 *    pass; `same-site` and `cross-site` are refused.
 * 2. Otherwise (older browsers, some proxies strip it) the `Origin` must equal one of the
 *    configured origins exactly — scheme, host and port; `Referer`'s origin is used if `Origin`
 *    is missing. The target origin comes from configuration, never from the Host header.
 * 3. Neither header: refused. Non-browser clients send an `Origin` or use bearer tokens instead.
 */
import { ConfigurationError } from '../errors.js';

/** Responses differ by these request headers: caches must key on them (X1). */
export const CSRF_VARY = 'Sec-Fetch-Site, Origin';

/**
 * What the guard reads of a request. A node:http `IncomingMessage`, an Express `Request` and a
 * Fastify `request.raw` all fit as they are (their `method` is optional in Node's types).
 */
export interface CsrfRequest {
  /** A request without a method is treated as unsafe. */
  readonly method?: string | undefined;
  /** Lower-case header names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * The CSRF check, from `createCsrfGuard`: give it to the hardening as `csrf`, or call `allows`
 * yourself before any body is read. Safe methods always pass.
 *
 * @example
 * const csrf = createCsrfGuard({ origins: ['https://app.example.org'] });
 * app.use(createExpressHardening({ csrf }));
 */
export interface CsrfGuard {
  /** `true` when the request may proceed; `false` → answer 403 `CSRF_REJECTED`. */
  allows(request: CsrfRequest): boolean;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `scheme://host[:port]` in the form browsers send in Origin; throws on anything else. */
export function canonicalOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new ConfigurationError('an allowed origin must be an absolute http(s) URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin === 'null')
    throw new ConfigurationError('an allowed origin must be an absolute http(s) URL');
  return url.origin;
}

/**
 * @param origins the app's own origins, e.g. `['https://app.example.org']`.
 * @example
 * const csrf = createCsrfGuard({ origins: ['https://app.example.org'] });
 * if (!csrf.allows(req)) return sendError(reply, 'CSRF_REJECTED');
 */
export function createCsrfGuard(options: { origins: readonly string[] }): CsrfGuard {
  if (options.origins.length === 0) throw new ConfigurationError('the CSRF guard needs at least one allowed origin');
  const allowed = new Set(options.origins.map(canonicalOrigin));
  const refererOrigin = (referer: string | undefined) => {
    if (referer === undefined) return undefined;
    try {
      return new URL(referer).origin;
    } catch {
      return undefined;
    }
  };
  return {
    allows({ method, headers }) {
      if (method !== undefined && SAFE.has(method)) return true;
      const site = headers['sec-fetch-site'];
      if (site !== undefined) return site === 'same-origin' || site === 'none';
      // A repeated Origin or Referer header is not something a browser sends: refuse it.
      if (Array.isArray(headers.origin) || Array.isArray(headers.referer)) return false;
      const origin = headers.origin ?? refererOrigin(headers.referer);
      return origin !== undefined && allowed.has(origin);
    },
  };
}
