/**
 * The `latchkey` command. Its own job: make a signing key, so nobody pastes a password or the
 * output of a tool that prints the wrong alphabet into `SESSION_KEY`. `latchkey audit` forwards to
 * `@latchkey/audit` (audit.ts).
 *
 *   npx latchkey keygen              → a 32-byte key, base64url (what `keys` takes)
 *   npx latchkey keygen --env SESSION_KEY  → SESSION_KEY=<key>, for a .env file
 *
 * Written with node:util `parseArgs`: two flags do not justify a CLI framework dependency.
 */
import { parseArgs } from 'node:util';
import { generateSigningKey } from '../sessions/key-ring.js';

const USAGE = `Usage: latchkey <command>

Commands:
  keygen [--env NAME] [--count N]   print a new 32-byte session signing key (base64url)
  audit <url> [options]             check a site in Chromium for the article's mistakes
                                    (needs @latchkey/audit; latchkey audit --help for options)
  help                              show this text

Put the key in your environment (SESSION_KEY=...) and pass it to createSessionManager({ keys }).
To rotate, put the new key first and keep the old one after it until its sessions have expired.`;

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Runs one command line (without `node` and the script); resolves to the exit code. */
export function runCli(argv: readonly string[], io: CliOutput): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? io.err : io.out)(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'keygen') {
    io.err(`latchkey: unknown command "${command.slice(0, 40)}". Run "latchkey help".`);
    return 2;
  }
  let values: { env?: string | undefined; count?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: { env: { type: 'string' }, count: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`latchkey keygen: ${(error as Error).message}. Run "latchkey help".`);
    return 2;
  }
  const count = values.count === undefined ? 1 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 10) {
    io.err('latchkey keygen: --count must be a whole number from 1 to 10.');
    return 2;
  }
  if (values.env !== undefined && !ENV_NAME.test(values.env)) {
    io.err('latchkey keygen: --env must be a variable name such as SESSION_KEY.');
    return 2;
  }
  // Several keys go comma-separated, newest first: the form a key ring reads from one variable.
  const keys = Array.from({ length: count }, generateSigningKey).join(',');
  io.out(values.env === undefined ? keys : `${values.env}=${keys}`);
  return 0;
}
