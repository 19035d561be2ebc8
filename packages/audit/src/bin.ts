#!/usr/bin/env node
/** The `latchkey-audit` command. */
import { main } from './cli.js';

const code = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
});
process.exitCode = code;
