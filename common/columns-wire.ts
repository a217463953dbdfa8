/**
 * Element columns inside a JSON-RPC message between the agent and the
 * extension host (both Node): the compact columns (common/columns.ts
 * CompactColumns), each typed array as one base64 string of its
 * little-endian bytes. A million elements are ~9 MB of base64 that JSON
 * parses as seven strings, against ~90 MB of objects and hex strings that
 * JSON.parse turns into a million objects.
 */
import { COMPACT_FIELDS, compactColumns, compactProblem, type CompactColumns, type ElementColumnsView, ownerWidth, removedProblem } from './columns';
import type { ColumnDelta, DeltaOf, HeapColumnDelta } from './delta';
import type { Heap } from './snapshot';

export interface PackedColumns {
  heapId: number;
  n: number;
  addr?: string;
  len: string;
  state: string;
  owner: string;
  jumps: string;
  big: string;
  pads: string;
  owners: string[];
}

type Coded = 'len' | 'state' | 'owner' | 'jumps' | 'big' | 'pads';
const CODED: readonly Coded[] = ['len', 'state', 'owner', 'jumps', 'big', 'pads'];

const asCompact = (c: ElementColumnsView | CompactColumns): CompactColumns => ('pad' in c ? compactColumns(c) : c);

const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/** The columns (a view's first `n` elements), compact and coded. */
export function packColumns(v: ElementColumnsView | CompactColumns): PackedColumns {
  const c = asCompact(v);
  return { heapId: c.heapId, n: c.n, ...(c.addr ? { addr: b64(c.addr) } : {}), len: b64(c.len), state: b64(c.state), owner: b64(c.owner), jumps: b64(c.jumps), big: b64(c.big), pads: b64(c.pads), owners: c.owners.slice() };
}

/** Input bytes per base64 chunk: a multiple of 3, and a chunk's string (64 KiB) stays out of V8's large-object space. */
const CHUNK = 3 * 16384;

/** base64 of `a`'s bytes written into `out` at `at` (in chunks: no string of the whole column); returns the end. */
function writeB64(a: ArrayBufferView, out: Buffer, at: number): number {
  const whole = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < whole.length; i += CHUNK) at += out.write(whole.subarray(i, i + CHUNK).toString('base64'), at, 'latin1');
  return at;
}

const b64Len = (a: ArrayBufferView) => 4 * Math.ceil(a.byteLength / 3);

/** The parts of `JSON.stringify(packColumns(c))`: its text before, between and after the coded columns, and its size in bytes. */
function packedParts(c: CompactColumns): { head: string; cols: [string, ArrayBufferView][]; tail: string; size: number } {
  const cols: [string, ArrayBufferView][] = [...(c.addr ? [['addr', c.addr] as [string, ArrayBufferView]] : []), ...CODED.map((k): [string, ArrayBufferView] => [k, c[k]])];
  const head = `{"heapId":${JSON.stringify(c.heapId)},"n":${JSON.stringify(c.n)}`;
  const tail = `,"owners":${JSON.stringify(c.owners)}}`;
  let size = head.length + Buffer.byteLength(tail);
  for (const [k, a] of cols) size += k.length + 6 + b64Len(a); // ,"k":"…"
  return { head, cols, tail, size };
}

/** The size in bytes of `JSON.stringify(packColumns(c))`. */
export function packedColumnsJsonSize(c: CompactColumns): number {
  return packedParts(c).size;
}

/**
 * Writes exactly the bytes of `JSON.stringify(packColumns(c))` into `out` at
 * `at`, without building the base64 strings (each column is coded straight
 * into `out`); returns the end. The agent sends a column snapshot's columns
 * this way (native-agent/wire.ts).
 */
export function writePackedColumnsJson(c: CompactColumns, out: Buffer, at: number): number {
  const { head, cols, tail, size } = packedParts(c);
  const from = at;
  at += out.write(head, at, 'latin1');
  for (const [k, a] of cols) {
    at += out.write(`,"${k}":"`, at, 'latin1');
    at = writeB64(a, out, at);
    at += out.write('"', at, 'latin1');
  }
  at += out.write(tail, at, 'utf8');
  if (at - from !== size) throw new Error(`writePackedColumnsJson wrote ${at - from} bytes, not ${size}`);
  return at;
}

/** `JSON.stringify(packColumns(c))` as bytes in a buffer of their own. */
export function packColumnsJson(v: ElementColumnsView | CompactColumns): Buffer {
  const c = asCompact(v);
  const out = Buffer.allocUnsafeSlow(packedColumnsJsonSize(c));
  writePackedColumnsJson(c, out, 0);
  return out;
}

