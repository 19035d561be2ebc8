import { describe, expect, it } from 'vitest';
import { describeDevice, deviceKey } from './notices.js';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

describe('new-device notice: describing and keying a sign-in', () => {
  it('describes a device in fixed words only, whatever the header says', () => {
    expect(describeDevice(FIREFOX_WINDOWS)).toBe('Firefox on Windows');
    expect(describeDevice(CHROME_LINUX)).toBe('Chrome on Linux');
    expect(describeDevice('Your account is locked: go to evil.example')).toBe('an unknown device');
    expect(describeDevice(undefined)).toBe('an unknown device');
    expect(describeDevice(42)).toBe('an unknown device');
  });

  it('keys a sign-in by browser, system and network: the same on a browser update or a neighbouring address', () => {
    const home = deviceKey({ userAgent: FIREFOX_WINDOWS, ip: '198.51.100.23' });
    expect(home).toBe('Firefox on Windows|198.51.100.0/24');
    expect(deviceKey({ userAgent: FIREFOX_WINDOWS.replaceAll('133.0', '134.0'), ip: '198.51.100.201' })).toBe(home);
    expect(deviceKey({ userAgent: FIREFOX_WINDOWS, ip: '::ffff:198.51.100.7' })).toBe(home);
    expect(deviceKey({ userAgent: CHROME_LINUX, ip: '198.51.100.23' })).not.toBe(home); // another browser
    expect(deviceKey({ userAgent: FIREFOX_WINDOWS, ip: '203.0.113.23' })).not.toBe(home); // another network
  });

  it('IPv6 addresses are keyed by their /48, however they are spelled', () => {
    const key = deviceKey({ userAgent: CHROME_LINUX, ip: '2001:db8:abcd:12::1' });
    expect(key).toBe('Chrome on Linux|2001:db8:abcd::/48');
    expect(deviceKey({ userAgent: CHROME_LINUX, ip: '2001:0db8:abcd:0099:0000:0000:0000:0002' })).toBe(key);
    expect(deviceKey({ userAgent: CHROME_LINUX, ip: '2001:db8::1' })).toBe('Chrome on Linux|2001:db8:0::/48');
    expect(deviceKey({ userAgent: CHROME_LINUX, ip: '::1' })).toBe('Chrome on Linux|0:0:0::/48');
  });

  it('an IPv4 address inside IPv6 counts as that IPv4, however it is spelled', () => {
    const v4 = 'Chrome on Linux|198.51.100.0/24';
    for (const ip of [
      '198.51.100.7',
      '::ffff:198.51.100.7',
      '::FFFF:c633:6407',
      '0:0:0:0:0:ffff:198.51.100.7',
      '0000:0000:0000:0000:0000:ffff:c633:64ff',
      '64:ff9b::198.51.100.9',
      '64:ff9b::c633:6401',
    ])
      expect(deviceKey({ userAgent: CHROME_LINUX, ip }), ip).toBe(v4);
    expect(deviceKey({ userAgent: CHROME_LINUX, ip: '::ffff:203.0.113.1' })).not.toBe(v4);
  });

  it('an address that is not one gives "unknown", never the text sent', () => {
    for (const ip of ['not an ip', '198.51.100', '', null, undefined, '1.2.3.4\r\nX: y']) {
      expect(deviceKey({ userAgent: CHROME_LINUX, ip })).toBe('Chrome on Linux|unknown');
    }
  });
});
