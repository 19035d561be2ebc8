// The browser half: @latchkey/client against the example servers. The page holds no token; the
// session is an HttpOnly cookie that no script here (or injected here) can read.
import { ApiError, createApiClient, wipe } from '@latchkey/client';

interface User {
  id: string;
  name: string;
}

const api = createApiClient<{
  credentials: { username: string; password: string };
  login: { user: User };
  me: { user: User };
}>({ endpoints: { login: '/api/login', logout: '/api/logout', me: '/api/me' } });

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;
const show = (user: User | null) => {
  $('#login').hidden = user !== null;
  $('#app').hidden = user === null;
  $('#name').textContent = user?.name ?? ''; // text, never HTML
};

// Logout here or in another tab, or a session that ended on the server: wipe this device.
api.on('logged-out', async () => {
  await wipe();
  show(null);
});

$<HTMLFormElement>('#login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  try {
    const { user } = await api.login({
      username: String(form.get('username')),
      password: String(form.get('password')),
    });
    $('#error').textContent = '';
    show(user);
  } catch (error) {
    const code = error instanceof ApiError ? error.code : 'OFFLINE';
    $('#error').textContent =
      code === 'INVALID_CREDENTIALS' ? 'Wrong name or password.' : `Could not log in (${code}).`;
  }
});
$('#logout').addEventListener('click', () => void api.logout());

show((await api.me())?.user ?? null);
