/**
 * E-mail address, two-factor sign-in, password change and the API key: each change needs a fresh
 * session (step-up).
 * The key is shown in the page only, never stored: when the server says the session is not fresh,
 * the page asks for the password, re-authenticates, and asks again. A new address counts once its
 * owner follows the link mailed to it; the old address gets a notice with a link that undoes it.
 */
import { ApiError } from '@latchkey/client';
import { proveWithPasskey } from '@latchkey/client/passkeys';
import { type FormEvent, useEffect, useState } from 'react';
import { api, messageFor, passkeyRoutes, passkeysAvailable } from '../api.js';
import { Passkeys } from './Passkeys.js';
import { TwoFactor } from './TwoFactor.js';

function StepUp({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const [error, setError] = useState('');
  // A two-factor account proves both again: the password and a code.
  const [withCode, setWithCode] = useState(false);
  // A passkey (with user verification) proves both factors at once: it may stand in for all of it.
  const [withPasskey, setWithPasskey] = useState(false);
  useEffect(() => {
    api
      .request<{ enabled: boolean }>('/api/account/totp')
      .then((s) => setWithCode(s.enabled))
      .catch(() => undefined);
    void passkeysAvailable().then(async (on) => {
      if (!on) return;
      const mine = await api.request<{ passkeys: unknown[] }>('/api/account/passkeys').catch(() => ({ passkeys: [] }));
      setWithPasskey(mine.passkeys.length > 0);
    });
  }, []);
  const proveByPasskey = async () => {
    setError('');
    try {
      await proveWithPasskey(api, passkeyRoutes.stepUp);
      onDone();
    } catch (err) {
      setError(messageFor(err));
    }
  };
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      await api.request('/api/auth/reauthenticate', {
        method: 'POST',
        body: {
          password: String(form.get('password')),
          ...(withCode ? { code: String(form.get('code')).trim() } : {}),
        },
      });
      onDone();
    } catch (err) {
      setError(messageFor(err));
    }
  };
  return (
    <form className="card stepup" onSubmit={(e) => void submit(e)} aria-labelledby="stepup-title">
      <h2 id="stepup-title">Confirm it is you</h2>
      <p className="hint">Enter your password again to continue. You will not be asked again for 10 minutes.</p>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required />
      </label>
      {withCode ? (
        <label>
          Code from your authenticator app (or a recovery code)
          <input name="code" autoComplete="one-time-code" required maxLength={20} />
        </label>
      ) : null}
      <p className="error" role="alert">
        {error}
      </p>
      <button type="submit">Confirm</button>{' '}
      {withPasskey ? (
        <>
          <button type="button" onClick={() => void proveByPasskey()}>
            Use a passkey instead
          </button>{' '}
        </>
      ) : null}
      <button type="button" className="quiet" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}

const needsStepUp = (error: unknown) => error instanceof ApiError && error.code === 'REAUTHENTICATION_REQUIRED';

export function Account() {
  const [key, setKey] = useState<{ apiKey: string; masked: boolean } | null>(null);
  const [stepUp, setStepUp] = useState<null | (() => void)>(null);
  const [message, setMessage] = useState('');
  const [pwError, setPwError] = useState('');
  const [email, setEmail] = useState('');
  const [emailError, setEmailError] = useState('');
  const [emailSent, setEmailSent] = useState('');
  const [passkeys, setPasskeys] = useState(false);

  useEffect(() => {
    api
      .request<{ apiKey: string; masked: boolean }>('/api/account/api-key')
      .then(setKey)
      .catch((e: unknown) => setMessage(messageFor(e)));
    api
      .me()
      .then((me) => setEmail(me?.user.email ?? ''))
      .catch(() => undefined);
    void passkeysAvailable().then(setPasskeys);
  }, []);

  const changeEmail = async (form: HTMLFormElement) => {
    const wanted = String(new FormData(form).get('email'));
    setEmailError('');
    setEmailSent('');
    try {
      await api.request('/api/account/email', { method: 'POST', body: { email: wanted } });
      setStepUp(null);
      form.reset();
      setEmailSent(
        `We sent a link to ${wanted}: the address changes when you open it. ${email || 'Your current address'} got a notice with a link that undoes the change.`,
      );
    } catch (error) {
      if (needsStepUp(error)) setStepUp(() => () => void changeEmail(form));
      else if (error instanceof ApiError && error.code === 'BAD_REQUEST')
        setEmailError('That is the address the account has already.');
      else if (error instanceof ApiError && error.code === 'TOO_MANY_ATTEMPTS')
        setEmailError(
          'The address changed recently: it can change again once the undo link of that change has expired (7 days).',
        );
      else setEmailError(messageFor(error));
    }
  };

  const reveal = async () => {
    const result = await api.request<{ apiKey: string; masked: boolean }>('/api/account/api-key?reveal=1');
    if (result.masked) setStepUp(() => () => void reveal());
    else {
      setStepUp(null);
      setKey(result);
    }
  };

  const changePassword = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    setPwError('');
    try {
      const { revokedSessions } = await api.request<{ revokedSessions: number }>('/api/account/password', {
        method: 'POST',
        body: { currentPassword: String(data.get('current')), newPassword: String(data.get('new')) },
      });
      setStepUp(null);
      form.reset();
      setMessage(`Password changed. ${revokedSessions} other session${revokedSessions === 1 ? '' : 's'} ended.`);
    } catch (error) {
      if (needsStepUp(error)) setStepUp(() => () => void changePassword(form));
      else
        setPwError(
          error instanceof ApiError && error.code === 'INVALID_CREDENTIALS'
            ? 'The current password is wrong.'
            : messageFor(error),
        );
    }
  };

  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Account</h1>
      <p role="status">{message}</p>
      {stepUp ? <StepUp onDone={stepUp} onCancel={() => setStepUp(null)} /> : null}
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          void changeEmail(e.currentTarget);
        }}
        aria-labelledby="email-title"
      >
        <h2 id="email-title">E-mail address</h2>
        <p>
          <span data-testid="email">{email || '…'}</span>
        </p>
        <label>
          New address
          <input name="email" type="email" autoComplete="email" required maxLength={254} />
        </label>
        <p className="error" role="alert">
          {emailError}
        </p>
        <p role="status">{emailSent}</p>
        <button type="submit">Change address</button>
      </form>
      {passkeys ? <Passkeys stepUp={(retry) => setStepUp(() => retry)} /> : null}
      <TwoFactor stepUp={(retry) => setStepUp(() => retry)} />
      <div className="card">
        <h2>API key</h2>
        <p className="hint">The server keeps this key. It is shown whole only right after you confirm your password.</p>
        <p>
          <code data-testid="api-key">{key?.apiKey ?? '…'}</code>
        </p>
        {key?.masked !== false ? (
          <button type="button" onClick={() => void reveal()}>
            Reveal key
          </button>
        ) : (
          <button
            type="button"
            className="quiet"
            onClick={() => void api.request<{ apiKey: string; masked: boolean }>('/api/account/api-key').then(setKey)}
          >
            Hide key
          </button>
        )}
      </div>
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          void changePassword(e.currentTarget);
        }}
        aria-labelledby="pw-title"
      >
        <h2 id="pw-title">Change password</h2>
        <label>
          Current password
          <input name="current" type="password" autoComplete="current-password" required />
        </label>
        <label>
          New password
          <input name="new" type="password" autoComplete="new-password" required minLength={8} />
        </label>
        <p className="error" role="alert">
          {pwError}
        </p>
        <button type="submit">Change password</button>
        <p className="hint">Changing it logs out every other session.</p>
      </form>
    </section>
  );
}
