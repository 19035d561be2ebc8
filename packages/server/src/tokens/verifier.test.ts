/**
 * `createAccessTokenVerifier`, the verifying half a downstream service runs: keys from the
 * issuer's JWKS over HTTP, the same claim checks as the issuer's own `verify`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokens } from './access.js';
import { type AccessTokenKey, generateAccessTokenKey } from './keys.js';
import { type AccessTokenRevocations, createMemoryRevocations, createSharedRevocations } from './revocations.js';
import { createAccessTokenVerifier } from './verifier.js';

let key: AccessTokenKey;
let server: Server;
let jwksUrl: URL;
const issuer = 'https://auth.example';
const audience = 'api';

beforeAll(async () => {
  key = await generateAccessTokenKey();
  const tokens = createAccessTokens({ issuer, audience, keys: [key] });
  const jwks = JSON.stringify(await tokens.jwks());
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwksUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`);
});
afterAll(() => server.close());

const sign = (claims: Record<string, unknown>) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: issuer,
    aud: audience,
    sub: 'u1',
    jti: 'j1',
    iat: now,
    nbf: now,
    exp: now + 300,
    ...claims,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })
    .sign(key.privateKey as never);
};

describe('createAccessTokenVerifier', () => {
  it('checks its options at construction: jwksUrl is a URL, and no option is unknown', () => {
    expect(() => createAccessTokenVerifier({ jwksUrl: jwksUrl.href as never, issuer, audience })).toThrow(
      "jwksUrl must be a URL object: new URL('https://auth.example/.well-known/jwks.json')",
    );
    expect(() => createAccessTokenVerifier({ jwks: jwksUrl, issuer, audience } as never)).toThrow(
      /unknown option "jwks"; did you mean "jwksUrl"/,
    );
    expect(() => createAccessTokenVerifier({ jwksUrl, issuer, audience, clockSkew: 30_000 })).toThrow(
      'clockSkew is in seconds; 30000 looks like milliseconds (use 30)',
    );
  });

  it('accepts a token of the issuer, and refuses one issued in the future beyond the clock skew', async () => {
    const verifier = createAccessTokenVerifier({ jwksUrl, issuer, audience, clockSkew: 30 });
    const now = Math.floor(Date.now() / 1000);
    expect(await verifier.verify(await sign({}))).toMatchObject({ subject: 'u1', jti: 'j1' });
    expect(await verifier.verify(await sign({ iat: now + 20 }))).not.toBeNull(); // within the skew
    // nbf and exp are fine; only iat claims a time that has not come yet.
    expect(await verifier.verify(await sign({ iat: now + 120, exp: now + 300 }))).toBeNull();
  });

  it('reads a revocation list: revoked jti and subject refused, a token minted after the not-before accepted', async () => {
    const revocations = createMemoryRevocations();
    const verifier = createAccessTokenVerifier({ jwksUrl, issuer, audience, revocations });
    const issuerSide = createAccessTokens({ issuer, audience, keys: [key], revocations });
    const before = await issuerSide.issue('u2');
    const other = await issuerSide.issue('u3');
    await revocations.revokeToken(other.jti);
    await revocations.revokeSubject('u2');
    const after = await issuerSide.issue('u2'); // most likely the same second: iat rounded up
    expect(await verifier.verify(before.token)).toBeNull();
    expect(await verifier.verify(other.token)).toBeNull();
    expect(await verifier.verify(after.token)).toMatchObject({ subject: 'u2' });
  });

  it('fails closed: while the list is unavailable, every token is refused, by both verifiers', async () => {
    let down = false;
    const revocations: AccessTokenRevocations = createSharedRevocations(
      {
        append: async () => {},
        prune: async () => 0,
        read: async (cursor) => {
          if (down) throw new Error('down');
          return { entries: [], cursor };
        },
      },
      { pollInterval: 20, maxStaleness: 100 },
    );
    await revocations.ready();
    const verifier = createAccessTokenVerifier({ jwksUrl, issuer, audience, revocations });
    const own = createAccessTokens({ issuer, audience, keys: [key], revocations });
    const { token } = await own.issue('u4');
    expect(await verifier.verify(token)).not.toBeNull();
    expect(await own.verify(token)).not.toBeNull();
    down = true;
    await new Promise((r) => setTimeout(r, 250));
    expect(revocations.available()).toBe(false);
    expect(await verifier.verify(token)).toBeNull();
    expect(await own.verify(token)).toBeNull();
    down = false;
    await new Promise((r) => setTimeout(r, 100));
    expect(await verifier.verify(token)).not.toBeNull();
    await revocations.close();
  });
});
