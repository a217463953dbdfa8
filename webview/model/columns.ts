/**
 * A heap's elements as columns (typed arrays sorted by address), the form
 * the map draws from: a million elements are a few flat arrays instead of a
 * million objects, and a delta is applied by one merge over sorted runs.
 */
import type { ElementColumnsView } from '../../common/columns';
import type { ElementState, HeapElement } from '../../common/snapshot';

/** Element states as stored in `state` (the agent's order). */
export const FREE = 0;
export const BUSY = 1;
export const PAD = 2;
export const STATE_NAMES: readonly ElementState[] = ['free', 'busy', 'pad'];
const STATE_CODE: Readonly<Record<ElementState, number>> = { free: FREE, busy: BUSY, pad: PAD };

/** Owner names (memzones, mempools) interned once per model: columns hold indexes. */
export class OwnerTable {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();

  id(name: string | null): number {
    if (name === null) return -1;
    let k = this.index.get(name);
    if (k === undefined) {
      k = this.names.length;
      this.names.push(name);
      this.index.set(name, k);
    }
    return k;
  }

  name(id: number): string | null {
    return id < 0 ? null : (this.names[id] ?? null);
  }
}

/** The arrays may be longer than `n` (room for additions); only [0, n) counts. */
export interface HeapColumns {
  n: number;
  start: Float64Array;
  len: Float64Array;
  pad: Float64Array;
  state: Uint8Array;
  /** Index into the model's OwnerTable, or -1. */
  owner: Int32Array;
  /** Bumped on every change, so caches derived from the columns know when to refresh. */
  version: number;
}

export function emptyColumns(n = 0): HeapColumns {
  return { n, start: new Float64Array(n), len: new Float64Array(n), pad: new Float64Array(n), state: new Uint8Array(n), owner: new Int32Array(n), version: 0 };
}

function put(c: HeapColumns, i: number, e: HeapElement, addr: number, owners: OwnerTable): void {
  c.start[i] = addr;
  c.len[i] = e.len;
  c.pad[i] = e.pad;
  c.state[i] = STATE_CODE[e.state];
  c.owner[i] = owners.id(e.owner);
}

/** Columns from wire elements; sorts them when the sender did not (the agent does). */
export function buildColumns(elements: readonly HeapElement[], owners: OwnerTable): HeapColumns {
  const n = elements.length;
  const c = emptyColumns(n);
  let sorted = true;
  let prev = -Infinity;
  for (let i = 0; i < n; i++) {
    const e = elements[i]!;
    const a = Number(e.addr);
    if (a < prev) sorted = false;
    prev = a;
    put(c, i, e, a, owners);
  }
  return sorted ? c : sortColumns(c);
}

/**
 * Columns from the wire's columns (common/columns.ts; checked and sorted by
 * the sender): the address and length arrays are taken as they are, owner
 * indexes are moved into the model's table.
 */
export function columnsFromView(v: ElementColumnsView, owners: OwnerTable): HeapColumns {
  const ids = v.owners.map((name) => owners.id(name));
  const owner = new Int32Array(v.n);
  for (let i = 0; i < v.n; i++) {
    const w = v.owner[i]!;
    owner[i] = w < 0 ? -1 : ids[w]!;
  }
  return { n: v.n, start: v.addr, len: v.len, pad: new Float64Array(v.pad), state: v.state, owner, version: 0 };
}

function sortColumns(c: HeapColumns): HeapColumns {
  const order = Array.from({ length: c.n }, (_, i) => i).sort((x, y) => c.start[x]! - c.start[y]!);
  const out = emptyColumns(c.n);
  order.forEach((from, to) => copyOne(c, from, out, to));
  return out;
}

function copyOne(a: HeapColumns, i: number, b: HeapColumns, j: number): void {
  b.start[j] = a.start[i]!;
  b.len[j] = a.len[i]!;
  b.pad[j] = a.pad[i]!;
  b.state[j] = a.state[i]!;
  b.owner[j] = a.owner[i]!;
}

