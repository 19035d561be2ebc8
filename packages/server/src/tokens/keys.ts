/**
 * Access-token signing keys: make one, keep it as a private JWK and load it back, check a key
 * list, and publish the public halves as a JWKS document. EdDSA (Ed25519) by default, ES256 on
 * request; every key has a random `kid`, which every token names in its header.
 */
import { randomBytes } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { ConfigurationError, InvalidArgumentError, KeyError } from '../errors.js';

/** The signature algorithms latchkey issues and accepts: Ed25519, or P-256 where EdDSA is not supported. */
export type AccessTokenAlg = 'EdDSA' | 'ES256';

/** A signing key as `generateAccessTokenKey` and `importAccessTokenKey` make it. */
export interface AccessTokenKey {
  kid: string;
  alg: AccessTokenAlg;
  /** Absent on a key that only verifies (an older key kept until its tokens expire). */
  privateKey?: CryptoKey;
  publicKey: CryptoKey;
}

/** What a `kid` may be: it travels in every token header and selects one of our keys. */
export const KID = /^[A-Za-z0-9_-]{1,64}$/;

const isAlg = (alg: unknown): alg is AccessTokenAlg => alg === 'EdDSA' || alg === 'ES256';

/**
 * A new key pair with a random kid.
 * @example
 * const key = await generateAccessTokenKey(); // EdDSA; generateAccessTokenKey('ES256') for P-256
 * const tokens = createAccessTokens({ issuer, audience, keys: [key] });
 */
export async function generateAccessTokenKey(alg: AccessTokenAlg = 'EdDSA'): Promise<AccessTokenKey> {
  if (!isAlg(alg)) throw new InvalidArgumentError("an access token key's alg is 'EdDSA' (the default) or 'ES256'");
  const pair = await generateKeyPair(
    alg,
    alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true },
  );
  return { kid: randomBytes(9).toString('base64url'), alg, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/**
 * A key as a private JWK, to keep in a secret store or a 0600 file. The private part is in the
 * output: never log it or serve it; `jwks()` is what you publish.
 * @example
 * await writeFile('data/access-key.json', JSON.stringify(await exportAccessTokenKey(key)), { mode: 0o600 });
 */
export async function exportAccessTokenKey(key: AccessTokenKey): Promise<JWK> {
  if (!key.privateKey)
    throw new InvalidArgumentError(
      'the key has no private part to export: export the key generateAccessTokenKey() made',
    );
  return { ...(await exportJWK(key.privateKey)), kid: key.kid, alg: key.alg };
}

/**
 * A private JWK (from `exportAccessTokenKey`) back as a key.
 * @example
 * const key = await importAccessTokenKey(JSON.parse(await readFile('data/access-key.json', 'utf8')));
 */
export async function importAccessTokenKey(jwk: JWK): Promise<AccessTokenKey> {
  const alg = jwk.alg;
  if (!isAlg(alg) || typeof jwk.kid !== 'string' || !KID.test(jwk.kid) || !jwk.d)
    throw new KeyError(
      'an access token key is a private EdDSA or ES256 JWK with a kid: import what exportAccessTokenKey() wrote',
    );
  const privateKey = (await importJWK(jwk, alg, { extractable: true })) as CryptoKey;
  const { d: _private, ...pub } = jwk;
  const publicKey = (await importJWK(pub, alg, { extractable: true })) as CryptoKey;
  return { kid: jwk.kid, alg, privateKey, publicKey };
}

/**
 * A key list as an issuer needs it: not empty, newest first with its private key (it signs), each
 * kid and alg well formed, no kid twice (a kid must name exactly one key).
 */
export function checkAccessTokenKeys(keys: unknown): AccessTokenKey[] {
  if (!Array.isArray(keys) || keys.length === 0)
    throw new ConfigurationError(
      'keys must be a list of access token keys, newest first: [await generateAccessTokenKey()]',
    );
  const seen = new Set<string>();
  for (const key of keys as AccessTokenKey[]) {
    if (typeof key !== 'object' || key === null || typeof key.kid !== 'string' || !KID.test(key.kid) || !isAlg(key.alg))
      throw new ConfigurationError(
        'each access token key needs a kid of [A-Za-z0-9_-]{1,64} and alg EdDSA or ES256: make keys with generateAccessTokenKey()',
      );
    if (seen.has(key.kid))
      throw new ConfigurationError('two access token keys share a kid: each kid must name one key');
    seen.add(key.kid);
  }
  if ((keys[0] as AccessTokenKey).privateKey === undefined)
    throw new ConfigurationError('the newest access token key (the first) signs: it needs its private key');
  return [...keys];
}

/** The public halves as a JWKS document, for `/.well-known/jwks.json`. */
export async function publicJwks(keys: readonly AccessTokenKey[]): Promise<{ keys: JWK[] }> {
  const out: JWK[] = [];
  for (const key of keys) out.push({ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' });
  return { keys: out };
}
