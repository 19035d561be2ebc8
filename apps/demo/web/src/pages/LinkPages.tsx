/**
 * The pages a mailed link opens. Each reads the token from the URL fragment (link-token.ts), never
 * sends it until the user acts (a mail scanner that opens the link uses nothing), and POSTs it:
 *
 *   /verify#token=…             finish signing up: the password chosen at sign-up again → logged in
 *   /reset#token=…              a new password → every other session ends, logged in here
 *   /confirm-email#token=…      the new address of an e-mail change
 *   /undo-email-change#token=…  "it was not me": the old address back, everyone logged out
 */
import { ApiError } from '@latchkey/client';
import { type FormEvent, type ReactNode, useState } from 'react';
import { api, type LoginAnswer, messageFor, type User } from '../api.js';
import { takeLinkToken } from '../link-token.js';
import { navigate, type Page } from '../router.js';
import { SecondFactor } from './SecondFactor.js';

const go = (page: Page, label: string) => (
  <a
    href={`/${page}`}
    onClick={(e) => {
      e.preventDefault();
      navigate(page);
    }}
  >
    {label}
  </a>
);

/** A link without a token (opened by hand, or cut short by the mail program). */
function NoToken({ title, again }: { title: string; again: ReactNode }) {
  return (
    <section className="card" aria-labelledby="link-title">
      <h1 id="link-title">{title}</h1>
      <p role="alert" className="error">
        This page needs the whole link from the mail. Open the link again, or copy all of it into the address bar.
      </p>
      <p>{again}</p>
    </section>
  );
}

/** A password form that POSTs the token with it and logs in with the answer. */
function TokenPasswordForm(props: {
  id: string;
  title: string;
  hint: string;
  label: string;
  autoComplete: 'current-password' | 'new-password';
  path: string;
  submitLabel: string;
  wrongPassword: string;
  again: ReactNode;
  onDone: (user: User) => void;
}) {
  const [token] = useState(takeLinkToken);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [secondFactor, setSecondFactor] = useState<null | { canRemove: boolean }>(null);
  if (secondFactor) return <SecondFactor onDone={props.onDone} canRemove={secondFactor.canRemove} />;
  if (!token) return <NoToken title={props.title} again={props.again} />;
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const answer = await api.request<LoginAnswer>(props.path, {
        method: 'POST',
        body: { token, password: String(new FormData(e.currentTarget).get('password')) },
      });
      // Two-factor codes on: the reset is one factor; the code (or removing the factors) is the other.
      if (!('user' in answer)) return setSecondFactor({ canRemove: answer.canRemove === true });
      api.assumeLoggedIn(); // the answer set the session cookie
      props.onDone(answer.user);
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'INVALID_CREDENTIALS' ? props.wrongPassword : messageFor(err));
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby={props.id}>
      <h1 id={props.id}>{props.title}</h1>
      <p className="hint">{props.hint}</p>
      <label>
        {props.label}
        <input name="password" type="password" autoComplete={props.autoComplete} required minLength={8} />
      </label>
      <p className="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'One moment…' : props.submitLabel}
      </button>
      <p>{props.again}</p>
    </form>
  );
}

export function Verify({ onDone }: { onDone: (user: User) => void }) {
  return (
    <TokenPasswordForm
      id="verify-title"
      title="Finish signing up"
      hint="Enter the password you chose when you signed up: the link proves the address is yours, the password that you chose it."
      label="Password"
      autoComplete="current-password"
      path="/api/auth/verify"
      submitLabel="Finish signing up"
      wrongPassword="That is not the password chosen at sign-up. If you did not sign up, ignore the mail."
      again={<>Link not working? {go('register', 'Sign up again')} for a new one.</>}
      onDone={onDone}
    />
  );
}

export function Reset({ onDone }: { onDone: (user: User) => void }) {
  return (
    <TokenPasswordForm
      id="reset-title"
      title="Set a new password"
      hint="Every device logged in to the account is logged out; this one is logged in with the new password."
      label="New password"
      autoComplete="new-password"
      path="/api/auth/password-reset/confirm"
      submitLabel="Set the password"
      wrongPassword="Check the password."
      again={<>Link not working? {go('forgot', 'Ask for a new one')}.</>}
      onDone={onDone}
    />
  );
}

/** Confirm or undo an e-mail change: one button, then what the server says the address is now. */
function EmailLink(props: { kind: 'confirm' | 'undo' }) {
  const [token] = useState(takeLinkToken);
  const [error, setError] = useState('');
  const [done, setDone] = useState('');
  const [busy, setBusy] = useState(false);
  const confirm = props.kind === 'confirm';
  const title = confirm ? 'Confirm your new address' : 'Undo the change of address';
  const again = go('login', 'Go to log in');
  if (!token) return <NoToken title={title} again={again} />;
  const submit = async () => {
    setBusy(true);
    setError('');
    try {
      const { email } = await api.request<{ email: string }>(
        confirm ? '/api/account/email/confirm' : '/api/account/email/undo',
        { method: 'POST', body: { token } },
      );
      setDone(
        confirm
          ? `The account's address is now ${email}.`
          : `The account's address is ${email} again. Every device was logged out and the password was ended: we mailed ${email} a link to set a new one.`,
      );
    } catch (err) {
      setError(messageFor(err));
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="email-link-title">
      <h1 id="email-link-title">{title}</h1>
      {done ? (
        <>
          <p role="status">{done}</p>
          <p>{confirm ? go('account', 'Back to the account') : again}</p>
        </>
      ) : (
        <>
          <p className="hint">
            {confirm
              ? 'The account will use this address for its mail and its log in.'
              : 'If you did not ask for this change, undo it: the old address comes back and whoever changed it is logged out.'}
          </p>
          <p className="error" role="alert">
            {error}
          </p>
          <button type="button" disabled={busy} onClick={() => void submit()}>
            {confirm ? 'Confirm the address' : 'Undo the change'}
          </button>
        </>
      )}
    </section>
  );
}

export const ConfirmEmail = () => <EmailLink kind="confirm" />;
export const UndoEmailChange = () => <EmailLink kind="undo" />;
