/** "Forgot password": an address in, the same "check your inbox" out whatever the address. */
import { type FormEvent, useState } from 'react';
import { api, messageFor, type RequestAccepted } from '../api.js';
import { navigate } from '../router.js';

export function Forgot() {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [sentTo, setSentTo] = useState('');
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const email = String(new FormData(e.currentTarget).get('email'));
    setBusy(true);
    setError('');
    try {
      await api.request<RequestAccepted>('/api/auth/password-reset', { method: 'POST', body: { email } });
      setSentTo(email);
    } catch (err) {
      setError(messageFor(err));
    }
    setBusy(false);
  };
  const toLogin = (
    <p>
      <a
        href="/login"
        onClick={(e) => {
          e.preventDefault();
          navigate('login');
        }}
      >
        Back to log in
      </a>
    </p>
  );
  if (sentTo)
    return (
      <section className="card" aria-labelledby="forgot-sent-title">
        <h1 id="forgot-sent-title">Check your inbox</h1>
        <p role="status">
          If <strong>{sentTo}</strong> belongs to an account, a link to set a new password is on its way. It works for
          30 minutes, once.
        </p>
        {toLogin}
      </section>
    );
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="forgot-title">
      <h1 id="forgot-title">Forgot your password?</h1>
      <p className="hint">Enter the account's e-mail address: we mail it a link to set a new password.</p>
      <label>
        E-mail address
        <input name="email" type="email" autoComplete="email" required maxLength={254} />
      </label>
      <p className="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Sending…' : 'Send the link'}
      </button>
      {toLogin}
    </form>
  );
}
