/**
 * The login form's submit: send the fields (and the remember-me choice), keep nothing, show the
 * error. An account with two-factor codes answers with the second step instead of the user.
 */
import { type FormEvent, useState } from 'react';
import { type Credentials, type LoginAnswer, messageFor, type User } from '../api.js';

export function useCredentialsForm(
  send: (credentials: Credentials) => Promise<LoginAnswer>,
  onDone: (user: User) => void,
) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [secondFactor, setSecondFactor] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError('');
    try {
      const answer = await send({
        username: String(form.get('username')),
        password: String(form.get('password')),
        remember: form.get('remember') === 'on',
      });
      if ('user' in answer) onDone(answer.user);
      else setSecondFactor(true);
    } catch (err) {
      setError(messageFor(err));
    }
    setBusy(false);
  };
  return { error, busy, submit, secondFactor };
}
