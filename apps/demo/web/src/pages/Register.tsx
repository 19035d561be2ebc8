/**
 * Sign-up: an address, a password and (if wanted) a username. The answer is the same whether or
 * not the address has an account ("check your inbox"): the mail says which. The account is made
 * when the mailed link is followed (the verify page).
 */
import { type FormEvent, useState } from 'react';
import { api, messageFor, type RequestAccepted } from '../api.js';
import { navigate } from '../router.js';

export function Register() {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [sentTo, setSentTo] = useState('');
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const username = String(form.get('username') ?? '').trim();
    const email = String(form.get('email'));
    setBusy(true);
    setError('');
    try {
      await api.request<RequestAccepted>('/api/auth/register', {
        method: 'POST',
        body: { email, password: String(form.get('password')), ...(username ? { username } : {}) },
      });
      setSentTo(email);
    } catch (err) {
      setError(messageFor(err));
    }
    setBusy(false);
  };
  if (sentTo)
    return (
      <section className="card" aria-labelledby="inbox-title">
        <h1 id="inbox-title">Check your inbox</h1>
        <p role="status">
          We sent a mail to <strong>{sentTo}</strong>. Open the link in it within 24 hours to finish signing up: it asks
          for the password you just chose.
        </p>
        <p className="hint">
          No mail after a few minutes? Look in the spam folder, or sign up again: the new link replaces the old one.
        </p>
        <button type="button" className="quiet" onClick={() => setSentTo('')}>
          Sign up again
        </button>
      </section>
    );
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="register-title">
      <h1 id="register-title">Create an account</h1>
      <label>
        E-mail address
        <input name="email" type="email" autoComplete="email" required maxLength={254} />
      </label>
      <label>
        Username (optional)
        <input
          name="username"
          autoComplete="username"
          minLength={3}
          maxLength={32}
          pattern="[A-Za-z0-9_.\-]+"
          aria-describedby="username-hint"
        />
      </label>
      <p id="username-hint" className="hint">
        3–32 letters, digits, ".", "_" or "-". Leave it empty and one is made from your address.
      </p>
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
        {busy ? 'Sending…' : 'Create account'}
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
