/**
 * `latchkey/http`: the HTTP-level defences, free of any framework. The adapters wire them in
 * (`createExpressHardening`, `createFastifyHardening`, `createHonoHardening`,
 * `createNodeHardening`, each over `createHardening`); use these directly with anything else.
 */

export { clientErrorCode, handleClientError } from './client-error.js';
export { CSRF_VARY, type CsrfGuard, type CsrfRequest, canonicalOrigin, createCsrfGuard } from './csrf.js';
export {
  codeForError,
  type ErrorAnswer,
  errorAnswer,
  errorBody,
  type HttpErrorCode,
  httpErrors,
  rawErrorResponse,
} from './error-codes.js';
export {
  createHardening,
  type Hardening,
  type HardeningOptions,
  type HardeningRequest,
  type HardeningVerdict,
} from './hardening.js';
export {
  type CspViolation,
  createSecurityHeaders,
  DEFAULT_CSP,
  parseCspReport,
  type SecurityHeaders,
  type SecurityHeadersOptions,
} from './headers.js';
export { createHttpsRedirect } from './https-redirect.js';
export { createTrustedProxies, type TrustedProxies } from './proxy.js';
export {
  createSecondFactorStep,
  type PendingSecondFactor,
  SECOND_FACTOR_PURPOSE,
  SECOND_FACTOR_PURPOSES,
  type SecondFactorStep,
} from './second-factor.js';
export { createServerLimits, type ServerLimits, type ServerLimitsOptions } from './server-limits.js';
export {
  type AuthenticateResult,
  CLEAR_SITE_DATA,
  createSessionFlow,
  type FlowHeaders,
  type LoginOptions,
  NO_STORE,
  type SessionFlow,
} from './session-flow.js';
