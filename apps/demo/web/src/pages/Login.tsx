/** The article's Login.js, done right: POST the credentials, store nothing; the cookie is HttpOnly. */
import { api, type User } from '../api.js';
import { navigate } from '../router.js';
import { useCredentialsForm } from './credentials.js';
import { SecondFactor } from './SecondFactor.js';

export function Login({ onDone }: { onDone: (user: User) => void }) {
  const { error, busy, submit, secondFactor } = useCredentialsForm(api.login, onDone);
  if (secondFactor) return <SecondFactor onDone={onDone} />;
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
      <h1 id="login-title">Log in</h1>
      <p className="hint">
        Your session stays on the server. This page keeps no token: the browser holds one HttpOnly cookie.
      </p>
      <label>
        Username or e-mail
        <input name="username" autoComplete="username" required maxLength={254} />
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
