/**
 * Redraws docs/benchmarks.md and its charts from a full run's results: by default the published
 * run's own raw numbers (docs/benchmarks/results.json), or the file named as an argument.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from './lib/report.js';

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'docs/benchmarks/results.json');
writeReport(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof writeReport>[0]);
console.log('report: docs/benchmarks.md');
