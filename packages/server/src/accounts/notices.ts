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
