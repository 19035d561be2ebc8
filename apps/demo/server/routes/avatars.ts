/**
 * `GET /avatars/<username>.svg` → the account's initials avatar, cached a day. Any other name is
 * the JSON 404.
 */
import type { FastifyPluginAsync } from 'fastify';
import { sendError } from 'latchkey/fastify';
import { AVATAR_FILE, avatarSvg } from '../avatar.js';

/**
 * @example
 * await app.register(avatarRoutes);
 */
export const avatarRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { file: string } }>('/avatars/:file', async (request, reply) => {
    const match = AVATAR_FILE.exec(request.params.file);
    if (!match?.[1]) return sendError(reply, 'NOT_FOUND');
    return reply
      .type('image/svg+xml; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(avatarSvg(match[1]));
  });
};
