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
  /**
   * True on a TLS socket, or when the trusted proxies say X-Forwarded-Proto: https. Of several
   * values, the one the outermost trusted proxy added: as many from the right as there are trusted
   * hops in X-Forwarded-For. That holds while each trusted proxy sets X-Forwarded-Proto, or appends
   * one value for the one address it appends: a proxy that passes it on untouched, or adds two
   * addresses for one value, shifts the count onto a value the client may have sent. Best: the
   * proxy nearest the app sets it. As with addresses, a client whose own address is trusted can
   * write both.
   */
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
      if (forwarded === undefined) return false;
      const values = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded).split(',');
      // Proxies that append each add the scheme they were reached by, as they add the address
      // they were reached from to X-Forwarded-For: the client's scheme is as far from the right as
      // the client's address is, counted in trusted hops. Why not the first value: behind a
      // proxy that appends, it is whatever the client sent; nor the last: behind two, it is the
      // inner proxy's (http from the edge). One value (a proxy that sets it) is read as it is.
      const hops = values.length === 1 ? 1 : Math.max(1, proxyAddr.all(request, trust).length - 1);
      return values[Math.max(0, values.length - hops)]?.trim().toLowerCase() === 'https';
    },
  };
}
