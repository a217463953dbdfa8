/**
 * Small validators for untrusted JSON (webview messages, snapshot files):
 * each returns true only for exactly the expected shape.
 */
export type Check = (v: unknown) => boolean;
export type Obj = Record<string, unknown>;

export const HEX = /^0x[0-9a-fA-F]{1,16}$/;
export const MAX_TEXT = 4096;

/**
 * Text from untrusted input as it may be printed on one line (a terminal, a
 * log, an error message): control characters (escapes, line breaks) and
 * bidi overrides become \u escapes.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A DPDK file prefix becomes a path component (runtime dir, hugepage files): nothing that could escape. */
export const FILE_PREFIX = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/;
export const isFilePrefix = (v: unknown): v is string => typeof v === 'string' && FILE_PREFIX.test(v) && !v.includes('..');
/** An absolute path of at most MAX_TEXT characters, without NUL or a '..' component. */
export const absPath = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= MAX_TEXT && v.startsWith('/') && !v.includes('\0') && !v.split('/').includes('..');
/** The EAL options an attaching agent may add: none can turn it into something else (a primary, another prefix). */
export const EXTRA_EAL_ARG = /^--(log-level|huge-dir|iova-mode|vfio-intr|vfio-vf-token)=[^\0\n]{1,512}$|^--no-telemetry$/;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str =
  (max = MAX_TEXT): Check =>
  (v) =>
    typeof v === 'string' && v.length <= max;
export const text = str();
export const hex: Check = (v) => typeof v === 'string' && HEX.test(v);
export const int: Check = (v) => Number.isSafeInteger(v);
export const count: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
export const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
export const bool: Check = (v) => typeof v === 'boolean';
export const nullable =
  (c: Check): Check =>
  (v) =>
    v === null || c(v);
export const oneOf =
  (...xs: readonly unknown[]): Check =>
  (v) =>
    xs.includes(v);
/**
 * Where the last failed check went wrong, kept only while `explain` runs (so
 * the validators cost nothing extra otherwise): each level of a failed check
 * adds its part of the path on the way out, innermost first.
 */
let trail: string[] | null = null;
let problem = '';

/** Notes where a check failed while `explain` runs (for hand-written checks); returns false. */
export function fail(part: string, why?: string): false {
  if (trail) {
    if (why !== undefined && !trail.length) problem = why;
    trail.push(part);
  }
  return false;
}

/** True while `explain` runs: a hand-written check may then say what is wrong. */
export const explaining = (): boolean => trail !== null;

/** A key from untrusted input as a path part: printable, short. */
export function keyPart(k: string): string {
  const safe = k.length <= 40 && /^[A-Za-z_$][\w$]*$/.test(k);
  return safe ? `.${k}` : `[${JSON.stringify(k.slice(0, 40)).replace(/[^\x20-\x7e]/g, '?')}${k.length > 40 ? '…' : ''}]`;
}

export const arrayOf =
  (c: Check, max: number): Check =>
  (v) => {
    if (!Array.isArray(v)) return trail ? fail('', 'is not a list') : false;
    if (v.length > max) return trail ? fail('', `has ${v.length} entries, more than the ${max} allowed`) : false;
    for (let i = 0; i < v.length; i++) if (!c(v[i])) return trail ? fail(`[${i}]`) : false;
    return true;
  };

const recordFields = new WeakMap<Check, readonly string[]>();

/** Every field name the given `record` checks know (required and optional). */
export function fieldNames(...checks: Check[]): Set<string> {
  const out = new Set<string>();
  for (const c of checks) for (const k of recordFields.get(c) ?? []) out.add(k);
  return out;
}

/** An object with exactly these fields (optional ones may be absent or undefined). */
export function record(required: Record<string, Check>, optional: Record<string, Check> = {}): Check {
  const check = recordCheck(required, optional);
  recordFields.set(check, [...Object.keys(required), ...Object.keys(optional)]);
  return check;
}

function recordCheck(required: Record<string, Check>, optional: Record<string, Check>): Check {
  const req = Object.entries(required);
  // Maps, not the literals: `k in required` would accept "toString"
  const reqKeys = new Set(Object.keys(required));
  const opt = new Map(Object.entries(optional));
  return (v) => {
    if (!isObj(v)) return trail ? fail('', Array.isArray(v) ? 'is a list, not an object' : 'is not an object') : false;
    for (const [k, c] of req) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) return trail ? fail(keyPart(k), 'is missing') : false;
      if (!c(v[k])) return trail ? fail(keyPart(k)) : false;
    }
    for (const k in v) {
      if (reqKeys.has(k)) continue;
      const c = opt.get(k);
      if (!c) return trail ? fail(keyPart(k), 'is not a known field') : false;
      if (v[k] !== undefined && !c(v[k])) return trail ? fail(keyPart(k)) : false;
    }
    return true;
  };
}

/**
 * Why `check` rejects `x`: "heaps[0].elements[3] has a wrong type or value",
 * "target.pid is missing"; null when it accepts it. For error messages and
 * logs, never on a hot path (it runs the check again).
 */
export function explain(check: Check, x: unknown, root = ''): string | null {
  trail = [];
  problem = '';
  try {
    if (check(x)) return null;
    const path = root + trail.reverse().join('');
    const at = path.replace(/^\./, '') || 'the top level';
    return `${at} ${problem || 'has a wrong type or value'}`;
  } finally {
    trail = null;
  }
}

/** The check for a message's `type`, or null when the type or a field is wrong. */
export function dispatch<T>(table: Record<string, Check>, x: unknown): T | null {
  if (!isObj(x) || typeof x.type !== 'string' || !Object.prototype.hasOwnProperty.call(table, x.type)) return null;
  return table[x.type]!(x) ? (x as T) : null;
}
