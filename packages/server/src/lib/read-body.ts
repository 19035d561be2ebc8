/**
 * Reads a request body up to a limit, for the few places latchkey reads one itself (the CSP report
 * route, `readJson` of `latchkey/node`). Past the limit it stops and leaves the rest unread: the
 * stream is not destroyed, so the server can still answer 413 on the same connection.
 */

/** The body as UTF-8 text, or `null` when it is longer than `limit` bytes. */
export async function readAtMost(body: AsyncIterable<Uint8Array>, limit: number): Promise<string | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Not `for await`: leaving that loop early would destroy the request, and the answer with it.
  const iterator = body[Symbol.asyncIterator]();
  for (;;) {
    const { done, value } = await iterator.next();
    if (done) break;
    size += value.byteLength;
    if (size > limit) return null;
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A Content-Length header over `limit`: the body need not be read to refuse it. */
export function announcedOver(contentLength: string | string[] | undefined, limit: number): boolean {
  return typeof contentLength === 'string' && Number(contentLength) > limit;
}
