/**
 * Deadlines and a connection cap for a Node HTTP(S) server. Node's own defaults leave a door open
 * (and Fastify turns the request deadline off: `requestTimeout: 0`): a client that sends its
 * headers, announces a body and then drips one byte every 25 s holds a socket, a parser and a
 * request object for as long as it likes, and a few thousand such sockets exhaust the process.
 *
 * - `requestTimeout` bounds the whole request, headers and body: past it Node answers 408 and
 *   closes. It is the body deadline; an idle timeout alone never fires on a drip.
 * - `headersTimeout` bounds the headers (slowloris).
 * - `keepAliveTimeout` closes idle kept-alive connections; `idleTimeout` any socket silent that long.
 * - `maxConnections` refuses sockets past the cap instead of running out of memory or descriptors;
 *   `maxConnectionsPerAddress` keeps one client from taking the whole cap (a reconnecting
 *   slowloris would otherwise lock everyone else out). Behind a reverse proxy every connection
 *   comes from the proxy: raise it there, or set it to `Infinity`.
 * - `maxRequestsPerSocket` (off by default) makes one connection end after that many requests;
 *   Node answers the requests past it with a bare 503 of its own.
 *
 * `serverOptions` also turns off Node's own check for a missing `Host` header, which answers with
 * a bare 400 (no security header, no code): the adapters' hardening hook (`createHardening` under
 * it) answers it instead, with the headers and `400 BAD_REQUEST`. Without the hook, refuse
 * `HTTP/1.1` requests without `Host` yourself.
 *
 * Node enforces the two deadlines from a timer created with the server (`connectionsCheckingInterval`,
 * 30 s by default, so a 30 s deadline could take a minute): pass `serverOptions` to the server's
 * constructor, then `apply(server)` for the rest.
 */
import type { Server as HttpServer } from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { ConfigurationError } from '../errors.js';
import { positiveInteger } from '../lib/limiter.js';

/**
 * Options of `createServerLimits`. Times are milliseconds, as Node's own server settings are; every
 * value is a whole number from 1, or `Infinity` where a field says so.
 */
export interface ServerLimitsOptions {
  /** Milliseconds for a whole request (headers and body). Default 30,000. */
  requestTimeout?: number;
  /** Milliseconds for the request headers. Default 10,000; at most `requestTimeout`. */
  headersTimeout?: number;
  /** Milliseconds an idle kept-alive connection stays open. Default 5,000. */
  keepAliveTimeout?: number;
  /** Milliseconds of silence after which any socket is closed. Default 60,000. */
  idleTimeout?: number;
  /** Open connections at most; more are refused at once. Default 4,096. */
  maxConnections?: number;
  /** Open connections from one remote address at most. Default 256; `Infinity` for none. */
  maxConnectionsPerAddress?: number;
  /** Requests one connection may carry before it is closed. Default `Infinity` (no limit). */
  maxRequestsPerSocket?: number;
}

/**
 * The limits in force, defaults filled in, from `createServerLimits`, and the two steps that put
 * them on a server: `serverOptions` to its constructor, then `apply` to the server.
 *
 * @example
 * const limits = createServerLimits({ requestTimeout: 15_000 });
 * const server = http.createServer(limits.serverOptions, handler);
 * limits.apply(server);
 */
export interface ServerLimits extends Readonly<Required<ServerLimitsOptions>> {
  /**
   * Options for `http.createServer` / `https.createServer` (spread your TLS options beside them),
   * or Fastify's `http` option: the deadlines and how often Node checks them.
   */
  readonly serverOptions: {
    requestTimeout: number;
    headersTimeout: number;
    keepAliveTimeout: number;
    connectionsCheckingInterval: number;
    requireHostHeader: false;
  };
  /**
   * Sets every limit on a created server (after a framework set its own values). HTTP/2 servers
   * are in the type only because `@hono/node-server`'s `serve` is typed to return one of the
   * three; passing one is a `ConfigurationError` (their limits are set per stream).
   */
  apply(server: HttpServer | HttpsServer | Http2Server | Http2SecureServer): void;
}

