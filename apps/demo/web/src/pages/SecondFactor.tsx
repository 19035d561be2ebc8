/**
 * The login's second step, for an account with two-factor codes on: the password was right, the
 * server set a step cookie (no session yet), and this form sends the code from the authenticator
 * app or a recovery code. After a password reset, someone who lost both may remove the factors
 * instead: the server then mails the owner.
 */
import { ApiError } from '@latchkey/client';
import { type FormEvent, useState } from 'react';
import { api, messageFor, type User } from '../api.js';

export function SecondFactor({ onDone, canRemove = false }: { onDone: (user: User) => void; canRemove?: boolean }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const finish = async (path: string, body: object) => {
    setBusy(true);
    setError('');
    try {
      const { user } = await api.request<{ user: User }>(path, { method: 'POST', body });
      api.assumeLoggedIn(); // the answer set the session cookie
      onDone(user);
    } catch (err) {
      setError(
        err instanceof ApiError && err.code === 'SESSION_REQUIRED'
          ? 'This step timed out (5 minutes). Log in again.'
          : messageFor(err),
      );
      setBusy(false);
    }
  };
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    void finish('/api/auth/second-factor', { code: String(new FormData(e.currentTarget).get('code')).trim() });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="second-title">
      <h1 id="second-title">Enter your code</h1>
      <p className="hint">
        Open your authenticator app and enter the 6-digit code for latchkey notes, or one of your recovery codes.
      </p>
      <label>
        Code
        <input
          name="code"
          autoComplete="one-time-code"
          inputMode="text"
          required
          maxLength={20}
          spellCheck={false}
          autoCapitalize="characters"
        />
      </label>
      <p className="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Checking…' : 'Continue'}
      </button>
      {canRemove ? (
        <p className="hint">
          Lost your phone and your recovery codes?{' '}
          <button
            type="button"
            className="quiet"
            disabled={busy}
            onClick={() => void finish('/api/auth/second-factor/remove', {})}
          >
            Turn off two-factor sign-in
          </button>{' '}
          (we will e-mail you that it was turned off).
        </p>
      ) : null}
    </form>
  );
}
