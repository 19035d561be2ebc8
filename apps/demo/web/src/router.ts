/** A small app needs no router library: the path, and history.pushState to change it. */
import { useEffect, useState } from 'react';

export type Page =
  | 'login'
  | 'register'
  | 'forgot'
  | 'verify'
  | 'reset'
  | 'confirm-email'
  | 'undo-email-change'
  | 'notes'
  | 'sessions'
  | 'account';
const PAGES: readonly Page[] = [
  'login',
  'register',
  'forgot',
  'verify',
  'reset',
  'confirm-email',
  'undo-email-change',
  'notes',
  'sessions',
  'account',
];
/** Pages for whoever is not logged in. */
export const SIGNED_OUT_PAGES: readonly Page[] = ['login', 'register', 'forgot'];
/** The pages a mailed link opens: shown whether or not someone is logged in. */
export const LINK_PAGES: readonly Page[] = ['verify', 'reset', 'confirm-email', 'undo-email-change'];

const pageOf = (path: string): Page => {
  const name = path.replace(/^\//, '').split('/')[0] as Page;
  return PAGES.includes(name) ? name : 'notes';
};

const listeners = new Set<() => void>();
export function navigate(page: Page): void {
  if (pageOf(location.pathname) !== page || location.pathname === '/') history.pushState(null, '', `/${page}`);
  for (const listener of listeners) listener();
}

export function usePage(): Page {
  const [page, setPage] = useState(() => pageOf(location.pathname));
  useEffect(() => {
    const update = () => setPage(pageOf(location.pathname));
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return page;
}
