/**
 * HTTP fuzzing of every entry point of the reference server, over raw TCP (so duplicated headers,
 * NUL bytes, bare CRs and broken framing reach the server as sent). Requests come from a
 * property-based generator (fast-check) mixed with a corpus of known-nasty inputs. Each answer is
 * checked: no 5xx, and no protected route answers 200 unless the request carried the one valid
 * session cookie exactly. The server runs as its own process; a crash ends the run as a failure.
 */
import { connect } from 'node:net';
import fc from 'fast-check';

export interface FuzzTarget {
  host: string;
  port: number;
  origin: string;
  /** The value of a live session cookie (`__Host-session=<this>`). */
  validToken: string;
}

export interface FuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  serverErrors: { status: number; request: string }[];
  /** Protected routes that answered 200 to a request without the valid cookie. */
  unauthenticatedSuccesses: { request: string }[];
  /** Connections closed with no status line (counted; not a failure by itself). */
  noResponse: number;
  elapsedMs: number;
}

const PROTECTED = ['/api/me', '/api/sessions', '/api/account/api-key', '/api/notes'];
const ROUTES = [
  '/',
  '/notes',
  '/api/me',
  '/api/auth/login',
  '/api/auth/register',
  '/api/auth/verify',
  '/api/auth/password-reset',
  '/api/auth/password-reset/confirm',
  '/api/auth/logout',
  '/api/auth/reauthenticate',
  '/api/sessions',
  '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA',
  '/api/sessions/revoke-others',
  '/api/account/password',
  '/api/account/api-key',
  '/api/account/api-key?reveal=1',
  '/api/account/api-key/rotate',
  '/api/account/disable',
  '/api/account/email',
  '/api/account/email/confirm',
  '/api/account/email/undo',
  '/dev/mail',
  '/dev/mail.json',
  '/api/notes',
  '/api/notes/n1',
  '/api/notes/n1?baseVersion=1',
  '/api/csp-report',
  '/oauth/token',
  '/.well-known/jwks.json',
  '/bff/api/tip',
  '/avatars/demo.svg',
  '/sw.js',
];
const NASTY_STRINGS = [
  '{"__proto__":{"admin":true},"username":"demo","password":"x"}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '{"username":"demo","password":"x"',
  '[',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `{"a":"${'x'.repeat(20_000)}"}`,
  '\u0000\u0000\u0000',
  '{"username":"\u0000demo","password":"\uFFFF"}',
  '{"username":"d\u0301emo","password":"😀😀😀😀😀😀😀😀"}',
  'null',
  'true',
  '1e400',
  '{"grant_type":"refresh_token","refresh_token":"AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}',
  '{"grant_type":"password","username":"demo","password":"wrong"}',
  '{"title":"t","body":"b","pinned":false,"priority":0,"tags":[],"updatedAt":0,"baseVersion":null}',
  '\xff\xfe\xfd',
];

/** A request as bytes, plus a short printable description for the report. */
interface Built {
  bytes: Buffer;
  path: string;
  method: string;
  hasValidCookie: boolean;
  describe: string;
}

function cookieArbitrary(valid: string) {
  const flip = (s: string, i: number, c: string) => s.slice(0, i % s.length) + c + s.slice((i % s.length) + 1);
  return fc.oneof(
    fc.constant({ value: `__Host-session=${valid}`, valid: true }),
    fc
      .tuple(fc.nat(), fc.constantFrom('A', 'z', '.', '-', '_', '%', '\u0000', 'é'))
      .map(([i, c]) => ({ value: `__Host-session=${flip(valid, i, c)}`, valid: false }))
      .filter((c) => c.value !== `__Host-session=${valid}`),
    fc.constant({ value: `__Host-session=${valid}; __Host-session=${valid}`, valid: false }),
    fc.constant({ value: `__HOST-session=${valid}`, valid: false }),
    fc.constant({ value: `__Host-session=${valid.split('.').slice(0, 2).join('.')}`, valid: false }),
    fc.constant({ value: `__Host-session=${encodeURIComponent(valid)}%00`, valid: false }),
    fc.string({ maxLength: 300 }).map((s) => ({ value: s, valid: false })),
    fc.string({ maxLength: 60 }).map((s) => ({ value: `__Host-session=${s}`, valid: false })),
    fc.constant({ value: `x=${'y'.repeat(70_000)}`, valid: false }),
    fc.constant({ value: '', valid: false }),
  );
}

export function requestArbitrary(target: FuzzTarget): fc.Arbitrary<Built> {
  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
    {
      weight: 1,
      arbitrary: fc.constantFrom('TRACE', 'CONNECT', 'PROPFIND', 'get', 'G\u0000T', 'XXXXXXXXXXXXXXXXXXXXXXXX'),
    },
  );
  const path = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...ROUTES) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...ROUTES), fc.string({ maxLength: 40 }))
        .map(([r, s]) => `${r}${encodeURI(s)}`),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '/../../etc/passwd',
        '/%2e%2e/%2e%2e/etc/passwd',
        '//evil.example/x',
        `/${'a'.repeat(10_000)}`,
        '/api/notes/%00',
        '/api/me?__proto__[admin]=1',
        '/bff/api/..%2f..%2fapi%2fme',
        '*',
        'http://evil.example/api/me',
      ),
    },
  );
  const headers = fc.record(
    {
      cookie: cookieArbitrary(target.validToken),
      origin: fc.oneof(
        fc.constant(target.origin),
        fc.constant('https://evil.example'),
        fc.constant('null'),
        fc.string({ maxLength: 40 }),
      ),
      site: fc.constantFrom('same-origin', 'same-site', 'cross-site', 'none', 'bogus'),
      type: fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/csp-report',
        'application/json; charset=utf-16',
        '',
      ),
      authorization: fc.oneof(fc.constant('Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), fc.string({ maxLength: 80 })),
      forwarded: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 30 })),
      extra: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.string({ maxLength: 50 })), { maxLength: 4 }),
    },
    { requiredKeys: ['cookie'] },
  );
  const body = fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    {
      weight: 2,
      arbitrary: fc
        .record({
          username: fc.oneof(fc.constant('demo'), fc.string({ maxLength: 70 })),
          password: fc.string({ maxLength: 70 }),
        })
        .map((v) => JSON.stringify(v)),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );
  return fc.tuple(method, path, headers, body, fc.boolean()).map(([m, p, h, b, duplicate]) => {
    const lines = [`${m} ${p} HTTP/1.1`, 'Host: 127.0.0.1'];
    if (h.cookie.value) lines.push(`Cookie: ${h.cookie.value}`);
    if (h.origin !== undefined) lines.push(`Origin: ${h.origin}`);
    if (h.site !== undefined) lines.push(`Sec-Fetch-Site: ${h.site}`);
    if (h.type) lines.push(`Content-Type: ${h.type}`);
    if (h.authorization !== undefined) lines.push(`Authorization: ${h.authorization}`);
    if (h.forwarded !== undefined) lines.push(`X-Forwarded-For: ${h.forwarded}`);
    for (const [name, value] of h.extra ?? []) lines.push(`${name}: ${value}`);
    if (duplicate) lines.push(`Cookie: ${h.cookie.value}`, 'Content-Length: 0');
    const payload = Buffer.from(b, 'latin1');
    lines.push(`Content-Length: ${payload.length}`, 'Connection: close', '', '');
    return {
      bytes: Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), payload]),
      path: p,
      method: m,
      hasValidCookie: h.cookie.valid && !duplicate,
      describe: `${m} ${p.slice(0, 80)} cookie=${h.cookie.valid ? 'valid' : JSON.stringify(h.cookie.value.slice(0, 40))} body=${JSON.stringify(b.slice(0, 60))}`,
    };
  });
}

