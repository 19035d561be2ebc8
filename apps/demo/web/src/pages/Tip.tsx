/**
 * A card whose data comes from the downstream service through the backend-for-frontend: the
 * browser calls /bff/api/tip with its cookie; the server calls the downstream with a short JWT
 * the browser never sees (J6).
 */
import { useEffect, useState } from 'react';
import { api } from '../api.js';

interface Tip {
  tip: string;
  tokenLifetimeSeconds: number;
}

export function DownstreamTip() {
  const [tip, setTip] = useState<Tip | null | 'unavailable'>(null);
  useEffect(() => {
    api
      .request<Tip>('/bff/api/tip')
      .then(setTip)
      .catch(() => setTip('unavailable'));
  }, []);
  return (
    <aside className="card tip" aria-labelledby="tip-title">
      <h2 id="tip-title">Security tip</h2>
      {tip === null ? (
        <p role="status">Loading…</p>
      ) : tip === 'unavailable' ? (
        <p className="hint">The tip service is unavailable right now.</p>
      ) : (
        <>
          <p data-testid="tip">{tip.tip}</p>
          <p className="hint">
            From the downstream service, which verified a {tip.tokenLifetimeSeconds}-second token that this page never
            saw.
          </p>
        </>
      )}
    </aside>
  );
}
