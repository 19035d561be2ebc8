// The article's front end after the migration: no token anywhere in the page. The browser sends
// the HttpOnly cookie by itself; logout also wipes what this origin stored.
import { createApiClient, wipe } from '@latchkey/client';

const api = createApiClient<{
  credentials: { username: string; password: string };
  me: { user: { id: string; username: string } };
}>({
  endpoints: { login: '/api/auth/login', logout: '/api/auth/logout', me: '/api/me' },
});
const who = document.querySelector('#who') as HTMLElement;

async function showUser() {
  const me = await api.me();
  who.textContent = me ? `Signed in as ${me.user.username}` : 'Signed out';
}

document.querySelector('#login')?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  await api.login({ username: String(form.get('username')), password: String(form.get('password')) });
  await showUser();
});

document.querySelector('#logout')?.addEventListener('click', async () => {
  await api.logout();
  await wipe();
  await showUser();
});

void showUser();
