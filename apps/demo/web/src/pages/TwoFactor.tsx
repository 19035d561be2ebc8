/**
 * Two-factor sign-in on the Account page: turn it on (a QR code the server made, the secret as
 * text, and a first code to confirm), see how many recovery codes are left, make new ones, turn it
 * off. Each change needs a fresh session: when the server says so, `stepUp` asks for the password
 * and runs the action again. Recovery codes are shown once and kept nowhere in the browser.
 */
import { ApiError } from '@latchkey/client';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { api, messageFor } from '../api.js';

interface Status {
  enabled: boolean;
  pending: boolean;
  recoveryCodesLeft: number;
}

const needsStepUp = (error: unknown) => error instanceof ApiError && error.code === 'REAUTHENTICATION_REQUIRED';

/** The server's SVG as an image (img-src allows data:; no markup of the server's goes into the page). */
const svgImage = (svg: string) => `data:image/svg+xml;base64,${btoa(svg)}`;

export function TwoFactor({ stepUp }: { stepUp: (retry: () => void) => void }) {
  const [status, setStatus] = useState<Status | null>(null);
  const [enrolment, setEnrolment] = useState<{ secret: string; qrSvg: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState('');
  const load = useCallback(
    () =>
      api
        .request<Status>('/api/account/totp')
        .then(setStatus)
        .catch((e: unknown) => setError(messageFor(e))),
    [],
  );
  useEffect(() => void load(), [load]);

  /** Runs an action; a stale session asks for the password and runs it again. */
  const act = async (action: () => Promise<void>) => {
    setError('');
    try {
      await action();
    } catch (e) {
      if (needsStepUp(e)) stepUp(() => void act(action));
      else setError(messageFor(e));
    }
  };
  const start = () =>
    act(async () => {
      setCodes(null);
      setEnrolment(await api.request<{ secret: string; qrSvg: string }>('/api/account/totp/enrol', { method: 'POST' }));
    });
  const confirm = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const code = String(new FormData(e.currentTarget).get('code')).trim();
    void act(async () => {
      const done = await api.request<{ recoveryCodes: string[] }>('/api/account/totp/confirm', {
        method: 'POST',
        body: { code },
      });
      setEnrolment(null);
      setCodes(done.recoveryCodes);
      await load();
    });
  };
  const regenerate = () =>
    act(async () => {
      const done = await api.request<{ recoveryCodes: string[] }>('/api/account/totp/recovery-codes', {
        method: 'POST',
      });
      setCodes(done.recoveryCodes);
      await load();
    });
  const turnOff = () =>
    act(async () => {
      await api.request('/api/account/totp', { method: 'DELETE' });
      setCodes(null);
      await load();
    });

  return (
    <section className="card" aria-labelledby="totp-title">
      <h2 id="totp-title">Two-factor sign-in</h2>
      {status === null ? (
        <p role="status">Loading…</p>
      ) : status.enabled ? (
        <>
          <p data-testid="totp-status">
            On. <strong>{status.recoveryCodesLeft}</strong> recovery code{status.recoveryCodesLeft === 1 ? '' : 's'}{' '}
            left.
          </p>
          <button type="button" onClick={() => void regenerate()}>
            New recovery codes
          </button>{' '}
          <button type="button" className="quiet" onClick={() => void turnOff()}>
            Turn off
          </button>
        </>
      ) : enrolment ? (
        <form onSubmit={confirm} aria-label="Confirm two-factor sign-in">
          <p className="hint">Scan this code with your authenticator app, or type the key into it.</p>
          <img src={svgImage(enrolment.qrSvg)} alt="QR code for your authenticator app" width={180} height={180} />
          <p>
            Key: <code data-testid="totp-secret">{enrolment.secret}</code>
          </p>
          <label>
            The 6-digit code the app shows
            <input name="code" autoComplete="one-time-code" inputMode="numeric" required maxLength={8} />
          </label>
          <button type="submit">Turn on</button>
        </form>
      ) : (
        <>
          <p data-testid="totp-status">
            Off. A code from an app on your phone after the password stops a stolen password.
          </p>
          <button type="button" onClick={() => void start()}>
            Set up two-factor sign-in
          </button>
        </>
      )}
      {codes ? (
        <div className="codes">
          <p>
            <strong>Your recovery codes.</strong> Each works once, in place of a code. Keep them somewhere safe: they
            are shown only now.
          </p>
          <ul data-testid="recovery-codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <p className="error" role="alert">
        {error}
      </p>
    </section>
  );
}