/** Bytes of a base64 string in a fresh ArrayBuffer of its own (aligned for any typed array). */
function bytes(s: unknown, field: string, want: number): ArrayBuffer {
  if (typeof s !== 'string') throw new Error(`columns.${field} is not a base64 string`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s.length > 64 ? s.slice(-64) : s) || s.length % 4 !== 0) throw new Error(`columns.${field} is not base64`);
  const b = Buffer.from(s, 'base64');
  if (b.byteLength !== want) throw new Error(`columns.${field} holds ${b.byteLength} bytes, not the ${want} that n calls for`);
  // a large column decodes into an ArrayBuffer of its own: no second copy
  if (b.byteOffset === 0 && b.buffer.byteLength === want && b.buffer instanceof ArrayBuffer) return b.buffer;
  const out = new ArrayBuffer(want);
  new Uint8Array(out).set(b);
  return out;
}

/**
 * Decodes and checks (common/columns.ts's compactProblem; nothing is
 * expanded: the extension host keeps them compact until something asks
 * for the elements) what packColumns made. Throws one sentence naming the field when anything is wrong.
 */
export function unpackColumns(x: unknown): CompactColumns {
  if (typeof x !== 'object' || x === null) throw new Error('columns is not an object');
  const p = x as Record<string, unknown>;
  for (const key of Object.keys(p)) if (!(COMPACT_FIELDS as readonly string[]).includes(key)) throw new Error(`columns.${key.slice(0, 40)} is not a known field`);
  const n = p.n;
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new Error('columns.n is not a count');
  const k = n as number;
  if (!Array.isArray(p.owners)) throw new Error('columns.owners is not an array');
  const owners = p.owners as string[];
  const pairs = (field: string): Float64Array => {
    const s = p[field];
    if (typeof s !== 'string' || s.length % 4 !== 0) throw new Error(`columns.${field} is not base64`);
    const size = Buffer.byteLength(s, 'base64');
    if (size % 16 !== 0) throw new Error(`columns.${field} is not a list of [index, value] pairs`);
    return new Float64Array(bytes(s, field, size));
  };
  const c: CompactColumns = {
    heapId: p.heapId as number,
    n: k,
    ...(p.addr !== undefined ? { addr: new Float64Array(bytes(p.addr, 'addr', k * 8)) } : {}),
    len: new Uint32Array(bytes(p.len, 'len', k * 4)),
    state: new Uint8Array(bytes(p.state, 'state', k)),
    owner: ownerWidth(owners.length) === 2 ? new Uint16Array(bytes(p.owner, 'owner', k * 2)) : new Uint32Array(bytes(p.owner, 'owner', k * 4)),
    jumps: pairs('jumps'),
    big: pairs('big'),
    pads: pairs('pads'),
    owners,
  };
  const why = compactProblem(c);
  if (why) throw new Error(`columns${why[0]} ${why[1]}`);
  return c;
}

/** A heap's column delta inside a JSON-RPC notification (common/delta.ts HeapColumnDelta). */
export interface PackedHeapDelta {
  id: number;
  header?: Omit<Heap, 'elements'>;
  /** base64 of the removed addresses (Float64, ascending). */
  removed: string;
  added: PackedColumns;
  changed: PackedColumns;
}

export type PackedColumnDelta = DeltaOf<PackedHeapDelta>;

/** A heap delta for the notification (its slices as made by diffHeapColumnDelta: with their addresses). */
export function packHeapDelta(d: HeapColumnDelta): PackedHeapDelta {
  return { id: d.id, ...(d.header ? { header: d.header } : {}), removed: b64(d.removed), added: packColumns(d.added), changed: packColumns(d.changed) };
}

/**
 * Decodes and checks a packed heap delta (its header is checked with the
 * notification): removed addresses whole and strictly ascending, the slices
 * as unpackColumns checks columns. Throws one sentence naming the field.
 */
export function unpackHeapDelta(p: PackedHeapDelta): HeapColumnDelta {
  if (typeof p.removed !== 'string' || p.removed.length % 4 !== 0) throw new Error('delta.removed is not base64');
  const size = Buffer.byteLength(p.removed, 'base64');
  if (size % 8 !== 0) throw new Error('delta.removed is not a list of addresses');
  const removed = new Float64Array(bytes(p.removed, 'removed', size));
  const why = removedProblem(removed);
  if (why) throw new Error(`delta.removed${why[0]} ${why[1]}`);
  const slice = (x: unknown, what: string) => {
    try {
      return unpackColumns(x);
    } catch (e) {
      throw new Error(`delta.${what}: ${(e as Error).message}`);
    }
  };
  return { id: p.id, ...(p.header ? { header: p.header } : {}), removed, added: slice(p.added, 'added'), changed: slice(p.changed, 'changed') };
}

/** Whether a delta from the agent is the packed column form (a subscription with columns) rather than objects. */
export function isPackedDelta(d: unknown): d is PackedColumnDelta {
  const changed = (d as { heaps?: { changed?: unknown } } | null)?.heaps?.changed;
  return Array.isArray(changed) && changed.some((h) => typeof (h as { removed?: unknown } | null)?.removed === 'string');
}

export function unpackColumnDelta(d: PackedColumnDelta): ColumnDelta {
  return { ...d, heaps: { removed: d.heaps.removed, changed: d.heaps.changed.map(unpackHeapDelta) } };
}
