/**
 * How the node:http and Express adapters put a flow's headers on a response. `Set-Cookie` is added
 * beside what the app set already (its own cookies stay), and replaces only an earlier cookie of
 * the same name: an expiry of a dead session cookie that the new session in the same answer
 * supersedes. `setHeader` alone would drop every cookie the app set before `login`.
 */
import type { ServerResponse } from 'node:http';
import type { FlowHeaders } from '../http/session-flow.js';

export function setFlowHeaders(res: ServerResponse, headers: FlowHeaders): void {
  for (const name in headers) {
    const value = headers[name] as string;
    const previous = name === 'set-cookie' ? res.getHeader(name) : undefined;
    if (previous === undefined) {
      res.setHeader(name, value);
      continue;
    }
    const earlier = Array.isArray(previous) ? previous : [String(previous)];
    const sameName = value.slice(0, value.indexOf('=') + 1);
    res.setHeader(name, [...earlier.filter((cookie) => !cookie.startsWith(sameName)), value]);
  }
}
