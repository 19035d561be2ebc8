#!/usr/bin/env node
/** The `latchkey` bin: see cli.ts (keygen) and audit.ts (the audit, from @latchkey/audit). */
import { runAuditCommand } from './audit.js';
import { runCli } from './cli.js';

const [command, ...rest] = process.argv.slice(2);
process.exitCode =
  command === 'audit'
    ? await runAuditCommand(rest, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
      })
    : runCli(process.argv.slice(2), {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
