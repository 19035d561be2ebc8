/**
 * Constant-time equality of two ASCII strings (base64url digests). The loop always runs over the
 * whole length and accumulates differences with XOR, so its time does not depend on where the
 * strings differ. Used where both sides are strings already: converting them to Buffers for
 * `crypto.timingSafeEqual` would cost two allocations on every request.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
