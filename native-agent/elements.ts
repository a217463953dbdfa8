/**
 * Heap elements as columns (typed arrays) while the agent holds them: a
 * 100k-element heap is 2.5 MB outside V8's heap instead of 100k objects and
 * strings, and two snapshots diff by a merge over sorted addresses. The
 * `elements` array of the wire format is built only when something reads it
 * (JSON for the CLI or an RPC reply, the CLI's tables).
 */
import { packHeapDelta, type PackedHeapDelta } from '../common/columns-wire';
import { diffColumns, diffHeap, diffHeapColumnDelta, type HeapDelta, heapHeader, sameHeapHeader } from '../common/delta';
import { BUSY, columnElements, columnsFromElements, type ElementColumnsView, ELEMENT_STATES, FREE, STATE_CODE } from '../common/columns';
import { SENT, WireColumns } from './wire';
import { type Heap, type HeapElement, hexAddr, type Snapshot } from '../common/snapshot';


export class ElementColumns {
  count = 0;
  addr: Float64Array;
  len: Float64Array;
  pad: Uint32Array;
  state: Uint8Array;
  /** Index into `owners`, or -1. */
  owner: Int32Array;
  owners: string[] = [];

  constructor(capacity = 1024) {
    const n = Math.max(16, capacity);
    this.addr = new Float64Array(n);
    this.len = new Float64Array(n);
    this.pad = new Uint32Array(n);
    this.state = new Uint8Array(n);
    this.owner = new Int32Array(n);
  }

  /** Empties the columns for reuse, keeping their buffers. */
  reset(): this {
    this.count = 0;
    this.owners = [];
    return this;
  }

  push(addr: number, len: number, pad: number, state: number): void {
    if (this.count === this.addr.length) this.grow();
    const i = this.count++;
    this.addr[i] = addr;
    this.len[i] = len;
    this.pad[i] = pad;
    this.state[i] = state;
    this.owner[i] = -1;
  }

  private grow(): void {
    const n = this.addr.length * 2;
    const g = <T extends Float64Array | Uint32Array | Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.addr = g(this.addr, (k) => new Float64Array(k));
    this.len = g(this.len, (k) => new Float64Array(k));
    this.pad = g(this.pad, (k) => new Uint32Array(k));
    this.state = g(this.state, (k) => new Uint8Array(k));
    this.owner = g(this.owner, (k) => new Int32Array(k));
  }

  element(i: number): HeapElement {
    const o = this.owner[i]!;
    return { addr: hexAddr(this.addr[i]!), len: this.len[i]!, pad: this.pad[i]!, state: ELEMENT_STATES[this.state[i]!]!, owner: o < 0 ? null : this.owners[o]! };
  }

  materialize(): HeapElement[] {
    const out = new Array<HeapElement>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.element(i);
    return out;
  }

  static from(elements: readonly HeapElement[]): ElementColumns {
    const c = new ElementColumns(elements.length);
    for (const e of elements) c.push(Number(e.addr), e.len, e.pad, STATE_CODE[e.state]);
    return c;
  }

  /** Sums in one pass: total bytes and free bytes. */
  /** Bytes in all, bytes free, and the largest free element. */
  sums(): { total: number; free: number; largestFree: number } {
    let total = 0;
    let free = 0;
    let largestFree = 0;
    for (let i = 0; i < this.count; i++) {
      const len = this.len[i]!;
      total += len;
      if (this.state[i] === FREE) {
        free += len;
        if (len > largestFree) largestFree = len;
      }
    }
    return { total, free, largestFree };
  }
}

export interface OwnerRange {
  start: number;
  end: number;
  name: string;
}

/** Names the owner (the memzone or mempool inside it) of each busy element; addresses ascend. */
export function nameOwners(c: ElementColumns, owners: readonly OwnerRange[]): void {
  const index = new Map<string, number>();
  let oi = 0;
  for (let i = 0; i < c.count; i++) {
    c.owner[i] = -1;
    if (c.state[i] !== BUSY) continue;
    const start = c.addr[i]!;
    while (oi < owners.length && owners[oi]!.start < start) oi++;
    const z = owners[oi];
    if (!z || z.start >= start + c.len[i]!) continue;
    let k = index.get(z.name);
    if (k === undefined) {
      k = c.owners.length;
      c.owners.push(z.name);
      index.set(z.name, k);
    }
    c.owner[i] = k;
  }
}

const COLUMNS = Symbol('memscope.elementColumns');

/**
 * Gives a heap its elements as columns; `heap.elements` becomes an
 * enumerable getter that builds (once) the array of the wire format.
 */
