/**
 * The error codes latchkey puts in response bodies, with their status: those its HTTP layer
 * answers itself, and those its documented recipes send (`INVALID_CREDENTIALS` and
 * `TOO_MANY_ATTEMPTS` from the login with `latchkey/password`'s throttle, `PASSWORD_TOO_*` from its
 * policy, `EMAIL_INVALID` and `TOKEN_INVALID` from `latchkey/accounts`, `CODE_INVALID`, `TOTP_*` and
 * `ENROLMENT_EXPIRED` from `latchkey/totp`, `PASSKEY_*`, `NO_PASSKEY` and `LAST_SIGN_IN_METHOD`
 * from `latchkey/passkeys`, `DEVICE_*` from `latchkey/dbsc`). Bodies look like
 * `{"error":{"code":"SESSION_REQUIRED","message":"..."}}`; clients branch on `code`, never on `message`. An app's own codes are `ErrorAnswer`s. docs/errors.md documents
 * each; a test keeps it complete.
 */
import { STATUS_CODES } from 'node:http';
import { StoreUnavailableError } from '../errors.js';

/**
 * Every code latchkey's HTTP layer answers with or its recipes send, with its status and the
 * message the body carries. Messages are fixed text and never quote request data.
 *
 * @example
 * httpErrors.SESSION_REQUIRED; // { status: 401, message: 'Log in to continue.' }
 */
export const httpErrors = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  INVALID_JSON: { status: 400, message: 'The body is not valid JSON.' },
  SESSION_REQUIRED: { status: 401, message: 'Log in to continue.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Wrong username or password.' },
  PASSWORD_TOO_SHORT: { status: 400, message: 'The password is too short.' },
  PASSWORD_TOO_LONG: { status: 400, message: 'The password is too long.' },
  PASSWORD_TOO_COMMON: { status: 400, message: 'The password is too common or too easy to guess.' },
  EMAIL_INVALID: { status: 400, message: 'Enter a valid e-mail address.' },
  TOKEN_INVALID: { status: 400, message: 'This link no longer works; ask for a new one.' },
  CODE_INVALID: { status: 401, message: 'That code is wrong or was already used.' },
  TOTP_NOT_ENABLED: { status: 409, message: 'Two-factor codes are not set up for this account.' },
  TOTP_ALREADY_ENABLED: { status: 409, message: 'Two-factor codes are already set up; turn them off first.' },
  ENROLMENT_EXPIRED: { status: 400, message: 'This set-up took too long; start again.' },
  PASSKEY_INVALID: { status: 401, message: 'That passkey could not be verified.' },
  PASSKEY_CHALLENGE_EXPIRED: { status: 400, message: 'This passkey request expired or was used; try again.' },
  PASSKEY_ALREADY_REGISTERED: { status: 409, message: 'This passkey is registered already.' },
  PASSKEY_LIMIT: { status: 409, message: 'This account has as many passkeys as it may hold; remove one first.' },
  NO_PASSKEY: { status: 409, message: 'This account has no passkey.' },
  LAST_SIGN_IN_METHOD: { status: 409, message: 'This is the last way to sign in to this account; add another first.' },
  DEVICE_PROOF_INVALID: { status: 400, message: 'The device proof could not be verified.' },
  DEVICE_CHALLENGE_EXPIRED: { status: 403, message: 'This device challenge expired or was used; sign the new one.' },
  CSRF_REJECTED: { status: 403, message: 'Cross-site request refused.' },
  REAUTHENTICATION_REQUIRED: { status: 403, message: 'Enter your password again to continue.' },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed here.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send application/json.' },
  TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many attempts; wait and try again.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request headers are too large.' },
  INTERNAL_ERROR: { status: 500, message: 'Something went wrong on our side.' },
  STORE_UNAVAILABLE: { status: 503, message: 'Sessions are unavailable; try again shortly.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** One of latchkey's HTTP error codes (a key of `httpErrors`): what `sendError` takes and `error.code` in a body holds. */
export type HttpErrorCode = keyof typeof httpErrors;

/**
 * An error answer of the app's own (a code latchkey does not define), for `sendError`:
 * `{ status: 409, code: 'NOTE_CONFLICT', message: 'The note changed elsewhere.' }`. Keep `message`
 * free of request data; clients branch on `code`.
 */
export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
}

/** The status, code and message for one of latchkey's codes, or the app's own answer unchanged. */
export function errorAnswer(error: HttpErrorCode | ErrorAnswer): ErrorAnswer {
  if (typeof error !== 'string') return error;
  const { status, message } = httpErrors[error];
  return { status, code: error, message };
}

/** The JSON body for an error code or answer: no request data is ever echoed into it. */
export function errorBody<C extends string = HttpErrorCode>(
  error: C | ErrorAnswer,
): { error: { code: C; message: string } } {
  if (typeof error !== 'string') return { error: { code: error.code as C, message: error.message } };
  return { error: { code: error, message: httpErrors[error as unknown as HttpErrorCode].message } };
}

/**
 * The security headers of an answer that no framework hook saw (a request Node could not parse):
 * nothing in a JSON error may run, be framed or be stored, so the strictest policy fits.
 */
const RAW_HEADERS =
  "content-security-policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'\r\n" +
  'x-content-type-options: nosniff\r\nx-frame-options: DENY\r\nreferrer-policy: same-origin\r\n' +
  'cross-origin-resource-policy: same-origin\r\ncache-control: no-store\r\n';

/**
 * A whole HTTP/1.1 response for a connection the server could not parse (Node's `clientError`),
 * such as headers over the size limit: a JSON body with a code instead of an empty 4xx.
 */
export function rawErrorResponse(code: HttpErrorCode): string {
  const body = JSON.stringify(errorBody(code));
  const { status } = httpErrors[code];
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n${RAW_HEADERS}connection: close\r\n\r\n${body}`
  );
}

/**
 * The code for an error a handler threw: a failing store is 503 (never "logged in"); framework
 * errors for bad input keep their 4xx; anything else is a 500 the app must log and fix.
 */
export function codeForError(error: unknown): HttpErrorCode {
  if (error instanceof StoreUnavailableError) return 'STORE_UNAVAILABLE';
  const e = (error ?? {}) as { status?: unknown; statusCode?: unknown; code?: unknown; type?: unknown };
  // Express's body-parser and Fastify's JSON parser name bad JSON this way.
  if (e.type === 'entity.parse.failed' || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return 'INVALID_JSON';
  // JSON.parse of a request body (Hono's c.req.json(), a hand-rolled parser) throws SyntaxError.
  if (error instanceof SyntaxError) return 'INVALID_JSON';
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : 500;
  switch (status) {
    case 404:
      return 'NOT_FOUND';
    case 405:
      return 'METHOD_NOT_ALLOWED';
    case 408:
      return 'REQUEST_TIMEOUT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 431:
      return 'HEADERS_TOO_LARGE';
    default:
      return status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR';
  }
}
