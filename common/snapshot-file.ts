/**
 * `.memscope.json` files: one snapshot as JSON, what `memscope snapshot --out`
 * writes and the extension exports and imports. A file is untrusted input:
 * only a regular file is opened (never a FIFO, device or directory, which
 * could block or never end), at most MAX_SNAPSHOT_FILE bytes of it are read,
 * its heap elements are counted before anything walks them, and it is
 * validated field by field (the webview's own validator) before anything
 * looks at it. Every refusal is a MemscopeError 'bad-snapshot' (exit 24)
 * naming the file and what is wrong with it.
 *
 * The limits: a real snapshot of 100k heap elements is about 7.5 MB and
 * parses in about 70 MB of memory; one of a million elements is about 77 MB
 * (about 300 MB to parse). The caps leave room for that million and bound
 * what a hostile file can cost (about 4 times its size in memory, so about
 * half a GiB at worst).
 */
import * as fs from 'node:fs';
import { printable } from './checks';
import { ErrorCode, MemscopeError } from './errors';
import { SNAPSHOT_SCHEMA, type Snapshot } from './snapshot';
import { explainSnapshot, SNAPSHOT_FIELDS, validateSnapshot } from './webview-protocol';

/** 128 MiB: a snapshot of about 1.7 million heap elements as the agent writes them. */
export const MAX_SNAPSHOT_FILE = 128 * 1024 ** 2;
/** Heap elements in all heaps of one snapshot: ten times the large real case. */
export const MAX_SNAPSHOT_ELEMENTS = 1_000_000;
/**
 * Objects and lists in the whole file (each element is one; a snapshot adds
 * a few thousand more), checked on the text before it is parsed: memory
 * follows these counts, not the bytes (`[{},{},…]` is 3 bytes an object).
 */
export const MAX_SNAPSHOT_CONTAINERS = MAX_SNAPSHOT_ELEMENTS + 500_000;
/** Values (numbers, strings, …) in the whole file: an element has five. */
export const MAX_SNAPSHOT_VALUES = 8_000_000;
/** String values (not field names) in the whole file: an element has up to three. */
export const MAX_SNAPSHOT_STRINGS = 3 * MAX_SNAPSHOT_ELEMENTS + 500_000;
/** How deep objects and lists nest (a snapshot needs 6). */
export const MAX_SNAPSHOT_DEPTH = 32;
/** Field names no snapshot has, before the text is refused unparsed (a few are left for the validator to name). */
const MAX_UNKNOWN_KEYS = 1000;

const WAY_OUT = 'pass a file written by `memscope snapshot --out` or Export Snapshot';

/**
 * Text from the file or the command line as it may appear in a one-line
 * message: control characters (a terminal escape, a line break) and bidi
 * overrides shown as \u escapes, cut to `max` characters.
 */
export function shown(s: string, max = 200): string {
  return printable(s.length > max ? s.slice(0, max) + '…' : s);
}

function bad(sentence: string): MemscopeError {
  return new MemscopeError(ErrorCode.BadSnapshot, sentence);
}

const mib = (n: number) => `${Math.round((n / 1024 ** 2) * 10) / 10} MiB`;

/** Heap elements in a parsed (not yet validated) file, without trusting its shape. */
function countElements(raw: unknown): number {
  if (typeof raw !== 'object' || raw === null) return 0;
  const heaps = (raw as { heaps?: unknown }).heaps;
  if (!Array.isArray(heaps)) return 0;
  let n = 0;
  for (const h of heaps) {
    const els = typeof h === 'object' && h !== null ? (h as { elements?: unknown }).elements : undefined;
    if (Array.isArray(els)) n += els.length;
  }
  return n;
}

/**
 * The first heap element listed twice (the same address twice in one heap),
 * which no heap walk produces and which would make a diff count one element
 * as two. Elements that overlap without sharing a start are kept: the map
 * and the diff take them as they come.
 */
