/**
 * Secrets in a script's text, found by secretlint's recommended rules (AWS, GCP, GitHub, Slack,
 * npm, OpenAI, private keys, credentials in URLs, …): the patterns a well-kept project maintains,
 * rather than a list of our own that would fall behind.
 */
import { lintSource } from '@secretlint/core';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';

export interface FoundSecret {
  /** What kind, as secretlint names it: "GitHub token", "AWS access key". */
  kind: string;
  /** The secret itself, for masking; never printed whole. */
  value: string;
  /** 1-based line. */
  line: number;
}

const CONFIG = { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: recommended }] };
const MAX_SCAN = 5 * 1024 * 1024; // a 5 MiB bundle is already unusual; past it, the rest is skipped

/** A rule id in words: `@secretlint/secretlint-rule-github` → `GitHub token`. */
function kindOf(ruleId: string): string {
  const name = ruleId.replace(/^.*secretlint-rule-/, '');
  const words: Record<string, string> = {
    aws: 'AWS credential',
    gcp: 'Google Cloud credential',
    github: 'GitHub token',
    slack: 'Slack token',
    npm: 'npm token',
    openai: 'OpenAI API key',
    anthropic: 'Anthropic API key',
    privatekey: 'private key',
    basicauth: 'a password in a URL',
    sendgrid: 'SendGrid API key',
    shopify: 'Shopify token',
    linear: 'Linear API key',
    '1password': '1Password token',
    'database-connection-string': 'database connection string with a password',
    azure: 'Azure credential',
  };
  return words[name] ?? `secret (${name})`;
}

/** Every secret secretlint finds in `text`. */
export async function scanSecrets(text: string): Promise<FoundSecret[]> {
  const content = text.length > MAX_SCAN ? text.slice(0, MAX_SCAN) : text;
  const result = await lintSource({
    source: { content, filePath: 'script.js', ext: '.js', contentType: 'text' },
    options: { config: CONFIG, noPhysicFilePath: true },
  });
  return result.messages.map((m) => ({
    kind: kindOf(m.ruleId),
    value: content.slice(m.range[0], m.range[1]),
    line: m.loc.start.line,
  }));
}
