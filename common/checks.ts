/**
 * Small validators for untrusted JSON (webview messages, snapshot files):
 * each returns true only for exactly the expected shape.
 */
import { ErrorCode, MemscopeError } from './errors';

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

// ------------------------------------------------------- host-side inputs
//
// File prefixes, paths and names that reach the file system, a command line
// or a message: checked by one function (checkInputs), called by the CLI on
// its arguments, the agent server on its JSON-RPC params and the extension
// on its settings, before any of them touches a file.

/**
 * The most characters a file prefix may have. DPDK itself only refuses an
 * empty prefix, a '%' in it, and a runtime dir (`<root>/dpdk/<prefix>`) that
 * does not fit PATH_MAX; but it silently truncates a secondary's mp socket
 * path (`/var/run/dpdk/<prefix>/mp_socket_<pid>_<tsc>`) to the 107 bytes of
 * `sun_path`, which prefixes past about 58 characters reach. 64 is Memscope's
 * bound since its first release.
 */
export const MAX_PREFIX = 64;
/** PATH_MAX minus its NUL, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 4095;
export const MAX_SNAPSHOT_NAME = 200;

/**
 * Letters, digits, '_', '.', '+' and '-', not starting with '.' or '-', no
 * '..'. Stricter than DPDK on purpose: a prefix becomes a path component
 * (runtime dir, hugepage files), part of the primary's argv and of messages
 * users paste into shells ("undo with: memscope unregister --file-prefix …"),
 * so shell metacharacters (`;|&$\`'"<>()*?!~#` and space), '/', '%',
 * control characters and non-ASCII are refused even though DPDK would take
 * most of them. A primary started with such a prefix is not listed.
 */
export const PREFIX_RE = FILE_PREFIX;

export type InputKind = 'filePrefix' | 'runtimeDir' | 'outFile' | 'snapshotFile' | 'traceDir' | 'ealLog' | 'dpdkLib' | 'snapshotName' | 'ealArg';
/** Where a value came from: how the message names it. */
export type InputSource = 'cli' | 'rpc' | 'settings';

const LABELS: Record<InputKind, Record<InputSource, string>> = {
  filePrefix: { cli: '--file-prefix', rpc: 'filePrefix', settings: 'the file prefix' },
  runtimeDir: { cli: '--runtime-dir', rpc: 'runtimeDirs', settings: 'memscope.runtimeDirs' },
  outFile: { cli: '--out', rpc: 'out', settings: 'the output file' },
  snapshotFile: { cli: 'the snapshot file', rpc: 'the snapshot file', settings: 'the snapshot file' },
  traceDir: { cli: '--trace', rpc: 'traceDir', settings: 'memscope.leaks.traceDir' },
  ealLog: { cli: '--eal-log', rpc: 'ealLog', settings: 'the EAL log file' },
  dpdkLib: { cli: '--dpdk-lib', rpc: 'dpdkLib', settings: 'memscope.dpdkLibraryPath' },
  snapshotName: { cli: '--name', rpc: 'name', settings: 'the snapshot name' },
  ealArg: { cli: 'EAL option', rpc: 'extraEalArgs', settings: 'memscope.eal.extraArgs' },
};

/** What to do instead, per kind. */
const FIXES: Record<InputKind, string> = {
  filePrefix: `use the plain name the primary was started with (--file-prefix), as \`memscope list\` shows it: 1 to ${MAX_PREFIX} letters, digits, '_', '.', '+' or '-', not starting with '.' or '-'`,
  runtimeDir: 'give an absolute directory without ".." such as /var/run/dpdk',
  outFile: 'write the snapshot to a file whose name ends in .json, e.g. before.memscope.json',
  snapshotFile: 'pass a snapshot file whose name ends in .json, as `memscope snapshot --out` and Export Snapshot write them',
  traceDir: "pass the directory the primary's --trace-dir names",
  ealLog: 'give a file whose name ends in .log, or leave the option out',
  dpdkLib: 'give the absolute path of a librte_eal.so (e.g. /usr/lib/x86_64-linux-gnu/librte_eal.so.23) or leave it unset',
  snapshotName: `use 1 to ${MAX_SNAPSHOT_NAME} visible characters`,
  ealArg: 'an attaching agent takes only --log-level=, --huge-dir=, --iova-mode=, --vfio-intr=, --vfio-vf-token= and --no-telemetry, so fix memscope.eal.extraArgs',
};

/**
 * EAL options a user may add (memscope.eal.extraArgs). Anything else could
 * turn the agent into a primary, or change what it shares with the target.
 * They reach rte_eal_init as an argument vector, never a shell.
 */
const ALLOWED_EAL_ARGS = EXTRA_EAL_ARG;

/** Characters no name or path of Memscope may hold: controls (NUL and line breaks included), invisible and direction-changing formatting, line separators, lone surrogates. */
const UNSEEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** A value quoted in a message: printable ASCII only, at most 60 characters. */
export function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  const cut = s.length > 60 ? s.slice(0, 60) + '...' : s;
  return cut.replace(/[^\x20-\x7e]/g, '?');
}

