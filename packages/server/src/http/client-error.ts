/**
 * Node's HTTP parser refuses some requests before any handler runs: headers over `maxHeaderSize`
 * (16 KiB by default), bytes that are not HTTP. Node then answers with an empty 4xx; this
 * handler answers with the same status and a JSON code, then closes the connection.
 */
import type { Socket } from 'node:net';
import { type HttpErrorCode, rawErrorResponse } from './error-codes.js';

/** Oversized headers are 431; a request or headers deadline that passed is 408; any other parse failure is 400. */
export function clientErrorCode(error: { code?: string }): HttpErrorCode {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'BAD_REQUEST';
}

/**
 * @example
 * http.createServer(handler).on('clientError', handleClientError);
 * Fastify({ clientErrorHandler: handleClientError });
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  if (socket.writable) socket.end(rawErrorResponse(clientErrorCode(error)));
  else socket.destroy();
}
