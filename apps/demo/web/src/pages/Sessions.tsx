import { useCallback, useEffect, useState } from 'react';
import { api, messageFor } from '../api.js';

interface SessionRow {
  id: string;
  current: boolean;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastSeenAt: string;
  /** Until when the session may last at most (its absolute limit). */
  absoluteExpiresAt?: string;
  /** The user chose "keep me signed in" at this login: a longer absolute limit. */
  remembered?: boolean;
  /** The browser bound this session to a key it cannot export (DBSC): a copied cookie is useless elsewhere. */
  deviceBound?: boolean;
}

/** An API client signed in with the password grant: one refresh-token family. */
interface GrantRow {
  id: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string;
}

const device = (ua: string | null) => {
  if (!ua) return 'Unknown device';
  const browser = /(Firefox|Edg|Chrome|Safari)\/[\d.]+/.exec(ua)?.[0]?.replace('Edg', 'Edge') ?? 'Browser';
  const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(ua)?.[0] ?? '';
  return `${browser}${os ? ` on ${os}` : ''}`;
};

const when = (iso: string | null | undefined) => {
  const date = iso ? new Date(iso) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toLocaleString() : '—';
};

/** What the server sent, checked: a server without grants (or an odd row) shows none. */
const grantsOf = (value: unknown): GrantRow[] =>
  Array.isArray(value)
    ? value.filter(
        (g): g is GrantRow =>
          typeof g === 'object' && g !== null && typeof (g as GrantRow).id === 'string' && (g as GrantRow).id !== '',
      )
    : [];

export function Sessions() {
  const [rows, setRows] = useState<SessionRow[] | null>(null);
  const [grants, setGrants] = useState<GrantRow[]>([]);
  const [message, setMessage] = useState('');
  const load = useCallback(async () => {
    try {
      const answer = await api.request<{ sessions: SessionRow[]; grants?: unknown }>('/api/sessions');
      setRows(answer.sessions);
      setGrants(grantsOf(answer.grants));
    } catch (error) {
      setMessage(messageFor(error));
    }
  }, []);
  useEffect(() => void load(), [load]);
  const revoke = async (id: string) => {
    await api.request(`/api/sessions/${id}`, { method: 'DELETE' }).catch((e) => setMessage(messageFor(e)));
    await load();
  };
  const revokeGrant = async (grant: GrantRow) => {
    try {
      await api.request(`/api/grants/${encodeURIComponent(grant.id)}`, { method: 'DELETE' });
      setMessage(`API token from ${when(grant.createdAt)} revoked.`);
    } catch (error) {
      setMessage(messageFor(error));
    }
    await load();
  };
  const revokeOthers = async () => {
    // The server ends the other browser sessions and every API token (R3).
    const { revoked } = await api.request<{ revoked: number }>('/api/sessions/revoke-others', { method: 'POST' });
    const what = grants.length > 0 ? 'other sessions and API tokens' : `other session${revoked === 1 ? '' : 's'}`;
    setMessage(`${revoked} ${what} ended.`);
    await load();
  };
  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions</h1>
      <p className="hint">Every browser where you are logged in. End any you do not recognise.</p>
      <p role="status">{message}</p>
      {rows === null ? (
        <p role="status">Loading sessions…</p>
      ) : (
        <table className="sessions" data-testid="browser-sessions">
          <caption className="sr-only">Your sessions</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Address</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last active</th>
              <th scope="col">Ends at the latest</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id} className={s.current ? 'current' : undefined}>
                <td>
                  {device(s.userAgent)} {s.current ? <strong className="tag">This device</strong> : null}{' '}
                  {s.deviceBound === true ? (
                    <strong
                      className="tag bound"
                      title="Bound to a key this browser holds: a copy of its cookie is useless on another device"
                    >
                      Device-bound
                    </strong>
                  ) : null}
                </td>
                <td>{s.ip ?? '—'}</td>
                <td>{new Date(s.createdAt).toLocaleString()}</td>
                <td>{new Date(s.lastSeenAt).toLocaleString()}</td>
                <td>
                  {when(s.absoluteExpiresAt)}{' '}
                  {s.remembered === true ? (
                    <strong className="tag" title="Kept signed in: chosen at login">
                      Remembered
                    </strong>
                  ) : null}
                </td>
                <td>
                  {s.current ? null : (
                    <button
                      type="button"
                      className="quiet"
                      onClick={() => void revoke(s.id)}
                      aria-label={`End session on ${device(s.userAgent)}`}
                    >
                      End
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button
        type="button"
        onClick={() => void revokeOthers()}
        disabled={!rows || (rows.length < 2 && grants.length === 0)}
      >
        Log out all other sessions
      </button>

      <h2 id="grants-title">Signed-in apps / API tokens</h2>
      <p className="hint">
        Apps and scripts that signed in with your password (a CLI, say). Revoke one and its refresh token stops working
        at once; an access token it already holds expires within 5 minutes.
      </p>
      {rows === null ? null : grants.length === 0 ? (
        <p data-testid="no-grants">No app or script is signed in.</p>
      ) : (
        <table className="sessions" aria-labelledby="grants-title" data-testid="grants">
          <thead>
            <tr>
              <th scope="col">Token</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {grants.map((g) => (
              <tr key={g.id}>
                <td>API token …{g.id.slice(-6)}</td>
                <td>{when(g.createdAt)}</td>
                <td>{g.lastUsedAt ? when(g.lastUsedAt) : 'never'}</td>
                <td>{when(g.expiresAt)}</td>
                <td>
                  <button
                    type="button"
                    className="quiet"
                    onClick={() => void revokeGrant(g)}
                    aria-label={`Revoke API token …${g.id.slice(-6)}`}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
