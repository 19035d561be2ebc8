// The article's front end: the token goes to localStorage, where every script on the page reads it.
import axios from 'axios';

const who = document.querySelector('#who') as HTMLElement;
const restore = () => {
  const token = localStorage.getItem('token');
  if (token) axios.defaults.headers.common.Authorization = token;
};

async function showUser() {
  try {
    const { data } = await axios.get('/api/me');
    who.textContent = `Signed in as ${data.user.username}`;
  } catch {
    who.textContent = 'Signed out';
  }
}

document.querySelector('#login')?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const { data } = await axios.post('/api/auth/login', Object.fromEntries(form));
  localStorage.setItem('token', data.token);
  restore();
  await showUser();
});

document.querySelector('#logout')?.addEventListener('click', async () => {
  localStorage.removeItem('token');
  delete axios.defaults.headers.common.Authorization;
  await showUser();
});

restore();
void showUser();
