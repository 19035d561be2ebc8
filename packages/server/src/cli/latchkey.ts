#!/usr/bin/env node
/** The `latchkey` bin: see cli.ts. */
import { runCli } from './cli.js';

process.exitCode = runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
