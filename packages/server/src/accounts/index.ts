/**
 * `latchkey/accounts`: the account lifecycle an app needs besides the login, as functions its
 * routes call: sign-up with e-mail verification that reveals nothing about who has an account,
 * password reset, e-mail change with an undo link to the old address, and the notices (new device,
 * password changed). The app keeps its users and implements `AccountDirectory`; tokens come from
 * `latchkey/one-time` and mail goes through a `Mailer` from `latchkey/mail`. docs/accounts.md says
 * what each route should answer, and why.
 *
 * @example
 * import { ACCOUNT_PURPOSES, createAccountFlows } from 'latchkey/accounts';
 * import { createOneTimeTokens } from 'latchkey/one-time';
 * const accounts = createAccountFlows({ directory, tokens: createOneTimeTokens({ store, purposes: ACCOUNT_PURPOSES }), mailer, links, appName: 'Acme', endSessions });
 */
export type { Account, AccountDirectory } from './directory.js';
export { normalizeEmail } from './email.js';
export {
  ACCOUNT_PURPOSES,
  type AccountFlows,
  type AccountFlowsOptions,
  type AccountLimits,
  createAccountFlows,
} from './flows.js';
export type { AccountLinks } from './links.js';
export { type AccountMessages, defaultMessages, type MailContent, type MessageContext } from './messages.js';
export { describeDevice, deviceKey, type NewDeviceDetails } from './notices.js';
export type {
  AccountEvent,
  AccountEventType,
  AccountFlowError,
  AccountFlowName,
  AccountRefusal,
  AccountRequestResult,
  EmailChangeGrant,
  EndSessionsReason,
  ResetPasswordResult,
  VerifyEmailResult,
} from './types.js';