/** Sends raw bytes and returns the status code (0 when the connection closed without one). */
export function sendRaw(target: FuzzTarget, bytes: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host);
    let head = '';
    let done = false;
    const finish = (status: number) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(status);
    };
    socket.setTimeout(10_000, () => finish(-1)); // a hang
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (match) finish(Number(match[1]));
      else if (head.length > 64) finish(0);
    });
    socket.on('error', () => finish(0));
    socket.on('close', () => finish(0));
    // Written, not half-closed: browsers keep their side open until the answer comes.
    socket.write(bytes);
  });
}

export async function fuzz(
  target: FuzzTarget,
  options: { requests: number; concurrency?: number; seed?: number; alive?: () => boolean },
): Promise<FuzzReport> {
  const started = performance.now();
  const report: FuzzReport = {
    requests: 0,
    byStatus: {},
    serverErrors: [],
    unauthenticatedSuccesses: [],
    noResponse: 0,
    elapsedMs: 0,
  };
  const arbitrary = requestArbitrary(target);
  const batch = 2000;
  let seed = options.seed ?? 42;
  while (report.requests < options.requests) {
    const count = Math.min(batch, options.requests - report.requests);
    const requests = fc.sample(arbitrary, { numRuns: count, seed: seed++ });
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++] as Built;
        const status = await sendRaw(target, r.bytes);
        report.requests++;
        report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
        if (status === -1 || status >= 500) report.serverErrors.push({ status, request: r.describe });
        if (status === 0) report.noResponse++;
        const route = r.path.split('?')[0] ?? '';
        if (status === 200 && r.method === 'GET' && PROTECTED.includes(route) && !r.hasValidCookie)
          report.unauthenticatedSuccesses.push({ request: r.describe });
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
    if (options.alive && !options.alive()) throw new Error(`the server died after ${report.requests} requests`);
  }
  report.elapsedMs = performance.now() - started;
  return report;
}
