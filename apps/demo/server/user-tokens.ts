/**
 * A user's tokens outside the browser session: the refresh families of API clients signed in at
 * the token endpoint ("grants"), the access tokens out in the world, and the short access tokens
 * the backend-for-frontend mints for a session's calls downstream. R3, R4: a password change, a
 * disabled account or "log out everywhere else" ends all of them at once (`revokeAll`).
 */
import type { Session } from 'latchkey';
import type { AccessTokens, RefreshTokens } from 'latchkey/tokens';

/** What the server holds to issue and end tokens (`AppOptions.tokens`). */
export interface AppTokens {
  access: AccessTokens;
  refresh: RefreshTokens;
  /** Ends every access token of a user at every verifier (the shared revocation list, R4). */
  revokeSubject(userId: string): void | Promise<void>;
}

export interface UserTokens {
  /** The API clients (refresh families) the user has signed in. */
  listGrants(userId: string): ReturnType<RefreshTokens['listFamilies']>;
  /** Ends one of the user's own grants; another user's id ends nothing and resolves to false. */
  revokeGrant(grantId: string, userId: string): Promise<boolean>;
  /** Ends every token of the user (refresh families, access tokens, minted tokens); resolves to the families ended. */
  revokeAll(userId: string): Promise<number>;
  /**
   * An access token for a call downstream on the session's behalf: one per session, reused until a
   * minute before it expires.
   */
  mintFor(session: Session): Promise<string>;
}

/**
 * @example
 * const userTokens = options.tokens && createUserTokens(options.tokens);
 * await userTokens?.revokeAll(user.id); // after a password change
 */
export function createUserTokens(tokens: AppTokens): UserTokens {
  /** The access tokens the BFF minted, by session id. */
  const minted = new Map<string, { token: string; expiresAt: number; userId: string }>();
  return {
    listGrants: (userId) => tokens.refresh.listFamilies(userId),
    revokeGrant: (grantId, userId) => tokens.refresh.revokeFamily(grantId, { userId }),
    async revokeAll(userId) {
      const ended = await tokens.refresh.revokeUser(userId);
      await tokens.revokeSubject(userId);
      // A token the BFF keeps for reuse would outlive the revocation at this server's own cache.
      for (const [sessionId, entry] of minted) if (entry.userId === userId) minted.delete(sessionId);
      return ended;
    },
    async mintFor(session) {
      const cached = minted.get(session.id);
      if (cached && cached.expiresAt - Date.now() > 60_000) return cached.token;
      const { token, expiresAt } = await tokens.access.issue(session.userId);
      if (minted.size > 10_000) minted.clear(); // bounded: worst case, tokens are minted again
      minted.set(session.id, { token, expiresAt, userId: session.userId });
      return token;
    },
  };
}
