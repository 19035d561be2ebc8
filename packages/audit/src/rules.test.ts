import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RULES, SEVERITIES } from './rules.js';

const doc = readFileSync(new URL('../../../docs/audit.md', import.meta.url), 'utf8');

describe('the rules', () => {
  it('docs/audit.md lists every rule with its severity, and no rule that does not exist', () => {
    for (const rule of Object.values(RULES)) {
      expect(doc, rule.id).toMatch(new RegExp(`\\|\\s*\`${rule.id}\`\\s*\\|\\s*${rule.severity}\\s*\\|`));
    }
    const listed = [...doc.matchAll(/^\|\s*`([a-z0-9-]+)`\s*\|\s*(critical|high|medium|low|info)\s*\|/gm)].map(
      (m) => m[1],
    );
    expect(listed.sort()).toEqual(Object.keys(RULES).sort());
  });

  it('each rule says why and how to fix it in a sentence, and links a page', () => {
    for (const rule of Object.values(RULES)) {
      expect(SEVERITIES).toContain(rule.severity);
      expect(rule.why, rule.id).toMatch(/^[A-Z].{20,}[.!]$/);
      expect(rule.fix, rule.id).toMatch(/^[A-Z].{10,}[.)]$/);
      expect(rule.help, rule.id).toMatch(/^https:\/\//);
    }
  });
});