function duplicateElement(s: Snapshot): string | null {
  for (let h = 0; h < s.heaps.length; h++) {
    const els = s.heaps[h]!.elements;
    if (els.length < 2) continue;
    // addresses are up to 64 bits: exact as BigInt, not as Number
    const a = new BigUint64Array(els.length);
    let rising = true;
    for (let i = 0; i < els.length; i++) {
      a[i] = BigInt(els[i]!.addr);
      if (i && a[i]! <= a[i - 1]!) rising = false;
    }
    if (rising) continue;
    a.sort();
    for (let i = 1; i < a.length; i++) {
      if (a[i] === a[i - 1]) {
        const addr = '0x' + a[i]!.toString(16);
        const at = els.findIndex((e) => BigInt(e.addr) === a[i]);
        return `heaps[${h}].elements[${at}] and another element both start at ${addr}`;
      }
    }
  }
  return null;
}

/**
 * One pass over the text, before JSON.parse builds anything: counts objects,
 * lists, values and strings, follows the nesting, and checks field names
 * (a snapshot has no free-form keys, and a hostile file's many distinct
 * keys would cost far more than its bytes). Says what is over a limit, or
 * null. Not a JSON check: JSON.parse does that next, and the validator
 * names a field that is wrong when there are only a few.
 */
function overLimit(text: string): string | null {
  let containers = 0;
  let values = 0;
  let strings = 0;
  let unknownKeys = 0;
  let firstUnknown = '';
  let depth = 0;
  // bit d set: the container at depth d + 1 is a list (depth never passes 32)
  let lists = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote, then see whether a colon makes it a key
      const start = i + 1;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      let j = i + 1;
      while (j < n && (text.charCodeAt(j) === 0x20 || text.charCodeAt(j) === 0x0a || text.charCodeAt(j) === 0x0d || text.charCodeAt(j) === 0x09)) j++;
      if (j < n && text.charCodeAt(j) === 0x3a) {
        if (escaped || i - start > 32 || !SNAPSHOT_FIELDS.has(text.slice(start, i))) {
          if (!unknownKeys) firstUnknown = text.slice(start, Math.min(i, start + 40));
          if (++unknownKeys > MAX_UNKNOWN_KEYS) return `has more than ${MAX_UNKNOWN_KEYS} fields a snapshot does not have (the first is "${shown(firstUnknown, 40)}")`;
        }
      } else if (++strings > MAX_SNAPSHOT_STRINGS) return `holds more than ${MAX_SNAPSHOT_STRINGS} strings, the most a snapshot may have`;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_SNAPSHOT_DEPTH) return `nests objects and lists more than ${MAX_SNAPSHOT_DEPTH} deep (a snapshot needs 6)`;
      if (++containers > MAX_SNAPSHOT_CONTAINERS) return `holds more than ${MAX_SNAPSHOT_CONTAINERS} objects and lists, the most a snapshot may have`;
      if (c === 0x5b) {
        lists |= 1 << (depth - 1);
        // a list's first entry (a comma counts each next one)
        if (++values > MAX_SNAPSHOT_VALUES) return `holds more than ${MAX_SNAPSHOT_VALUES} values, the most a snapshot may have`;
      } else lists &= ~(1 << (depth - 1));
    } else if (c === 0x7d || c === 0x5d) {
      if (depth > 0) depth--;
    } else if (c === 0x3a || (c === 0x2c && depth > 0 && lists & (1 << (depth - 1)))) {
      // a field's value, or a list's next entry: an upper bound, which is enough
      if (++values > MAX_SNAPSHOT_VALUES) return `holds more than ${MAX_SNAPSHOT_VALUES} values, the most a snapshot may have`;
    }
  }
  return null;
}

