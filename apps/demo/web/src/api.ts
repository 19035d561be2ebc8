/** The app's one API client, with the demo server's routes and types. It holds no token; see @latchkey/client. */
import { createApiClient } from '@latchkey/client';
import { passkeysSupported } from '@latchkey/client/passkeys';

/** An account as the demo server sends it (login, verify, reset, me). */
export interface User {
  /** The server's stable account id: the key of this device's local data. */
  id: string;
  username: string;
  avatarUrl: string;
  /** In `/api/me` only. */
  email?: string;
}

/** What the login form posts: `username` is the username or the e-mail address. */
export interface Credentials {
  username: string;
  password: string;
  /** "Keep me signed in": a longer session on this device only. */
  remember?: boolean;
}

/** What a sign-up or reset request answers, the same for every address: look in the inbox. */
export interface RequestAccepted {
  status: 'check-your-inbox';
}

/** `GET /api/me`: the account and its session; the demo server sends times as ISO 8601 strings. */
export interface Me {
  user: User;
  session: {
    id: string;
    createdAt: string;
    expiresAt: string;
    absoluteExpiresAt: string;
    remembered: boolean;
    fresh: boolean;
  };
}

/** What the login answers: the user, or (two-factor codes on) the second step to take. */
export type LoginAnswer = { user: User } | { secondFactor: 'totp'; canRemove?: boolean };

export const api = createApiClient<{ credentials: Credentials; login: LoginAnswer; me: Me }>({
  // No register endpoint: signing up logs nobody in (the mailed link does, on the verify page).
  endpoints: { login: '/api/auth/login', logout: '/api/auth/logout', me: '/api/me' },
});

/** The error code of a failed call, for messages: `OFFLINE`, the server's code, or the browser's error name (WebAuthn). */
export const codeOf = (error: unknown): string => {
  if (typeof error !== 'object' || error === null) return 'UNKNOWN';
  const { code, name, cause } = error as { code?: unknown; name?: unknown; cause?: { name?: unknown } };
  // @simplewebauthn/browser wraps the browser's DOMException: its name says what happened.
  if (typeof cause?.name === 'string' && /^(NotAllowedError|InvalidStateError)$/.test(cause.name)) return cause.name;
  if (typeof name === 'string' && /^(NotAllowedError|InvalidStateError)$/.test(name)) return name;
  return typeof code === 'string' ? code : 'UNKNOWN';
};

/** The passkey routes of the demo server, for @latchkey/client/passkeys. */
export const passkeyRoutes = {
  register: { options: '/api/account/passkeys/options', verify: '/api/account/passkeys' },
  signIn: { options: '/api/auth/passkey/options', verify: '/api/auth/passkey' },
  stepUp: { options: '/api/auth/reauthenticate/passkey/options', verify: '/api/auth/reauthenticate/passkey' },
} as const;

/** Whether this server offers passkeys (it does on a domain name, not on an IP address) and this browser can use them. */
export async function passkeysAvailable(): Promise<boolean> {
  if (!passkeysSupported()) return false;
  return api
    .request<{ passkeys: boolean }>('/api/auth/methods')
    .then((m) => m.passkeys)
    .catch(() => false);
}

const MESSAGES: Record<string, string> = {
  OFFLINE: 'The server cannot be reached. Check your connection.',
  INVALID_CREDENTIALS: 'Wrong username, address or password.',
  EMAIL_INVALID: 'That is not an e-mail address we can send to.',
  TOKEN_INVALID: 'This link no longer works: it was used, replaced by a newer one, or it expired. Ask for a new one.',
  BAD_REQUEST: 'Something in the form is not right. Check it and try again.',
  TOO_MANY_ATTEMPTS: 'Too many attempts. Wait a moment and try again.',
  PASSWORD_TOO_SHORT: 'The password needs at least 8 characters.',
  PASSWORD_TOO_LONG: 'The password is too long (1024 characters at most).',
  PASSWORD_TOO_COMMON: 'That password is too common or too easy to guess. Try a few unrelated words.',
  CONFLICT: 'That username is taken.',
  CODE_INVALID: 'That code is wrong or was already used. Wait for the next one.',
  TOTP_ALREADY_ENABLED: 'Two-factor sign-in is already on.',
  TOTP_NOT_ENABLED: 'Two-factor sign-in is off.',
  ENROLMENT_EXPIRED: 'That took too long. Start again.',
  INVALID_INPUT: 'Check the fields: usernames are 3–32 letters, digits, ".", "_" or "-".',
  REAUTHENTICATION_REQUIRED: 'Confirm your password first.',
  PASSKEY_INVALID: 'That passkey could not be verified. Try again, or use your password.',
  PASSKEY_CHALLENGE_EXPIRED: 'That took too long. Try again.',
  PASSKEY_ALREADY_REGISTERED: 'This passkey is already registered.',
  PASSKEY_LIMIT: 'You have as many passkeys as an account may hold. Remove one first.',
  NO_PASSKEY: 'This account has no passkey.',
  NotAllowedError: 'The passkey request was cancelled or timed out.',
  InvalidStateError: 'This device already holds a passkey for this account.',
  STORE_UNAVAILABLE: 'The server is having trouble. Try again shortly.',
};

export const messageFor = (error: unknown): string => MESSAGES[codeOf(error)] ?? 'Something went wrong.';
