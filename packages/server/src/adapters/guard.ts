/**
 * What `requireSession` and `requireFreshSession` answer, the same on every adapter (internal: not
 * in the exports map). A guard that runs where the session middleware did not is a wiring bug, and
 * answering it 401 would look like "logged out" forever: it is a 500, and the developer is told once
 * per process with a `ConfigurationError` as a process warning (stderr by default).
 */
import { ConfigurationError } from '../errors.js';
import type { HttpErrorCode } from '../http/error-codes.js';
import type { SessionManager } from '../sessions/manager.js';
import type { Session } from '../stores/store.js';

/**
 * @param wiring the fix, in the adapter's words: "mount sessions.middleware first".
 * @returns a check: `null` to go on, or the code to answer. `undefined` is "the middleware did not run".
 */
export function createSessionGuard(
  manager: SessionManager,
  wiring: string,
): (session: Session | null | undefined, fresh: boolean) => HttpErrorCode | null {
  let warned = false;
  return (session, fresh) => {
    if (session === undefined) {
      if (!warned) {
        warned = true;
        const name = fresh ? 'requireFreshSession' : 'requireSession';
        process.emitWarning(new ConfigurationError(`${name} ran before the latchkey session middleware: ${wiring}`));
      }
      return 'INTERNAL_ERROR';
    }
    if (session === null) return 'SESSION_REQUIRED';
    // F3: sensitive actions need a recent password entry, not just a live session.
    if (fresh && !manager.isFresh(session)) return 'REAUTHENTICATION_REQUIRED';
    return null;
  };
}
