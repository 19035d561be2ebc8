/** Why an audit could not run; the CLI prints the message and exits with code 2. */
export type AuditErrorCode =
  | 'BAD_URL'
  | 'BAD_ARGUMENT'
  | 'UNREACHABLE'
  | 'TLS'
  | 'TIMEOUT'
  | 'LOGIN_FAILED'
  | 'BROWSER';

/** An audit that could not run: a code and a sentence that says what to do. */
export class AuditError extends Error {
  readonly code: AuditErrorCode;
  constructor(code: AuditErrorCode, message: string) {
    super(message);
    this.name = 'AuditError';
    this.code = code;
  }
}
