/**
 * E-mail change. `requestEmailChange` (the route requires a fresh session) mails a confirmation
 * link to the new address and, to the old one, a notice with a link that undoes the change for 7
 * days. `confirmEmailChange` sets the new address; `undoEmailChange` is the "it was not me" path:
 * it keeps or restores the old address, ends every session and the password, and mails a link to
 * set a new password.
 *
 * Why another change is refused while the last one can still be undone: the store keeps one undo
 * link per account, so a second change would replace the first undo link (in the old mailbox) with
 * one sent to an address the person who changed it controls. And why the undo link survives a
 * password change (`revokeLinks` spares it): whoever took the account can reset its password
 * through the new address; that must not take the old address's way back.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { ACCEPTED, digest, type FlowContext, refuse, UNDO_PURPOSE } from './context.js';
import { normalizeEmail } from './email.js';
import type { AccountRequestResult, EmailChangeGrant } from './types.js';

/** `requestEmailChange`, `confirmEmailChange` and `undoEmailChange` over the shared context. */
export function createEmailChange(ctx: FlowContext) {
  const refused = (flow: 'change-email' | 'undo-email-change') => {
    ctx.emit({ type: 'token-refused', flow });
    return null;
  };
  // Why confirm and undo of one account take turns, each using its link inside its turn: an undo
  // run between a confirmation's use of its link and its write would answer "address kept" while
  // the new address is set. In turn, an undo first kills the pending link; a confirmation first is
  // undone. In this process only: across instances, see docs/accounts.md.
  const turns = new Map<string, Promise<unknown>>();
  const inTurn = <T>(userId: string, work: () => Promise<T>): Promise<T> => {
    const run = (turns.get(userId) ?? Promise.resolve()).then(work, work);
    const done = run.then(
      () => {},
      () => {},
    );
    turns.set(userId, done);
    void done.then(() => {
      if (turns.get(userId) === done) turns.delete(userId);
    });
    return run;
  };

  return {
    async requestEmailChange(userId: string, newEmail: unknown): Promise<AccountRequestResult> {
      if (typeof userId !== 'string' || userId === '')
        throw new InvalidArgumentError("requestEmailChange needs the session's user id as its first argument");
      if (typeof newEmail !== 'string') return refuse('BAD_REQUEST');
      const email = normalizeEmail(newEmail);
      if (email === null) return refuse('EMAIL_INVALID');
      // Counted per account, like register per client: each request mails two addresses, one of
      // them any address at all, and one session must not fill the mail queue (crowding out other
      // people's reset links) or mail addresses without end.
      const limited = await ctx.limitClient('change-email', `account:${digest(userId)}`);
      if (limited) return limited;
      const account = await ctx.directory.findById(userId);
      if (!account)
        throw new InvalidArgumentError(
          "requestEmailChange: no account has this id; pass the id of the session's user, and end the sessions of a deleted account",
        );
      if (email === account.email) return refuse('BAD_REQUEST');
      // Without it the guard below would never hold: say so rather than change addresses unguarded.
      if (account.emailChangedAt !== null && typeof account.emailChangedAt !== 'number')
        throw new InvalidArgumentError(
          'directory.findById must give emailChangedAt: the ms passed to setEmail, or null if the address never changed',
        );
      const now = ctx.now();
      if (account.emailChangedAt !== null && now - account.emailChangedAt < ctx.undoWindow) {
        const wait = Math.max(1, Math.ceil((account.emailChangedAt + ctx.undoWindow - now) / 1000));
        return { ok: false, error: 'TOO_MANY_ATTEMPTS', headers: { 'retry-after': String(wait) } };
      }
      // The new address may be anyone's: it gets one mail per window, like a sign-up, whoever asks.
      if (!(await ctx.allowAddress('change-email', email))) return ACCEPTED;

      const holder = await ctx.directory.findByEmail(email);
      // Issued on both paths, sent on one: the account's earlier confirmation link dies either way.
      // Were it kept when the new address has an account, the session that asked could tell by
      // following that earlier link (a mailbox of its own) which addresses have accounts.
      const data = { email, from: account.email };
      const { token } = await ctx.tokens.issue(account.id, 'change-email', { data });
      if (holder) {
        // No link: that token is never sent (and confirmEmailChange would refuse the taken address).
        ctx.deliver('change-email', 'emailInUse', email, () => ctx.messages.emailInUse({ appName: ctx.appName }));
        ctx.emit({ type: 'email-change-address-taken', flow: 'change-email', userId: account.id });
      } else {
        const content = () =>
          ctx.messages.confirmEmailChange({
            appName: ctx.appName,
            link: ctx.links.confirmEmailChange(token),
            validFor: ctx.validFor('change-email'),
          });
        ctx.deliver('change-email', 'confirmEmailChange', email, content, account.id);
        ctx.emit({ type: 'email-change-mailed', flow: 'change-email', userId: account.id });
      }
      // Either way the old address hears of it, with the way back.
      const undo = await ctx.tokens.issue(account.id, UNDO_PURPOSE, { data: { email: account.email } });
      const notice = () =>
        ctx.messages.emailChangeRequested({
          appName: ctx.appName,
          newEmail: email,
          link: ctx.links.undoEmailChange(undo.token),
          validFor: ctx.validFor(UNDO_PURPOSE),
        });
      ctx.deliver('change-email', 'emailChangeRequested', account.email, notice, account.id);
      return ACCEPTED;
    },

    async confirmEmailChange(token: string): Promise<EmailChangeGrant | null> {
      const pending = await ctx.tokens.peek(token, 'change-email');
      if (pending === null) return refused('change-email');
      return inTurn(pending.userId, () => confirm(token, pending.userId));
    },

    async undoEmailChange(token: string): Promise<EmailChangeGrant | null> {
      const pending = await ctx.tokens.peek(token, UNDO_PURPOSE);
      if (pending === null) return refused('undo-email-change');
      return inTurn(pending.userId, () => undo(token, pending.userId));
    },
  };

  async function confirm(token: string, userId: string): Promise<EmailChangeGrant | null> {
    const grant = await ctx.tokens.consume(token, 'change-email');
    const { email, from } = grant?.data ?? {};
    if (grant === null || grant.userId !== userId || typeof email !== 'string' || typeof from !== 'string')
      return refused('change-email');
    const account = await ctx.directory.findById(grant.userId);
    // The address changed since the link was sent (another change, an undo): this link is stale.
    if (!account || account.email !== from) return refused('change-email');
    // Someone proved the address for an account of theirs meanwhile.
    if (await ctx.directory.findByEmail(email)) return refused('change-email');
    await ctx.directory.setEmail(account.id, email, ctx.now());
    // A reset link sent to the old address no longer fits the account; the undo link stays.
    await ctx.tokens.revokeUser(account.id, 'reset-password');
    ctx.emit({ type: 'email-changed', flow: 'change-email', userId: account.id });
    return { userId: account.id, email };
  }

  async function undo(token: string, userId: string): Promise<EmailChangeGrant | null> {
    const grant = await ctx.tokens.consume(token, UNDO_PURPOSE);
    const email = grant?.data.email;
    if (grant === null || grant.userId !== userId || typeof email !== 'string') return refused('undo-email-change');
    const account = await ctx.directory.findById(grant.userId);
    if (!account) return refused('undo-email-change');
    if (account.email !== email) {
      // Proved by someone else for an account of theirs since: it is not this account's to take back.
      const holder = await ctx.directory.findByEmail(email);
      if (holder && holder.id !== account.id) return refused('undo-email-change');
      await ctx.directory.setEmail(account.id, email, ctx.now());
    }
    // Whoever made the change had a fresh session, so knew the password (or set it through the new
    // address): it is replaced by one nobody knows, else they would log straight back in.
    await ctx.directory.setPasswordHash(account.id, await ctx.hasher.hash(randomBytes(32).toString('base64url')));
    // A change still pending dies with every other link; whoever made it is logged out everywhere.
    await ctx.tokens.revokeUser(account.id);
    await ctx.endSessions(account.id, 'email-change-undone');
    // They may know the password: the old address gets a link to set a new one.
    const reset = await ctx.tokens.issue(account.id, 'reset-password');
    const content = () =>
      ctx.messages.emailChangeUndone({
        appName: ctx.appName,
        link: ctx.links.resetPassword(reset.token),
        validFor: ctx.validFor('reset-password'),
      });
    ctx.deliver('undo-email-change', 'emailChangeUndone', email, content, account.id);
    ctx.emit({ type: 'email-change-undone', flow: 'undo-email-change', userId: account.id });
    return { userId: account.id, email };
  }
}
