/** Rewrites docs/benchmarks.md and its charts from bench/results/latest.json (the last full run). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from './lib/report.js';

const file = join(dirname(fileURLToPath(import.meta.url)), 'results/latest.json');
writeReport(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof writeReport>[0]);
console.log('report: docs/benchmarks.md');