/** A whole number from 1 (the shared option check), or `Infinity` where a limit may be off. */
function positive(name: string, value: number | undefined, fallback: number, unbounded = false): number {
  if (unbounded && (value ?? fallback) === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  return positiveInteger(`server limit ${name}`, value, fallback);
}

/**
 * @example
 * const limits = createServerLimits();
 * const server = http.createServer(limits.serverOptions, handler);
 * limits.apply(server);
 * // Fastify: Fastify({ http: limits.serverOptions }) (or `https: { ...tls, ...limits.serverOptions }`),
 * // then limits.apply(app.server).
 */
export function createServerLimits(options: ServerLimitsOptions = {}): ServerLimits {
  const requestTimeout = positive('requestTimeout', options.requestTimeout, 30_000);
  const headersTimeout = positive('headersTimeout', options.headersTimeout, Math.min(10_000, requestTimeout));
  if (headersTimeout > requestTimeout)
    throw new ConfigurationError(
      'server limit headersTimeout must not exceed requestTimeout: lower it or raise requestTimeout',
    );
  const keepAliveTimeout = positive('keepAliveTimeout', options.keepAliveTimeout, 5_000);
  const idleTimeout = positive('idleTimeout', options.idleTimeout, 60_000);
  const maxConnections = positive('maxConnections', options.maxConnections, 4_096);
  const maxConnectionsPerAddress = positive('maxConnectionsPerAddress', options.maxConnectionsPerAddress, 256, true);
  const maxRequestsPerSocket = positive(
    'maxRequestsPerSocket',
    options.maxRequestsPerSocket,
    Number.POSITIVE_INFINITY,
    true,
  );
  // Checked at least twice per shortest deadline, and at least every second, so a deadline is
  // enforced within a second of its value.
  const connectionsCheckingInterval = Math.max(250, Math.min(1_000, Math.floor(headersTimeout / 2)));
  return Object.freeze({
    requestTimeout,
    headersTimeout,
    keepAliveTimeout,
    idleTimeout,
    maxConnections,
    maxConnectionsPerAddress,
    maxRequestsPerSocket,
    serverOptions: Object.freeze({
      requestTimeout,
      headersTimeout,
      keepAliveTimeout,
      connectionsCheckingInterval,
      requireHostHeader: false as const,
    }),
    apply(input: HttpServer | HttpsServer | Http2Server | Http2SecureServer) {
      if (typeof (input as Partial<HttpServer>).requestTimeout !== 'number')
        throw new ConfigurationError(
          'createServerLimits().apply takes a node:http or node:https server (HTTP/2 servers have other limits)',
        );
      const server = input as HttpServer | HttpsServer;
      server.requestTimeout = requestTimeout;
      server.headersTimeout = headersTimeout;
      server.keepAliveTimeout = keepAliveTimeout;
      server.maxConnections = maxConnections;
      server.maxRequestsPerSocket = Number.isFinite(maxRequestsPerSocket) ? maxRequestsPerSocket : 0; // 0: none
      server.setTimeout(idleTimeout);
      if (Number.isFinite(maxConnectionsPerAddress)) {
        const open = new Map<string, number>();
        // 'connection' for plain HTTP; 'secureConnection' would come after the TLS handshake, too
        // late: count the TCP socket.
        server.on('connection', (socket: Socket) => {
          const address = socket.remoteAddress ?? '';
          const count = (open.get(address) ?? 0) + 1;
          if (count > maxConnectionsPerAddress) {
            socket.destroy();
            return;
          }
          open.set(address, count);
          socket.once('close', () => {
            const left = (open.get(address) ?? 1) - 1;
            if (left > 0) open.set(address, left);
            else open.delete(address);
          });
        });
      }
    },
  });
}
