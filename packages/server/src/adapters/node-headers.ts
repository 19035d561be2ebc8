/**
 * How the node:http and Express adapters put a flow's headers on a response. `Set-Cookie` is added
 * beside what the app set already (its own cookies stay), and replaces only an earlier cookie of
 * the same name (`addSetCookie`). `setHeader` alone would drop every cookie the app set before `login`.
 */
import type { ServerResponse } from 'node:http';
import type { FlowHeaders } from '../http/session-flow.js';
import { addSetCookie } from './set-cookie.js';

export function setFlowHeaders(res: ServerResponse, headers: FlowHeaders): void {
  for (const name in headers) {
    const value = headers[name] as string;
    const previous = name === 'set-cookie' ? res.getHeader(name) : undefined;
    res.setHeader(name, previous === undefined ? value : addSetCookie(previous, value));
  }
}
