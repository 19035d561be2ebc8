/**
 * The mails of the account flows, in plain English: each a function from what the mail must say
 * to its subject and text. Replace any of them with `createAccountFlows({ messages })`; what they
 * are given is already safe to put in a mail (addresses normalized, device details stripped of
 * control characters and cut short), and a link is the only place a token ever appears.
 */

/**
 * A mail's content; the flows add the recipient. `html` is optional: the defaults are text only.
 *
 * @example
 * const content: MailContent = { subject: 'Reset your Acme password', text: `Open this link: ${link}` };
 */
export interface MailContent {
  subject: string;
  text: string;
  html?: string;
}

/**
 * What every message is given: the app's name, as `createAccountFlows` got it.
 *
 * @example
 * const emailInUse = ({ appName }: MessageContext) => ({ subject: `${appName}: this address has an account`, text: 'Nothing changed.' });
 */
export interface MessageContext {
  appName: string;
}

/**
 * The mails the flows send. `validFor` is how long the link works, in words ("30 minutes").
 *
 * @example
 * const messages: Partial<AccountMessages> = {
 *   resetPassword: ({ appName, link, validFor }) => ({
 *     subject: `${appName}: your password reset`,
 *     text: `Set a new password within ${validFor}: ${link}`,
 *   }),
 * };
 */
export interface AccountMessages {
  /** To a new address at sign-up: the link that creates the account and logs in. */
  verifyEmail(context: MessageContext & { link: string; validFor: string }): MailContent;
  /** To an address that has an account, when someone signs up with it: nothing changed; a reset link in case it was the owner. */
  alreadyRegistered(context: MessageContext & { link: string; validFor: string }): MailContent;
  /** The password reset link. */
  resetPassword(context: MessageContext & { link: string; validFor: string }): MailContent;
  /** After a reset or a change of the password: every device was logged out. */
  passwordChanged(context: MessageContext & { at: string }): MailContent;
  /** To the new address of an e-mail change: the link that confirms it. */
  confirmEmailChange(context: MessageContext & { link: string; validFor: string }): MailContent;
  /** To the new address of an e-mail change when it already has an account: nothing changed. */
  emailInUse(context: MessageContext): MailContent;
  /** To the old address of an e-mail change: the notice, with the link that undoes it. */
  emailChangeRequested(context: MessageContext & { newEmail: string; link: string; validFor: string }): MailContent;
  /** After an undo, to the restored address: every device was logged out and the password ended; a link to set a new one. */
  emailChangeUndone(context: MessageContext & { link: string; validFor: string }): MailContent;
  /** A sign-in from a device the account had not used. */
  newDevice(context: MessageContext & { device: string; ip: string; at: string }): MailContent;
  /** After a reset by someone who had no second factor left: the factors were removed. */
  secondFactorRemoved(context: MessageContext & { at: string }): MailContent;
  /** A passkey was added to the account: if it was not the owner, someone holds a way in. */
  passkeyAdded(context: MessageContext & { name: string; device: string; ip: string; at: string }): MailContent;
  /** The right password, then wrong second-factor codes: the password is known to someone. */
  secondFactorFailures(context: MessageContext & { device: string; ip: string; at: string }): MailContent;
}

const lines = (...parts: string[]) => `${parts.join('\n')}\n`;

/**
 * The default messages. Each says what happened, what the link does and for how long, and what to
 * do if it was not the reader: the mail itself is the warning when someone else acts on an account.
 *
 * @example
 * const { subject } = defaultMessages.resetPassword({ appName: 'Acme', link: 'https://acme.example/reset#token=…', validFor: '30 minutes' });
 * // 'Reset your Acme password'
 */
