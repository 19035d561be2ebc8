/** What the login and register forms share: send the two fields, keep nothing, show the error. */
import type { User } from '@latchkey/client';
import { type FormEvent, useState } from 'react';
import { messageFor } from '../api.js';

export function useCredentialsForm(
  send: (username: string, password: string) => Promise<{ user: User }>,
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
      const { user } = await send(String(form.get('username')), String(form.get('password')));
      onDone(user);
    } catch (err) {
      setError(messageFor(err));
      setBusy(false);
    }
  };
  return { error, busy, submit };
}
