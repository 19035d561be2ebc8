/**
 * One check of session data, in the manager, before any store sees it: plain JSON only, so every
 * store keeps and returns the same thing (a Map would become `{}` in SQL stores and stay a Map in
 * memory; a function would throw a DataCloneError in one store and vanish in another). Runs on
 * createSession and updateSessionData only, never on validation. Messages name the path of the bad
 * value and its kind, never the value.
 */
import { SessionDataError } from '../errors.js';
import { describe } from '../lib/options.js';
import type { SessionData } from '../stores/store.js';

/** Deepest nesting accepted: data is small state, not a document. */
export const MAX_DATA_DEPTH = 32;

const PLAIN_JSON = 'session data must be plain JSON (objects, arrays, strings, finite numbers, booleans, null)';

const isPlainObject = (value: object) => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

const member = (path: string, key: string) =>
  /^[A-Za-z_$][\w$]{0,63}$/.test(key) ? `${path}.${key}` : `${path}[${key.length <= 64 ? JSON.stringify(key) : '…'}]`;

/** How to turn a common non-JSON value into JSON. */
function fixFor(value: unknown): string {
  if (value instanceof Map) return ': convert it, e.g. Object.fromEntries(map)';
  if (value instanceof Set) return ': convert it, e.g. [...set]';
  if (value instanceof Date) return ': store date.getTime() or date.toISOString()';
  if (value === undefined) return ': leave the key out, or use null';
  if (typeof value === 'bigint') return ': store it as a string';
  if (typeof value === 'number') return ': store a finite number, or null';
  return '';
}

function check(value: unknown, path: string, depth: number, ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      throw new SessionDataError(`${path} is ${value}; ${PLAIN_JSON}${fixFor(value)}`);
    case 'object': {
      if (value === null) return;
      if (depth > MAX_DATA_DEPTH) {
        throw new SessionDataError(
          `${path} is nested deeper than ${MAX_DATA_DEPTH} levels; keep session data flat and small`,
        );
      }
      if (ancestors.includes(value)) {
        throw new SessionDataError(`${path} refers back to an object that contains it (a cycle); ${PLAIN_JSON}`);
      }
      ancestors.push(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) check(value[i], `${path}[${i}]`, depth + 1, ancestors);
      } else if (isPlainObject(value)) {
        for (const key of Object.keys(value)) {
          check((value as Record<string, unknown>)[key], member(path, key), depth + 1, ancestors);
        }
      } else {
        throw new SessionDataError(`${path} is ${describe(value)}; ${PLAIN_JSON}${fixFor(value)}`);
      }
      ancestors.pop();
      return;
    }
    default:
      throw new SessionDataError(`${path} is ${describe(value)}; ${PLAIN_JSON}${fixFor(value)}`);
  }
}

/**
 * Throws `SessionDataError` unless `data` is a plain JSON object whose JSON is at most `maxBytes`.
 *
 * @example
 * checkSessionData({ cart: [1, 2] }, 4096); // fine
 * checkSessionData({ prefs: new Map() }, 4096); // SessionDataError: data.prefs is a Map; …
 */
export function checkSessionData(data: SessionData, maxBytes: number): void {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || !isPlainObject(data)) {
    throw new SessionDataError(`session data must be a plain object, not ${describe(data)}`);
  }
  check(data, 'data', 0, []);
  const bytes = Buffer.byteLength(JSON.stringify(data));
  if (bytes > maxBytes) {
    throw new SessionDataError(
      `session data is ${bytes} bytes of JSON, over maxDataBytes (${maxBytes}): keep large state in your own tables, keyed by user id`,
    );
  }
}
