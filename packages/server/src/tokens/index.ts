/**
 * `latchkey/tokens`: tokens for non-browser clients. Short-lived access JWTs (jose), their
 * verification against our key set or a remote JWKS, their revocation (in memory or shared with
 * other processes through a log), and rotating refresh tokens with reuse detection. Browsers never
 * receive any of these: the backend-for-frontend mints one per call.
 */
export * from './access.js';
export * from './refresh.js';
export * from './revocations.js';
