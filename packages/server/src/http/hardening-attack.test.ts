/**
 * Attacks on the hardening policy found in review, kept as regressions. The same attacks run over
 * real sockets on every adapter in `test/adapter-contract.ts`; here each is pinned on the policy.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createHardening, type HardeningOptions, type HardeningRequest } from './hardening.js';
import type { CspViolation } from './headers.js';

const origins = ['https://app.example.org'];
const request = (over: Partial<HardeningRequest> = {}): HardeningRequest => ({
  method: 'GET',
  url: '/',
  httpVersion: '1.1',
  https: false,
  ...over,
  headers: { host: 'app.example.org', ...over.headers },
});

describe('hardening under attack', () => {
  it('X1: only a POST to the report path skips the CSRF guard, whoever answers that route', () => {
    const cross = { 'sec-fetch-site': 'cross-site', 'content-type': 'application/csp-report', 'content-length': '2' };
    for (const cspReport of [undefined, false as const]) {
      const hardening = createHardening({
        csrf: { origins },
        jsonOnly: true,
        ...(cspReport === false && { cspReport }),
      });
      for (const method of ['PUT', 'PATCH', 'DELETE', 'PROPFIND'])
        expect(
          hardening.check(request({ method, url: '/api/csp-report', headers: cross }), undefined).answer,
          `${method} (cspReport: ${cspReport})`,
        ).toBe('CSRF_REJECTED');
      // Same-origin, the report types are still only for the report POST.
      expect(
        hardening.check(
          request({ method: 'PUT', url: '/api/csp-report', headers: { ...cross, 'sec-fetch-site': 'same-origin' } }),
          undefined,
        ).answer,
      ).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(
        hardening.check(request({ method: 'POST', url: '/api/csp-report', headers: cross }), undefined).answer,
      ).toBe(cspReport === false ? null : 'csp-report');
    }
  });

  it('H2: a CSP report cannot write lines, escapes or bidi controls into the log onReport feeds', async () => {
    // The route takes reports from anyone (no cookie, no CSRF check) and its fields go to a log:
    // a forged line there ("… INFO admin signed in") must not be possible.
    const seen: CspViolation[] = [];
    const hardening = createHardening({ csrf: false, cspReport: { onReport: (v) => seen.push(...v) } });
    const body = JSON.stringify({
      'csp-report': {
        'effective-directive': 'script-src\n2025-01-01T00:00:00Z INFO admin signed in',
        'blocked-uri': 'https://evil.example/x\r\nFORGED\u001b[31m\u0085\u2028',
        'document-uri': 'https://app.example.org/\u202eexe.txt',
        disposition: 'enforce\u0000',
      },
    });
    const headers = { 'content-type': 'application/csp-report' };
    expect(
      await hardening.receiveReport(request({ method: 'POST', headers }), Readable.from([Buffer.from(body)]), null),
    ).toBeNull();
    expect(seen).toHaveLength(1);
    for (const value of Object.values(seen[0] ?? {})) expect(value).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
    expect(seen[0]?.directive).toMatch(/^script-src.2025/); // kept readable, one line
  });

  it('C7: no-store under the prefixes however the request target spells the path', () => {
    const options: HardeningOptions = { csrf: false, noStore: ['/api'] };
    const hardening = createHardening(options);
    const cacheControl = (url: string) => hardening.check(request({ url }), undefined).headers['cache-control'];
    for (const url of [
      // absolute-form (RFC 9112 §3.2.2): Express and Fastify route `GET http://host/api/me` to /api/me
      'http://app.example.org/api/me',
      'HTTPS://app.example.org/api/me?x=1',
      'http://app.example.org//api/me',
      'http://user:pw@app.example.org:8080/api',
      // dot segments and backslashes, as WHATWG URL (`new URL(req.url, base)`, Hono) resolves them
      '/./api/me',
      '/x/../api/me',
      '/%2e/api/me',
      '/x/%2E%2E/api/me',
      '/x/..%2Fapi/me',
      '/x/..\\api/me',
      '/api\\me',
      '/\\api/me',
      '/api/me#x',
    ])
      expect(cacheControl(url), url).toBe('no-store');
    for (const url of [
      '/',
      '/apis',
      '/x/api',
      'http://app.example.org/apis',
      'http://api/x',
      '/%3F/api/me',
      '/%zz/api',
    ])
      expect(cacheControl(url), url).toBeUndefined();
  });
});
