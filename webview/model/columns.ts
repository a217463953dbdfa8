/**
 * A heap's elements as columns (typed arrays sorted by address), the form
 * the map draws from: a million elements are a few flat arrays instead of a
 * million objects, and a delta is applied by one merge over sorted runs.
 */
import { BUSY, type CompactColumns, type ElementColumnsView, ELEMENT_STATES, expandColumns, FREE, PAD, STATE_CODE } from '../../common/columns';
import type { HeapElement } from '../../common/snapshot';

/** The state codes are common/columns.ts's (one table for every process). */
export { BUSY, FREE, PAD };

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
  pad: Uint32Array;
  state: Uint8Array;
  /** Index into the model's OwnerTable, or -1. */
  owner: Int32Array;
  /** Bumped on every change, so caches derived from the columns know when to refresh. */
  version: number;
}

export function emptyColumns(n = 0): HeapColumns {
  return { n, start: new Float64Array(n), len: new Float64Array(n), pad: new Uint32Array(n), state: new Uint8Array(n), owner: new Int32Array(n), version: 0 };
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
 * Columns from the wire's compact columns (common/columns.ts; validated with
 * the message, which rebuilt them as it checked): owner indexes are moved
 * into the model's table.
 */
export function columnsFromCompact(c: CompactColumns, owners: OwnerTable): HeapColumns {
  const v = expandColumns(c);
  const ids = Int32Array.from(v.owners, (name) => owners.id(name));
  const owner = v.owner;
  for (let i = 0; i < v.n; i++) {
    const w = owner[i]!;
    if (w >= 0) owner[i] = ids[w]!;
  }
  return { n: v.n, start: v.addr, len: v.len, pad: v.pad, state: v.state, owner, version: 0 };
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

/** Index of the first of a's first n (sorted) values that is ≥ x (n when none): an element's start, an index. */
export function lowerBound(a: Float64Array | Int32Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
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

/** One heap's element changes (common/delta.ts HeapColumnDelta, its slices expanded): each sorted by address. */
export interface ElementChanges {
  added: ElementColumnsView;
  removed: Float64Array;
  changed: ElementColumnsView;
}

/** Element k of `v` into slot i of `c`, its owner moved into the model's table (`ids`: v's owner index → the model's). */
function putFrom(c: HeapColumns, i: number, v: ElementColumnsView, k: number, ids: Int32Array): void {
  c.start[i] = v.addr[k]!;
  c.len[i] = v.len[k]!;
  c.pad[i] = v.pad[k]!;
  c.state[i] = v.state[k]!;
  const o = v.owner[k]!;
  c.owner[i] = o < 0 ? -1 : ids[o]!;
}

/**
 * Applies one heap's element delta in place. Changed elements are updated
 * where they are (binary search each). Removals alone compact the columns
 * forwards with copyWithin (a memmove per untouched run); removals with
 * additions take one merge pass into a second set of arrays kept for the
 * next delta, which then swap with the columns' own, so every element moves
 * once and a delta allocates nothing in proportion to the heap. Returns the
 * columns (the same object), their version bumped.
 */
export function applyElementChanges(c: HeapColumns, d: ElementChanges, owners: OwnerTable): HeapColumns {
  // the order of common/delta.ts's applyDelta: removals win over changes,
  // an addition at a removed address replaces it, changes to unknown
  // addresses are ignored
  const chIds = Int32Array.from(d.changed.owners, (name) => owners.id(name));
  const addIds = Int32Array.from(d.added.owners, (name) => owners.id(name));
  for (let k = 0; k < d.changed.n; k++) {
    const i = findStart(c, d.changed.addr[k]!);
    if (i >= 0) putFrom(c, i, d.changed, k, chIds);
  }
  const sc = scratch;
  let nGone = 0;
  sc.gone = need32(sc.gone, d.removed.length);
  for (let k = 0; k < d.removed.length; k++) {
    const i = findStart(c, d.removed[k]!);
    if (i >= 0) sc.gone[nGone++] = i;
  }
  let gone = sc.gone.subarray(0, nGone).sort();
  nGone = dedupe(gone);
  let nExtra = 0;
  sc.extraAddr = need64(sc.extraAddr, d.added.n);
  sc.extraAt = need32(sc.extraAt, d.added.n);
  for (let k = 0; k < d.added.n; k++) {
    const a = d.added.addr[k]!;
    const i = findStart(c, a);
    if (i >= 0) {
      putFrom(c, i, d.added, k, addIds);
      // no longer removed
      const g = lowerBound(gone, nGone, i);
      if (g < nGone && gone[g] === i) {
        gone.copyWithin(g, g + 1, nGone);
        nGone--;
      }
    } else {
      sc.extraAddr[nExtra] = a;
      sc.extraAt[nExtra++] = k;
    }
  }
  c.version++;
  gone = gone.subarray(0, nGone);
  if (!nExtra) {
    if (nGone) removeAt(c, gone);
    return c;
  }
  // stable by address: of several additions at one address the last one stays
  const order = sc.order.length >= nExtra ? sc.order : (sc.order = new Uint32Array(Math.max(nExtra, sc.order.length * 2)));
  for (let k = 0; k < nExtra; k++) order[k] = k;
  const ea = sc.extraAddr;
  let sorted = true;
  for (let k = 1; k < nExtra && sorted; k++) if (ea[k]! < ea[k - 1]!) sorted = false;
  if (!sorted) {
    const o = Array.from(order.subarray(0, nExtra)).sort((x, y) => ea[x]! - ea[y]! || x - y);
    order.set(o);
  }
  let m = 0;
  for (let k = 0; k < nExtra; k++) {
    if (k + 1 < nExtra && ea[order[k + 1]!] === ea[order[k]!]) continue;
    order[m++] = order[k]!;
  }
  mergeInto(c, gone, order.subarray(0, m), d.added, addIds);
  return c;
}

/** Reused between deltas: index lists a delta needs, sized to the largest delta seen. */
const scratch: { gone: Int32Array; extraAddr: Float64Array; extraAt: Int32Array; order: Uint32Array } = { gone: new Int32Array(64), extraAddr: new Float64Array(64), extraAt: new Int32Array(64), order: new Uint32Array(64) };

function need32(a: Int32Array, n: number): Int32Array {
  return a.length >= n ? a : new Int32Array(Math.max(n, a.length * 2));
}

function need64(a: Float64Array, n: number): Float64Array {
  return a.length >= n ? a : new Float64Array(Math.max(n, a.length * 2));
}

/** Drops repeats from a sorted array in place; returns the count left. */
function dedupe(a: Int32Array): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) if (!m || a[k] !== a[m - 1]) a[m++] = a[k]!;
  return m;
}

