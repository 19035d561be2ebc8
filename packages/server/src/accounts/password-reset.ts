/**
 * Password reset. `requestPasswordReset` answers the same `{ ok: true }` after the same work for a
 * known and an unknown address (one look-up, one token issued: a decoy where there is no account),
 * and mails a link only to an account's address, once per window per address. `resetPassword`
 * sets the new password with a link's token: the password rules apply before the token is used (a
 * refused password leaves the link working), then every other pending link of the account dies, the
 * app ends every session, refresh family and access token (`endSessions`), and a notice is mailed.
 * `passwordChanged` does the same for a password the app changed itself (its change-password route).
 */

import { ACCEPTED, checkClient, type FlowContext, fieldsOf, MAX_PASSWORD, refuse } from './context.js';
import type { Account } from './directory.js';
import { normalizeEmail } from './email.js';
import type { AccountRequestResult, ResetPasswordResult } from './types.js';

const localPart = (email: string) => email.slice(0, email.lastIndexOf('@'));

/** `requestPasswordReset`, `resetPassword` and `passwordChanged` over the shared context. */
export function createPasswordReset(ctx: FlowContext) {
  const notify = (account: Account, flow: 'reset' | 'notice') => {
    const content = () => ctx.messages.passwordChanged({ appName: ctx.appName, at: new Date(ctx.now()).toUTCString() });
    ctx.deliver(flow, 'passwordChanged', account.email, content, account.id);
  };
  const refused = () => {
    ctx.emit({ type: 'token-refused', flow: 'reset' });
    return refuse('TOKEN_INVALID');
  };

  return {
    async requestPasswordReset(input: unknown, client: string): Promise<AccountRequestResult> {
      checkClient('requestPasswordReset', client);
      const { email: given } = fieldsOf(input);
      if (typeof given !== 'string') return refuse('BAD_REQUEST');
      const email = normalizeEmail(given);
      if (email === null) return refuse('EMAIL_INVALID');
      const limited = await ctx.limitClient('reset', client);
      if (limited) return limited;

      // The same work on every path: one look-up, one token issued. A decoy stands in for the link
      // when there is no account, or when the address already had its mail for the window (its
      // link must keep working, so no new one replaces it).
      const allowed = await ctx.allowAddress('reset', email);
      const account = await ctx.directory.findByEmail(email);
      if (!allowed || !account) {
        await ctx.decoy();
        if (allowed) ctx.emit({ type: 'reset-unknown-address', flow: 'reset', client });
        return ACCEPTED;
      }
      const { token } = await ctx.tokens.issue(account.id, 'reset-password');
      const content = () =>
        ctx.messages.resetPassword({
          appName: ctx.appName,
          link: ctx.links.resetPassword(token),
          validFor: ctx.validFor('reset-password'),
        });
      ctx.deliver('reset', 'resetPassword', account.email, content, account.id);
      ctx.emit({ type: 'reset-mailed', flow: 'reset', userId: account.id, client });
      return ACCEPTED;
    },

    async resetPassword(input: unknown): Promise<ResetPasswordResult> {
      const { token, password } = fieldsOf(input);
      if (typeof token !== 'string' || typeof password !== 'string') return refuse('BAD_REQUEST');
      if (password.length > MAX_PASSWORD) return refuse('PASSWORD_TOO_LONG');
      // Looked at first, used only once the password passes: a refused password keeps the link working.
      const grant = await ctx.tokens.peek(token, 'reset-password');
      if (grant === null || ctx.isDecoy(grant.userId)) return refused();
      const account = await ctx.directory.findById(grant.userId);
      if (!account) return refused();
      const problem = ctx.policy.check(password, [account.email, localPart(account.email)]);
      if (problem !== null) return refuse(problem);
      // Of two concurrent uses, exactly one gets the grant; the other is a link that no longer works.
      const used = await ctx.tokens.consume(token, 'reset-password');
      if (used === null || used.userId !== account.id) return refused();

      await ctx.directory.setPasswordHash(account.id, await ctx.hasher.hash(password));
      // Every other link sent before (another reset, an e-mail change) was sent under the old password.
      await ctx.revokeLinks(account.id);
      // Whoever knew the old password, or held a session, is out: the route logs in this device after.
      await ctx.endSessions(account.id, 'password-reset');
      notify(account, 'reset');
      ctx.emit({ type: 'password-reset', flow: 'reset', userId: account.id });
      return { ok: true, userId: account.id };
    },

    async passwordChanged(userId: string): Promise<void> {
      const account = await ctx.directory.findById(userId);
      if (!account) return;
      await ctx.revokeLinks(account.id);
      notify(account, 'notice');
      ctx.emit({ type: 'password-changed', flow: 'notice', userId: account.id });
    },
  };
}
