/**
 * `latchkey/dbsc`: Device Bound Session Credentials. A session the browser binds to a key it
 * cannot export is valid only with a short-lived bound cookie, renewed by a proof signed with that
 * key; a copied session cookie is worthless on another device once the bound cookie lapses.
 * Opt-in, per session manager; browsers without DBSC keep today's behaviour. Give the binding to
 * an adapter (`createExpressSessions(manager, { deviceBinding })`); docs/dbsc.md explains it.
 *
 * @example
 * import { createDeviceBinding } from 'latchkey/dbsc';
 * const deviceBinding = createDeviceBinding(sessions, { registerPath: '/api/auth/device/register', refreshPath: '/api/auth/device/refresh' });
 * app.use('/api', createExpressSessions(sessions, { deviceBinding }).middleware);
 */

export type { SessionBinding } from '../stores/store.js';
export {
  createDeviceBinding,
  type DeviceAnswer,
  type DeviceBinding,
  type DeviceBindingOptions,
  type DeviceHeaders,
  type DeviceRequest,
} from './binding.js';
export { DEVICE_ALGORITHMS, type DeviceAlgorithm } from './proof.js';
