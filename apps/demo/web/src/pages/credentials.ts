/** The login form's submit: send the fields (and the remember-me choice), keep nothing, show the error. */
import { type FormEvent, useState } from 'react';
import { type Credentials, messageFor, type User } from '../api.js';

export function useCredentialsForm(
  send: (credentials: Credentials) => Promise<{ user: User }>,
  onDone: (user: User) => void,
) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError('');
    try {
      const { user } = await send({
        username: String(form.get('username')),
        password: String(form.get('password')),
        remember: form.get('remember') === 'on',
      });
      onDone(user);
    } catch (err) {
      setError(messageFor(err));
      setBusy(false);
    }
  };
  return { error, busy, submit };
}
