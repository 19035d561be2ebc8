/**
 * The shell: who is logged in (from the server, never from storage), the header with the username
 * and avatar, the offline banner, and the pages. A `logged-out` event (a 401 here, or logout in
 * another tab) wipes this device's data and shows the login page.
 */
import { OfflineError, type User, wipe } from '@latchkey/client';
import { useCallback, useEffect, useState } from 'react';
import { api } from './api.js';
import { lockDatabase, sync, unlockDatabase } from './notes-db.js';
import { Account } from './pages/Account.js';
import { Login } from './pages/Login.js';
import { Notes } from './pages/Notes.js';
import { Register } from './pages/Register.js';
import { Sessions } from './pages/Sessions.js';
import { navigate, type Page, usePage } from './router.js';

type Auth = { state: 'loading' } | { state: 'in'; user: User | null } | { state: 'out' };

async function clearDevice() {
  lockDatabase();
  await wipe();
}

export function App() {
  const page = usePage();
  const [auth, setAuth] = useState<Auth>({ state: 'loading' });
  const [online, setOnline] = useState(true);

  const loggedOut = useCallback(async () => {
    // The local store is closed at once (no late refresh can re-create it); the login page does
    // not wait for the wipe, which another tab's open connection may hold up for a moment.
    const wiping = clearDevice().catch(() => undefined);
    setAuth({ state: 'out' });
    navigate('login');
    await wiping;
  }, []);

  useEffect(() => {
    const offEvents = [
      api.on('logged-out', () => void loggedOut()),
      api.on('connectivity', (value) => {
        setOnline(value);
        if (value) void sync().catch(() => undefined);
      }),
    ];
    const retry = () =>
      void api
        .me()
        .then(() => sync())
        .catch(() => undefined);
    window.addEventListener('online', retry);
    // While offline, look for the server every few seconds so queued changes go out when it is back.
    const timer = setInterval(() => {
      if (!api.online) retry();
    }, 3000);
    api
      .me()
      .then(({ user }) => {
        unlockDatabase();
        setAuth({ state: 'in', user });
        void sync().catch(() => undefined);
      })
      .catch((error: unknown) => {
        // Offline: keep working from this device's notes; the server decides who we are later.
        if (error instanceof OfflineError) {
          unlockDatabase();
          setAuth({ state: 'in', user: null });
        } else setAuth({ state: 'out' });
      });
    return () => {
      for (const off of offEvents) off();
      window.removeEventListener('online', retry);
      clearInterval(timer);
    };
  }, [loggedOut]);

  // The service worker (offline app shell) exists only while someone is logged in: wipe() removes
  // it at logout, and a logged-out visitor has nothing to work on offline.
  useEffect(() => {
    if (auth.state === 'in' && 'serviceWorker' in navigator)
      void navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
  }, [auth.state]);

  useEffect(() => {
    if (auth.state === 'out' && page !== 'login' && page !== 'register') navigate('login');
    if (auth.state === 'in' && (page === 'login' || page === 'register')) navigate('notes');
  }, [auth, page]);

  const signedIn = (user: User) => {
    unlockDatabase(); // before the notes page mounts and reads it
    setAuth({ state: 'in', user });
    navigate('notes');
    void sync().catch(() => undefined);
  };
  const logout = async () => {
    try {
      await api.logout(); // the server ends the session and sends Clear-Site-Data
    } catch {
      // Offline: the cookie stays until the server hears from us; local data goes anyway.
    }
    await loggedOut();
  };

  if (auth.state === 'loading')
    return (
      <p className="loading" role="status">
        Loading…
      </p>
    );
  if (auth.state === 'out')
    return (
      <main className="auth">{page === 'register' ? <Register onDone={signedIn} /> : <Login onDone={signedIn} />}</main>
    );

  const link = (target: Page, label: string) => (
    <a
      href={`/${target}`}
      aria-current={page === target ? 'page' : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(target);
      }}
    >
      {label}
    </a>
  );
  return (
    <>
      <header className="top">
        <span className="brand">latchkey notes</span>
        <nav aria-label="Main">
          {link('notes', 'Notes')}
          {link('sessions', 'Sessions')}
          {link('account', 'Account')}
        </nav>
        <span className="who">
          {auth.user ? (
            <>
              <img src={auth.user.avatarUrl} alt="" width={28} height={28} />
              <span data-testid="username">{auth.user.username}</span>
            </>
          ) : (
            <span>offline</span>
          )}
        </span>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      {!online || auth.user === null ? (
        <p className="banner" role="status">
          Offline — your changes are kept on this device and sent when the server is back.
        </p>
      ) : null}
      <main>{page === 'sessions' ? <Sessions /> : page === 'account' ? <Account /> : <Notes />}</main>
    </>
  );
}
