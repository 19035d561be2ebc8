/**
 * `@latchkey/audit`: checks any site, in a real Chromium, for the article's mistakes: a login where
 * scripts can read it, weak session cookies, missing security headers, third-party scripts without
 * SRI, and what the production bundle leaks. docs/audit.md lists every check.
 *
 * @example
 * import { runAudit, formatText } from '@latchkey/audit';
 * const result = await runAudit({ url: 'http://localhost:3000' });
 * process.stdout.write(formatText(result, 'high'));
 */
export { type AuditOptions, type AuditResult, type LoginStep, runAudit } from './audit.js';
export { main, USAGE } from './cli.js';
export { AuditError, type AuditErrorCode } from './errors.js';
export type { Finding } from './findings.js';
export { countBySeverity, fails, formatText, toJson, toSarif } from './report.js';
export { RULES, type Rule, type RuleId, SEVERITIES, type Severity } from './rules.js';