function describe(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp === 0) return 'a NUL byte';
  if (ch === '\n' || ch === '\r') return 'a line break';
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) return `a control character (U+${cp.toString(16).padStart(4, '0').toUpperCase()})`;
  if (/[\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(ch)) return `an invisible or direction-changing character (U+${cp.toString(16).padStart(4, '0').toUpperCase()})`;
  if (';|&$`\'"<>()*?!~#\\{}[] \t'.includes(ch)) return `the shell metacharacter '${ch}'`;
  if (cp > 0x7e) return `the non-ASCII character U+${cp.toString(16).padStart(4, '0').toUpperCase()}`;
  return `'${ch}'`;
}

/** "contains …" when `s` holds a character no name, path or argument may hold, else null. */
export function unseenProblem(s: string): string | null {
  const bad = UNSEEN.exec(s);
  return bad ? `contains ${describe(bad[0])}` : null;
}

/** Why `v` is not a good text value, or null: a string, not empty, bounded, nothing unseen, no leading '-' (unless `dashOk`). */
function textProblem(v: unknown, max: number, unit: 'bytes' | 'characters', dashOk = false): string | null {
  if (typeof v !== 'string') return 'is not a string';
  if (v === '') return 'is empty';
  const len = unit === 'bytes' ? utf8Length(v) : v.length;
  if (len > max) return `is ${len} ${unit} long (at most ${max})`;
  const bad = UNSEEN.exec(v);
  if (bad) return `contains ${describe(bad[0])}`;
  if (!dashOk && v.startsWith('-')) return "starts with '-', which a command line would take for an option";
  return null;
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

const pathProblem = (v: unknown) => textProblem(v, MAX_PATH_BYTES, 'bytes');

const dotdot = (p: string) => p.split('/').includes('..');

/** Why `v` cannot be used as this kind of input, or null when it can. */
export function inputProblem(kind: InputKind, v: unknown): string | null {
  switch (kind) {
    case 'filePrefix': {
      const t = textProblem(v, MAX_PREFIX, 'characters');
      if (t) return t;
      const s = v as string;
      if (s === '.' || s === '..') return `is "${s}", a directory of its own`;
      if (s.includes('/')) return "contains '/'";
      if (s.includes('..')) return "contains '..'";
      if (s.startsWith('.')) return "starts with '.'";
      if (!PREFIX_RE.test(s)) return `contains ${describe([...s].find((c) => !/[A-Za-z0-9_.+-]/.test(c)) ?? s[0]!)}`;
      return null;
    }
    case 'runtimeDir': {
      const t = pathProblem(v);
      if (t) return t;
      const s = v as string;
      if (!s.startsWith('/')) return 'is not an absolute path';
      if (dotdot(s)) return 'has a ".." component';
      return null;
    }
    case 'outFile':
    case 'snapshotFile':
    case 'ealLog': {
      const t = pathProblem(v);
      if (t) return t;
      const s = v as string;
      const ext = kind === 'ealLog' ? '.log' : '.json';
      // by its name alone it cannot be /etc/passwd, a sudoers.d or cron.d entry, a shell's rc file
      if (!s.endsWith(ext) || s.endsWith('/' + ext) || s === ext) return `does not name a ${ext} file`;
      return null;
    }
    case 'traceDir':
      // only read, with the user's own rights: any directory they can name
      return pathProblem(v);
    case 'dpdkLib': {
      const t = pathProblem(v);
      if (t) return t;
      const s = v as string;
      const base = s.slice(s.lastIndexOf('/') + 1);
      if (!/^librte_eal\.so(\.\d+)*$/.test(base)) return 'is not a librte_eal.so';
      // a relative path with a '/' would be loaded from the agent's working directory
      if (s.includes('/') && !s.startsWith('/')) return 'is a relative path';
      if (dotdot(s)) return 'has a ".." component';
      return null;
    }
    case 'snapshotName':
      // a name is never a path nor an argument of its own (`--name=-x` is fine)
      return textProblem(v, MAX_SNAPSHOT_NAME, 'characters', true);
    case 'ealArg': {
      if (typeof v !== 'string') return 'is not a string';
      const bad = UNSEEN.exec(v);
      if (bad) return `contains ${describe(bad[0])}`;
      if (!ALLOWED_EAL_ARGS.test(v)) return 'is not an EAL option an attaching agent may take';
      return null;
    }
  }
}

/** The one sentence for a refused value: which input, what is wrong with it, what to do. */
export function inputMessage(kind: InputKind, source: InputSource, v: unknown, problem: string): string {
  return `${LABELS[kind][source]} "${shown(v)}" ${problem}: ${FIXES[kind]}.`;
}

export type Inputs = Partial<Record<InputKind, unknown>>;

/** The kinds given as a list (--runtime-dir may repeat, diff takes two files). */
const LISTS: ReadonlySet<InputKind> = new Set(['runtimeDir', 'snapshotFile', 'ealArg']);

/**
 * Checks every given input (undefined and null are "not given"; runtimeDir,
 * snapshotFile and ealArg take a list) and throws a MemscopeError (bad-arguments)
 * naming the first one refused. Touches no file.
 */
export function checkInputs(source: InputSource, inputs: Inputs): void {
  for (const kind of Object.keys(inputs) as InputKind[]) {
    const raw = inputs[kind];
    if (raw === undefined || raw === null) continue;
    for (const v of LISTS.has(kind) && Array.isArray(raw) ? raw : [raw]) {
      const problem = inputProblem(kind, v);
      if (problem) throw new MemscopeError(ErrorCode.BadArguments, inputMessage(kind, source, v, problem));
    }
  }
}
