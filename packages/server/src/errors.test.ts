import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  DependencyMissingError,
  errorCodes,
  InvalidArgumentError,
  KeyError,
  LatchkeyError,
  MailDeliveryError,
  SessionDataError,
  StoreUnavailableError,
} from './errors.js';
import { httpErrors } from './http/error-codes.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('error codes', () => {
  it('every code is documented in docs/errors.md', () => {
    for (const code of [...errorCodes, ...Object.keys(httpErrors)])
      expect(doc).toMatch(new RegExp(`\\| +\`${code}\` +\\|`));
  });

  it('each class carries its code, on the instance and on the class, and is a LatchkeyError', () => {
    const cases: [LatchkeyError, { readonly code: string }, string][] = [
      [new ConfigurationError('x'), ConfigurationError, 'CONFIG_INVALID'],
      [new KeyError('x'), KeyError, 'KEY_INVALID'],
      [new StoreUnavailableError(), StoreUnavailableError, 'STORE_UNAVAILABLE'],
      [new SessionDataError('x'), SessionDataError, 'SESSION_DATA_INVALID'],
      [new InvalidArgumentError('x'), InvalidArgumentError, 'ARGUMENT_INVALID'],
      [new DependencyMissingError('x'), DependencyMissingError, 'DEPENDENCY_MISSING'],
      [new MailDeliveryError('x'), MailDeliveryError, 'MAIL_NOT_SENT'],
    ];
    for (const [error, errorClass, code] of cases) {
      expect(error).toBeInstanceOf(LatchkeyError);
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe(code);
      expect(errorClass.code).toBe(code);
      expect(errorCodes).toContain(code);
    }
    expect(new Set(cases.map(([, , code]) => code))).toEqual(new Set(errorCodes)); // every code has its class
    expect(new KeyError('x').name).toBe('KeyError');
    const cause = new Error('root');
    expect(new ConfigurationError('x', { cause }).cause).toBe(cause);
  });

  it('HTTP codes keep their statuses', () => {
    expect(Object.fromEntries(Object.entries(httpErrors).map(([code, { status }]) => [code, status]))).toEqual({
      BAD_REQUEST: 400,
      INVALID_JSON: 400,
      SESSION_REQUIRED: 401,
      INVALID_CREDENTIALS: 401,
      PASSWORD_TOO_SHORT: 400,
      PASSWORD_TOO_LONG: 400,
      PASSWORD_TOO_COMMON: 400,
      EMAIL_INVALID: 400,
      TOKEN_INVALID: 400,
      CODE_INVALID: 401,
      TOTP_NOT_ENABLED: 409,
      TOTP_ALREADY_ENABLED: 409,
      ENROLMENT_EXPIRED: 400,
      PASSKEY_INVALID: 401,
      PASSKEY_CHALLENGE_EXPIRED: 400,
      PASSKEY_ALREADY_REGISTERED: 409,
      PASSKEY_LIMIT: 409,
      NO_PASSKEY: 409,
      LAST_SIGN_IN_METHOD: 409,
      DEVICE_PROOF_INVALID: 400,
      DEVICE_CHALLENGE_EXPIRED: 403,
      CSRF_REJECTED: 403,
      REAUTHENTICATION_REQUIRED: 403,
      NOT_FOUND: 404,
      METHOD_NOT_ALLOWED: 405,
      REQUEST_TIMEOUT: 408,
      PAYLOAD_TOO_LARGE: 413,
      UNSUPPORTED_MEDIA_TYPE: 415,
      TOO_MANY_ATTEMPTS: 429,
      HEADERS_TOO_LARGE: 431,
      INTERNAL_ERROR: 500,
      STORE_UNAVAILABLE: 503,
    });
  });

  it('the docs table of HTTP codes lists exactly httpErrors, with their statuses (an app’s own codes are apart)', () => {
    const table = doc.slice(doc.indexOf('## In HTTP error bodies'), doc.indexOf("An app's own codes"));
    const listed = [...table.matchAll(/^\| +`([A-Z_]+)` +\| +(\d{3}) +\|/gm)].map(([, code, status]) => [
      code,
      Number(status),
    ]);
    expect(Object.fromEntries(listed)).toEqual(
      Object.fromEntries(Object.entries(httpErrors).map(([code, { status }]) => [code, status])),
    );
  });
});
