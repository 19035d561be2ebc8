/** The demo's downstream service, for the BFF overhead bench. Usage: downstream.ts <port> <jwksPort> */
import { createDownstream } from '../../apps/demo/downstream/service.js';

const [port, jwksPort] = process.argv.slice(2);
const server = createDownstream({ jwksUrl: new URL(`http://127.0.0.1:${jwksPort}/.well-known/jwks.json`) });
server.listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
