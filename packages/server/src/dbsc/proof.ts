/**
 * The browser's proofs (DBSC `Secure-Session-Response`): a compact JWS with `typ: dbsc+jwt` whose
 * payload's `jti` is the challenge. At registration the header carries the new public key (`jwk`)
 * and the proof shows the browser holds its private half; at refresh it is signed with the key
 * already bound, and the header's own key, if any, is ignored. Verified with jose.
 */
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, EmbeddedJWK, importJWK, type JWK } from 'jose';
import type { SessionBinding } from '../stores/store.js';

/** The signature algorithms DBSC browsers offer, strongest first. */
export const DEVICE_ALGORITHMS = ['ES256', 'RS256'] as const;
/** One of `DEVICE_ALGORITHMS`. */
export type DeviceAlgorithm = (typeof DEVICE_ALGORITHMS)[number];

const TYP = 'dbsc+jwt';
// An RS256 proof with a 4096-bit key in its header is about 1.5 kB; nothing honest is near this.
const MAX_PROOF_CHARS = 8192;
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A registration proof that verified: the key to bind and the challenge it answered. */
export interface RegistrationProof {
  publicKey: Record<string, string>;
  algorithm: DeviceAlgorithm;
  thumbprint: string;
  challenge: string;
}

/** The header of a proof, if it is a well-formed compact JWS of ours with an allowed algorithm. */
function header(proof: unknown, algorithms: readonly string[]) {
  if (typeof proof !== 'string' || proof.length > MAX_PROOF_CHARS || !COMPACT.test(proof)) return null;
  try {
    const h = decodeProtectedHeader(proof);
    // The type is the draft's: a JWS made for any other purpose by the same key is not a proof.
    if (h.typ !== TYP || typeof h.alg !== 'string' || !algorithms.includes(h.alg)) return null;
    return h as typeof h & { alg: DeviceAlgorithm };
  } catch {
    return null;
  }
}

async function challengeOf(payload: Uint8Array): Promise<string | null> {
  try {
    const claims: unknown = JSON.parse(new TextDecoder().decode(payload));
    if (claims === null || typeof claims !== 'object') return null;
    const jti = (claims as { jti?: unknown }).jti;
    return typeof jti === 'string' ? jti : null;
  } catch {
    return null;
  }
}

/**
 * The `jti` a proof claims, read without checking anything: only to look at the challenge (an
 * HMAC, cheap) before the signature (which may be RSA with a key the sender chose). `null` for
 * anything that is not a compact JWS with a string `jti`.
 */
export function claimedChallenge(proof: unknown): string | null {
  if (typeof proof !== 'string' || proof.length > MAX_PROOF_CHARS || !COMPACT.test(proof)) return null;
  const payload = proof.slice(proof.indexOf('.') + 1, proof.lastIndexOf('.'));
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const jti = claims !== null && typeof claims === 'object' ? (claims as { jti?: unknown }).jti : undefined;
    return typeof jti === 'string' ? jti : null;
  } catch {
    return null;
  }
}

/** Only the public members a key of this type has: a private `d` or stray member is never stored. */
function publicMembers(jwk: JWK, algorithm: DeviceAlgorithm): Record<string, string> | null {
  if (typeof jwk !== 'object' || jwk === null || 'd' in jwk) return null;
  if (algorithm === 'ES256') {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return null;
    return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  }
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') return null;
  // At most 4096 bits (jose sets the floor, 2048): a bigger key only makes every check dearer.
  if (Buffer.from(jwk.n, 'base64url').length > 512) return null;
  return { kty: 'RSA', n: jwk.n, e: jwk.e };
}

/** A registration proof signed by the key in its own header; `null` for anything else. */
export async function verifyRegistrationProof(
  proof: unknown,
  algorithms: readonly DeviceAlgorithm[],
): Promise<RegistrationProof | null> {
  const h = header(proof, algorithms);
  if (h === null || h.jwk === undefined) return null;
  const publicKey = publicMembers(h.jwk, h.alg);
  if (publicKey === null) return null;
  try {
    // jose refuses RSA keys under 2048 bits and private keys in the header.
    const { payload } = await compactVerify(proof as string, EmbeddedJWK, { algorithms: [h.alg] });
    const challenge = await challengeOf(payload);
    if (challenge === null) return null;
    return { publicKey, algorithm: h.alg, thumbprint: await calculateJwkThumbprint(publicKey, 'sha256'), challenge };
  } catch {
    return null;
  }
}

/** The challenge a refresh proof answers, if the bound key signed it with the bound algorithm; else `null`. */
export async function verifyRefreshProof(proof: unknown, binding: Readonly<SessionBinding>): Promise<string | null> {
  // The algorithm is the one fixed at registration: a proof cannot pick another (no downgrade).
  const h = header(proof, [binding.algorithm]);
  if (h === null) return null;
  try {
    const key = await importJWK(binding.publicKey as JWK, binding.algorithm);
    const { payload } = await compactVerify(proof as string, key, { algorithms: [binding.algorithm] });
    return await challengeOf(payload);
  } catch {
    return null;
  }
}