type Column = 'start' | 'len' | 'pad' | 'state' | 'owner';
const COLUMNS: readonly Column[] = ['start', 'len', 'pad', 'state', 'owner'];

function move(c: HeapColumns, to: number, from: number, end: number): void {
  for (const k of COLUMNS) c[k].copyWithin(to, from, end);
}

/** Drops the elements at sorted, distinct indexes. */
function removeAt(c: HeapColumns, drop: Int32Array): void {
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

/** The second set of arrays per columns object: the merge writes there, then the two swap. */
const spares = new WeakMap<HeapColumns, HeapColumns>();

/**
 * One pass: the columns without the `drop` indexes (sorted, distinct), with
 * the additions d.added[at[k]] (sorted by address, distinct, none present)
 * in their places, written into the spare arrays, which then become the
 * columns' own. Runs between changes are copied with TypedArray.set.
 */
function mergeInto(c: HeapColumns, drop: Int32Array, at: Uint32Array, added: ElementColumnsView, ids: Int32Array): void {
  const n = c.n;
  const need = n - drop.length + at.length;
  let b = spares.get(c);
  if (!b || b.start.length < need) {
    const cap = Math.max(need, c.start.length, Math.ceil(need * 1.25) + 16);
    b = emptyColumns(cap);
  }
  const { start, len, pad, state, owner } = c;
  const bs = b.start;
  const bl = b.len;
  const bp = b.pad;
  const bt = b.state;
  const bo = b.owner;
  const ea = scratch.extraAddr;
  const ext = scratch.extraAt;
  let i = 0; // next old element
  let w = 0; // next output slot
  let g = 0; // next drop
  let x = 0; // next addition
  while (i < n || x < at.length) {
    // the old elements up to the next addition (or the end)
    const stop = x < at.length ? lowerBound(start, n, ea[at[x]!]!) : n;
    while (i < stop) {
      const runEnd = g < drop.length && drop[g]! < stop ? drop[g]! : stop;
      for (; i < runEnd; i++, w++) {
        bs[w] = start[i]!;
        bl[w] = len[i]!;
        bp[w] = pad[i]!;
        bt[w] = state[i]!;
        bo[w] = owner[i]!;
      }
      if (i < stop) {
        // i is dropped
        i++;
        g++;
      }
    }
    if (x < at.length) {
      const k = at[x++]!;
      putFrom(b, w++, added, ext[k]!, ids);
    }
  }
  // swap: the old arrays are the next delta's spare
  spares.set(c, { n: 0, start, len, pad, state, owner, version: 0 });
  c.start = bs;
  c.len = bl;
  c.pad = bp;
  c.state = bt;
  c.owner = bo;
  c.n = w;
}

/** The wire form of element i (for details and tests). */
export function elementAt(c: HeapColumns, i: number, owners: OwnerTable, hexOf: (n: number) => string): HeapElement {
  return { addr: hexOf(c.start[i]!), len: c.len[i]!, pad: c.pad[i]!, state: ELEMENT_STATES[c.state[i]!]!, owner: owners.name(c.owner[i]!) };
}
