import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { createCsrfGuard } from './csrf.js';
import { createHardening, type HardeningOptions, type HardeningRequest } from './hardening.js';
import { createSecurityHeaders, parseCspReport } from './headers.js';
import { createTrustedProxies } from './proxy.js';

describe('CSRF guard (X1, X2, X3)', () => {
  const guard = createCsrfGuard({ origins: ['https://app.example.org', 'http://localhost:3000'] });
  const post = (headers: Record<string, string | string[]>) => guard.allows({ method: 'POST', headers });

  it('decides by Sec-Fetch-Site when the browser sends it', () => {
    expect(post({ 'sec-fetch-site': 'same-origin' })).toBe(true);
    expect(post({ 'sec-fetch-site': 'none' })).toBe(true);
    expect(post({ 'sec-fetch-site': 'cross-site' })).toBe(false);
    // Another port or subdomain of the same site: SameSite cookies go along, so this is the wall.
    expect(post({ 'sec-fetch-site': 'same-site' })).toBe(false);
    // A forged same-origin Origin does not override what the browser's fetch metadata says.
    expect(post({ 'sec-fetch-site': 'cross-site', origin: 'https://app.example.org' })).toBe(false);
  });

  it('falls back to an exact Origin match, then to the Referer origin', () => {
    expect(post({ origin: 'https://app.example.org' })).toBe(true);
    expect(post({ origin: 'http://localhost:3000' })).toBe(true);
    for (const origin of [
      'https://app.example.org.attacker.com',
      'https://attacker.com',
      'http://app.example.org', // scheme differs
      'https://app.example.org:8443', // port differs
      'https://evil-app.example.org',
      'null',
      '',
    ])
      expect(post({ origin }), origin).toBe(false);
    expect(post({ referer: 'https://app.example.org/settings?x=1' })).toBe(true);
    expect(post({ referer: 'https://app.example.org.attacker.com/' })).toBe(false);
    expect(post({ referer: 'not a url' })).toBe(false);
    expect(post({ origin: ['https://app.example.org', 'https://app.example.org'] })).toBe(false);
  });

  it('refuses unsafe requests that carry neither, and lets safe methods through', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post', 'PROPFIND'])
      expect(guard.allows({ method, headers: {} }), method).toBe(false);
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(guard.allows({ method, headers: {} })).toBe(true);
  });

  it('validates its configuration', () => {
    expect(() => createCsrfGuard({ origins: [] })).toThrow(ConfigurationError);
    expect(() => createCsrfGuard({ origins: ['app.example.org'] })).toThrow(ConfigurationError);
    expect(() => createCsrfGuard({ origins: ['ftp://app.example.org'] })).toThrow(ConfigurationError);
    // Given with a path or a trailing slash, the origin is still exact.
    expect(
      createCsrfGuard({ origins: ['https://a.example/'] }).allows({
        method: 'POST',
        headers: { origin: 'https://a.example' },
      }),
    ).toBe(true);
  });
});

