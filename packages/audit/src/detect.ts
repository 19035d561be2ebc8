/**
 * What a value a script can reach is: a JWT (decoded), an opaque bearer token, a password, personal
 * data. Heuristics on purpose: names and shapes, tuned so the reference app's own storage (notes,
 * an owner key) stays quiet while the article's `{ token: "JWT eyJ…" }` is found wherever it hides.
 */
import { mask } from './findings.js';

/** A JWT's parts that matter for the report. */
export interface JwtInfo {
  algorithm: string;
  issuer: string | undefined;
  /** Seconds between `iat` (or now) and `exp`; `undefined` when the token never expires. */
  lifetime: number | undefined;
  expired: boolean;
}

/** A JWT anywhere in a string: two base64url JSON objects (`eyJ` is `{"`) and a signature. */
export const JWT_PATTERN = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Decodes a JWT's header and claims (no signature check: we only describe it). */
export function decodeJwt(token: string, nowSeconds = Date.now() / 1000): JwtInfo | undefined {
  const [head, body] = token.split('.');
  const header = head === undefined ? undefined : decodePart(head);
  const claims = body === undefined ? undefined : decodePart(body);
  if (header === undefined || claims === undefined || typeof header.alg !== 'string') return undefined;
  const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
  const iat = typeof claims.iat === 'number' ? claims.iat : nowSeconds;
  return {
    algorithm: header.alg,
    issuer: typeof claims.iss === 'string' ? claims.iss.slice(0, 100) : undefined,
    lifetime: exp === undefined ? undefined : Math.round(exp - iat),
    expired: exp !== undefined && exp < nowSeconds,
  };
}

/** "lifetime 60 s, HS256, no issuer" */
export function describeJwt(info: JwtInfo): string {
  const lifetime =
    info.lifetime === undefined
      ? 'no expiry'
      : `lifetime ${formatSeconds(info.lifetime)}${info.expired ? ', expired' : ''}`;
  return `${lifetime}, ${info.algorithm}, ${info.issuer === undefined ? 'no issuer' : `issuer ${info.issuer}`}`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

/** A JWT that readable storage should flag for its lifetime: over an hour, or never expiring. */
export const tooLong = (info: JwtInfo): boolean => info.lifetime === undefined || info.lifetime > 3600;

const TOKEN_NAME =
  /(?:^|[^a-z])(?:token|access|refresh|bearer|auth|authorization|session|sess|sid|jwt|credential|api[-_]?key|apikey)(?:$|[^a-z])|token|apikey|accesskey|secret/i;
const PASSWORD_NAME = /pass(?:word|wd|phrase)?$|^pwd$|^password|_pwd$|Password$/i;
const PERSONAL_NAME = /e-?mail|phone|mobile|birth|dob|address|street|postcode|zip|ssn|iban|card/i;
const OPAQUE = /^(?:Bearer\s+)?[A-Za-z0-9._~+/-]{24,}={0,2}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[A-Za-z]{2,}$/;
const CARD = /^(?:\d[ -]?){13,19}$/;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Enough variety to be a random credential, not a word or a sentence: three kinds of characters. */
function looksRandom(value: string): boolean {
  const kinds = [/[a-z]/, /[A-Z]/, /\d/].filter((k) => k.test(value)).length;
  return kinds >= 2 && new Set(value).size >= 12;
}

/** What a value found under a name in storage is, as `{ kind, detail }`; nothing when harmless. */
export type Classified =
  | { kind: 'jwt'; token: string; info: JwtInfo }
  | { kind: 'token' | 'password' | 'personal'; detail: string };

/**
 * Classifies one string found under `path` (`user.token`, `auth`): JWTs anywhere in it, an opaque
 * token under a token-like name, a password under a password-like name, personal data by shape.
 */
export function classify(path: string, value: string, nowSeconds?: number): Classified[] {
  const out: Classified[] = [];
  for (const match of value.matchAll(JWT_PATTERN)) {
    const info = decodeJwt(match[0], nowSeconds);
    if (info !== undefined) out.push({ kind: 'jwt', token: match[0], info });
  }
  if (out.length > 0) return out;
  const name = path.split('.').at(-1) ?? path;
  const trimmed = value.trim();
  if (PASSWORD_NAME.test(name) && trimmed.length >= 4 && !/^(?:true|false|null|\d{1,3})$/.test(trimmed)) {
    out.push({ kind: 'password', detail: `a password under "${path}" (${mask(trimmed)})` });
  } else if (TOKEN_NAME.test(name) && OPAQUE.test(trimmed) && looksRandom(trimmed)) {
    out.push({ kind: 'token', detail: `a token under "${path}" (${mask(trimmed)})` });
  } else if (EMAIL.test(trimmed) || (CARD.test(trimmed) && luhn(trimmed.replace(/\D/g, '')))) {
    out.push({
      kind: 'personal',
      detail: `${EMAIL.test(trimmed) ? 'an e-mail address' : 'a card number'} under "${path}"`,
    });
  } else if (PERSONAL_NAME.test(name) && trimmed.length >= 3) {
    out.push({ kind: 'personal', detail: `personal data under "${path}"` });
  }
  return out;
}

/**
 * Every string leaf of a value with its path, a JSON string parsed first (`localStorage` holds
 * `JSON.stringify(result.data)` in the article). Bounded: 2,000 leaves, depth 8.
 */
export function leaves(root: string, value: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (path: string, v: unknown, depth: number) => {
    if (out.length >= 2000 || depth > 8) return;
    if (typeof v === 'string') {
      const t = v.trim();
      if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
        try {
          walk(path, JSON.parse(t), depth + 1);
          return;
        } catch {
          // not JSON: a plain string
        }
      }
      out.push([path, v]);
    } else if (Array.isArray(v)) {
      for (const [i, item] of v.slice(0, 200).entries()) walk(`${path}[${i}]`, item, depth + 1);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v).slice(0, 200)) walk(path === '' ? k : `${path}.${k}`, item, depth + 1);
    }
  };
  walk(root, value, 0);
  return out;
}
