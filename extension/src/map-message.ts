/**
 * The extension host's side of the element columns (no `vscode` import, so
 * the benchmark runs exactly this code outside VS Code):
 *  - `hydrate` turns the agent's column snapshot into the live Snapshot the
 *    rest of the extension reads: each heap keeps its decoded columns, and
 *    its `elements` array is built only if something asks for it (the tree
 *    expanding a heap, an export, a diff);
 *  - `snapshotMessage` is what the Memory Map panel posts: the snapshot with
 *    empty `elements`, and the columns as typed arrays, which
 *    `webview.postMessage` carries as bytes (no JSON, no per-element object).
 */
import { columnElements, columnsFromElements, compactColumns, type CompactColumns, type ElementColumnsView, expandColumns } from '../../common/columns';
import { isPackedDelta, type PackedColumnDelta, unpackColumnDelta, unpackColumns } from '../../common/columns-wire';
import { applyDeltaWith, type ColumnDelta, columnDelta, type HeapColumnDelta, heapHeader, mergeColumns, type SnapshotDelta } from '../../common/delta';
import type { ColumnSnapshot } from '../../common/protocol';
import type { Heap, Snapshot } from '../../common/snapshot';
import type { SnapshotMessage } from '../../common/webview-protocol';

/**
 * A heap's columns: as they came (compact, checked) and, once something
 * asked, expanded; with the element changes of the deltas since, merged
 * only when something asks (the extension host applies a delta in the
 * time it takes to check it, whatever the heap's size).
 */
interface HeapCols {
  compact: CompactColumns | null;
  view: ElementColumnsView | null;
  pending: HeapColumnDelta[];
}

const columnsByHeap = new WeakMap<Heap, HeapCols>();

function expanded(c: HeapCols): ElementColumnsView {
  let v = (c.view ??= expandColumns(c.compact!));
  if (c.pending.length) {
    for (const d of c.pending) v = mergeColumns(v, { removed: d.removed, added: expandColumns(d.added), changed: expandColumns(d.changed) });
    c.view = v;
    c.pending = [];
    c.compact = null;
  }
  return v;
}

/** Gives `heap` its columns; `heap.elements` becomes a getter that builds (once) the wire array. */
function attach(heap: Heap, c: HeapCols): Heap {
  columnsByHeap.set(heap, c);
  Object.defineProperty(heap, 'elements', {
    enumerable: true,
    configurable: true,
    get(this: Heap) {
      const v = columnElements(expanded(c));
      Object.defineProperty(this, 'elements', { value: v, enumerable: true, writable: true, configurable: true });
      return v;
    },
    set(this: Heap, v: Heap['elements']) {
      columnsByHeap.delete(this);
      Object.defineProperty(this, 'elements', { value: v, enumerable: true, writable: true, configurable: true });
    },
  });
  return heap;
}

/**
 * The live snapshot from a column snapshot. Throws one sentence naming the
 * bad field when the agent sent columns that do not fit the snapshot.
 */
export function hydrate(cs: ColumnSnapshot): Snapshot {
  if (typeof cs !== 'object' || cs === null || typeof cs.snapshot !== 'object' || cs.snapshot === null || !Array.isArray(cs.snapshot.heaps) || !Array.isArray(cs.columns)) {
    throw new Error('the agent sent a column snapshot without its snapshot or columns');
  }
  const byId = new Map<number, Heap>();
  for (const h of cs.snapshot.heaps) byId.set(h.id, h);
  for (const p of cs.columns) {
    const c = unpackColumns(p);
    const h = byId.get(c.heapId);
    if (!h) throw new Error(`columns.heapId ${c.heapId} names no heap of the snapshot`);
    if (columnsByHeap.has(h)) throw new Error(`columns.heapId ${c.heapId} comes twice`);
    attach(h, { compact: c, view: null, pending: [] });
  }
  return cs.snapshot;
}

/** The heap's own columns while its elements are still the ones they came with. */
function own(h: Heap): HeapCols | undefined {
  const c = columnsByHeap.get(h);
  return c && Object.getOwnPropertyDescriptor(h, 'elements')?.get ? c : undefined;
}

/** A heap's columns: those it came with, or made from its elements (after a delta changed it). */
export function heapColumns(h: Heap): ElementColumnsView {
  const c = own(h);
  return c ? expanded(c) : columnsFromElements(h.id, h.elements);
}

/** A heap's columns in the form they travel in: as they came, or compacted from its elements. */
export function heapCompact(h: Heap): CompactColumns {
  const c = own(h);
  if (!c) return compactColumns(columnsFromElements(h.id, h.elements));
  if (!c.compact || c.pending.length) c.compact = compactColumns(expanded(c));
  return c.compact;
}

/** How many elements a heap has, without building them. */
export function elementCount(h: Heap): number {
  const c = own(h);
  if (!c) return h.elements.length;
  let n = c.view?.n ?? c.compact!.n;
  for (const d of c.pending) n += d.added.n - d.removed.length;
  return Math.max(0, n);
}

/**
 * The live snapshot after a column delta (checked as it was unpacked):
 * headers, lists, memzones and mempools at once (common/delta.ts's
 * applyDeltaWith); a heap's element changes queued on its columns.
 */
export function applyColumnDelta(s: Snapshot, d: ColumnDelta): Snapshot {
  return applyDeltaWith(s, d, (old, hd) => {
    const header = hd.header ?? (old ? heapHeader(old) : undefined);
    if (!header) throw new Error(`the delta changes heap ${hd.id}, which the snapshot does not have`);
    const prev = old && own(old);
    const next: Heap = { ...header, elements: [] };
    const cols: HeapCols = prev
      ? { compact: prev.compact, view: prev.view, pending: hd.added.n || hd.removed.length || hd.changed.n ? [...prev.pending, hd] : prev.pending }
      : { compact: null, view: mergeColumns(old ? columnsFromElements(old.id, old.elements) : emptyView(hd.id), { removed: hd.removed, added: expandColumns(hd.added), changed: expandColumns(hd.changed) }), pending: [] };
    return attach(next, cols);
  });
}

const emptyView = (heapId: number): ElementColumnsView => ({ heapId, n: 0, addr: new Float64Array(0), len: new Float64Array(0), pad: new Uint32Array(0), state: new Uint8Array(0), owner: new Int32Array(0), owners: [] });

/** The message the Memory Map gets for a full snapshot. */
export function snapshotMessage(s: Snapshot): SnapshotMessage {
  const columns: CompactColumns[] = [];
  const heaps: Heap[] = [];
  for (const h of s.heaps) {
    const header: Record<string, unknown> = {};
    for (const k of Object.keys(h)) if (k !== 'elements') header[k] = (h as unknown as Record<string, unknown>)[k];
    heaps.push({ ...(header as unknown as Omit<Heap, 'elements'>), elements: [] });
    if (h.elementsAvailable) columns.push(heapCompact(h));
  }
  return { type: 'snapshot', snapshot: { ...s, heaps }, columns };
}

/** A delta from the agent in the live form: packed slices decoded and checked (throws one sentence naming the field), objects turned into slices. */
export function liveDelta(d: SnapshotDelta | PackedColumnDelta): ColumnDelta {
  return isPackedDelta(d) ? unpackColumnDelta(d) : columnDelta(d);
}
