import { useCallback, useEffect, useState } from 'react';
import { api, messageFor } from '../api.js';

interface SessionRow {
  id: string;
  current: boolean;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastSeenAt: string;
}

const device = (ua: string | null) => {
  if (!ua) return 'Unknown device';
  const browser = /(Firefox|Edg|Chrome|Safari)\/[\d.]+/.exec(ua)?.[0]?.replace('Edg', 'Edge') ?? 'Browser';
  const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(ua)?.[0] ?? '';
  return `${browser}${os ? ` on ${os}` : ''}`;
};

export function Sessions() {
  const [rows, setRows] = useState<SessionRow[] | null>(null);
  const [message, setMessage] = useState('');
  const load = useCallback(async () => {
    try {
      setRows((await api.request<{ sessions: SessionRow[] }>('/api/sessions')).sessions);
    } catch (error) {
      setMessage(messageFor(error));
    }
  }, []);
  useEffect(() => void load(), [load]);
  const revoke = async (id: string) => {
    await api.request(`/api/sessions/${id}`, { method: 'DELETE' }).catch((e) => setMessage(messageFor(e)));
    await load();
  };
  const revokeOthers = async () => {
    const { revoked } = await api.request<{ revoked: number }>('/api/sessions/revoke-others', { method: 'POST' });
    setMessage(`${revoked} other session${revoked === 1 ? '' : 's'} ended.`);
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
        <table className="sessions">
          <caption className="sr-only">Your sessions</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Address</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last active</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id} className={s.current ? 'current' : undefined}>
                <td>
                  {device(s.userAgent)} {s.current ? <strong className="tag">This device</strong> : null}
                </td>
                <td>{s.ip ?? '—'}</td>
                <td>{new Date(s.createdAt).toLocaleString()}</td>
                <td>{new Date(s.lastSeenAt).toLocaleString()}</td>
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
      <button type="button" onClick={() => void revokeOthers()} disabled={!rows || rows.length < 2}>
        Log out all other sessions
      </button>
    </section>
  );
}
