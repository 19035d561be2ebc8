/**
 * Which address is the client's, and was the request made over HTTPS? Behind a reverse proxy the
 * socket's peer is the proxy, and the real values are in X-Forwarded-For / X-Forwarded-Proto —
 * headers any client can also send. They are believed only when the peer is a configured trusted
 * proxy (walking X-Forwarded-For from the right, past trusted hops), the way `proxy-addr` (used by
 * Express and Fastify) does it. With no trusted proxies, the socket address is the client.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import proxyAddr from 'proxy-addr';
import { ConfigurationError } from '../errors.js';

/**
 * Which reverse proxies to believe about the client's address and the scheme, from
 * `createTrustedProxies`. X-Forwarded-* headers from anyone else are ignored: any client can send them.
 *
 * @example
 * const proxies = createTrustedProxies(['10.0.0.0/8']);
 * const hardening = createNodeHardening({ csrf: { origins }, isHttps: proxies.isHttps });
 * const ip = proxies.clientAddress(req); // for the login throttle and the session's device info
 */
export interface TrustedProxies {
  /** proxy-addr's trust function; Fastify's `trustProxy` and Express's `trust proxy` accept it. */
  readonly trust: (address: string, hop: number) => boolean;
  /** The client's address: the socket peer, or the first untrusted X-Forwarded-For hop. */
  clientAddress(request: IncomingMessage): string;
  /** True on a TLS socket, or when a trusted proxy says X-Forwarded-Proto: https. */
  isHttps(request: IncomingMessage): boolean;
}

/**
 * @param proxies addresses or CIDR ranges, or proxy-addr's names `loopback`, `linklocal`, `uniquelocal`.
 * @example
 * const proxies = createTrustedProxies(['10.0.0.0/8']);
 * Fastify({ trustProxy: proxies.trust });
 */
export function createTrustedProxies(proxies: readonly string[] = []): TrustedProxies {
  let trust: (address: string, hop: number) => boolean;
  try {
    trust = proxyAddr.compile([...proxies]);
  } catch {
    throw new ConfigurationError('trusted proxies must be IP addresses, CIDR ranges or proxy-addr names');
  }
  const none = proxies.length === 0;
  const peer = (request: IncomingMessage) => request.socket.remoteAddress ?? '';
  return {
    trust,
    clientAddress: (request) => (none ? peer(request) : proxyAddr(request, trust)),
    isHttps(request) {
      if ((request.socket as TLSSocket).encrypted === true) return true;
      if (none || !trust(peer(request), 0)) return false;
      const forwarded = request.headers['x-forwarded-proto'];
      const value = Array.isArray(forwarded) ? forwarded[0] : forwarded;
      // The proxy nearest to us appends last; take the first value, which the edge proxy set.
      return value?.split(',')[0]?.trim().toLowerCase() === 'https';
    },
  };
}