export function parseSnapshotText(text: string, what: string): Snapshot {
  const name = shown(what);
  if (text.length > MAX_SNAPSHOT_FILE) throw bad(`${name} holds ${mib(text.length)} of text, more than the ${mib(MAX_SNAPSHOT_FILE)} a snapshot may have: ${WAY_OUT}.`);
  // a byte order mark, as some editors save
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const over = overLimit(text);
  if (over) throw bad(`${name} ${over}: ${WAY_OUT}.`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the text around the error: shown, never raw
    const msg = (e as Error).message.replace(/\s+/g, ' ');
    const short = /end of JSON input|Unterminated/i.test(msg) ? '; it looks cut short' : '';
    throw bad(`${name} is not JSON (${shown(msg, 100)}${short}): ${WAY_OUT}.`);
  }
  const elements = countElements(raw);
  if (elements > MAX_SNAPSHOT_ELEMENTS) {
    throw bad(`${name} lists ${elements} heap elements, more than the ${MAX_SNAPSHOT_ELEMENTS} a snapshot may have: ${WAY_OUT}.`);
  }
  const snap = validateSnapshot(raw);
  if (snap) {
    const dup = duplicateElement(snap);
    if (dup) throw bad(`${name} is not a valid Memscope snapshot (${dup}; a heap walk never lists an address twice): ${WAY_OUT}.`);
    return snap;
  }
  const schema = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as { schema?: unknown }).schema : undefined;
  if (typeof schema === 'string' && schema !== SNAPSHOT_SCHEMA) {
    throw bad(`${name} is a "${shown(schema, 40)}" file, not a Memscope snapshot (${SNAPSHOT_SCHEMA}): pass a snapshot file of that schema.`);
  }
  if (schema === undefined) throw bad(`${name} is JSON but not a Memscope snapshot (it has no "schema": "${SNAPSHOT_SCHEMA}"): ${WAY_OUT}.`);
  const why = explainSnapshot(raw) ?? 'a field is malformed';
  throw bad(`${name} is not a valid Memscope snapshot (${why}): ${WAY_OUT}.`);
}

const KIND: [(s: fs.Stats) => boolean, string][] = [
  [(s) => s.isDirectory(), 'a directory'],
  [(s) => s.isFIFO(), 'a FIFO'],
  [(s) => s.isCharacterDevice(), 'a character device'],
  [(s) => s.isBlockDevice(), 'a block device'],
  [(s) => s.isSocket(), 'a socket'],
];

/**
 * Reads and validates a snapshot file. `what` names it in messages (the
 * path by default).
 */
export function readSnapshotFile(file: string, what: string = file): Snapshot {
  const name = shown(what);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores it
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw bad(`${name} is a directory, not a snapshot file: pass a .memscope.json file.`);
    if (code === 'ENOENT') throw bad(`${name} does not exist: check the path.`);
    if (code === 'EACCES' || code === 'EPERM') throw bad(`${name} cannot be read (permission denied): check its permissions.`);
    throw bad(`cannot read ${name} (${code ?? shown((e as Error).message, 80)}): check the path and its permissions.`);
  }
  let buf: Buffer;
  let got = 0;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const kind = KIND.find(([is]) => is(st))?.[1] ?? 'not a regular file';
      throw bad(`${name} is ${kind}, not a snapshot file: pass a .memscope.json file.`);
    }
    if (st.size > MAX_SNAPSHOT_FILE) throw bad(`${name} is ${mib(st.size)}, more than the ${mib(MAX_SNAPSHOT_FILE)} a snapshot may have: ${WAY_OUT}.`);
    // st.size may be stale (a file still being written) or 0 (/proc): read until
    // the end, but never past the cap
    buf = Buffer.allocUnsafe(Math.min(st.size, MAX_SNAPSHOT_FILE) + 1);
    for (;;) {
      if (got === buf.length) {
        if (got > MAX_SNAPSHOT_FILE) throw bad(`${name} grew past the ${mib(MAX_SNAPSHOT_FILE)} a snapshot may have while it was read: ${WAY_OUT}.`);
        const bigger = Buffer.allocUnsafe(Math.min(Math.max(buf.length * 2, 1 << 16), MAX_SNAPSHOT_FILE + 1));
        buf.copy(bigger, 0, 0, got);
        buf = bigger;
      }
      let n: number;
      try {
        n = fs.readSync(fd, buf, got, buf.length - got, null);
      } catch (e) {
        throw bad(`cannot read ${name} (${(e as NodeJS.ErrnoException).code ?? shown((e as Error).message, 80)}): check the file.`);
      }
      if (n === 0) break;
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const text = buf.toString('utf8', 0, got);
  buf = Buffer.alloc(0); // the bytes may go while the text is parsed
  return parseSnapshotText(text, what);
}
