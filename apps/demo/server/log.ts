/**
 * What the reference server writes to its log, and what it never writes: credentials are censored
 * wherever they appear (`REDACT`), usernames become keyed pseudonyms (`logPseudonym`), and each
 * security event is one structured line (`logEvent`), each CSP violation a warning (`logCspViolations`).
 */
import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { CspViolation } from 'latchkey/http';

/** Logs never carry credentials: these request and response parts are censored wherever they appear. */
export const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  'password',
  'body.password',
  // A sign-up, reset or e-mail link's token is as good as the password while it lives.
  'token',
  'body.token',
];

/**
 * A keyed pseudonym for a username in log lines: lines about one name can be matched up, but the
 * name itself (often a password typed into the wrong field) is never written.
 *
 * @example
 * logEvent(request, 'login.failure', { user: logPseudonym(logKey, body.username), reason });
 */
export function logPseudonym(key: Buffer, username: string): string {
  return createHmac('sha256', key).update(username.normalize('NFKC').toLowerCase()).digest('base64url').slice(0, 16);
}

/**
 * One security event as one info line: its name, the client address and the fields given (ids and
 * counts, never a secret).
 *
 * @example
 * logEvent(request, 'logout', { userId: session.userId, sessionId: session.id });
 */
export function logEvent(request: FastifyRequest, name: string, fields: Record<string, unknown> = {}): void {
  request.log.info({ event: name, ip: request.ip, ...fields }, name);
}

/**
 * The browser's CSP violation reports, one warning line each: for the hardening hook's
 * `cspReport.onReport`. The violations come already cut down to what is safe to log (no query
 * strings, which may hold tokens).
 *
 * @example
 * createFastifyHardening({ csrf, cspReport: { onReport: logCspViolations } });
 */
export function logCspViolations(violations: readonly CspViolation[], request: FastifyRequest): void {
  for (const violation of violations) request.log.warn({ event: 'csp.violation', ...violation }, 'csp violation');
}
