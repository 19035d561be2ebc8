/**
 * The user's notes, under `/api` (all need a session). Writes carry the version they were based
 * on; a stale one gets 409 `CONFLICT` with the server's copy.
 *
 *   GET    /api/notes                         → {notes}
 *   PUT    /api/notes/:id  {…note, baseVersion} → {note}
 *   DELETE /api/notes/:id?baseVersion=n       → {ok}
 */
import type { FastifyPluginAsync } from 'fastify';
import type { FastifySessions } from 'latchkey/fastify';
import type { CurrentUser } from '../current-user.js';
import { sendNoteConflict } from '../errors.js';
import type { Notes } from '../notes.js';
import { parse, schemas } from '../schemas.js';

export interface NoteRoutesOptions {
  auth: FastifySessions;
  current: CurrentUser;
  notes: Notes;
}

/**
 * @example
 * await api.register(noteRoutes, { auth, current, notes });
 */
export const noteRoutes: FastifyPluginAsync<NoteRoutesOptions> = async (api, { auth, current, notes }) => {
  api.get('/notes', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    return { notes: notes.list(me.user.id) };
  });

  api.put('/notes/:id', { preHandler: auth.requireSession, bodyLimit: 64 * 1024 }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const params = parse(schemas.noteId, request.params, reply);
    const body = params && parse(schemas.note, request.body, reply);
    if (!params || !body) return reply;
    const { baseVersion, ...input } = body;
    const result = notes.put(me.user.id, params.id, input, baseVersion);
    return result.ok ? { note: result.note } : sendNoteConflict(reply, result.current);
  });

  api.delete('/notes/:id', { preHandler: auth.requireSession }, async (request, reply) => {
    const me = await current(request, reply);
    if (!me) return reply;
    const params = parse(schemas.noteId, request.params, reply);
    const query = params && parse(schemas.noteDelete, request.query, reply);
    if (!params || !query) return reply;
    const result = notes.remove(me.user.id, params.id, query.baseVersion);
    return result.ok ? { ok: true } : sendNoteConflict(reply, result.current);
  });
};
