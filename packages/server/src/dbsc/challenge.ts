/**
 * DBSC challenges and bound cookies, both signed with the session key ring under labels of their
 * own, so neither can pass for the other or for a session token.
 *
 * A challenge is `<issuedAt base36>.<nonce>.<mac>`, the mac covering its purpose and session id:
 * a challenge minted for one session, or for registration, proves nothing for another session or
 * for a refresh. It holds no state. What makes it single-use is the binding's `provenAt`: a proof
 * is accepted only for a challenge issued after the last accepted one, and the store moves
 * `provenAt` forward by compare-and-set, so a challenge answers at most once.
 *
 * A bound cookie is `<expires, seconds>.<mac>`, the mac covering the session id and the key's
 * thumbprint: it is worth something only next to that session while that key is bound to it.
 */
import { randomBytes } from 'node:crypto';
import type { KeyRing } from '../sessions/key-ring.js';

/** What a challenge is for; a challenge for one purpose never answers the other. */
export type ChallengePurpose = 'register' | 'refresh';

const CHALLENGE = /^([0-9a-z]{1,11})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;
const BOUND = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

// NUL separators: none of the parts can contain one, so no two inputs sign the same text.
const challengeText = (purpose: ChallengePurpose, sessionId: string, issued: string, nonce: string) =>
  `latchkey dbsc challenge\0${purpose}\0${sessionId}\0${issued}\0${nonce}`;
const boundText = (sessionId: string, thumbprint: string, expires: string) =>
  `latchkey dbsc bound\0${sessionId}\0${thumbprint}\0${expires}`;

/** A fresh challenge for `purpose` and this session, issued at `now` (ms). */
export function mintChallenge(ring: KeyRing, purpose: ChallengePurpose, sessionId: string, now: number): string {
  const issued = now.toString(36);
  const nonce = randomBytes(12).toString('base64url');
  return `${issued}.${nonce}.${ring.sign(challengeText(purpose, sessionId, issued, nonce))}`;
}

/** When `challenge` was issued (ms), if it is ours, for `purpose` and this session; else `null`. Expiry is the caller's. */
export function readChallenge(
  ring: KeyRing,
  purpose: ChallengePurpose,
  sessionId: string,
  challenge: unknown,
): number | null {
  if (typeof challenge !== 'string') return null;
  const match = CHALLENGE.exec(challenge);
  if (match === null) return null;
  const [, issued, nonce, mac] = match as unknown as [string, string, string, string];
  if (!ring.verify(challengeText(purpose, sessionId, issued, nonce), mac)) return null;
  return Number.parseInt(issued, 36);
}

/** The bound cookie's value for this session and key, valid until `expires` (seconds since the epoch). */
export function boundCookieValue(ring: KeyRing, sessionId: string, thumbprint: string, expires: number): string {
  const text = String(expires);
  return `${text}.${ring.sign(boundText(sessionId, thumbprint, text))}`;
}

/** True when `value` is a bound cookie for this session and key that has not expired at `now` (ms). */
export function checkBoundCookie(
  ring: KeyRing,
  sessionId: string,
  thumbprint: string,
  value: string | null,
  now: number,
): boolean {
  if (value === null) return false;
  const match = BOUND.exec(value);
  if (match === null) return false;
  const [, expires, mac] = match as unknown as [string, string, string];
  if (Number(expires) * 1000 <= now) return false;
  return ring.verify(boundText(sessionId, thumbprint, expires), mac);
}
