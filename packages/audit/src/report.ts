/** The audit's three outputs: a terminal report grouped by severity, JSON, and SARIF 2.1.0. */
import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { AuditResult } from './audit.js';
import { atLeast } from './findings.js';
import { RULES, type Rule, SEVERITIES, type Severity } from './rules.js';

const VERSION = '0.1.0';
const INFORMATION_URI = 'https://github.com/latchkey-dev/latchkey/blob/main/docs/audit.md';

/** Counts by severity, worst first: `{ critical: 1, high: 2, … }`. */
export function countBySeverity(result: AuditResult): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of result.findings) counts[f.severity]++;
  return counts;
}

/** Does the result fail at `failOn` (any finding at or above it)? */
export const fails = (result: AuditResult, failOn: Severity): boolean =>
  result.findings.some((f) => atLeast(f.severity, failOn));

/** The report for a terminal: findings grouped by severity, each with why, the fix and a link. */
export function formatText(result: AuditResult, failOn: Severity, color = false): string {
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const tint: Record<Severity, string> = { critical: '1;31', high: '31', medium: '33', low: '36', info: '2' };
  const lines = [
    `latchkey audit ${result.url}`,
    `${result.pages.length} page(s), ${result.scripts.length} script(s), ${(result.durationMs / 1000).toFixed(1)} s`,
    '',
  ];
  const shown: Partial<Record<Severity, number>> = {};
  for (const severity of SEVERITIES) {
    const group = result.findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    // The same problem on several pages (a header every page lacks) is told once, with its pages.
    const merged = new Map<string, { finding: (typeof group)[number]; urls: string[] }>();
    for (const f of group) {
      const key = `${f.rule}\u0000${f.detail}\u0000${f.where ?? ''}`;
      const seen = merged.get(key);
      if (seen === undefined) merged.set(key, { finding: f, urls: [f.url] });
      else seen.urls.push(f.url);
    }
    shown[severity] = merged.size;
    lines.push(paint(tint[severity], `${severity.toUpperCase()} (${merged.size})`));
    for (const { finding: f, urls } of merged.values()) {
      const rule = RULES[f.rule];
      lines.push(`  ${paint('1', f.rule)}  ${f.title}`);
      lines.push(`    ${f.detail}`);
      lines.push(`    at ${urls.join(', ')}${f.where === undefined ? '' : ` — ${f.where}`}`);
      lines.push(`    why: ${rule.why}`);
      lines.push(`    fix: ${rule.fix}`);
      lines.push(`    more: ${rule.help}`);
    }
    lines.push('');
  }
  const summary = SEVERITIES.filter((s) => (shown[s] ?? 0) > 0).map((s) => `${shown[s]} ${s}`);
  lines.push(summary.length === 0 ? 'No findings.' : `Found: ${summary.join(', ')}.`);
  lines.push(
    fails(result, failOn)
      ? paint('1;31', `Failing: findings at or above "${failOn}" (--fail-on).`)
      : `Passing: nothing at or above "${failOn}" (--fail-on).`,
  );
  return `${lines.join('\n')}\n`;
}

/** The result as JSON: the findings with their rules' texts. */
export function toJson(result: AuditResult, failOn: Severity): string {
  return `${JSON.stringify(
    {
      url: result.url,
      pages: result.pages,
      scripts: result.scripts,
      durationMs: result.durationMs,
      failOn,
      failed: fails(result, failOn),
      counts: countBySeverity(result),
      findings: result.findings.map((f) => ({
        ...f,
        why: RULES[f.rule].why,
        fix: RULES[f.rule].fix,
        help: RULES[f.rule].help,
      })),
    },
    null,
    2,
  )}\n`;
}

/** SARIF levels: error for critical and high, warning for medium, note below. */
const level = (severity: Severity): Result.level =>
  severity === 'critical' || severity === 'high' ? 'error' : severity === 'medium' ? 'warning' : 'note';
/** GitHub code scanning reads `security-severity` (0–10) to rank security results. */
const SCORE: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

const descriptor = (rule: Rule): ReportingDescriptor => ({
  id: rule.id,
  name: rule.id.replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase()),
  shortDescription: { text: rule.title },
  fullDescription: { text: rule.why },
  help: { text: `${rule.fix} ${rule.help}`, markdown: `${rule.fix}\n\n[Why this matters](${rule.help})` },
  helpUri: rule.help,
  defaultConfiguration: { level: level(rule.severity) },
  properties: { tags: ['security'], 'security-severity': SCORE[rule.severity], precision: 'medium' },
});

/** The result as a SARIF 2.1.0 log that code-scanning UIs show: one run, every rule, one result per finding. */
export function toSarif(result: AuditResult): Log {
  const rules = Object.values(RULES);
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'latchkey audit',
            informationUri: INFORMATION_URI,
            version: VERSION,
            rules: rules.map(descriptor),
          },
        },
        invocations: [{ executionSuccessful: true }],
        results: result.findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: index.get(f.rule) ?? 0,
          level: level(f.severity),
          message: { text: `${f.detail}${f.where === undefined ? '' : ` (${f.where})`}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.url },
                ...(f.line === undefined ? {} : { region: { startLine: f.line } }),
              },
            },
          ],
          properties: { severity: f.severity },
        })),
      },
    ],
  };
}
