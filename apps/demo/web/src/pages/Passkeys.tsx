/**
 * Passkeys on the Account page: add one (a fresh session: when the server says so, `stepUp` asks
 * for proof and the action runs again), see each with when it was last used and whether it syncs,
 * rename it, remove it. The private key never reaches the page: the browser and the authenticator
 * keep it, and the server stores only the public key.
 */
import { ApiError } from '@latchkey/client';
import { createPasskey } from '@latchkey/client/passkeys';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { api, messageFor, passkeyRoutes } from '../api.js';

interface Passkey {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  syncable: boolean;
  backedUp: boolean;
}

const needsStepUp = (error: unknown) => error instanceof ApiError && error.code === 'REAUTHENTICATION_REQUIRED';
const day = (ms: number) => new Date(ms).toLocaleDateString(undefined, { dateStyle: 'medium' });

export function Passkeys({ stepUp }: { stepUp: (retry: () => void) => void }) {
  const [list, setList] = useState<Passkey[] | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [error, setError] = useState('');
  const load = useCallback(
    () =>
      api
        .request<{ passkeys: Passkey[] }>('/api/account/passkeys')
        .then((r) => setList(r.passkeys))
        .catch((e: unknown) => setError(messageFor(e))),
    [],
  );
  useEffect(() => void load(), [load]);

  const act = async (action: () => Promise<void>) => {
    setError('');
    try {
      await action();
      await load();
    } catch (e) {
      if (needsStepUp(e)) stepUp(() => void act(action));
      else setError(messageFor(e));
    }
  };
  const add = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get('name')).trim() || 'Passkey';
    void act(async () => {
      await createPasskey(api, passkeyRoutes.register, { name });
      form.reset();
    });
  };
  const rename = (e: FormEvent<HTMLFormElement>, id: string) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget).get('name')).trim();
    void act(async () => {
      await api.request(`/api/account/passkeys/${id}`, { method: 'PATCH', body: { name } });
      setRenaming(null);
    });
  };
  const remove = (id: string) =>
    act(() => api.request(`/api/account/passkeys/${id}`, { method: 'DELETE' }).then(() => undefined));

  return (
    <section className="card" aria-labelledby="passkeys-title">
      <h2 id="passkeys-title">Passkeys</h2>
      <p className="hint">
        A passkey signs you in with your fingerprint, face or device PIN, and only on this site: it cannot be phished.
      </p>
      {list === null ? (
        <p role="status">Loading…</p>
      ) : list.length === 0 ? (
        <p data-testid="passkeys-status">No passkeys yet.</p>
      ) : (
        <ul className="passkeys" data-testid="passkeys">
          {list.map((p) => (
            <li key={p.id}>
              {renaming === p.id ? (
                <form onSubmit={(e) => rename(e, p.id)} aria-label={`Rename ${p.name}`}>
                  <input name="name" defaultValue={p.name} required maxLength={64} aria-label="New name" />{' '}
                  <button type="submit">Save</button>
                </form>
              ) : (
                <>
                  <strong>{p.name}</strong>{' '}
                  <span className="hint">
                    added {day(p.createdAt)}, {p.lastUsedAt ? `last used ${day(p.lastUsedAt)}` : 'not used yet'}
                    {p.syncable ? (p.backedUp ? ', synced' : ', can sync') : ', this device only'}
                  </span>{' '}
                  <button type="button" className="quiet" onClick={() => setRenaming(p.id)}>
                    Rename
                  </button>{' '}
                  <button
                    type="button"
                    className="quiet"
                    onClick={() => void remove(p.id)}
                    aria-label={`Remove ${p.name}`}
                  >
                    Remove
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={add} aria-label="Add a passkey">
        <label>
          Name (so you can tell them apart)
          <input name="name" placeholder="Laptop" maxLength={64} />
        </label>
        <button type="submit">Add a passkey</button>
      </form>
      <p className="error" role="alert">
        {error}
      </p>
    </section>
  );
}
