/**
 * A self-signed test certificate for localhost and 127.0.0.1 (P-256, one day), made by openssl in
 * `dir` (`.ci/run` installs openssl). `spki` is the base64 SHA-256 of its public key: what
 * Chromium's `--ignore-certificate-errors-spki-list` takes to trust exactly this certificate.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificate {
  /** Paths of the PEM files. */
  certFile: string;
  keyFile: string;
  /** Base64 SHA-256 of the certificate's SubjectPublicKeyInfo. */
  spki: string;
}

export function makeTestCertificate(dir: string): TestCertificate {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  const publicKey = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return { certFile, keyFile, spki: createHash('sha256').update(publicKey).digest('base64') };
}
