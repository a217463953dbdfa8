/**
 * Deltas between two snapshots of the same target: what live subscriptions
 * send instead of whole snapshots. An element is the same element in both
 * when its address matches; it "changed" when its length, state, pad or owner
 * did. Pure functions, shared by agent, extension and webview.
 */
import type { Heap, HeapElement, Memzone, Mempool, MemsegList, Snapshot } from './snapshot';

export interface HeapDelta {
  id: number;
  /** Header fields of the heap (everything but elements), when any changed. */
  header?: Omit<Heap, 'elements'>;
  added: HeapElement[];
  removed: string[];
  changed: HeapElement[];
}

export interface SnapshotDelta {
  takenAt: string;
  target: Snapshot['target'];
  retries: number;
  warnings?: string[];
  memsegLists: { upserted: MemsegList[]; removed: number[] };
  heaps: { changed: HeapDelta[]; removed: number[] };
  memzones: { added: Memzone[]; removed: string[] };
  mempools: { upserted: Mempool[]; removed: string[] };
}

/** Canonical orders of a snapshot's memzones and mempools. */
export const byAddr = (x: { addr: string }, y: { addr: string }) => Number(x.addr) - Number(y.addr);
export const byName = (x: { name: string }, y: { name: string }) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);

function sameElement(a: HeapElement, b: HeapElement): boolean {
  return a.len === b.len && a.state === b.state && a.pad === b.pad && a.owner === b.owner;
}

function json(x: unknown): string {
  return JSON.stringify(x);
}

/** A heap without its elements; never reads `elements` (which may be built lazily). */
export function heapHeader(h: Heap): Omit<Heap, 'elements'> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(h)) if (k !== 'elements') out[k] = (h as unknown as Record<string, unknown>)[k];
  return out as unknown as Omit<Heap, 'elements'>;
}

export function sameHeapHeader(a: Heap, b: Heap): boolean {
  return json(heapHeader(a)) === json(heapHeader(b));
}

export function diffHeap(a: Heap | undefined, b: Heap): HeapDelta | null {
  const d: HeapDelta = { id: b.id, added: [], removed: [], changed: [] };
  if (!a || !sameHeapHeader(a, b)) d.header = heapHeader(b);
  const before = new Map<string, HeapElement>();
  for (const e of a?.elements ?? []) before.set(e.addr, e);
  for (const e of b.elements) {
    const old = before.get(e.addr);
    if (!old) d.added.push(e);
    else {
      if (!sameElement(old, e)) d.changed.push(e);
      before.delete(e.addr);
    }
  }
  d.removed = [...before.keys()];
  return d.header || d.added.length || d.removed.length || d.changed.length ? d : null;
}

export function diffSnapshots(a: Snapshot, b: Snapshot, heapDiff: (a: Heap | undefined, b: Heap) => HeapDelta | null = diffHeap): SnapshotDelta {
  const listsA = new Map(a.memsegLists.map((l) => [l.index, l] as const));
  const upserted = b.memsegLists.filter((l) => {
    const old = listsA.get(l.index);
    listsA.delete(l.index);
    return !old || json(old) !== json(l);
  });
  const heapsA = new Map(a.heaps.map((h) => [h.id, h] as const));
  const changed: HeapDelta[] = [];
  for (const h of b.heaps) {
    const d = heapDiff(heapsA.get(h.id), h);
    heapsA.delete(h.id);
    if (d) changed.push(d);
  }
  const mzKey = (z: Memzone) => `${z.name}@${z.addr}`;
  const mzA = new Map(a.memzones.map((z) => [mzKey(z), z] as const));
  // same name@address but other contents (freed and reserved again): remove + add
  const mzAdded = b.memzones.filter((z) => {
    const old = mzA.get(mzKey(z));
    if (!old || json(old) !== json(z)) return true;
    mzA.delete(mzKey(z));
    return false;
  });
  const mpA = new Map(a.mempools.map((p) => [p.name, p] as const));
  const mpUp = b.mempools.filter((p) => {
    const old = mpA.get(p.name);
    mpA.delete(p.name);
    return !old || json(old) !== json(p);
  });
  const delta: SnapshotDelta = {
    takenAt: b.takenAt,
    target: b.target,
    retries: b.retries,
    memsegLists: { upserted, removed: [...listsA.keys()] },
    heaps: { changed, removed: [...heapsA.keys()] },
    memzones: { added: mzAdded, removed: [...mzA.values()].map(mzKey) },
    mempools: { upserted: mpUp, removed: [...mpA.keys()] },
  };
  if (json(a.warnings) !== json(b.warnings)) delta.warnings = b.warnings;
  return delta;
}

export function isEmptyDelta(d: SnapshotDelta): boolean {
  return (
    !d.warnings &&
    !d.memsegLists.upserted.length &&
    !d.memsegLists.removed.length &&
    !d.heaps.changed.length &&
    !d.heaps.removed.length &&
    !d.memzones.added.length &&
    !d.memzones.removed.length &&
    !d.mempools.upserted.length &&
    !d.mempools.removed.length
  );
}

/** Applies a delta to a snapshot, returning the next snapshot (the input is not changed). */
export function applyDelta(s: Snapshot, d: SnapshotDelta): Snapshot {
  const lists = new Map(s.memsegLists.map((l) => [l.index, l] as const));
  for (const i of d.memsegLists.removed) lists.delete(i);
  for (const l of d.memsegLists.upserted) lists.set(l.index, l);
  const heaps = new Map(s.heaps.map((h) => [h.id, h] as const));
  for (const id of d.heaps.removed) heaps.delete(id);
  for (const hd of d.heaps.changed) {
    const old = heaps.get(hd.id);
    const base: Heap = hd.header ? { ...hd.header, elements: old?.elements ?? [] } : { ...(old as Heap) };
    if (hd.added.length || hd.removed.length || hd.changed.length) {
      const gone = new Set(hd.removed);
      const repl = new Map(hd.changed.map((e) => [e.addr, e] as const));
      const els = base.elements.filter((e) => !gone.has(e.addr)).map((e) => repl.get(e.addr) ?? e);
      els.push(...hd.added);
      els.sort((x, y) => Number(x.addr) - Number(y.addr));
      base.elements = els;
    }
    heaps.set(hd.id, base);
  }
  const mzKey = (z: Memzone) => `${z.name}@${z.addr}`;
  const gone = new Set(d.memzones.removed);
  const memzones = s.memzones.filter((z) => !gone.has(mzKey(z))).concat(d.memzones.added).sort(byAddr);
  const pools = new Map(s.mempools.map((p) => [p.name, p] as const));
  for (const n of d.mempools.removed) pools.delete(n);
  for (const p of d.mempools.upserted) pools.set(p.name, p);
  return {
    ...s,
    takenAt: d.takenAt,
    target: d.target,
    retries: d.retries,
    warnings: d.warnings ?? s.warnings,
    memsegLists: [...lists.values()].sort((x, y) => x.index - y.index),
    heaps: [...heaps.values()].sort((x, y) => x.id - y.id),
    memzones,
    mempools: [...pools.values()].sort(byName),
  };
}
