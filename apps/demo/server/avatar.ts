/**
 * Account avatars: a deterministic initials image per username, served from our own origin so
 * `img-src 'self'` covers it, and the URL the API puts in `user.avatarUrl`.
 */
import type { User } from './users.js';

/** Usernames as they appear in an avatar's path: `/avatars/<username>.svg`. */
export const AVATAR_FILE = /^([a-z0-9_.-]{3,32})\.svg$/;

/**
 * Where the account's avatar is served.
 *
 * @example
 * avatarUrl({ username: 'demo' }); // '/avatars/demo.svg'
 */
export const avatarUrl = (user: Pick<User, 'username'>): string => `/avatars/${encodeURIComponent(user.username)}.svg`;

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A 64×64 circle with the name's first two letters, its colour derived from the name.
 *
 * @example
 * reply.type('image/svg+xml; charset=utf-8').send(avatarSvg('demo'));
 */
export function avatarSvg(name: string): string {
  let hue = 0;
  for (const c of name) hue = (hue * 31 + (c.codePointAt(0) ?? 0)) % 360;
  // The name is text in an XML document: escaped, so a name cannot add markup or script.
  const initials = escapeXml(name.slice(0, 2).toUpperCase());
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">` +
    `<rect width="64" height="64" rx="32" fill="hsl(${hue} 55% 42%)"/>` +
    `<text x="32" y="41" font-family="system-ui,sans-serif" font-size="24" fill="#fff" text-anchor="middle">${initials}</text></svg>`
  );
}