describe('security headers (H1–H7)', () => {
  const policy = createSecurityHeaders();

  it('sends the DESIGN.md defaults, X-XSS-Protection 0 and no HSTS over http', () => {
    const { headers } = policy.forResponse(false);
    expect(headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'same-origin',
      'x-xss-protection': '0',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });
    expect(headers['strict-transport-security']).toBeUndefined();
    expect(policy.forResponse(true).headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('builds a CSP with a fresh 128-bit nonce each time and no unsafe-inline', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const { nonce, headers } = policy.forResponse(false);
      expect(Buffer.from(nonce, 'base64')).toHaveLength(16);
      const csp = headers['content-security-policy'] ?? '';
      expect(csp).toContain(`script-src 'self' 'nonce-${nonce}'`);
      expect(csp).toContain(`style-src 'self' 'nonce-${nonce}'`);
      seen.add(nonce);
    }
    expect(seen.size).toBe(1000);
    const csp = policy.forResponse(false).headers['content-security-policy'] ?? '';
    for (const part of ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", 'report-uri /api/csp-report'])
      expect(csp).toContain(part);
    expect(csp).not.toContain('unsafe-inline');
    expect(policy.forResponse(false).headers['reporting-endpoints']).toBe('csp="/api/csp-report"');
  });

  it('refuses a policy that would not protect, at configuration', () => {
    expect(() => createSecurityHeaders({ csp: { 'script-src': ["'self'", "'unsafe-inline'"] } })).toThrow(
      ConfigurationError,
    );
    expect(() => createSecurityHeaders({ csp: { 'img-src': ["'self'; script-src *"] } })).toThrow(ConfigurationError);
    expect(() => createSecurityHeaders({ hstsMaxAge: 3600 })).toThrow(ConfigurationError);
    expect(() => createSecurityHeaders({ reportPath: 'https://elsewhere.example/r' })).toThrow(ConfigurationError);
  });

  it('reads both CSP report formats and keeps no query string', () => {
    const legacy = parseCspReport({
      'csp-report': {
        'document-uri': 'https://app.example.org/page?token=secret',
        'blocked-uri': 'https://evil.example/x.js?k=v',
        'effective-directive': 'script-src-elem',
        disposition: 'enforce',
      },
    });
    expect(legacy).toEqual([
      {
        directive: 'script-src-elem',
        blocked: 'https://evil.example/x.js',
        document: 'https://app.example.org/page',
        disposition: 'enforce',
      },
    ]);
    const modern = parseCspReport([
      {
        type: 'csp-violation',
        body: {
          documentURL: 'https://a/#frag',
          blockedURL: 'inline',
          effectiveDirective: 'style-src-attr',
          disposition: 'enforce',
        },
      },
      { type: 'deprecation', body: {} },
    ]);
    expect(modern).toEqual([
      { directive: 'style-src-attr', blocked: 'inline', document: 'https://a/', disposition: 'enforce' },
    ]);
    expect(parseCspReport('junk')).toEqual([]);
    expect(parseCspReport(Array.from({ length: 500 }, () => ({ type: 'csp-violation', body: {} })))).toHaveLength(20);
  });
});

describe('trusted proxies', () => {
  async function seen(proxies: string[], headers: Record<string, string>) {
    const trusted = createTrustedProxies(proxies);
    const server = createServer((req: IncomingMessage, res) => {
      res.end(JSON.stringify({ ip: trusted.clientAddress(req), https: trusted.isHttps(req) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers });
      return (await res.json()) as { ip: string; https: boolean };
    } finally {
      server.close();
    }
  }
  const spoof = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' };

  it('ignores X-Forwarded-* from a peer that is not a trusted proxy', async () => {
    expect(await seen([], spoof)).toEqual({ ip: '127.0.0.1', https: false });
    expect(await seen(['10.0.0.0/8'], spoof)).toEqual({ ip: '127.0.0.1', https: false });
  });

  it('believes a trusted proxy, and walks past only trusted hops', async () => {
    expect(await seen(['loopback'], spoof)).toEqual({ ip: '6.6.6.6', https: true });
    // The client wrote the first hop itself; the proxy appended the address it saw.
    expect(await seen(['127.0.0.1'], { 'x-forwarded-for': '1.1.1.1, 203.0.113.5' })).toEqual({
      ip: '203.0.113.5',
      https: false,
    });
  });

  it('reads the scheme the outermost trusted proxy added, never one the client sent', async () => {
    // One proxy that appends: the client sent "https" over plain HTTP, the proxy added "http".
    expect(await seen(['127.0.0.1'], { 'x-forwarded-for': '203.0.113.5', 'x-forwarded-proto': 'https, http' })).toEqual(
      { ip: '203.0.113.5', https: false },
    );
    // Two that append, TLS ending at the edge (10.0.0.2): the edge added "https", the inner proxy
    // (the peer) "http" for the edge's plain connection to it. The client's scheme is the edge's.
    const twoHops = ['127.0.0.1', '10.0.0.0/8'];
    expect(
      await seen(twoHops, { 'x-forwarded-for': '203.0.113.5, 10.0.0.2', 'x-forwarded-proto': 'https, http' }),
    ).toEqual({ ip: '203.0.113.5', https: true });
    // The same chain, the client's own values in front: neither its address nor its scheme is read.
    expect(
      await seen(twoHops, {
        'x-forwarded-for': '6.6.6.6, 203.0.113.5, 10.0.0.2',
        'x-forwarded-proto': 'https, http, http',
      }),
    ).toEqual({ ip: '203.0.113.5', https: false });
    // A proxy that sets one value is read as it is, whatever the hops.
    expect(await seen(twoHops, { 'x-forwarded-for': '203.0.113.5, 10.0.0.2', 'x-forwarded-proto': ' HTTPS ' })).toEqual(
      { ip: '203.0.113.5', https: true },
    );
  });

  it('refuses a malformed proxy list at configuration', () => {
    expect(() => createTrustedProxies(['not-an-ip'])).toThrow(ConfigurationError);
  });
});

describe('createHardening (the policy under every adapter)', () => {
  const origins = ['https://app.example.org'];
  const request = (
    over: Partial<HardeningRequest> & { headers?: HardeningRequest['headers'] } = {},
  ): HardeningRequest => ({
    method: 'GET',
    url: '/',
    httpVersion: '1.1',
    https: false,
    ...over,
    headers: { host: 'app.example.org', 'sec-fetch-site': 'same-origin', ...over.headers },
  });
  const answer = (options: HardeningOptions, over: Parameters<typeof request>[0]) =>
    createHardening(options).check(request(over), undefined).answer;

  it('refuses to start without an explicit CSRF choice, and on unknown or mistyped options', () => {
    expect(() => createHardening({} as HardeningOptions)).toThrow(/needs a CSRF guard: pass csrf: \{ origins/);
    expect(() => createHardening({ csrf: { origins } as never, csrfExempt: '/x' as never })).toThrow(
      /csrfExempt must be an array of paths/,
    );
    expect(() => createHardening({ csrf: false, jsonOnly: 'yes' as never })).toThrow(/jsonOnly must be true or false/);
    expect(() => createHardening({ csrf: false, noStore: ['api'] })).toThrow(/start with "\/"/);
    expect(() => createHardening({ csrf: false, isHttps: true as never })).toThrow(/isHttps must be a function/);
    expect(() => createHardening({ csrf: { orgins: origins } as never })).toThrow(ConfigurationError);
    expect(() => createHardening({ csrf: false, cspReprot: {} } as never)).toThrow(/did you mean "cspReport"/);
    expect(() => createHardening({ csrf: false, headers: { reportpath: '/r' } as never })).toThrow(
      /did you mean "reportPath"/,
    );
    // A report route needs a policy that names one.
    expect(() =>
      createHardening({ csrf: false, headers: { reportPath: false }, cspReport: { onReport: () => {} } }),
    ).toThrow(/cspReport needs a report path/);
    expect(createHardening({ csrf: false, headers: { reportPath: false } }).reportPath).toBe(false);
  });

  it('takes a guard, origins or false', () => {
    const cross = { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } };
    expect(answer({ csrf: { origins } }, cross)).toBe('CSRF_REJECTED');
    expect(answer({ csrf: createCsrfGuard({ origins }) }, cross)).toBe('CSRF_REJECTED');
    expect(answer({ csrf: false }, cross)).toBeNull();
  });

  it('JSON only: refuses the bodies a cross-site form can send, not JSON or an empty body', () => {
    const options: HardeningOptions = { csrf: { origins }, jsonOnly: true };
    const post = (headers: HardeningRequest['headers'], method = 'POST') =>
      answer(options, { method, headers: { 'content-length': '2', ...headers } });
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=b',
      'TEXT/PLAIN',
    ])
      expect(post({ 'content-type': type }), type).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(post({})).toBe('UNSUPPORTED_MEDIA_TYPE'); // a body without a type
    expect(post({ 'content-length': undefined, 'transfer-encoding': 'chunked' })).toBe('UNSUPPORTED_MEDIA_TYPE');
    for (const type of ['application/json', 'Application/JSON; charset=utf-8', 'application/merge-patch+json'])
      expect(post({ 'content-type': type }), type).toBeNull();
    expect(post({ 'content-length': '0' })).toBeNull();
    expect(post({ 'content-length': undefined })).toBeNull();
    expect(post({ 'content-type': 'text/plain' }, 'GET')).toBeNull();
    expect(answer({ csrf: { origins } }, { method: 'POST', headers: { 'content-type': 'text/plain' } })).toBeNull();
  });

  it('the CSP report route: only POST to the exact report path, before the CSRF guard', () => {
    const options: HardeningOptions = { csrf: { origins }, jsonOnly: true };
    const cross = { 'sec-fetch-site': 'cross-site', 'content-type': 'application/csp-report', 'content-length': '9' };
    expect(answer(options, { method: 'POST', url: '/api/csp-report?x', headers: cross })).toBe('csp-report');
    expect(answer(options, { method: 'POST', url: '/api/csp-report/', headers: cross })).toBe('CSRF_REJECTED');
    expect(answer(options, { method: 'GET', url: '/api/csp-report' })).toBeNull();
    // Off: the app answers it; it stays exempt from the guard and takes the report types under jsonOnly.
    const off = { ...options, cspReport: false as const };
    expect(answer(off, { method: 'POST', url: '/api/csp-report', headers: cross })).toBeNull();
    for (const type of ['application/reports+json', 'application/json'])
      expect(
        answer(off, { method: 'POST', url: '/api/csp-report', headers: { ...cross, 'content-type': type } }),
      ).toBeNull();
    expect(
      answer(off, { method: 'POST', url: '/api/csp-report', headers: { ...cross, 'content-type': 'text/plain' } }),
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
    // Only that path: the report types are a 415 anywhere else.
    expect(
      answer(options, { method: 'POST', url: '/api/x', headers: { ...cross, 'sec-fetch-site': 'same-origin' } }),
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
    const own = createHardening({ csrf: false, headers: { reportPath: '/csp' } });
    expect(own.reportPath).toBe('/csp');
    expect(own.check(request({ method: 'POST', url: '/csp' }), undefined).answer).toBe('csp-report');
  });

  it('reads a report of at most 16 KiB and hands on only violations', async () => {
    const seen: unknown[] = [];
    const hardening = createHardening<string>({
      csrf: false,
      cspReport: { onReport: (v, native) => seen.push([v, native]) },
    });
    const report = (body: string | null, type = 'application/reports+json') =>
      hardening.receiveReport(
        request({ method: 'POST', headers: { 'content-type': type } }),
        body === null ? null : Readable.from([Buffer.from(body)]),
        'native',
      );
    const violation = [{ type: 'csp-violation', body: { effectiveDirective: 'img-src', blockedURL: 'https://x/y?z' } }];
    expect(await report(JSON.stringify(violation))).toBeNull();
    expect(seen).toEqual([
      [[{ directive: 'img-src', blocked: 'https://x/y', document: '', disposition: '' }], 'native'],
    ]);
    expect(await report('[]')).toBeNull(); // nothing to report: onReport is not called
    expect(await report(null)).toBe('INVALID_JSON');
    expect(await report('{', 'application/json')).toBe('INVALID_JSON');
    expect(await report('[]', 'text/plain')).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await report(`[${' '.repeat(16 * 1024)}]`)).toBe('PAYLOAD_TOO_LARGE');
    expect(seen).toHaveLength(1);
  });

  it('a flood of reports reaches onReport at most maxPerMinute times; the rest are answered and dropped', async () => {
    let calls = 0;
    const hardening = createHardening({ csrf: false, cspReport: { onReport: () => calls++, maxPerMinute: 5 } });
    const body = JSON.stringify([
      { type: 'csp-violation', body: { effectiveDirective: 'img-src', blockedURL: 'https://x/' } },
    ]);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        hardening.receiveReport(
          request({ method: 'POST', headers: { 'content-type': 'application/reports+json' } }),
          Readable.from([Buffer.from(body)]),
          undefined,
        ),
      ),
    );
    expect(answers.every((a) => a === null)).toBe(true);
    expect(calls).toBe(5);
    expect(() => createHardening({ csrf: false, cspReport: { maxPerMinute: 0 } })).toThrow(/maxPerMinute/);
  });

  it('headers: the nonce policy, Vary on every answer, no-store under the prefixes, HSTS by isHttps', () => {
    const hardening = createHardening<{ tls: boolean }>({
      csrf: false,
      noStore: ['/api', '/account/'],
      isHttps: (native) => native.tls,
    });
    const headersOf = (url: string, tls = false) => hardening.check(request({ url }), { tls }).headers;
    expect(headersOf('/').vary).toBe('Sec-Fetch-Site, Origin');
    for (const url of ['/api', '/api/me', '/api/?x=1', '/account', '/account/x'])
      expect(headersOf(url)['cache-control'], url).toBe('no-store');
    // However a router may read the path: Express ignores case, Fastify and Hono percent-decode.
    for (const url of ['/API/me', '/Api', '/%61pi/me', '/%41PI/me', '//api/me', '/api%2Fme', '/ACCOUNT/x'])
      expect(headersOf(url)['cache-control'], url).toBe('no-store');
    for (const url of ['/', '/apis', '/ap', '/accounts', '/x/api', '/%61pis', '/%zz/api'])
      expect(headersOf(url)['cache-control'], url).toBeUndefined();
    expect(headersOf('/')['strict-transport-security']).toBeUndefined();
    expect(headersOf('/', true)['strict-transport-security']).toMatch(/^max-age=31536000/);
    const { nonce, headers } = hardening.check(request(), { tls: false });
    expect(headers['content-security-policy']).toContain(`'nonce-${nonce}'`);
  });

  it('HTTP/1.1 without Host is a 400; HTTP/1.0 and servers that check Host themselves are not', () => {
    const options: HardeningOptions = { csrf: false };
    expect(answer(options, { headers: { host: undefined } })).toBe('BAD_REQUEST');
    expect(answer(options, { httpVersion: '1.0', headers: { host: undefined } })).toBeNull();
    expect(answer(options, { httpVersion: undefined, headers: { host: undefined } })).toBeNull();
  });
});
