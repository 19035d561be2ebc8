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

/** An IPv6 address as its eight 16-bit groups, or undefined (an embedded dotted quad is read too). */
function groupsOf(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string | undefined) =>
    s === undefined || s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16));
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail] : head;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * The network an address belongs to: an IPv4 /24 or an IPv6 /48. An IPv4 address inside IPv6
 * (mapped `::ffff:a.b.c.d` in any spelling, or NAT64 `64:ff9b::/96`) counts as the IPv4 it carries.
 */
function networkOf(ip: unknown): string {
  if (typeof ip !== 'string' || isIP(ip) === 0) return 'unknown';
  if (isIP(ip) === 4) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  const g = groupsOf(ip);
  if (g === undefined) return 'unknown';
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 5) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6);
  if (mapped || nat64) {
    const [hi = 0, lo = 0] = g.slice(6);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.0/24`;
  }
  return `${g
    .slice(0, 3)
    .map((x) => x.toString(16))
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

/** The device, address and time for a notice, each checked: a header never reaches a mail raw. */
function where(details: NewDeviceDetails, now: number): { device: string; ip: string; at: string } {
  const ip =
    typeof details.ip === 'string' && /^[\da-f:.]+$/i.test(details.ip) && isIP(details.ip) !== 0
      ? details.ip
      : 'unknown';
  const at = new Date(details.at ?? now);
  return {
    device: describeDevice(details.userAgent),
    ip,
    at: Number.isNaN(at.getTime()) ? 'unknown' : at.toUTCString(),
  };
}

/** The notices (`notifyNewDevice`, …) over the shared context. */
export function createNotices(ctx: FlowContext) {
  return {
    async notifyNewDevice(userId: string, details: NewDeviceDetails = {}): Promise<void> {
      const account = await ctx.directory.findById(userId);
      if (!account) return;
      const content = () => ctx.messages.newDevice({ appName: ctx.appName, ...where(details, ctx.now()) });
      ctx.deliver('notice', 'newDevice', account.email, content, account.id);
      ctx.emit({ type: 'new-device-mailed', flow: 'notice', userId: account.id });
    },

    async notifyPasskeyAdded(userId: string, details: NewDeviceDetails & { name?: string } = {}): Promise<void> {
      const account = await ctx.directory.findById(userId);
      if (!account) return;
      // The name is the user's own text: one visible line, cut short, before it goes into a mail.
      const name = String(details.name ?? 'Passkey')
        .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}"]/gu, ' ')
        .slice(0, 64);
      const content = () => ctx.messages.passkeyAdded({ appName: ctx.appName, name, ...where(details, ctx.now()) });
      ctx.deliver('notice', 'passkeyAdded', account.email, content, account.id);
      ctx.emit({ type: 'passkey-added-mailed', flow: 'notice', userId: account.id });
    },

    async notifySecondFactorFailures(userId: string, details: NewDeviceDetails = {}): Promise<void> {
      const account = await ctx.directory.findById(userId);
      if (!account) return;
      const content = () => ctx.messages.secondFactorFailures({ appName: ctx.appName, ...where(details, ctx.now()) });
      ctx.deliver('notice', 'secondFactorFailures', account.email, content, account.id);
      ctx.emit({ type: 'second-factor-failures-mailed', flow: 'notice', userId: account.id });
    },

    async notifySecondFactorRemoved(userId: string): Promise<void> {
      const account = await ctx.directory.findById(userId);
      if (!account) return;
      const at = new Date(ctx.now()).toUTCString();
      ctx.deliver(
        'notice',
        'secondFactorRemoved',
        account.email,
        () => ctx.messages.secondFactorRemoved({ appName: ctx.appName, at }),
        account.id,
      );
      ctx.emit({ type: 'second-factor-removed', flow: 'notice', userId: account.id });
    },
  };
}
