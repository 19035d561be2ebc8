import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  errorCodes,
  InvalidArgumentError,
  KeyError,
  LatchkeyError,
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

  it('each class carries its code and is a LatchkeyError', () => {
    const cases: [LatchkeyError, string][] = [
      [new ConfigurationError('x'), 'CONFIG_INVALID'],
      [new KeyError('x'), 'KEY_INVALID'],
      [new StoreUnavailableError(), 'STORE_UNAVAILABLE'],
      [new SessionDataError('x'), 'SESSION_DATA_INVALID'],
      [new InvalidArgumentError('x'), 'ARGUMENT_INVALID'],
    ];
    for (const [error, code] of cases) {
      expect(error).toBeInstanceOf(LatchkeyError);
      expect(error.code).toBe(code);
      expect(errorCodes).toContain(code);
    }
    expect(new KeyError('x').name).toBe('KeyError');
  });

  it('HTTP codes keep their statuses', () => {
    expect(Object.fromEntries(Object.entries(httpErrors).map(([code, { status }]) => [code, status]))).toEqual({
      BAD_REQUEST: 400,
      INVALID_JSON: 400,
      INVALID_INPUT: 400,
      SESSION_REQUIRED: 401,
      INVALID_CREDENTIALS: 401,
      INVALID_GRANT: 400,
      INVALID_TOKEN: 401,
      PASSWORD_TOO_SHORT: 400,
      PASSWORD_TOO_LONG: 400,
      PASSWORD_TOO_COMMON: 400,
      CSRF_REJECTED: 403,
      REAUTHENTICATION_REQUIRED: 403,
      CONFLICT: 409,
      NOT_FOUND: 404,
      METHOD_NOT_ALLOWED: 405,
      REQUEST_TIMEOUT: 408,
      PAYLOAD_TOO_LARGE: 413,
      UNSUPPORTED_MEDIA_TYPE: 415,
      TOO_MANY_ATTEMPTS: 429,
      HEADERS_TOO_LARGE: 431,
      INTERNAL_ERROR: 500,
      BAD_GATEWAY: 502,
      STORE_UNAVAILABLE: 503,
      GATEWAY_TIMEOUT: 504,
    });
  });
});
