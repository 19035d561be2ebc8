/**
 * The new-device notice: a mail when an account signs in on a device it had not used. What it
 * says about the device is made of fixed words only ("Firefox on Windows"), never the user agent
 * as sent: that is text of the client's choosing, and a mail is where a line such as "your account
 * is locked, go to evil.example" would be believed.
 */
import { isIP } from 'node:net';
import type { FlowContext } from './context.js';

/**
 * What `notifyNewDevice` is told about the sign-in.
 *
 * @example
 * await accounts.notifyNewDevice(user.id, { userAgent: req.headers['user-agent'], ip: req.ip, at: Date.now() });
 */
export interface NewDeviceDetails {
  /** The `User-Agent` header; only a browser and a system name are taken from it. */
  userAgent?: string | null;
  /** The client address; shown only if it is an IP address. */
  ip?: string | null;
  /** When (a Date or milliseconds since the epoch). Default now. */
  at?: Date | number;
}

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrome\/|\bCriOS\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
  [/\bcurl\//, 'curl'],
];
const SYSTEMS: [RegExp, string][] = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/** A device in fixed words: "Firefox on Windows", "an unknown browser on Linux", "an unknown device". */
export function describeDevice(userAgent: unknown): string {
  const ua = typeof userAgent === 'string' ? userAgent.slice(0, 1024) : '';
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (browser === undefined && system === undefined) return 'an unknown device';
  return `${browser ?? 'an unknown browser'}${system === undefined ? '' : ` on ${system}`}`;
}

/** The network an address belongs to: an IPv4 /24 or an IPv6 /48 (an IPv4-mapped one counts as IPv4). */
function networkOf(ip: unknown): string {
  if (typeof ip !== 'string' || isIP(ip) === 0) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = isIP(ip) === 4 ? ip : mapped?.[1];
  if (v4 !== undefined) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 3)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/48`;
}

/**
 * A coarse name for where a sign-in comes from, to decide whether it is a new device: the browser
 * and system in fixed words and the client's network (IPv4 /24, IPv6 /48), such as
 * `"Firefox on Windows|198.51.100.0/24"`. Keep the keys of an account's past sign-ins (hashed, they
 * say where the user was) and call `notifyNewDevice` when a login's key is not among them.
 * Coarse on purpose: a browser update or a new address from the same provider is not a new device,
 * and a device cookie alone would not do, since logout's Clear-Site-Data removes it.
 *
 * @example
 * const key = deviceKey({ userAgent: req.headers['user-agent'], ip: req.ip });
 * if (await rememberSignIn(user.id, key)) await accounts.notifyNewDevice(user.id, { userAgent, ip });
 */
export function deviceKey(details: Pick<NewDeviceDetails, 'userAgent' | 'ip'>): string {
  return `${describeDevice(details.userAgent)}|${networkOf(details.ip)}`;
}

/** `notifyNewDevice` over the shared context. */
export function createNotices(ctx: FlowContext) {
  return {
    async notifyNewDevice(userId: string, details: NewDeviceDetails = {}): Promise<void> {
      const account = await ctx.directory.findById(userId);
      if (!account) return;
      const ip =
        typeof details.ip === 'string' && /^[\da-f:.]+$/i.test(details.ip) && isIP(details.ip) !== 0
          ? details.ip
          : 'unknown';
      const at = new Date(details.at ?? ctx.now());
      const content = () =>
        ctx.messages.newDevice({
          appName: ctx.appName,
          device: describeDevice(details.userAgent),
          ip,
          at: Number.isNaN(at.getTime()) ? 'unknown' : at.toUTCString(),
        });
      ctx.deliver('notice', 'newDevice', account.email, content, account.id);
      ctx.emit({ type: 'new-device-mailed', flow: 'notice', userId: account.id });
    },
  };
}
