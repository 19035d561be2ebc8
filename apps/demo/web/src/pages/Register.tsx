import { api, type User } from '../api.js';
import { navigate } from '../router.js';
import { useCredentialsForm } from './credentials.js';

export function Register({ onDone }: { onDone: (user: User) => void }) {
  const { error, busy, submit } = useCredentialsForm(api.register, onDone);
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="register-title">
      <h1 id="register-title">Create an account</h1>
      <label>
        Username
        <input
          name="username"
          autoComplete="username"
          required
          minLength={3}
          maxLength={32}
          pattern="[A-Za-z0-9_.\-]+"
        />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          aria-describedby="pw-hint"
        />
      </label>
      <p id="pw-hint" className="hint">
        At least 8 characters. No rules about symbols: a few unrelated words make a strong password.
      </p>
      <p className="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create account'}
      </button>
      <p>
        Have an account?{' '}
        <a
          href="/login"
          onClick={(e) => {
            e.preventDefault();
            navigate('login');
          }}
        >
          Log in
        </a>
      </p>
    </form>
  );
}
