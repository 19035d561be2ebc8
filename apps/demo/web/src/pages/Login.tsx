/** The article's Login.js, done right: POST the credentials, store nothing; the cookie is HttpOnly. */
import { cancelPasskeyRequest, passkeyAutofillSupported, signInWithPasskey } from '@latchkey/client/passkeys';
import { useEffect, useRef, useState } from 'react';
import { api, messageFor, passkeyRoutes, passkeysAvailable, type User } from '../api.js';
import { navigate } from '../router.js';
import { useCredentialsForm } from './credentials.js';
import { SecondFactor } from './SecondFactor.js';

export function Login({ onDone }: { onDone: (user: User) => void }) {
  const { error, busy, submit, secondFactor } = useCredentialsForm(api.login, onDone);
  const [passkeys, setPasskeys] = useState(false);
  const [passkeyError, setPasskeyError] = useState('');
  // The latest onDone, so the autofill request below starts once per visit of the page, not again
  // on every render of the parent (each restart would cancel it and fetch a new challenge).
  const done = useRef(onDone);
  done.current = onDone;
  // Passkeys offered in the username field's autofill (conditional UI): picking one signs in.
  useEffect(() => {
    let live = true;
    let cleanup = () => {};
    void (async () => {
      if (!(await passkeysAvailable()) || !live) return;
      setPasskeys(true);
      if (!live || !(await passkeyAutofillSupported())) return;
      signInWithPasskey<{ user: User }>(api, passkeyRoutes.signIn, { autofill: true }).then(
        (answer) => live && done.current(answer.user),
        () => undefined, // cancelled, or the button took over
      );
      cleanup = cancelPasskeyRequest;
    })();
    return () => {
      live = false;
      cleanup();
    };
  }, []);
  const withPasskey = async () => {
    setPasskeyError('');
    try {
      const answer = await signInWithPasskey<{ user: User }>(api, passkeyRoutes.signIn);
      onDone(answer.user);
    } catch (err) {
      setPasskeyError(messageFor(err));
    }
  };
  if (secondFactor) return <SecondFactor onDone={onDone} />;
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
      <h1 id="login-title">Log in</h1>
      <p className="hint">
        Your session stays on the server. This page keeps no token: the browser holds one HttpOnly cookie.
      </p>
      <label>
        Username or e-mail
        <input name="username" autoComplete="username webauthn" required maxLength={254} />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required />
      </label>
      <label className="check">
        <input name="remember" type="checkbox" />
        Keep me signed in on this device for 30 days
      </label>
      <p className="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Logging in…' : 'Log in'}
      </button>
      {passkeys ? (
        <>
          {' '}
          <button type="button" className="quiet" onClick={() => void withPasskey()}>
            Sign in with a passkey
          </button>
          <p className="error" role="alert">
            {passkeyError}
          </p>
        </>
      ) : null}
      <p>
        <a
          href="/forgot"
          onClick={(e) => {
            e.preventDefault();
            navigate('forgot');
          }}
        >
          Forgot your password?
        </a>
      </p>
      <p>
        No account?{' '}
        <a
          href="/register"
          onClick={(e) => {
            e.preventDefault();
            navigate('register');
          }}
        >
          Register
        </a>
      </p>
    </form>
  );
}
