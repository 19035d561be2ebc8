/**
 * The reference server's own error answers: the codes latchkey does not define, because only this
 * app emits them (its input schemas, its note conflicts, its token endpoint, its BFF, its
 * downstream API). Each is an `ErrorAnswer` for the Fastify adapter's `sendError(reply, answer)`;
 * the body has latchkey's shape, `{"error":{"code":"…","message":"…"}}`, and clients branch on
 * `code`. Two answers carry more than a code and have their own sender below.
 */
import type { FastifyReply } from 'fastify';
import type { ErrorAnswer } from 'latchkey/http';

export const appErrors = {
  INVALID_INPUT: { status: 400, code: 'INVALID_INPUT', message: 'A field is missing or has the wrong type.' },
  CONFLICT: { status: 409, code: 'CONFLICT', message: 'It exists already or was changed elsewhere.' },
  INVALID_GRANT: { status: 400, code: 'INVALID_GRANT', message: 'The grant is invalid, expired or revoked.' },
  INVALID_TOKEN: { status: 401, code: 'INVALID_TOKEN', message: 'A valid bearer token is required.' },
  SECOND_FACTOR_REQUIRED: {
    status: 403,
    code: 'SECOND_FACTOR_REQUIRED',
    message: 'This account uses a second factor: sign in with the web app.',
  },
  BAD_GATEWAY: { status: 502, code: 'BAD_GATEWAY', message: 'The service behind this route did not answer properly.' },
  GATEWAY_TIMEOUT: { status: 504, code: 'GATEWAY_TIMEOUT', message: 'The service behind this route took too long.' },
} as const satisfies Record<string, ErrorAnswer>;

export type AppErrorCode = keyof typeof appErrors;

/** One wrong field of a request: its path and the schema rule it broke, never its value. */
export interface InvalidField {
  path: string;
  problem: string;
}

/**
 * 400 `INVALID_INPUT` naming the wrong fields and why, never the values themselves (a password
 * typed into the wrong field would land in the answer).
 *
 * @example
 * sendInvalidInput(reply, [{ path: 'username', problem: 'too_small' }]);
 */
export function sendInvalidInput(reply: FastifyReply, fields: readonly InvalidField[]): FastifyReply {
  const { status, code, message } = appErrors.INVALID_INPUT;
  return reply.code(status).header('cache-control', 'no-store').send({ error: { code, message, fields } });
}

/**
 * 409 `CONFLICT` with the server's copy of a note: the client shows the conflict instead of
 * losing either side.
 *
 * @example
 * if (!result.ok) return sendNoteConflict(reply, result.current);
 */
export function sendNoteConflict(reply: FastifyReply, current: unknown): FastifyReply {
  const { status, code } = appErrors.CONFLICT;
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .send({ error: { code, message: 'The note was changed elsewhere.' }, current });
}
