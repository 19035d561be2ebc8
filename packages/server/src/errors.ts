/**
 * latchkey's error classes. Every error carries a stable UPPER_SNAKE `code`; a retired code is
 * never reused. docs/errors.md documents each code, and a test keeps that list complete.
 *
 * Expected failures (no cookie, bad mac, expired, revoked) are not errors: the session functions
 * return `null` for them. These classes are for misuse, bad configuration and a store that is down.
 */

/** Codes carried by the error classes below (thrown in process). */
export const errorCodes = [
  'CONFIG_INVALID',
  'KEY_INVALID',
  'STORE_UNAVAILABLE',
  'SESSION_DATA_INVALID',
  'ARGUMENT_INVALID',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** Base class: `instanceof LatchkeyError` catches every error latchkey throws on purpose. */
export class LatchkeyError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value is out of range or of the wrong kind. Thrown at start-up, never per request. */
export class ConfigurationError extends LatchkeyError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

/** A signing key is missing, malformed or shorter than 32 bytes. */
export class KeyError extends LatchkeyError {
  constructor(message: string) {
    super('KEY_INVALID', message);
  }
}

/**
 * The session store failed or timed out. Callers must answer 503 and treat the request as not
 * logged in: a store that is down never means "logged in".
 */
export class StoreUnavailableError extends LatchkeyError {
  constructor(message = 'session store unavailable', options?: ErrorOptions) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** Session data is not a plain JSON object, or is larger than the configured limit. */
export class SessionDataError extends LatchkeyError {
  constructor(message: string) {
    super('SESSION_DATA_INVALID', message);
  }
}

/** A function was called with an argument it cannot accept (an empty user id, say): a bug in the caller. */
export class InvalidArgumentError extends LatchkeyError {
  constructor(message: string) {
    super('ARGUMENT_INVALID', message);
  }
}
