/**
 * The results and events of the account flows. Expected failures (a link that no longer works, an
 * address that is not one, a password the rules refuse) are results, never exceptions; each
 * refusal carries an HTTP error code of `latchkey/http` that every adapter's `sendError` takes.
 */

/**
 * Codes of a refused flow, each an HTTP error code of `latchkey/http` (400; 401 for
 * `INVALID_CREDENTIALS`, 429 for `TOO_MANY_ATTEMPTS`).
 *
 * @example
 * if (!result.ok && result.error === 'TOKEN_INVALID') showAskForANewLink();
 */
export type AccountFlowError =
  | 'BAD_REQUEST'
  | 'EMAIL_INVALID'
  | 'TOKEN_INVALID'
  | 'INVALID_CREDENTIALS'
  | 'TOO_MANY_ATTEMPTS'
  | 'PASSWORD_TOO_SHORT'
  | 'PASSWORD_TOO_LONG'
  | 'PASSWORD_TOO_COMMON';

/**
 * A refused request: answer with `sendError(res, refusal.error, refusal.headers)`.
 *
 * @example
 * const result = await accounts.requestPasswordReset(req.body, req.ip);
 * if (!result.ok) return sendError(res, result.error, result.headers); // 400 EMAIL_INVALID, 429 with Retry-After
 * res.status(202).json({ ok: true });
 */
export interface AccountRefusal {
  ok: false;
  error: AccountFlowError;
  /** Set these on the answer: `Retry-After` for `TOO_MANY_ATTEMPTS`, else none. */
  headers: Record<string, string>;
}

/**
 * What `register`, `requestPasswordReset` and `requestEmailChange` answer: `{ ok: true }` (one
 * frozen object, the same whether or not the address has an account: answer 202 with one fixed
 * body), or a refusal that depends only on the request (a malformed address, a weak password, a
 * client over its limit), never on whether the address is known.
 *
 * @example
 * const result: AccountRequestResult = await accounts.register(req.body, req.ip);
 * if (result.ok) res.status(202).json({ status: 'check-your-inbox' });
 */
export type AccountRequestResult = { readonly ok: true } | AccountRefusal;

/**
 * What `resetPassword` answers: the account whose password changed (log the user in on this device), or a refusal.
 *
 * @example
 * const result = await accounts.resetPassword(req.body);
 * if (!result.ok) return sendError(res, result.error, result.headers);
 * await auth.login(req, res, result.userId); // every other session was ended through endSessions
 */
export type ResetPasswordResult = { ok: true; userId: string } | AccountRefusal;

/**
 * What `verifyEmail` answers: the new account (log the user in), or a refusal: `TOKEN_INVALID` for
 * a link that does not work, `INVALID_CREDENTIALS` for a password that is not the one chosen at
 * sign-up (the link still works).
 *
 * @example
 * const result = await accounts.verifyEmail(req.body); // { token, password }
 * if (!result.ok) return sendError(res, result.error, result.headers);
 * await auth.login(req, res, result.userId);
 */
export type VerifyEmailResult = { ok: true; userId: string } | AccountRefusal;

/**
 * What `confirmEmailChange` and `undoEmailChange` answer for a link that works: the account and its address now.
 *
 * @example
 * const grant = await accounts.confirmEmailChange(req.body.token);
 * if (grant === null) return sendError(res, 'TOKEN_INVALID');
 * res.json({ email: grant.email });
 */
export interface EmailChangeGrant {
  userId: string;
  email: string;
}

/**
 * Why the flows ask the app to end every session of a user.
 *
 * @example
 * endSessions: (userId, reason: EndSessionsReason) => { logger.info({ userId, reason }, 'ending every session'); return sessions.revokeUserSessions(userId); },
 */
export type EndSessionsReason = 'password-reset' | 'email-change-undone';

/**
 * The flows, as named in events.
 *
 * @example
 * onEvent: (event) => metrics.increment(`accounts.${event.flow satisfies AccountFlowName}.${event.type}`),
 */
export type AccountFlowName = 'register' | 'reset' | 'verify-email' | 'change-email' | 'undo-email-change' | 'notice';

/**
 * What happened, in an `AccountEvent`.
 *
 * @example
 * onEvent: (event) => { if (event.type === ('mail-failed' satisfies AccountEventType)) alertOps(event.mail, event.reason); },
 */
export type AccountEventType =
  | 'sign-up-mailed'
  | 'sign-up-address-taken'
  | 'sign-up-password-wrong'
  | 'signed-up'
  | 'reset-mailed'
  | 'reset-unknown-address'
  | 'password-reset'
  | 'password-changed'
  | 'email-change-mailed'
  | 'email-change-address-taken'
  | 'email-changed'
  | 'email-change-undone'
  | 'new-device-mailed'
  | 'second-factor-removed'
  | 'second-factor-failures-mailed'
  | 'passkey-added-mailed'
  | 'address-limited'
  | 'client-limited'
  | 'token-refused'
  | 'mail-failed';

/**
 * An event of the account flows, for the app's log (ASVS 16.3.1). Ids and kinds only: never a
 * token, a password, a hash, an address or a mail's text.
 *
 * @example
 * createAccountFlows({ …, onEvent: (event) => logger.info(event, `accounts: ${event.type}`) });
 */
export interface AccountEvent {
  type: AccountEventType;
  flow: AccountFlowName;
  /** The account concerned, when there is one. */
  userId?: string;
  /** The client address given to the flow, when it takes one. */
  client?: string;
  /** `mail-failed`: which mail (a key of `AccountMessages`). */
  mail?: string;
  /** `mail-failed`: the mailer error's `code` or `name`, never its message (which may quote the mail). */
  reason?: string;
}
