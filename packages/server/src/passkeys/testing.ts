/**
 * `latchkey/passkeys/testing`: a software WebAuthn authenticator for an app's Node tests: real P-256
 * keys, real CBOR authenticator data, real signatures, with knobs a hardware one does not have (the
 * origin it claims, the counter it sends, its flags), so passkey routes can be tested, and
 * attacked, over HTTP without a browser. For a real browser, Chromium's virtual authenticator
 * (the DevTools protocol's WebAuthn domain) does the same. Never use it outside tests.
 *
 * @example
 * const phone = createSoftAuthenticator({ origin: 'https://example.com' });
 * const { options } = await post('/api/account/passkeys/options');
 * await post('/api/account/passkeys', { response: phone.register(options) });
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

/** The options JSON a server sent (as `latchkey/passkeys` returns it). */
export interface WebAuthnOptions {
  challenge: string;
  rpId?: string;
  [key: string]: unknown;
}

/** A credential the software authenticator made: its private key stays here, as on a device. */
export interface SoftCredential {
  id: string;
  privateKey: KeyObject;
  x: Buffer;
  y: Buffer;
  userHandle: string;
  counter: number;
}

/** Options of `createSoftAuthenticator`. */
export interface SoftAuthenticatorOptions {
  /** The origin the "browser" puts in clientDataJSON. */
  origin: string;
  /** The rp id hashed into the authenticator data (default: the options' rp id). */
  rpId?: string;
  /** Counter step per signature; 0 for an authenticator that keeps no counter. Default 1. */
  counterStep?: number;
  backupEligible?: boolean;
  backedUp?: boolean;
  userVerified?: boolean;
}

/** A software authenticator, from `createSoftAuthenticator`. */
export interface SoftAuthenticator {
  /** What it holds, oldest first. */
  credentials: SoftCredential[];
  /** Answers `navigator.credentials.create(options)`; with `reuse`, presents that credential again. */
  register(options: WebAuthnOptions, reuse?: SoftCredential): Record<string, unknown> & { id: string };
  /** Answers `navigator.credentials.get(options)` with `cred` (default: the first it made). */
  authenticate(options: WebAuthnOptions, cred?: SoftCredential): Record<string, unknown> & { id: string };
}

/**
 * @example
 * const key = createSoftAuthenticator({ origin: 'https://example.com', backupEligible: true });
 */
export function createSoftAuthenticator(o: SoftAuthenticatorOptions): SoftAuthenticator {
  const credentials: SoftCredential[] = [];
  const step = o.counterStep ?? 1;
  const flags = (extra: number) =>
    0x01 | (o.userVerified === false ? 0 : 0x04) | (o.backupEligible ? 0x08 : 0) | (o.backedUp ? 0x10 : 0) | extra;
  const counterBytes = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const clientData = (type: string, challenge: string) =>
    Buffer.from(JSON.stringify({ type, challenge, origin: o.origin, crossOrigin: false }));

  return {
    credentials,
    /** Answers `navigator.credentials.create(options)`; with `reuse`, presents that credential again. */
    register(options: WebAuthnOptions, reuse?: SoftCredential) {
      const rp = options.rp as { id?: string } | undefined;
      const user = options.user as { id: string };
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const cred: SoftCredential = reuse ?? {
        id: b64(randomBytes(32)),
        privateKey,
        x: Buffer.from(jwk.x as string, 'base64url'),
        y: Buffer.from(jwk.y as string, 'base64url'),
        userHandle: user.id,
        counter: 0,
      };
      if (reuse === undefined) credentials.push(cred);
      const cose = isoCBOR.encode(
        new Map<number, number | Uint8Array>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, new Uint8Array(cred.x)],
          [-3, new Uint8Array(cred.y)],
        ]),
      );
      const idBytes = Buffer.from(cred.id, 'base64url');
      const idLen = Buffer.alloc(2);
      idLen.writeUInt16BE(idBytes.length);
      const authData = Buffer.concat([
        sha256(o.rpId ?? rp?.id ?? ''),
        Buffer.from([flags(0x40)]),
        counterBytes(cred.counter),
        Buffer.alloc(16), // aaguid: none
        idLen,
        idBytes,
        Buffer.from(cose),
      ]);
      const attestationObject = isoCBOR.encode(
        new Map<string, unknown>([
          ['fmt', 'none'],
          ['attStmt', new Map()],
          ['authData', new Uint8Array(authData)],
        ]) as never,
      );
      return {
        id: cred.id,
        rawId: cred.id,
        type: 'public-key',
        response: {
          clientDataJSON: b64(clientData('webauthn.create', options.challenge)),
          attestationObject: b64(attestationObject),
          transports: ['internal'],
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
    /** Answers `navigator.credentials.get(options)` with `cred` (default: the first registered). */
    authenticate(options: WebAuthnOptions, cred = credentials[0] as SoftCredential) {
      cred.counter += step;
      const authData = Buffer.concat([
        sha256(o.rpId ?? options.rpId ?? ''),
        Buffer.from([flags(0)]),
        counterBytes(cred.counter),
      ]);
      const cd = clientData('webauthn.get', options.challenge);
      const signature = sign('sha256', Buffer.concat([authData, sha256(cd)]), cred.privateKey);
      return {
        id: cred.id,
        rawId: cred.id,
        type: 'public-key',
        response: {
          clientDataJSON: b64(cd),
          authenticatorData: b64(authData),
          signature: b64(signature),
          userHandle: cred.userHandle,
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
  };
}
