/**
 * The shell: who is logged in (from the server, never from storage), the header with the username
 * and avatar, the offline banner, and the pages. A `logged-out` event (a 401 here, or logout in
 * another tab) wipes this device's data and shows the login page. If the server says the session
 * belongs to another account than the one whose notes are on this device (a session cookie set
 * from another port of this host), the app stops and says so; nothing is sent or taken.
 */
import { OfflineError, ownerKey, wipe } from '@latchkey/client';
import { useCallback, useEffect, useState } from 'react';
import { api, type User } from './api.js';
import { deviceOwner, lockDatabase, onOwnerMismatch, sync, unlockDatabase } from './notes-db.js';
import { Account } from './pages/Account.js';
import { Forgot } from './pages/Forgot.js';
import { ConfirmEmail, Reset, UndoEmailChange, Verify } from './pages/LinkPages.js';
import { Login } from './pages/Login.js';
import { Notes } from './pages/Notes.js';
import { Register } from './pages/Register.js';
import { Sessions } from './pages/Sessions.js';
import { LINK_PAGES, navigate, type Page, SIGNED_OUT_PAGES, usePage } from './router.js';

type Auth =
  | { state: 'loading' }
  | { state: 'in'; user: User | null }
  | { state: 'out' }
  /** The session is another account's than this device's notes: nothing syncs until a login. */
  | { state: 'swapped'; user: User };

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

  /**
   * The server said who the session belongs to. Open that account's notes, unless this device
   * holds another account's (and this is not a login the user just made here): then stop.
   */
  const confirm = useCallback(async (user: User, loggedInHere: boolean): Promise<boolean> => {
    const key = await ownerKey(user.id);
    const mine = deviceOwner();
    if (!loggedInHere && mine !== undefined && mine !== key) {
      setAuth({ state: 'swapped', user });
      return false;
    }
    unlockDatabase(key); // before the notes page mounts and reads it
    setAuth({ state: 'in', user });
    return true;
  }, []);

  useEffect(() => {
    const offEvents = [
      api.on('logged-out', () => void loggedOut()),
      api.on('connectivity', (value) => {
        setOnline(value);
        if (value) void sync().catch(() => undefined);
      }),
      onOwnerMismatch((user) => setAuth({ state: 'swapped', user })),
    ];
    // Nobody logged in: the client fires `logged-out` itself if this tab thought otherwise.
    const retry = () =>
      void api
        .me()
        .then(async (me) => {
          if (me && (await confirm(me.user, false))) await sync();
        })
        .catch(() => undefined);
    window.addEventListener('online', retry);
    // While offline, look for the server every few seconds so queued changes go out when it is back.
    const timer = setInterval(() => {
      if (!api.online) retry();
    }, 3000);
    api
      .me()
      .then(async (me) => {
        if (me) {
          if (await confirm(me.user, false)) void sync().catch(() => undefined);
        } else if (deviceOwner() !== undefined) {
          // Nobody is logged in, yet this device holds an account's notes (its session ended
          // while the app was closed): they go, as at logout.
          await loggedOut();
        } else setAuth({ state: 'out' });
      })
      .catch((error: unknown) => {
        // Offline: keep working from the notes of the account last seen here; the server decides
        // who we are later (and the outbox sends nothing until it has).
        const mine = deviceOwner();
        if (error instanceof OfflineError && mine !== undefined) {
          unlockDatabase(mine);
          // So that a 401 once the server is back logs this tab out (and wipes) like any other.
          api.assumeLoggedIn();
          setAuth({ state: 'in', user: null });
        } else setAuth({ state: 'out' });
      });
    return () => {
      for (const off of offEvents) off();
      window.removeEventListener('online', retry);
      clearInterval(timer);
    };
  }, [loggedOut, confirm]);

  // The service worker (offline app shell) exists only while someone is logged in: wipe() removes
  // it at logout, and a logged-out visitor has nothing to work on offline.
  useEffect(() => {
    if (auth.state === 'in' && 'serviceWorker' in navigator)
      void navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
  }, [auth.state]);

  useEffect(() => {
    if (auth.state === 'out' && !SIGNED_OUT_PAGES.includes(page) && !LINK_PAGES.includes(page)) navigate('login');
    if (auth.state === 'in' && SIGNED_OUT_PAGES.includes(page)) navigate('notes');
  }, [auth, page]);

  const signedIn = async (user: User) => {
    await confirm(user, true);
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
  // A mailed link's page, whoever is logged in here: the token in the link is what counts.
  if (LINK_PAGES.includes(page))
    return (
      <main className="auth">
        {page === 'verify' ? (
          <Verify onDone={(user) => void signedIn(user)} />
        ) : page === 'reset' ? (
          <Reset onDone={(user) => void signedIn(user)} />
        ) : page === 'confirm-email' ? (
          <ConfirmEmail />
        ) : (
          <UndoEmailChange />
        )}
      </main>
    );
  if (auth.state === 'out')
    return (
      <main className="auth">
        {page === 'register' ? (
          <Register />
        ) : page === 'forgot' ? (
          <Forgot />
        ) : (
          <Login onDone={(user) => void signedIn(user)} />
        )}
      </main>
    );
  if (auth.state === 'swapped')
    return (
      <main className="auth">
        <section role="alert" aria-labelledby="swapped-title">
          <h1 id="swapped-title">Signed in as another account</h1>
          <p>
            The server says this browser is now signed in as <strong>{auth.user.username}</strong>, not as the account
            whose notes are on this device. Another site on this host may have set the session cookie.
          </p>
          <p>Nothing from this device was sent to that account: changes not yet sent stay here.</p>
          <button
            type="button"
            onClick={() => {
              setAuth({ state: 'out' }); // no wipe: log in as the right account and they are sent
              navigate('login');
            }}
          >
            Log in again
          </button>
        </section>
      </main>
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
