/** The app's one API client. It holds no token; see @latchkey/client. */
import { createApiClient } from '@latchkey/client';

export const api = createApiClient();

/** The error code of a failed call, for messages: `OFFLINE`, or the server's code. */
export const codeOf = (error: unknown): string =>
  typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : 'UNKNOWN';

const MESSAGES: Record<string, string> = {
  OFFLINE: 'The server cannot be reached. Check your connection.',
  INVALID_CREDENTIALS: 'Wrong username or password.',
  TOO_MANY_ATTEMPTS: 'Too many attempts. Wait a moment and try again.',
  PASSWORD_TOO_SHORT: 'The password needs at least 8 characters.',
  PASSWORD_TOO_LONG: 'The password is too long (1024 characters at most).',
  PASSWORD_TOO_COMMON: 'That password is too common or too easy to guess. Try a few unrelated words.',
  CONFLICT: 'That username is taken.',
  INVALID_INPUT: 'Check the fields: usernames are 3–32 letters, digits, ".", "_" or "-".',
  STORE_UNAVAILABLE: 'The server is having trouble. Try again shortly.',
};

export const messageFor = (error: unknown): string => MESSAGES[codeOf(error)] ?? 'Something went wrong.';
