import { createHmac } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { manualClock, SECOND } from '../test/clock.js';
import { type AccessTokenOptions, createAccessTokens } from './access.js';
import { type AccessTokenKey, generateAccessTokenKey } from './keys.js';
import { createMemoryRevocations } from './revocations.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
let key: AccessTokenKey;
let older: AccessTokenKey;
beforeAll(async () => {
  key = await generateAccessTokenKey();
  older = await generateAccessTokenKey('ES256');
});

function setup(overrides: Partial<AccessTokenOptions> = {}) {
  const clock = manualClock();
  const revocations = createMemoryRevocations(clock.now);
  const tokens = createAccessTokens({
    issuer: 'https://auth.example',
    audience: 'api',
    keys: [key],
    revocations,
    now: clock.now,
    allowedClaims: ['scope'],
    ...overrides,
  });
  return { clock, revocations, tokens };
}

/** Signs with our own private key but lets the test choose header and claims. */
const forge = (header: Record<string, unknown>, claims: Record<string, unknown>, now: number) =>
  new SignJWT({
    iss: 'https://auth.example',
    aud: 'api',
    sub: 'u1',
    jti: 'j1',
    iat: now,
    nbf: now,
    exp: now + 300,
    ...claims,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt', ...header } as never)
    .sign(key.privateKey as never);

describe('access tokens', () => {
  it('issues EdDSA tokens with kid and typ, and verifies them with their allowed claims', async () => {
    const { tokens } = setup();
    const { token, jti } = await tokens.issue('u1', { scope: 'notes:read' });
    const [header] = token.split('.');
    expect(JSON.parse(Buffer.from(header as string, 'base64url').toString())).toEqual({
      alg: 'EdDSA',
      kid: key.kid,
      typ: 'at+jwt',
    });
    expect(await tokens.verify(token)).toMatchObject({ subject: 'u1', jti, claims: { scope: 'notes:read' } });
  });

  it('J7: refuses claims outside the allowlist, and registered claims from the caller', async () => {
    const { tokens } = setup();
    await expect(tokens.issue('u1', { email: 'a@b.c' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(tokens.issue('u1', { sub: 'admin' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('J3: a lifetime over one hour is a configuration error', () => {
    expect(() => setup({ lifetime: 3601 })).toThrow(ConfigurationError);
    expect(() => setup({ lifetime: 3600 })).not.toThrow();
    expect(() => setup({ lifetime: 300_000 })).toThrow(
      'lifetime is in seconds; 300000 looks like milliseconds (use 300)',
    );
  });

  it('checks its options at construction, and each error names the fix', async () => {
    const fails = (overrides: Record<string, unknown>, message: RegExp) =>
      expect(() => setup(overrides as Partial<AccessTokenOptions>)).toThrow(message);
    fails({ expiresIn: 60 }, /unknown option "expiresIn"; did you mean "lifetime"/);
    fails({ issuer: '' }, /issuer must be your issuer URL/);
    fails({ audience: undefined }, /audience is required/);
    fails({ keys: [] }, /keys must be a list of access token keys, newest first/);
    fails({ keys: ['secret-from-env'] }, /each access token key needs a kid .* generateAccessTokenKey\(\)/);
    fails({ keys: [key, { ...older, kid: key.kid }] }, /two access token keys share a kid/);
    const { privateKey: _, ...verifyOnly } = key;
    fails({ keys: [verifyOnly, older] }, /the newest access token key \(the first\) signs: it needs its private key/);
    fails({ allowedClaims: ['sub'] }, /allowedClaims lists a claim the issuer sets itself/);
    fails({ allowedClaims: 'scope' }, /allowedClaims must be a list of claim names/);
    fails(
      { revocations: {} },
      /revocations must be an AccessTokenRevocations \(an object lacks revokeToken, .*\): pass createMemoryRevocations\(\)/,
    );
    fails({ clockSkew: -1 }, /clockSkew must be a number of seconds from 0 to 60; got -1/);
    for (const call of [
      () => setup({ keys: ['s3cr3t-value'] as never }),
      () => setup({ issuer: 's3cr3t-value' as never, audience: 42 as never }),
    ])
      expect(call).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cr3t') }));
    await expect(generateAccessTokenKey('RS256' as never)).rejects.toThrow(InvalidArgumentError);
  });

  it('J1: alg none is rejected, even with our kid', async () => {
    const { tokens, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    const unsigned = `${b64({ alg: 'none', kid: key.kid, typ: 'at+jwt' })}.${b64({ iss: 'https://auth.example', aud: 'api', sub: 'u1', jti: 'x', iat: now, nbf: now, exp: now + 60 })}.`;
    expect(await tokens.verify(unsigned)).toBeNull();
  });

  it('J1: an HS256 token signed with our public key is rejected', async () => {
    const { tokens, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    const signingInput = `${b64({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' })}.${b64({ iss: 'https://auth.example', aud: 'api', sub: 'admin', jti: 'x', iat: now, nbf: now, exp: now + 60 })}`;
    for (const secret of [
      await exportSPKI(key.publicKey),
      JSON.stringify(await exportJWK(key.publicKey)),
      (await exportJWK(key.publicKey)).x as string,
    ]) {
      const mac = createHmac('sha256', secret).update(signingInput).digest('base64url');
      expect(await tokens.verify(`${signingInput}.${mac}`)).toBeNull();
    }
  });

  it('J2: a token that carries its own key (jwk) or points to one (jku, x5u) is rejected', async () => {
    const { tokens, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(attacker.publicKey);
    for (const header of [
      { jwk },
      { jku: 'https://evil.example/jwks.json' },
      { x5u: 'https://evil.example/cert.pem' },
    ]) {
      const token = await new SignJWT({
        iss: 'https://auth.example',
        aud: 'api',
        sub: 'admin',
        jti: 'x',
        iat: now,
        nbf: now,
        exp: now + 60,
      })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt', ...header } as never)
        .sign(attacker.privateKey);
      expect(await tokens.verify(token)).toBeNull();
      // Even signed by our own key, a token with such a header is refused.
      expect(await tokens.verify(await forge(header, {}, now))).toBeNull();
    }
  });

  it('J2: an unknown or odd kid is rejected', async () => {
    const { tokens, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    for (const kid of ['nope', '../../etc/passwd', "' OR 1=1 --", ''])
      expect(await tokens.verify(await forge({ kid }, {}, now))).toBeNull();
  });

  it('J3: wrong aud, iss or typ, and missing jti are rejected', async () => {
    const { tokens, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    expect(await tokens.verify(await forge({}, {}, now))).not.toBeNull(); // the baseline is valid
    expect(await tokens.verify(await forge({}, { aud: 'other-api' }, now))).toBeNull();
    expect(await tokens.verify(await forge({}, { iss: 'https://evil.example' }, now))).toBeNull();
    expect(await tokens.verify(await forge({ typ: 'JWT' }, {}, now))).toBeNull();
    expect(await tokens.verify(await forge({}, { jti: undefined }, now))).toBeNull();
    expect(await tokens.verify(await forge({}, { exp: now + 3601 }, now))).toBeNull(); // minted too long
  });

  it('J3: expired and not-yet-valid tokens are rejected, with a small skew', async () => {
    const { tokens, clock } = setup({ lifetime: 300, clockSkew: 30 });
    const { token } = await tokens.issue('u1');
    clock.advance(329 * SECOND);
    expect(await tokens.verify(token)).not.toBeNull();
    clock.advance(2 * SECOND);
    expect(await tokens.verify(token)).toBeNull();
    const now = Math.floor(clock.now() / 1000);
    expect(await tokens.verify(await forge({}, { nbf: now + 120, exp: now + 300 }, now))).toBeNull();
  });

  it('R4: a revoked token stays revoked in every encoding; a user not-before revokes older tokens', async () => {
    const { tokens, revocations, clock } = setup();
    const { token, jti } = await tokens.issue('u1');
    await revocations.revokeToken(jti);
    expect(await tokens.verify(token)).toBeNull();
    const [h, p, s] = token.split('.') as [string, string, string];
    const variants = [
      `${h}.${p}.${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`,
      `${h}.${p}.${s}=`,
      `${h}.${Buffer.from(JSON.stringify(JSON.parse(Buffer.from(p, 'base64url').toString()), null, 1)).toString('base64url')}.${s}`,
    ];
    for (const copy of variants) expect(await tokens.verify(copy)).toBeNull();

    const a = await tokens.issue('u2');
    const b = await tokens.issue('u3');
    clock.advance(SECOND);
    await revocations.revokeSubject('u2');
    expect(await tokens.verify(a.token)).toBeNull();
    expect(await tokens.verify(b.token)).not.toBeNull();
    clock.advance(SECOND);
    expect(await tokens.verify((await tokens.issue('u2')).token)).not.toBeNull();
  });

  it('R4: not-before in the same second as iat: every older token refused, every newer one accepted', async () => {
    const { tokens, revocations, clock } = setup();
    clock.set(1_800_000_000_400); // 400 ms into a second
    const before = await tokens.issue('u9');
    clock.advance(300);
    await revocations.revokeSubject('u9'); // at …700 ms
    clock.advance(100);
    const after = await tokens.issue('u9'); // at …800 ms: the same second as the revocation
    expect(await tokens.verify(before.token)).toBeNull();
    expect(await tokens.verify(after.token)).not.toBeNull();
    // Its iat is the revocation's second rounded up (≤ 1 s ahead): not refused as "from the future",
    // even with no skew at all, and its lifetime is not stretched.
    const strict = setup({ clockSkew: 0 });
    strict.clock.set(1_800_000_000_400);
    await strict.revocations.revokeSubject('u9');
    const next = await strict.tokens.issue('u9');
    expect(await strict.tokens.verify(next.token)).not.toBeNull();
    expect(next.expiresAt).toBe(1_800_000_000_000 + 300 * SECOND);
    clock.advance(SECOND);
    expect(await tokens.verify(before.token)).toBeNull();
    expect(await tokens.verify(after.token)).not.toBeNull();
  });

  it('rotates keys: the newest signs, older keys verify until dropped; JWKS holds only public keys', async () => {
    const before = setup({ keys: [older] });
    const old = (await before.tokens.issue('u1')).token;
    const rotated = setup({ keys: [key, { ...older, privateKey: undefined }] });
    expect(await rotated.tokens.verify(old)).not.toBeNull();
    const fresh = (await rotated.tokens.issue('u1')).token;
    expect(JSON.parse(Buffer.from(fresh.split('.')[0] as string, 'base64url').toString()).kid).toBe(key.kid);
    expect(await setup({ keys: [key] }).tokens.verify(old)).toBeNull();
    const { keys } = await rotated.tokens.jwks();
    expect(keys.map((k) => [k.kid, k.alg, k.use])).toEqual([
      [key.kid, 'EdDSA', 'sig'],
      [older.kid, 'ES256', 'sig'],
    ]);
    expect(keys.some((k) => 'd' in k)).toBe(false);
  });

  it('garbage is null, never an exception', async () => {
    const { tokens } = setup();
    for (const junk of ['', 'a.b.c', 'eyJ.eyJ.', '...', 'x'.repeat(10_000), null, 42])
      expect(await tokens.verify(junk as string)).toBeNull();
  });
});

describe('the hand-written verification path (node:crypto) refuses malformed tokens', () => {
  it('refuses odd encodings, shapes and claim types, signed with our own key', async () => {
    const { tokens, clock } = setup();
    const now = Math.floor(clock.now() / 1000);
    const good = await forge({}, {}, now);
    expect(await tokens.verify(good)).not.toBeNull();
    const [h, p, s] = good.split('.') as [string, string, string];
    const attempts = [
      `${h}.${p}.${s}=`, // padding is not base64url
      `${h}.${p}.${s}.${s}`, // four segments
      `${h}.${p}`,
      `${h}..${s}`,
      `${h}.${p}.${s.slice(0, -2)}`, // short signature
      `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' })}.${s}`, // payload swapped
      ` ${good}`,
      `${good}\n`,
      'x'.repeat(9000),
    ];
    for (const token of attempts) expect(await tokens.verify(token), token.slice(0, 30)).toBeNull();
    for (const claims of [
      { exp: String(now + 300) },
      { iat: -1 },
      { sub: '' },
      { jti: 5 },
      { aud: ['other'] },
      { nbf: null },
    ])
      expect(await tokens.verify(await forge({}, claims, now)), JSON.stringify(claims)).toBeNull();
    expect(await tokens.verify(await forge({ typ: 'JWT' }, {}, now))).toBeNull();
    expect(await tokens.verify(await forge({}, { aud: ['other', 'api'] }, now))).not.toBeNull(); // an array holding ours
  });

  it('refuses an array or a non-JSON payload under a valid signature', async () => {
    const { tokens } = setup();
    const head = b64({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' });
    const { sign } = await import('node:crypto');
    const { KeyObject } = await import('node:crypto');
    for (const payload of [Buffer.from('[1,2]').toString('base64url'), Buffer.from('not json').toString('base64url')]) {
      const sig = sign(null, Buffer.from(`${head}.${payload}`), KeyObject.from(key.privateKey as never)).toString(
        'base64url',
      );
      expect(await tokens.verify(`${head}.${payload}.${sig}`)).toBeNull();
    }
  });
});
