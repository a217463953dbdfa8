/**
 * Small validators for untrusted JSON (webview messages, snapshot files):
 * each returns true only for exactly the expected shape.
 */
export type Check = (v: unknown) => boolean;
export type Obj = Record<string, unknown>;

export const HEX = /^0x[0-9a-fA-F]{1,16}$/;
export const MAX_TEXT = 4096;

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
export const arrayOf =
  (c: Check, max: number): Check =>
  (v) => {
    if (!Array.isArray(v) || v.length > max) return false;
    for (let i = 0; i < v.length; i++) if (!c(v[i])) return false;
    return true;
  };

/** An object with exactly these fields (optional ones may be absent or undefined). */
export function record(required: Record<string, Check>, optional: Record<string, Check> = {}): Check {
  const req = Object.entries(required);
  // Maps, not the literals: `k in required` would accept "toString"
  const reqKeys = new Set(Object.keys(required));
  const opt = new Map(Object.entries(optional));
  return (v) => {
    if (!isObj(v)) return false;
    for (const [k, c] of req) if (!Object.prototype.hasOwnProperty.call(v, k) || !c(v[k])) return false;
    for (const k in v) {
      if (reqKeys.has(k)) continue;
      const c = opt.get(k);
      if (!c || (v[k] !== undefined && !c(v[k]))) return false;
    }
    return true;
  };
}

/** The check for a message's `type`, or null when the type or a field is wrong. */
export function dispatch<T>(table: Record<string, Check>, x: unknown): T | null {
  if (!isObj(x) || typeof x.type !== 'string' || !Object.prototype.hasOwnProperty.call(table, x.type)) return null;
  return table[x.type]!(x) ? (x as T) : null;
}
