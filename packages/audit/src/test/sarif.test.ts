import { describe, expect, it } from 'vitest';
import { validateSarif } from './sarif.js';

const tool = { driver: { name: 'latchkey-audit' } };

describe('validateSarif', () => {
  it('accepts a minimal valid log', () => {
    expect(validateSarif({ version: '2.1.0', runs: [{ tool }] })).toEqual([]);
  });

  it('accepts a log with a rule, a result and a location', () => {
    const log = {
      $schema: 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: {
              name: 'latchkey-audit',
              informationUri: 'https://github.com/latchkey-dev/latchkey/blob/main/docs/audit.md',
              rules: [
                {
                  id: 'csp-unsafe-inline',
                  shortDescription: { text: "The CSP allows 'unsafe-inline' scripts" },
                  helpUri: 'https://cheatsheetseries.owasp.org/cheatsheets/Content_Security_Policy_Cheat_Sheet.html',
                  defaultConfiguration: { level: 'error' },
                },
              ],
            },
          },
          results: [
            {
              ruleId: 'csp-unsafe-inline',
              ruleIndex: 0,
              level: 'error',
              message: { text: "script-src allows 'unsafe-inline'" },
              locations: [{ physicalLocation: { artifactLocation: { uri: 'http://127.0.0.1:3000/' } } }],
            },
          ],
        },
      ],
    };
    expect(validateSarif(log)).toEqual([]);
  });

  it('rejects a log without a version', () => {
    const errors = validateSarif({ runs: [{ tool }] });
    expect(errors).toContain("/ must have required property 'version'");
  });

  it('rejects a result with an unknown level', () => {
    const errors = validateSarif({
      version: '2.1.0',
      runs: [{ tool, results: [{ ruleId: 'x', level: 'critical', message: { text: 'x' } }] }],
    });
    expect(errors.some((error) => error.startsWith('/runs/0/results/0/level'))).toBe(true);
  });
});
