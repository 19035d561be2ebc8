/**
 * Sign-up that reveals nothing. `register` answers the same `{ ok: true }` after the same work
 * whether or not the address has an account; only the mail differs ("finish signing up" to a new
 * address, "someone tried to sign up with your address" to an owner). `verifyEmail` creates the
 * account when the link is followed and the password chosen at sign-up is typed again.
 *
 * Why the account is created on confirmation, not before: the directory then holds only addresses
 * that were proved. An unproved row would let anyone squat an address (blocking its owner's
 * sign-up, an e-mail change to it, or the undo of a change away from it), would need a clean-up
 * job, and would need every login to remember to refuse it. Until the link is followed, the
 * sign-up lives in the link's token: the address, the argon2id hash of the password and the
 * username, kept by the one-time store for at most 24 hours and keyed by the address, so the latest
 * sign-up for an address is the only one whose link works.
 */
import { InvalidArgumentError } from '../errors.js';
import { ACCEPTED, checkClient, digest, type FlowContext, fieldsOf, MAX_PASSWORD, refuse } from './context.js';
import { normalizeEmail } from './email.js';
import type { AccountRequestResult, VerifyEmailResult } from './types.js';

/** Longest username passed through to `directory.create` (it travels in the token's data, at most 1 KiB). */
const MAX_USERNAME = 100;
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** The one-time token "user" of a pending sign-up: one per address, so a newer sign-up replaces the older. */
const signUpId = (email: string) => `signup:${digest(email)}`;

/** `register` and `verifyEmail` over the shared context. */
export function createSignUp(ctx: FlowContext) {
  return {
    async register(input: unknown, client: string): Promise<AccountRequestResult> {
      checkClient('register', client);
      const { email: given, password, username } = fieldsOf(input);
      if (typeof given !== 'string' || typeof password !== 'string') return refuse('BAD_REQUEST');
      if (
        username !== undefined &&
        (typeof username !== 'string' || username === '' || username.length > MAX_USERNAME || UNSAFE.test(username))
      )
        return refuse('BAD_REQUEST');
      const email = normalizeEmail(given);
      if (email === null) return refuse('EMAIL_INVALID');
      if (password.length > MAX_PASSWORD) return refuse('PASSWORD_TOO_LONG');
      const words = [email, email.slice(0, email.lastIndexOf('@')), ...(username === undefined ? [] : [username])];
      const problem = ctx.policy.check(password, words);
      if (problem !== null) return refuse(problem);
      // Counted after the checks above, which cost nothing; before the hash, which does.
      const limited = await ctx.limitClient('register', client);
      if (limited) return limited;

      // From here every path does the same work: one hash, one directory look-up, one token issued.
      // Only the mail differs, and it is handed over without waiting (FlowContext.deliver).
      const passwordHash = await ctx.hasher.hash(password);
      const allowed = await ctx.allowAddress('register', email);
      const account = await ctx.directory.findByEmail(email);
      if (!allowed) {
        // This address had its mail for the window: send nothing, replace nothing (its link still works).
        await ctx.decoy();
        return ACCEPTED;
      }
      if (account) {
        // The owner hears of it, with a reset link in case it was them and they forgot.
        const { token } = await ctx.tokens.issue(account.id, 'reset-password');
        const content = () =>
          ctx.messages.alreadyRegistered({
            appName: ctx.appName,
            link: ctx.links.resetPassword(token),
            validFor: ctx.validFor('reset-password'),
          });
        ctx.deliver('register', 'alreadyRegistered', account.email, content, account.id);
        ctx.emit({ type: 'sign-up-address-taken', flow: 'register', userId: account.id, client });
        return ACCEPTED;
      }
      const data = { email, passwordHash, ...(username === undefined ? {} : { username }) };
      const { token } = await ctx.tokens.issue(signUpId(email), 'verify-email', { data });
      const content = () =>
        ctx.messages.verifyEmail({
          appName: ctx.appName,
          link: ctx.links.verifyEmail(token),
          validFor: ctx.validFor('verify-email'),
        });
      ctx.deliver('register', 'verifyEmail', email, content);
      ctx.emit({ type: 'sign-up-mailed', flow: 'register', client });
      return ACCEPTED;
    },

    async verifyEmail(input: unknown): Promise<VerifyEmailResult> {
      const { token, password } = fieldsOf(input);
      if (typeof token !== 'string' || typeof password !== 'string') return refuse('BAD_REQUEST');
      const refused = () => {
        ctx.emit({ type: 'token-refused', flow: 'verify-email' });
        return refuse('TOKEN_INVALID');
      };
      // Looked at first, used only once the password matches: a mistyped password keeps the link working.
      const pending = await ctx.tokens.peek(token, 'verify-email');
      const { email, passwordHash, username } = pending?.data ?? {};
      // Only a sign-up of ours: its "user" is the address it carries.
      if (
        pending === null ||
        typeof email !== 'string' ||
        typeof passwordHash !== 'string' ||
        pending.userId !== signUpId(email)
      )
        return refused();
      // Why the password: the link proves the mailbox, not who chose the password. Anyone may sign
      // up with someone else's address; the owner, signing up too and finding this mail (theirs
      // may not have been sent: one mail per address per window), must not open an account whose
      // password the other person chose and knows.
      if (password.length > MAX_PASSWORD || !(await ctx.hasher.verify(passwordHash, password)).ok) {
        ctx.emit({ type: 'sign-up-password-wrong', flow: 'verify-email' });
        return refuse('INVALID_CREDENTIALS');
      }
      // Of two concurrent uses, exactly one gets the grant.
      const grant = await ctx.tokens.consume(token, 'verify-email');
      if (grant === null || grant.userId !== pending.userId) return refused();
      // Taken since (another sign-up, an e-mail change): the address now belongs to that account.
      if (await ctx.directory.findByEmail(email)) return refused();
      const userId = await ctx.directory.create({
        email,
        passwordHash,
        ...(typeof username === 'string' ? { username } : {}),
      });
      if (userId === null || userId === undefined) return refused();
      if (typeof userId !== 'string' || userId === '')
        throw new InvalidArgumentError(
          "directory.create must resolve to the new account's id (a non-empty string), or to null when the address or username is taken",
        );
      ctx.emit({ type: 'signed-up', flow: 'verify-email', userId });
      return { ok: true, userId };
    },
  };
}