export function setColumns(heap: Heap, c: ElementColumns): Heap {
  (heap as Heap & { [COLUMNS]?: ElementColumns })[COLUMNS] = c;
  Object.defineProperty(heap, 'elements', {
    enumerable: true,
    configurable: true,
    get(this: Heap) {
      const v = c.materialize();
      Object.defineProperty(this, 'elements', { value: v, enumerable: true, writable: true, configurable: true });
      return v;
    },
    set(this: Heap, v: HeapElement[]) {
      Object.defineProperty(this, 'elements', { value: v, enumerable: true, writable: true, configurable: true });
    },
  });
  return heap;
}

export function columnsOf(heap: Heap): ElementColumns | undefined {
  return (heap as Heap & { [COLUMNS]?: ElementColumns })[COLUMNS];
}

/**
 * A heap's own columns as common/columns.ts's view (subarrays, no copy)
 * while `elements` was never built (nothing renamed them), else undefined.
 */
export function ownColumns(h: Heap): ElementColumnsView | undefined {
  const c = columnsOf(h);
  if (!c || !Object.getOwnPropertyDescriptor(h, 'elements')?.get) return undefined;
  return viewOf(h.id, c);
}

/** The agent's columns as common/columns.ts's view (subarrays, no copy). */
function viewOf(heapId: number, c: ElementColumns): ElementColumnsView {
  return { heapId, n: c.count, addr: c.addr.subarray(0, c.count), len: c.len.subarray(0, c.count), pad: c.pad.subarray(0, c.count), state: c.state.subarray(0, c.count), owner: c.owner.subarray(0, c.count), owners: c.owners };
}

/** A heap's elements as columns: its own, else made from the elements (a trace named them by type). */
function columnsView(h: Heap): ElementColumnsView {
  return ownColumns(h) ?? columnsFromElements(h.id, h.elements);
}

export interface AgentColumnSnapshot {
  snapshot: Snapshot;
  columns: WireColumns[];
}

/**
 * The snapshot in the extension's form (common/protocol.ts ColumnSnapshot
 * once written as JSON): heaps without `elements`, their elements as
 * columns already coded (native-agent/wire.ts).
 */
export function columnSnapshot(snap: Snapshot, sent?: () => void): AgentColumnSnapshot {
  const columns: WireColumns[] = [];
  const heaps: Heap[] = [];
  for (const h of snap.heaps) {
    if (h.elementsAvailable) columns.push(new WireColumns(columnsView(h), sent !== undefined));
    heaps.push({ ...heapHeader(h), elements: [] });
  }
  const out: AgentColumnSnapshot = { snapshot: { ...snap, heaps }, columns };
  if (sent) Object.defineProperty(out, SENT, { value: sent });
  return out;
}

/**
 * diffHeap over columns: common/delta.ts's merge of two address-sorted
 * columns (diffColumns), objects built only for what changed. Falls back to
 * the object diff otherwise.
 */
export function diffHeapColumns(a: Heap | undefined, b: Heap): HeapDelta | null {
  const ca = a && columnsOf(a);
  const cb = columnsOf(b);
  if (!a || !ca || !cb) return diffHeap(a, b);
  const d = diffColumns(viewOf(a.id, ca), viewOf(b.id, cb));
  const header = sameHeapHeader(a, b) ? undefined : heapHeader(b);
  if (!header && !d.removed.length && !d.added.n && !d.changed.n) return null;
  return { id: b.id, ...(header ? { header } : {}), added: columnElements(d.added), removed: Array.from(d.removed, hexAddr), changed: columnElements(d.changed) };
}

/**
 * Takes the columns of a snapshot its holder is done with, for the next
 * snapshot to fill (a subscription keeps two, so the agent's memory stays
 * flat instead of growing with garbage buffers). The old heaps' elements can
 * no longer be read afterwards: reading them throws instead of lying.
 */
export function recycleColumns(heaps: readonly Heap[]): Map<number, ElementColumns> {
  const out = new Map<number, ElementColumns>();
  for (const h of heaps) {
    const c = columnsOf(h);
    if (!c) continue;
    // already built views stay valid; lazy ones would read reused buffers
    const desc = Object.getOwnPropertyDescriptor(h, 'elements');
    if (desc?.get) {
      Object.defineProperty(h, 'elements', {
        enumerable: true,
        configurable: true,
        get() {
          throw new Error('the elements of a recycled snapshot are gone');
        },
      });
    }
    (h as Heap & { [COLUMNS]?: ElementColumns })[COLUMNS] = undefined;
    out.set(h.id, c.reset());
  }
  return out;
}

/** A heap's changes as packed column slices (a subscription with columns), or null when nothing changed. */
export function diffHeapPacked(a: Heap | undefined, b: Heap): PackedHeapDelta | null {
  const d = diffHeapColumnDelta(a, b, columnsView);
  return d && packHeapDelta(d);
}
