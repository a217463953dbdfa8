/**
 * The map's model: a snapshot whose heap elements live in columns, and the
 * memseg lists in draw-ready form. Deltas update it in place: untouched
 * lists and heaps keep their objects (and so their cached positions), a
 * changed heap takes one merge.
 */
import { applyDeltaWith, type ColumnDelta } from '../../common/delta';
import { expandColumns } from '../../common/columns';
import type { Heap, Memzone, Mempool, Snapshot } from '../../common/snapshot';
import type { CompactColumns } from '../../common/columns';
import { applyElementChanges, buildColumns, columnsFromCompact, type HeapColumns, OwnerTable } from './columns';
import { buildList, type ListColumns } from './lists';

export type HeapHeader = Omit<Heap, 'elements'>;

export interface HeapModel {
  id: number;
  header: HeapHeader;
  cols: HeapColumns;
}

export interface MapModel {
  /** The snapshot with every heap's `elements` empty: they are in `heaps[].cols`. */
  snapshot: Snapshot;
  lists: ListColumns[];
  heaps: HeapModel[];
  owners: OwnerTable;
  /** Bumped by every change. */
  version: number;
}

function header(h: Heap): HeapHeader {
  const { elements: _elements, ...rest } = h;
  return rest;
}

function withoutElements(s: Snapshot): Snapshot {
  return { ...s, heaps: s.heaps.map((h) => ({ ...header(h), elements: [] })) };
}

/** The model of a snapshot; `columns` (a validated SnapshotMessage's) hold the elements of heaps whose `elements` are empty. */
export function buildModel(s: Snapshot, columns: readonly CompactColumns[] = []): MapModel {
  const owners = new OwnerTable();
  const byHeap = new Map(columns.map((c) => [c.heapId, c] as const));
  const lists = [...s.memsegLists].sort((a, b) => a.index - b.index).map(buildList);
  const heaps = [...s.heaps]
    .sort((a, b) => a.id - b.id)
    .map((h) => {
      const c = byHeap.get(h.id);
      return { id: h.id, header: header(h), cols: c ? columnsFromCompact(c, owners) : buildColumns(h.elements, owners) };
    });
  const snapshot = withoutElements(s);
  snapshot.memsegLists = lists.map((l) => l.list);
  return { snapshot, lists, heaps, owners, version: 1 };
}

export interface ModelChange {
  /** Heap ids whose elements changed. */
  heaps: number[];
  /** Lists or heaps came, went or changed their range: positions must be recomputed. */
  lanes: boolean;
}

/**
 * Applies a delta to the model in place. Everything but elements goes
 * through common/delta.ts's applyDeltaWith (one definition of what a delta
 * means); elements go through the column merge.
 */
export function applyModelDelta(m: MapModel, d: ColumnDelta): ModelChange {
  const next = applyDeltaWith(m.snapshot, d, (old, hd) => ({ ...(hd.header ?? (old as Heap)), elements: [] }));
  const oldLists = new Map(m.lists.map((l) => [l.list, l] as const));
  const lists = next.memsegLists.map((l) => oldLists.get(l) ?? buildList(l));
  const lanes = lists.length !== m.lists.length || lists.some((l, i) => l !== m.lists[i]);

  const oldHeaps = new Map(m.heaps.map((h) => [h.id, h] as const));
  const changes = new Map(d.heaps.changed.map((h) => [h.id, h] as const));
  const changed: number[] = [];
  let heapLanes = next.heaps.length !== m.heaps.length;
  const heaps = next.heaps.map((h): HeapModel => {
    const old = oldHeaps.get(h.id);
    const hd = changes.get(h.id);
    if (!hd) return old!;
    changed.push(h.id);
    if (!old) {
      heapLanes = true;
      return { id: h.id, header: header(h), cols: columnsFromCompact(hd.added, m.owners) };
    }
    const before = extent(old.cols);
    const cols = hd.added.n || hd.removed.length || hd.changed.n ? applyElementChanges(old.cols, { removed: hd.removed, added: expandColumns(hd.added), changed: expandColumns(hd.changed) }, m.owners) : old.cols;
    // a heap whose extent moved changes the linear layout's pieces
    const after = extent(cols);
    if (before[0] !== after[0] || before[1] !== after[1]) heapLanes = true;
    return { id: h.id, header: header(h), cols };
  });
  m.snapshot = next;
  m.lists = lists;
  m.heaps = heaps;
  m.version++;
  return { heaps: changed, lanes: lanes || heapLanes };
}

function extent(c: HeapColumns): [number, number] {
  return c.n ? [c.start[0]!, c.start[c.n - 1]! + c.len[c.n - 1]!] : [0, 0];
}

export function memzoneNamed(m: MapModel, name: string): Memzone | undefined {
  return m.snapshot.memzones.find((z) => z.name === name);
}

export function mempoolNamed(m: MapModel, name: string): Mempool | undefined {
  return m.snapshot.mempools.find((p) => p.name === name);
}

/** An owner name as elements carry it ("memzone:X", "mempool:Y") split into kind and name. */
export function ownerParts(owner: string): { kind: 'memzone' | 'mempool'; name: string } {
  if (owner.startsWith('mempool:')) return { kind: 'mempool', name: owner.slice(8) };
  if (owner.startsWith('memzone:')) return { kind: 'memzone', name: owner.slice(8) };
  return { kind: 'memzone', name: owner };
}
