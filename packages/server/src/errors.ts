/**
 * latchkey's error classes. Every error carries a stable UPPER_SNAKE `code`, on the instance and
 * on the class (as jose's do), so `if (e.code === KeyError.code)` works; a retired code is never
 * reused. docs/errors.md documents each code, and a test keeps that list complete.
 *
 * Expected failures (no cookie, bad mac, expired, revoked) are not errors: the session functions
 * return `null` for them. These classes are for misuse, bad configuration, a missing optional
 * dependency and a store that is down. Each message names the fix and never quotes a secret.
 *
 * @example
 * try {
 *   createSessionManager({ store, keys: [process.env.SESSION_KEY] });
 * } catch (error) {
 *   if (error instanceof LatchkeyError && error.code === KeyError.code) console.error(error.message);
 *   throw error;
 * }
 */

/** Codes carried by the error classes below (thrown in process). */
export const errorCodes = [
  'CONFIG_INVALID',
  'KEY_INVALID',
  'STORE_UNAVAILABLE',
  'SESSION_DATA_INVALID',
  'ARGUMENT_INVALID',
  'DEPENDENCY_MISSING',
  'MAIL_NOT_SENT',
] as const;

/**
 * The `code` of an error latchkey throws, one of `errorCodes`. Branch on it rather than on the
 * message, which may change. A retired code is never reused; docs/errors.md documents each one.
 */
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

/** A configuration value is missing, unknown, out of range or of the wrong kind. Thrown at start-up, never per request. */
export class ConfigurationError extends LatchkeyError {
  static readonly code = 'CONFIG_INVALID';
  declare readonly code: 'CONFIG_INVALID';

  constructor(message: string, options?: ErrorOptions) {
    super(ConfigurationError.code, message, options);
  }
}

/** A signing key is missing, malformed or shorter than 32 bytes. */
export class KeyError extends LatchkeyError {
  static readonly code = 'KEY_INVALID';
  declare readonly code: 'KEY_INVALID';

  constructor(message: string, options?: ErrorOptions) {
    super(KeyError.code, message, options);
  }
}

/**
 * The session store failed or timed out. Callers must answer 503 and treat the request as not
 * logged in: a store that is down never means "logged in".
 */
export class StoreUnavailableError extends LatchkeyError {
  static readonly code = 'STORE_UNAVAILABLE';
  declare readonly code: 'STORE_UNAVAILABLE';

  constructor(message = 'session store unavailable', options?: ErrorOptions) {
    super(StoreUnavailableError.code, message, options);
  }
}

/** Session data is not plain JSON (a Map, a Date, a function, a cycle…), or is larger than the configured limit. */
export class SessionDataError extends LatchkeyError {
  static readonly code = 'SESSION_DATA_INVALID';
  declare readonly code: 'SESSION_DATA_INVALID';

  constructor(message: string, options?: ErrorOptions) {
    super(SessionDataError.code, message, options);
  }
}

/** A function was called with an argument it cannot accept (an empty user id, say): a bug in the caller. */
export class InvalidArgumentError extends LatchkeyError {
  static readonly code = 'ARGUMENT_INVALID';
  declare readonly code: 'ARGUMENT_INVALID';

  constructor(message: string, options?: ErrorOptions) {
    super(InvalidArgumentError.code, message, options);
  }
}

/** An optional peer dependency a feature needs is not installed (`@node-rs/argon2` for `latchkey/password`). */
export class DependencyMissingError extends LatchkeyError {
  static readonly code = 'DEPENDENCY_MISSING';
  declare readonly code: 'DEPENDENCY_MISSING';

  constructor(message: string, options?: ErrorOptions) {
    super(DependencyMissingError.code, message, options);
  }
}

/**
 * A mail was not sent: the SMTP server could not be reached, did not answer in time, refused the
 * login or refused the message. The message names the server and the step, never the mail's body
 * (it holds tokens) or the password.
 */
export class MailDeliveryError extends LatchkeyError {
  static readonly code = 'MAIL_NOT_SENT';
  declare readonly code: 'MAIL_NOT_SENT';
  /** The server refused the message for good (a 5xx reply): sending the same message again gets the same answer. */
  readonly permanent: boolean;
  /** The SMTP reply code, when the server answered (`550`, `421`); `undefined` when it never did. */
  readonly responseCode: number | undefined;

  constructor(message: string, options?: ErrorOptions & { permanent?: boolean; responseCode?: number }) {
    super(MailDeliveryError.code, message, options);
    this.permanent = options?.permanent ?? false;
    this.responseCode = options?.responseCode;
  }
}
