/**
 * `@latchkey/client/passkeys`: the browser half of `latchkey/passkeys`, on `@simplewebauthn/browser`.
 * Each function asks the app's options route for a challenge (POST, answered `{ options }`), lets
 * the browser and the authenticator answer it, and posts `{ response, ...extra }` to the verify
 * route. Nothing is stored in the page: the private key never leaves the authenticator, and a
 * sign-in ends with the server's HttpOnly session cookie, as a password login does.
 *
 * @example
 * import { signInWithPasskey, passkeysSupported } from '@latchkey/client/passkeys';
 * if (passkeysSupported()) await signInWithPasskey(api, { options: '/api/auth/passkey/options', verify: '/api/auth/passkey' });
 */
import {
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  startRegistration,
  WebAuthnAbortService,
} from '@simplewebauthn/browser';
import type { ApiClient } from './api-client.js';
import { ClientArgumentError } from './errors.js';

/** An app's two routes for one passkey ceremony. */
export interface PasskeyRoutes {
  /** POST: answers `{ options }` (the WebAuthn options as JSON) and sets whatever binds the challenge. */
  options: string;
  /** POST `{ response, ...extra }`: checks the authenticator's answer. */
  verify: string;
}

type Json = Record<string, unknown>;

function checkRoutes(where: string, routes: PasskeyRoutes): void {
  if (
    typeof routes !== 'object' ||
    routes === null ||
    typeof routes.options !== 'string' ||
    typeof routes.verify !== 'string'
  )
    throw new ClientArgumentError(
      `${where}: pass the app's routes, e.g. { options: '/api/passkeys/options', verify: '/api/passkeys' }.`,
    );
}

async function optionsFrom(api: ApiClient, path: string): Promise<Json> {
  const answer = await api.request<{ options?: Json }>(path, { method: 'POST', body: {} });
  return (answer?.options ?? {}) as Json;
}

/** Whether this browser can use passkeys at all (WebAuthn). */
export function passkeysSupported(): boolean {
  return browserSupportsWebAuthn();
}

/** Whether the browser offers passkeys in the username field's autofill (conditional UI). */
export function passkeyAutofillSupported(): Promise<boolean> {
  return browserSupportsWebAuthnAutofill();
}

/**
 * Creates a passkey for the signed-in user and registers it; the verify route's answer.
 * Throws `ApiError` for a refusal (`REAUTHENTICATION_REQUIRED`, `PASSKEY_INVALID`…) and the
 * browser's error (`NotAllowedError`: the user cancelled) as it is.
 *
 * @example
 * const { passkey } = await createPasskey(api, { options: '/api/passkeys/options', verify: '/api/passkeys' }, { name: 'Laptop' });
 */
export async function createPasskey<R = unknown>(api: ApiClient, routes: PasskeyRoutes, extra: Json = {}): Promise<R> {
  checkRoutes('createPasskey', routes);
  const optionsJSON = await optionsFrom(api, routes.options);
  const response = await startRegistration({ optionsJSON: optionsJSON as never });
  return api.request<R>(routes.verify, { method: 'POST', body: { ...extra, response } });
}

/**
 * Signs in with a passkey alone; the verify route's answer (as `login()`'s). With `autofill`, the
 * request waits quietly for the user to pick a passkey in the username field's autofill
 * (`autocomplete="username webauthn"`); `cancelPasskeyRequest()` ends that wait.
 *
 * @example
 * void signInWithPasskey(api, routes, { autofill: true }).then(showApp, ignoreCancel); // on page load
 * button.onclick = () => signInWithPasskey(api, routes).then(showApp);
 */
export async function signInWithPasskey<R = unknown>(
  api: ApiClient,
  routes: PasskeyRoutes,
  options: { autofill?: boolean } = {},
): Promise<R> {
  checkRoutes('signInWithPasskey', routes);
  const optionsJSON = await optionsFrom(api, routes.options);
  const response = await startAuthentication({
    optionsJSON: optionsJSON as never,
    useBrowserAutofill: options.autofill === true,
  });
  const result = await api.request<R>(routes.verify, { method: 'POST', body: { response } });
  api.assumeLoggedIn();
  return result;
}

/**
 * Proves again, with one of the user's passkeys, that the user is here (step-up before a
 * sensitive action); the verify route's answer.
 *
 * @example
 * await proveWithPasskey(api, { options: '/api/auth/reauthenticate/passkey/options', verify: '/api/auth/reauthenticate/passkey' });
 */
export async function proveWithPasskey<R = unknown>(api: ApiClient, routes: PasskeyRoutes): Promise<R> {
  checkRoutes('proveWithPasskey', routes);
  const optionsJSON = await optionsFrom(api, routes.options);
  const response = await startAuthentication({ optionsJSON: optionsJSON as never });
  return api.request<R>(routes.verify, { method: 'POST', body: { response } });
}

/** Ends a pending passkey request (an autofill wait before a password sign-in, say). */
export function cancelPasskeyRequest(): void {
  WebAuthnAbortService.cancelCeremony();
}
