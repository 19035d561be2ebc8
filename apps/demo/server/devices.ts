/**
 * The device cookie: a random id per browser that lets the login throttle tell the user's own
 * browser from an attacker's, whatever network it is on (a device that logged in to the account
 * before has its own count). HttpOnly and `__Host-` like the session cookie; it names no account.
 * Kept 400 days (the most browsers allow); a logout's Clear-Site-Data removes it with the rest.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { LoginThrottle } from 'latchkey/password';

export interface Devices {
  /** The device id the browser sent, if it is well formed. */
  of(request: FastifyRequest): string | undefined;
  /**
   * After a good password: a browser without a device id gets a new one, known to the throttle
   * for this account from now on. `device` is what `of(request)` read.
   */
  know(request: FastifyRequest, username: string, device: string | undefined): Promise<void>;
  /** A new account: its address and browser are known to the throttle. */
  remember(request: FastifyRequest, username: string): Promise<void>;
  /** This browser's device id: the one it sent, or the one given during this request. */
  current(request: FastifyRequest): string | undefined;
  /** The `Set-Cookie` value for a device id given during this request, if any. */
  newCookie(request: FastifyRequest): string | undefined;
}

/**
 * @example
 * const devices = createDevices(throttle);
 * api.addHook('onSend', async (request, reply) => {
 *   const cookie = devices.newCookie(request);
 *   if (cookie && reply.statusCode < 400) reply.header('set-cookie', cookie);
 * });
 */
export function createDevices(throttle: LoginThrottle): Devices {
  const given = new WeakMap<FastifyRequest, string>();
  const of = (request: FastifyRequest) =>
    /(?:^|;\s*)__Host-device=([A-Za-z0-9_-]{22})(?:;|$)/.exec(request.headers.cookie ?? '')?.[1];
  const know = async (request: FastifyRequest, username: string, device: string | undefined) => {
    if (device) return;
    const fresh = randomBytes(16).toString('base64url');
    given.set(request, fresh);
    await throttle.remember(username, request.ip, { device: fresh });
  };
  return {
    of,
    know,
    async remember(request, username) {
      const device = of(request);
      await throttle.remember(username, request.ip, { device });
      await know(request, username, device);
    },
    current: (request) => of(request) ?? given.get(request),
    newCookie(request) {
      const fresh = given.get(request);
      return fresh && `__Host-device=${fresh}; Path=/; Max-Age=34560000; HttpOnly; Secure; SameSite=Strict`;
    },
  };
}
