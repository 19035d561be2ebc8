/**
 * The short-lived cookie of a step between two requests that is not a session (the second-factor
 * step, a passkey sign-in): `__Host-` prefixed, HttpOnly (no script reads it), Secure, and
 * SameSite=Strict (no cross-site request carries it), as long as the step may last.
 */
import { parseCookie, stringifySetCookie } from 'cookie';

const ATTRIBUTES = { path: '/', httpOnly: true, secure: true, sameSite: 'strict' } as const;
const identity = (value: string) => value;

/** `Set-Cookie` for the step's reference, living `ttl` seconds. */
export const flowCookie = (name: string, value: string, ttl: number): string =>
  stringifySetCookie(name, value, { ...ATTRIBUTES, maxAge: ttl });

/** `Set-Cookie` that ends the step's cookie at once. */
export const expiredFlowCookie = (name: string): string =>
  stringifySetCookie(name, '', { ...ATTRIBUTES, maxAge: 0, expires: new Date(0) });

/** The step's reference in a Cookie header, read as sent, if `valid` accepts it; else null. */
export function readFlowCookie(
  header: string | undefined,
  name: string,
  valid: (value: string) => boolean,
): string | null {
  if (typeof header !== 'string' || !header.includes(name)) return null;
  const value = parseCookie(header, { decode: identity })[name];
  return typeof value === 'string' && valid(value) ? value : null;
}
