/** What the audit reports: one finding per problem and place, with the rule's texts. */
import { RULES, type RuleId, SEVERITIES, type Severity } from './rules.js';

/**
 * One problem at one place: the rule it breaks (with the rule's severity and title), what exactly was
 * found, and where. A secret is never in it whole (see `mask`).
 *
 * @example
 * // { rule: 'storage-jwt', severity: 'high', url: 'https://app.example/', where: 'localStorage["user"] token', … }
 */
export interface Finding {
  rule: RuleId;
  severity: Severity;
  /** The rule's one-line title. */
  title: string;
  /** What exactly was found here, in a sentence; never the secret itself (masked). */
  detail: string;
  /** The page, script or response it was found in. */
  url: string;
  /** Where in it: `localStorage["user"]`, `cookie sid`, `line 12`. */
  where?: string;
  /** The line in a script, for SARIF regions. */
  line?: number;
}

/** A finding of `rule` with the rule's severity and title. */
export function finding(rule: RuleId, url: string, detail: string, where?: string, line?: number): Finding {
  const { severity, title } = RULES[rule];
  return {
    rule,
    severity,
    title,
    detail,
    url,
    ...(where === undefined ? {} : { where }),
    ...(line === undefined ? {} : { line }),
  };
}

/** Worst first, then by rule and place; one finding per rule, place and detail. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  const unique = findings.filter((f) => {
    const key = `${f.rule}\u0000${f.url}\u0000${f.where ?? ''}\u0000${f.detail}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  return unique.sort(
    (a, b) =>
      rank(a.severity) - rank(b.severity) ||
      a.rule.localeCompare(b.rule) ||
      a.url.localeCompare(b.url) ||
      (a.where ?? '').localeCompare(b.where ?? ''),
  );
}

/** Is `severity` at or above `threshold`? */
export const atLeast = (severity: Severity, threshold: Severity): boolean =>
  SEVERITIES.indexOf(severity) <= SEVERITIES.indexOf(threshold);

/** Shows the start and end of a secret, never the middle: `ghp_…x9Qz (40 characters)`. */
export function mask(value: string): string {
  if (value.length <= 12) return `${'•'.repeat(value.length)} (${value.length} characters)`;
  return `${value.slice(0, 4)}…${value.slice(-4)} (${value.length} characters)`;
}
