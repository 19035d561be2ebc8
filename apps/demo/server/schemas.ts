/**
 * The shapes of what the reference server accepts (bodies, route parameters, query strings), and
 * `parse`, which answers a 400 `INVALID_INPUT` for anything else. Every object is strict: an
 * unknown field is an error, not something silently carried along.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { sendInvalidInput } from './errors.js';

const username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-"');
// Length rules live in the password policy (with their own codes); this only bounds the body.
const password = z.string().min(1).max(4096);
// The address's own rules (latchkey/accounts: EMAIL_INVALID) come after; this only bounds the body.
const email = z.string().min(1).max(1024);
// A link's token: 43 base64url characters when it is one (anything else is TOKEN_INVALID, not a 400).
const token = z.string().max(256);

export const schemas = {
  /** `username` is the username or the e-mail address (at most 254 octets, RFC 5321). */
  /** `remember`: the "keep me signed in" box, an explicit choice (absent means no). */
  /** A code from the authenticator app, or a recovery code (checked by latchkey/totp). */
  code: z.strictObject({ code: z.string().min(1).max(64) }),
  credentials: z.strictObject({ username: z.string().min(1).max(254), password, remember: z.boolean().optional() }),
  register: z.strictObject({ email, password, username: username.optional() }),
  email: z.strictObject({ email }),
  linkToken: z.strictObject({ token }),
  /** The sign-up link's page: the token and the password chosen at sign-up again. */
  verify: z.strictObject({ token, password }),
  resetPassword: z.strictObject({ token, password }),
  /** `code`: required (and checked) when the account has two-factor codes on. */
  reauthenticate: z.strictObject({ password, code: z.string().min(1).max(64).optional() }),
  changePassword: z.strictObject({ currentPassword: password, newPassword: password }),
  sessionId: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{22}$/) }),
  grantId: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }),
  noteId: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }),
  note: z.strictObject({
    title: z.string().max(200),
    body: z.string().max(10_000),
    pinned: z.boolean(),
    priority: z.number().int().min(0).max(5),
    tags: z.array(z.string().min(1).max(32)).max(10),
    updatedAt: z.number().int().nonnegative(),
    baseVersion: z.number().int().positive().nullable(),
  }),
  noteDelete: z.strictObject({ baseVersion: z.coerce.number().int().positive() }),
  /** `POST /oauth/token`: the two grants a non-browser client may use. */
  token: z.discriminatedUnion('grant_type', [
    z.strictObject({
      grant_type: z.literal('password'),
      username: z.string().min(1).max(64),
      password: z.string().min(1).max(4096),
    }),
    z.strictObject({ grant_type: z.literal('refresh_token'), refresh_token: z.string().min(1).max(200) }),
  ]),
};

/**
 * The value if it fits the schema; otherwise the 400 is sent (which fields are wrong and why, never
 * the values) and the result is `undefined`: the handler returns `reply`.
 *
 * @example
 * const body = parse(schemas.credentials, request.body, reply);
 * if (!body) return reply;
 */
export function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | undefined {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  void sendInvalidInput(
    reply,
    result.error.issues.map((i) => ({ path: i.path.join('.'), problem: i.code })),
  );
  return undefined;
}
