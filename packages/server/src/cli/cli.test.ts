import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createKeyRing } from '../sessions/key-ring.js';
import { runAuditCommand } from './audit.js';
import { runCli } from './cli.js';

const run = (...argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('latchkey keygen', () => {
  it('prints a 32-byte base64url key that a key ring accepts, new every time', () => {
    const a = run('keygen');
    const b = run('keygen');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.out, 'base64url')).toHaveLength(32);
    expect(a.out).not.toBe(b.out);
    expect(() => createKeyRing([a.out])).not.toThrow();
  });

  it('--env and --count give a line for a .env file, newest first', () => {
    const { code, out } = run('keygen', '--env', 'SESSION_KEY', '--count', '2');
    expect(code).toBe(0);
    const match = /^SESSION_KEY=([A-Za-z0-9_-]{43}),([A-Za-z0-9_-]{43})$/.exec(out);
    expect(match).not.toBeNull();
    expect(match?.[1]).not.toBe(match?.[2]);
  });

  it('bad input exits 2 with a sentence, and never a stack trace', () => {
    for (const argv of [
      [],
      ['keygn'],
      ['keygen', '--count', '0'],
      ['keygen', '--count', 'x'],
      ['keygen', '--env', 'A B'],
      ['keygen', '--bits', '9'],
    ]) {
      const { code, out, err } = run(...argv);
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toMatch(/latchkey|Usage/);
      expect(err).not.toMatch(/\n\s+at /);
    }
    expect(run('help')).toMatchObject({ code: 0, out: expect.stringContaining('keygen') });
  });

  it('runs as a process', async () => {
    const bin = fileURLToPath(new URL('./latchkey.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', bin, 'keygen'], {
      encoding: 'utf8',
    });
    expect(stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  });
});

describe('latchkey audit', () => {
  const io = () => {
    let out = '';
    let err = '';
    return {
      io: {
        out: (t: string) => {
          out += t;
        },
        err: (t: string) => {
          err += t;
        },
        color: false,
      },
      read: () => ({ out, err }),
    };
  };

  it('forwards to @latchkey/audit when it is installed', async () => {
    const { io: sink, read } = io();
    expect(await runAuditCommand(['--help'], sink)).toBe(0);
    expect(read().out).toMatch(/^Usage: latchkey-audit <url> \[options\]/);
    const bad = io();
    expect(await runAuditCommand(['--fail-on', 'severe', 'http://x.test/'], bad.io)).toBe(2);
    expect(bad.read().err).toMatch(/^latchkey audit: --fail-on takes one of/);
  });

  it('says how to install it when it is not, exit 2', async () => {
    const { io: sink, read } = io();
    const missing = Object.assign(new Error("Cannot find package '@latchkey/audit' imported from /app/x.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    expect(await runAuditCommand(['http://x.test/'], sink, () => Promise.reject(missing))).toBe(2);
    expect(read()).toEqual({
      out: '',
      err: 'latchkey audit: the audit is its own package (it drives a real Chromium): npm i -D @latchkey/audit, then run this again.\n',
    });
  });
});
