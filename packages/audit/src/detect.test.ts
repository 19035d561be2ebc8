import { describe, expect, it } from 'vitest';
import { checkScriptBody, sourceMapUrl } from './bundle.js';
import { checkCookies, isSessionCookie } from './cookies.js';
import { classify, decodeJwt, leaves } from './detect.js';
import { checkDocumentHeaders } from './headers.js';
import { checkPageState } from './storage.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: Record<string, unknown>, alg = 'HS256') =>
  `${b64({ alg, typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;
const NOW = 1_800_000_000;

describe('what a value is', () => {
  it('decodes a JWT: algorithm, issuer, lifetime from iat to exp', () => {
    expect(decodeJwt(jwt({ iss: 'api', iat: NOW, exp: NOW + 60 }), NOW)).toEqual({
      algorithm: 'HS256',
      issuer: 'api',
      lifetime: 60,
      expired: false,
    });
    expect(decodeJwt(jwt({ sub: 'x' }, 'none'), NOW)?.lifetime).toBeUndefined();
    expect(decodeJwt('eyJub3QiOiJhIGp3dCJ9.eyJ4IjoxfQ.x', NOW)).toBeUndefined(); // no alg
  });

  it("finds the article's token inside the JSON it was stored in, with its path", () => {
    const stored = JSON.stringify({ success: true, token: `JWT ${jwt({ iat: NOW, exp: NOW + 15 })}`, username: 'ann' });
    const found = leaves('', stored).flatMap(([path, value]) => classify(path, value, NOW).map((c) => ({ path, c })));
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toBe('token');
    expect(found[0]?.c).toMatchObject({ kind: 'jwt', info: { lifetime: 15 } });
  });

  it('an opaque token under a token name, a password under a password name, an address by shape', () => {
    expect(classify('auth.accessToken', 'Zk3Jq9XbV2nL7pQw8rT1yU4sA6dF0gH5')[0]?.kind).toBe('token');
    expect(classify('user.password', 'hunter2hunter2')[0]?.kind).toBe('password');
    expect(classify('profile.contact', 'ann@example.org')[0]?.kind).toBe('personal');
    expect(classify('payment.number', '4111 1111 1111 1111')[0]?.kind).toBe('personal');
  });

  it('stays quiet on what an app keeps legitimately: notes, ids, flags, words', () => {
    for (const [path, value] of [
      ['notes[0].title', 'Shopping list for the weekend'],
      ['notes[0].body', 'milk, eggs, a passphrase idea for later'],
      ['owner', '0f8fad5b-d9cb-469f-a165-70867728950e'],
      ['theme', 'dark'],
      ['tokenCount', '12'],
      ['rememberPassword', 'true'],
      ['session.expiresAt', '2026-12-01T10:00:00.000Z'],
    ] as const)
      expect(classify(path, value), path).toEqual([]);
  });

  it('walks JSON strings, arrays and objects with bounds', () => {
    expect(leaves('x', '{"a":[{"b":"c"}]}')).toEqual([['x.a[0].b', 'c']]);
    const deep = JSON.parse(`${'{"a":'.repeat(20)}"v"${'}'.repeat(20)}`);
    expect(leaves('', deep)).toEqual([]);
  });
});

describe('headers', () => {
  const GOOD = {
    'content-security-policy':
      "default-src 'self'; script-src 'nonce-abc' 'strict-dynamic'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
  };
  const rules = (headers: Record<string, string>, url = 'http://site.test/') =>
    checkDocumentHeaders(url, headers).map((f) => f.rule);

  it('a strict nonce policy with the other headers passes', () => {
    expect(rules(GOOD)).toEqual([]);
    expect(rules({ ...GOOD, 'strict-transport-security': 'max-age=31536000' }, 'https://site.test/')).toEqual([]);
  });

  it('names each missing or weak header', () => {
    expect(rules({})).toEqual(['csp-missing', 'framing', 'nosniff', 'referrer-policy']);
    expect(rules({ ...GOOD }, 'https://site.test/')).toEqual(['hsts']);
    expect(rules({ ...GOOD, 'referrer-policy': 'unsafe-url' })).toEqual(['referrer-policy']);
    expect(rules({ ...GOOD, 'x-xss-protection': '1; mode=block' })).toEqual(['xss-protection']);
    expect(rules({ ...GOOD, 'x-xss-protection': '0' })).toEqual([]);
  });

  it("CSP: 'unsafe-inline' counts only without a nonce or hash; wildcards only without 'strict-dynamic'", () => {
    const csp = (policy: string) => rules({ ...GOOD, 'content-security-policy': policy });
    const tail = "; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
    expect(csp(`script-src 'self' 'unsafe-inline'${tail}`)).toEqual(['csp-unsafe-inline']);
    expect(csp(`script-src 'nonce-x' 'unsafe-inline'${tail}`)).toEqual([]);
    expect(csp(`script-src 'self' 'unsafe-eval'${tail}`)).toEqual(['csp-unsafe-eval']);
    expect(csp(`script-src https:${tail}`)).toEqual(['csp-wildcard']);
    expect(csp(`script-src https://*.cdn.test${tail}`)).toEqual(['csp-wildcard']);
    expect(csp(`script-src 'nonce-x' 'strict-dynamic' https:${tail}`)).toEqual([]);
    expect(csp("default-src 'self'")).toEqual(['csp-object-src', 'csp-base-uri', 'framing']);
    expect(
      rules({ ...GOOD, 'content-security-policy': "default-src 'none'; base-uri 'none'", 'x-frame-options': 'DENY' }),
    ).toEqual([]);
  });
});