/** Index of the first element whose start is ≥ addr (n when none). */
export function lowerBound(a: Float64Array, n: number, addr: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the element starting exactly at addr, or -1. */
export function findStart(c: HeapColumns, addr: number): number {
  const i = lowerBound(c.start, c.n, addr);
  return i < c.n && c.start[i] === addr ? i : -1;
}

/** Index of the element whose [start, start+len) holds addr, or -1. */
export function findContaining(c: HeapColumns, addr: number): number {
  const i = lowerBound(c.start, c.n, addr + 1) - 1;
  return i >= 0 && addr < c.start[i]! + c.len[i]! ? i : -1;
}

export interface ElementChanges {
  added: readonly HeapElement[];
  removed: readonly string[];
  changed: readonly HeapElement[];
}

/**
 * Applies one heap's element delta in place. Changed elements are updated
 * where they are (binary search each); removals then compact the columns
 * forwards and additions open gaps backwards, each moving the untouched
 * runs between them with copyWithin (a memmove). A 1k-element delta on a
 * 100k heap costs a few hundred memmoves and no allocation; the arrays grow
 * with slack when additions outnumber their spare room. Returns the columns
 * (the same object), their version bumped.
 */
export function applyElementChanges(c: HeapColumns, d: ElementChanges, owners: OwnerTable): HeapColumns {
  // the order of common/delta.ts's applyDelta: removals win over changes,
  // an addition at a removed address replaces it, changes to unknown
  // addresses are ignored
  for (const e of d.changed) {
    const a = Number(e.addr);
    const i = findStart(c, a);
    if (i >= 0) put(c, i, e, a, owners);
  }
  const gone = new Set<number>();
  for (const s of d.removed) {
    const i = findStart(c, Number(s));
    if (i >= 0) gone.add(i);
  }
  let extra: { addr: number; e: HeapElement }[] = [];
  for (const e of d.added) {
    const a = Number(e.addr);
    const i = findStart(c, a);
    if (i >= 0) {
      put(c, i, e, a, owners);
      gone.delete(i);
    } else extra.push({ addr: a, e });
  }
  c.version++;
  if (gone.size) removeAt(c, [...gone].sort((x, y) => x - y));
  if (extra.length) {
    // stable sort: of several additions at one address the last one stays
    extra.sort((x, y) => x.addr - y.addr);
    extra = extra.filter((x, k) => k + 1 === extra.length || extra[k + 1]!.addr !== x.addr);
    insertSorted(c, extra, owners);
  }
  return c;
}

type Column = 'start' | 'len' | 'pad' | 'state' | 'owner';
const COLUMNS: readonly Column[] = ['start', 'len', 'pad', 'state', 'owner'];

function move(c: HeapColumns, to: number, from: number, end: number): void {
  for (const k of COLUMNS) c[k].copyWithin(to, from, end);
}

/** Drops the elements at sorted, distinct indexes. */
function removeAt(c: HeapColumns, drop: number[]): void {
  let w = drop[0]!;
  for (let k = 0; k < drop.length; k++) {
    const from = drop[k]! + 1;
    const to = k + 1 < drop.length ? drop[k + 1]! : c.n;
    if (to > from) {
      move(c, w, from, to);
      w += to - from;
    }
  }
  c.n = w;
}

/** Inserts elements at addresses not yet present (sorted, distinct), from the last one back. */
function insertSorted(c: HeapColumns, extra: { addr: number; e: HeapElement }[], owners: OwnerTable): void {
  const need = c.n + extra.length;
  if (need > c.start.length) reserve(c, Math.ceil(need * 1.25) + 16);
  let hi = c.n;
  for (let e = extra.length - 1; e >= 0; e--) {
    const x = extra[e]!;
    const p = lowerBound(c.start, hi, x.addr);
    // [p, hi) moves right by the e + 1 elements still to place at or before it
    if (hi > p) move(c, p + e + 1, p, hi);
    put(c, p + e, x.e, x.addr, owners);
    hi = p;
  }
  c.n = need;
}

function reserve(c: HeapColumns, capacity: number): void {
  const grow = <T extends Float64Array | Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
    const b = make(capacity);
    b.set(a.subarray(0, c.n));
    return b;
  };
  c.start = grow(c.start, (n) => new Float64Array(n));
  c.len = grow(c.len, (n) => new Float64Array(n));
  c.pad = grow(c.pad, (n) => new Float64Array(n));
  c.state = grow(c.state, (n) => new Uint8Array(n));
  c.owner = grow(c.owner, (n) => new Int32Array(n));
}

/** The wire form of element i (for details and tests). */
export function elementAt(c: HeapColumns, i: number, owners: OwnerTable, hexOf: (n: number) => string): HeapElement {
  return { addr: hexOf(c.start[i]!), len: c.len[i]!, pad: c.pad[i]!, state: STATE_NAMES[c.state[i]!]!, owner: owners.name(c.owner[i]!) };
}