export const defaultMessages: Readonly<AccountMessages> = Object.freeze({
  verifyEmail: ({ appName, link, validFor }) => ({
    subject: `Finish signing up to ${appName}`,
    text: lines(
      `Someone, probably you, asked to create a ${appName} account with this address.`,
      '',
      `To finish signing up, open this link within ${validFor}:`,
      '',
      link,
      '',
      'If you did not sign up yourself, do not open it: whoever signed up chose the password.',
      'Ignore this mail and no account is created.',
    ),
  }),
  alreadyRegistered: ({ appName, link, validFor }) => ({
    subject: `Someone tried to sign up to ${appName} with your address`,
    text: lines(
      `Someone tried to create a new ${appName} account with this address, which already has one.`,
      'Nothing was changed.',
      '',
      `If it was you, log in with your password. If you forgot it, set a new one with this link within ${validFor}:`,
      '',
      link,
      '',
      'If it was not you, ignore this mail.',
    ),
  }),
  resetPassword: ({ appName, link, validFor }) => ({
    subject: `Reset your ${appName} password`,
    text: lines(
      `Someone, probably you, asked to reset the password of your ${appName} account.`,
      '',
      `Set a new password with this link within ${validFor}. It logs out every device:`,
      '',
      link,
      '',
      'If it was not you, ignore this mail: your password stays as it is.',
    ),
  }),
  passwordChanged: ({ appName, at }) => ({
    subject: `Your ${appName} password was changed`,
    text: lines(
      `The password of your ${appName} account was changed (${at}), and every other device was logged out.`,
      '',
      'If it was not you, reset your password now with "Forgot password" on the login page.',
    ),
  }),
  confirmEmailChange: ({ appName, link, validFor }) => ({
    subject: `Confirm your new ${appName} address`,
    text: lines(
      `Someone, probably you, asked to use this address for their ${appName} account.`,
      '',
      `To confirm, open this link within ${validFor}:`,
      '',
      link,
      '',
      'If it was not you, ignore this mail: nothing changes.',
    ),
  }),
  emailInUse: ({ appName }) => ({
    subject: `Someone tried to move another ${appName} account to your address`,
    text: lines(
      `Someone asked to use this address for another ${appName} account.`,
      'This address already has an account, so nothing was changed.',
      '',
      'If it was not you, ignore this mail.',
    ),
  }),
  emailChangeRequested: ({ appName, newEmail, link, validFor }) => ({
    subject: `The address of your ${appName} account is being changed`,
    text: lines(
      `Someone asked to change the address of your ${appName} account from this one to ${newEmail}.`,
      'If it was you, there is nothing to do.',
      '',
      `If it was not you, open this link within ${validFor}. It keeps this address, logs out every device,`,
      'ends the current password, and sends you a link to set a new one:',
      '',
      link,
    ),
  }),
  emailChangeUndone: ({ appName, link, validFor }) => ({
    subject: `Set a new ${appName} password`,
    text: lines(
      `The change of your ${appName} address was undone, and every device was logged out.`,
      'Whoever changed it may have known your password, so it no longer works.',
      '',
      `Set a new password with this link within ${validFor}:`,
      '',
      link,
    ),
  }),
  newDevice: ({ appName, device, ip, at }) => ({
    subject: `New sign-in to ${appName}`,
    text: lines(
      `Your ${appName} account was signed in on a new device.`,
      '',
      `Device: ${device}`,
      `Address: ${ip}`,
      `Time: ${at}`,
      '',
      'If it was you, there is nothing to do. If not, change your password now: that logs out every device.',
    ),
  }),
  secondFactorRemoved: ({ appName, at }) => ({
    subject: `Two-factor sign-in was turned off for ${appName}`,
    text: lines(
      `At ${at} your ${appName} password was reset by someone who said they had lost their second factor`,
      '(authenticator app and recovery codes), so two-factor sign-in was turned off.',
      '',
      'If it was you, turn it on again from the security page. If not, someone reads your mail:',
      'secure your mailbox first, then reset your password again and turn two-factor sign-in back on.',
    ),
  }),
  passkeyAdded: ({ appName, name, device, ip, at }) => ({
    subject: `A passkey was added to your ${appName} account`,
    text: lines(
      `At ${at} a passkey named "${name}" was added to your ${appName} account.`,
      `Device: ${device}`,
      `Address: ${ip}`,
      '',
      'If it was you, there is nothing to do. If not, someone can sign in as you with it:',
      'remove it from the security page, then change your password (that logs out every device).',
    ),
  }),
  secondFactorFailures: ({ appName, device, ip, at }) => ({
    subject: `Someone knows your ${appName} password`,
    text: lines(
      `At ${at} someone signed in to ${appName} with your password, then gave wrong two-factor codes.`,
      `Device: ${device}`,
      `Address: ${ip}`,
      '',
      'Your account stayed closed: the code stopped them. But your password is known to someone.',
      'If it was not you, change your password now (that logs out every device), and anywhere else you use it.',
    ),
  }),
} satisfies AccountMessages);

/** Seconds in words, for a mail: "30 minutes", "24 hours", "7 days". */
export function describeDuration(seconds: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (seconds % 86_400 === 0 && seconds >= 2 * 86_400) return unit(seconds / 86_400, 'day');
  if (seconds % 3600 === 0) return unit(seconds / 3600, 'hour');
  if (seconds % 60 === 0) return unit(seconds / 60, 'minute');
  return unit(seconds, 'second');
}