describe('cookies', () => {
  const base = {
    domain: 'site.test',
    path: '/',
    expires: -1,
    httpOnly: true,
    secure: true,
    sameSite: 'Strict' as const,
  };
  it('judges session cookies only, by name or JWT value', () => {
    expect(isSessionCookie({ ...base, name: 'theme', value: 'dark' })).toBe(false);
    expect(isSessionCookie({ ...base, name: 'connect.sid', value: 's%3Aabc' })).toBe(true);
    expect(isSessionCookie({ ...base, name: 'x', value: jwt({ sub: 'user-1', iat: NOW }) })).toBe(true);
  });
  it('flags each weak attribute of a session cookie', () => {
    const found = checkCookies(
      'http://site.test/',
      [
        {
          ...base,
          name: 'session',
          value: 'v',
          httpOnly: false,
          secure: false,
          sameSite: 'None',
          expires: NOW + 90 * 86_400,
        },
      ],
      NOW,
    ).map((f) => f.rule);
    expect(found).toEqual([
      'cookie-httponly',
      'cookie-secure',
      'cookie-samesite',
      'cookie-host-prefix',
      'cookie-lifetime',
    ]);
    expect(
      checkCookies('http://site.test/', [{ ...base, name: '__Host-session', value: 'v', expires: NOW + 43_200 }], NOW),
    ).toEqual([]);
  });
});

describe('bundles', () => {
  it('finds dev origins (not the audited one), JWTs, passwords in config and secrets, with lines', async () => {
    const body = [
      'const a = "http://localhost:4200/api";',
      'const b = "http://192.168.1.20:8080";',
      'const self = "http://localhost:3000/";',
      `const t = "${jwt({ iat: NOW, exp: NOW + 86_400 })}";`,
      'const db = { password: "s3cr3t-pass" };',
      'const field = { type: "password", autoComplete: "current-password" };',
      `const gh = "${['ghp', 'Y40GaNnicu8gXumfXRJztuOj9I0W5v6inN8A'].join('_')}";`,
      'const w3 = "http://www.w3.org/2000/svg";',
    ].join('\n');
    const found = (await checkScriptBody('http://localhost:3000/app.js', body, 'http://localhost:3000')).map(
      (f) => `${f.rule}@${f.line}`,
    );
    expect(found.sort()).toEqual(
      ['bundle-dev-origin@1', 'bundle-dev-origin@2', 'bundle-jwt@4', 'bundle-password@5', 'bundle-secret@7'].sort(),
    );
  });

  it('reads the source map reference from the header or the last comment', () => {
    expect(sourceMapUrl('http://s.test/js/app.js', 'x()\n//# sourceMappingURL=app.js.map', {})).toBe(
      'http://s.test/js/app.js.map',
    );
    expect(sourceMapUrl('http://s.test/app.js', 'x()', { sourcemap: '/maps/app.map' })).toBe(
      'http://s.test/maps/app.map',
    );
    expect(sourceMapUrl('http://s.test/app.js', 'x()', {})).toBeUndefined();
  });

  it('never prints a secret whole', async () => {
    const token = ['ghp', 'Y40GaNnicu8gXumfXRJztuOj9I0W5v6inN8A'].join('_');
    const [found] = await checkScriptBody('http://s.test/app.js', `const k = "${token}";`, 'http://s.test');
    expect(found?.detail).not.toContain(token);
    expect(found?.detail).toBe('GitHub token: ghp_…nN8A (40 characters).');
  });
});

describe('storage', () => {
  const empty = {
    localStorage: {},
    sessionStorage: {},
    indexedDB: {},
    caches: {},
    cookie: '',
    globals: {},
    scripts: [],
    links: [],
    metaCsp: [],
  };
  it('finds an API key, a JWT, a password and an address wherever a script can read them, and says where', async () => {
    const token = ['ghp', 'Y40GaNnicu8gXumfXRJztuOj9I0W5v6inN8A'].join('_');
    const found = await checkPageState('http://s.test/', {
      ...empty,
      localStorage: { settings: JSON.stringify({ github: { token } }) },
      sessionStorage: { auth: JSON.stringify({ jwt: jwt({ iss: 'api', iat: NOW, exp: NOW + 7 * 86_400 }) }) },
      indexedDB: { 'app/users': [{ name: 'Ann', email: 'ann@example.org', password: 'hunter2hunter2' }] },
      globals: { __CONFIG__: { apiToken: 'Zk3Jq9XbV2nL7pQw8rT1yU4sA6dF0gH5' } },
      scripts: [
        { src: 'https://cdn.test/lib.js', integrity: null },
        { src: 'https://cdn.test/ok.js', integrity: 'sha384-x' },
      ],
    });
    expect(found.map((f) => `${f.rule} @ ${f.where}`).sort()).toEqual(
      [
        'storage-secret @ localStorage["settings"] github.token',
        'storage-jwt @ sessionStorage["auth"] jwt',
        'storage-jwt-lifetime @ sessionStorage["auth"] jwt',
        'storage-personal-data @ IndexedDB app/users [0].email',
        'storage-password @ IndexedDB app/users [0].password',
        'storage-token @ window.__CONFIG__ apiToken',
        'script-sri @ <script src>',
      ].sort(),
    );
    expect(JSON.stringify(found)).not.toContain(token);
    expect(JSON.stringify(found)).not.toContain('hunter2hunter2');
  });
});
