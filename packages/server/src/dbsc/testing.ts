/**
 * `latchkey/dbsc/testing`: a software DBSC browser key for tests, so an app's device-bound routes
 * can be driven (and attacked) over HTTP without a browser. It signs what Chromium signs: a
 * compact JWS with `typ: dbsc+jwt` and `{"jti": <challenge>}`, the public key in the header at
 * registration. Not for production: the private key lives in this process.
 *
 * @example
 * import { createSoftDeviceKey, readRegistrationHeader } from 'latchkey/dbsc/testing';
 * const device = await createSoftDeviceKey();
 * const offer = readRegistrationHeader(loginReply.headers.get('secure-session-registration'));
 * await fetch(offer.path, { method: 'POST', headers: { cookie, 'secure-session-response': await device.register(offer.challenge) } });
 */
import { CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { DeviceAlgorithm } from './proof.js';

/** A key pair in this process that answers DBSC challenges. */
export interface SoftDeviceKey {
  readonly algorithm: DeviceAlgorithm;
  /** The public key as a JWK. */
  readonly publicJwk: JWK;
  /** The registration proof: the public key in the header, `jti` = `challenge`. */
  register(challenge: string, overrides?: ProofOverrides): Promise<string>;
  /** A refresh proof: signed with this key, no key in the header. */
  refresh(challenge: string, overrides?: ProofOverrides): Promise<string>;
}

/** Knobs for attack tests: a proof with another `typ`, another `alg` label, or extra claims. */
export interface ProofOverrides {
  typ?: string;
  /** The `jwk` header to send instead of this key's (registration only). */
  jwk?: JWK;
  /** Replaces the payload (`{ jti: challenge }`). */
  payload?: Record<string, unknown>;
}

/**
 * @example
 * const device = await createSoftDeviceKey('ES256');
 * const proof = await device.refresh(challenge);
 */
export async function createSoftDeviceKey(algorithm: DeviceAlgorithm = 'ES256'): Promise<SoftDeviceKey> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const sign = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
    new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: algorithm, ...header })
      .sign(privateKey);
  return {
    algorithm,
    publicJwk,
    register: (challenge, o = {}) =>
      sign({ typ: o.typ ?? 'dbsc+jwt', jwk: o.jwk ?? publicJwk }, o.payload ?? { jti: challenge }),
    refresh: (challenge, o = {}) => sign({ typ: o.typ ?? 'dbsc+jwt' }, o.payload ?? { jti: challenge }),
  };
}

/** The parts of a `Secure-Session-Registration` header: what the browser reads from a login. */
export function readRegistrationHeader(value: string | null | undefined): {
  algorithms: string[];
  path: string;
  challenge: string;
} {
  const match = /^\(([A-Z0-9 ]+)\);path="([^"]+)";challenge="([^"]+)"$/.exec(value ?? '');
  if (match === null) throw new Error('not a Secure-Session-Registration header');
  return { algorithms: (match[1] as string).split(' '), path: match[2] as string, challenge: match[3] as string };
}

/** The parts of a `Secure-Session-Challenge` header: the challenge, and the session it is for. */
export function readChallengeHeader(value: string | null | undefined): { challenge: string; id: string } {
  const match = /^"([^"]+)";id="([^"]+)"$/.exec(value ?? '');
  if (match === null) throw new Error('not a Secure-Session-Challenge header');
  return { challenge: match[1] as string, id: match[2] as string };
}
