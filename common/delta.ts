/**
 * Deltas between two snapshots of the same target: what live subscriptions
 * send instead of whole snapshots. An element is the same element in both
 * when its address matches; it "changed" when its length, state, pad or owner
 * did. Pure functions, shared by agent, extension and webview.
 */
import { columnsFromElements, compactColumns, type CompactColumns, type ElementColumnsView } from './columns';
import type { Heap, HeapElement, Memzone, Mempool, MemsegList, Snapshot } from './snapshot';

/** One heap's changes as element objects: the form of files and of the CLI's `watch`. */
export interface HeapDelta {
  id: number;
  /** Header fields of the heap (everything but elements), when any changed. */
  header?: Omit<Heap, 'elements'>;
  added: HeapElement[];
  removed: string[];
  changed: HeapElement[];
}

/**
 * One heap's element changes as column slices, each sorted by address: the
 * live path's form (agent → extension host → webview), which never builds
 * an element object. `removed` holds addresses; `added` elements new at
 * their address; `changed` those whose length, state, pad or owner changed.
 */
export interface HeapColumnDelta {
  id: number;
  header?: Omit<Heap, 'elements'>;
  removed: Float64Array;
  added: CompactColumns;
  changed: CompactColumns;
}

/** A delta whose heaps' changes are of type H. */
export interface DeltaOf<H> {
  takenAt: string;
  target: Snapshot['target'];
  retries: number;
  warnings?: string[];
  memsegLists: { upserted: MemsegList[]; removed: number[] };
  heaps: { changed: H[]; removed: number[] };
  memzones: { added: Memzone[]; removed: string[] };
  mempools: { upserted: Mempool[]; removed: string[] };
}

export type SnapshotDelta = DeltaOf<HeapDelta>;
export type ColumnDelta = DeltaOf<HeapColumnDelta>;

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

export function diffSnapshots(a: Snapshot, b: Snapshot): SnapshotDelta;
export function diffSnapshots<H>(a: Snapshot, b: Snapshot, heapDiff: (a: Heap | undefined, b: Heap) => H | null): DeltaOf<H>;
export function diffSnapshots<H>(a: Snapshot, b: Snapshot, heapDiff: (a: Heap | undefined, b: Heap) => H | null = diffHeap as never): DeltaOf<H> {
  const listsA = new Map(a.memsegLists.map((l) => [l.index, l] as const));
  const upserted = b.memsegLists.filter((l) => {
    const old = listsA.get(l.index);
    listsA.delete(l.index);
    return !old || json(old) !== json(l);
  });
  const heapsA = new Map(a.heaps.map((h) => [h.id, h] as const));
  const changed: H[] = [];
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
  const delta: DeltaOf<H> = {
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

export function isEmptyDelta(d: DeltaOf<unknown>): boolean {
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
  return applyDeltaWith(s, d, (old, hd) => {
    const base: Heap = hd.header ? { ...hd.header, elements: old?.elements ?? [] } : { ...(old as Heap) };
    if (hd.added.length || hd.removed.length || hd.changed.length) {
      const gone = new Set(hd.removed);
      const repl = new Map(hd.changed.map((e) => [e.addr, e] as const));
      const els = base.elements.filter((e) => !gone.has(e.addr)).map((e) => repl.get(e.addr) ?? e);
      els.push(...hd.added);
      els.sort((x, y) => Number(x.addr) - Number(y.addr));
      base.elements = els;
    }
    return base;
  });
}

/**
 * What a delta means, for any form of its heaps' changes: `heap` makes a
 * changed heap from the one before (undefined for a new heap) and its
 * change. Everything else (lists, memzones, mempools, the target) is here.
 */
export function applyDeltaWith<H extends { id: number }>(s: Snapshot, d: DeltaOf<H>, heap: (old: Heap | undefined, hd: H) => Heap): Snapshot {
  const lists = new Map(s.memsegLists.map((l) => [l.index, l] as const));
  for (const i of d.memsegLists.removed) lists.delete(i);
  for (const l of d.memsegLists.upserted) lists.set(l.index, l);
  const heaps = new Map(s.heaps.map((h) => [h.id, h] as const));
  for (const id of d.heaps.removed) heaps.delete(id);
  for (const hd of d.heaps.changed) heaps.set(hd.id, heap(heaps.get(hd.id), hd));
  const mzKey = (z: Memzone) => `${z.name}@${z.addr}`;
  const gone = new Set(d.memzones.removed);
  // unchanged lists are the snapshot's own (no re-sort of thousands of memzones per delta)
  const memzones = d.memzones.added.length || d.memzones.removed.length ? s.memzones.filter((z) => !gone.has(mzKey(z))).concat(d.memzones.added).sort(byAddr) : s.memzones;
  let mempools = s.mempools;
  if (d.mempools.removed.length || d.mempools.upserted.length) {
    const pools = new Map(s.mempools.map((p) => [p.name, p] as const));
    for (const n of d.mempools.removed) pools.delete(n);
    for (const p of d.mempools.upserted) pools.set(p.name, p);
    mempools = [...pools.values()].sort(byName);
  }
  return {
    ...s,
    takenAt: d.takenAt,
    target: d.target,
    retries: d.retries,
    warnings: d.warnings ?? s.warnings,
    memsegLists: [...lists.values()].sort((x, y) => x.index - y.index),
    heaps: [...heaps.values()].sort((x, y) => x.id - y.id),
    memzones,
    mempools,
  };
}

// ------------------------------------------------------- column deltas

/** The elements of `v` at indexes idx[0..m) (ascending), with an owner table of only the names they use. */
function gather(v: ElementColumnsView, idx: Int32Array, m: number): ElementColumnsView {
  const out: ElementColumnsView = { heapId: v.heapId, n: m, addr: new Float64Array(m), len: new Float64Array(m), pad: new Uint32Array(m), state: new Uint8Array(m), owner: new Int32Array(m), owners: [] };
  const remap = new Map<number, number>();
  for (let k = 0; k < m; k++) {
    const i = idx[k]!;
    out.addr[k] = v.addr[i]!;
    out.len[k] = v.len[i]!;
    out.pad[k] = v.pad[i]!;
    out.state[k] = v.state[i]!;
    const w = v.owner[i]!;
    if (w < 0) {
      out.owner[k] = -1;
      continue;
    }
    let r = remap.get(w);
    if (r === undefined) {
      r = out.owners.length;
      out.owners.push(v.owners[w]!);
      remap.set(w, r);
    }
    out.owner[k] = r;
  }
  return out;
}

/** Element changes from `a` to `b` (both sorted): one merge walk. */
export function diffColumns(a: ElementColumnsView, b: ElementColumnsView): { removed: Float64Array; added: ElementColumnsView; changed: ElementColumnsView } {
  const removed: number[] = [];
  const added = new Int32Array(b.n);
  const changed = new Int32Array(b.n);
  let na = 0;
  let nc = 0;
  let i = 0;
  let j = 0;
  while (i < a.n || j < b.n) {
    const x = i < a.n ? a.addr[i]! : Infinity;
    const y = j < b.n ? b.addr[j]! : Infinity;
    if (x < y) {
      removed.push(x);
      i++;
    } else if (y < x) {
      added[na++] = j++;
    } else {
      const wa = a.owner[i]!;
      const wb = b.owner[j]!;
      const sameOwner = wa < 0 || wb < 0 ? wa === wb : a.owners[wa] === b.owners[wb];
      if (a.len[i] !== b.len[j] || a.state[i] !== b.state[j] || a.pad[i] !== b.pad[j] || !sameOwner) changed[nc++] = j;
      i++;
      j++;
    }
  }
  return { removed: Float64Array.from(removed), added: gather(b, added, na), changed: gather(b, changed, nc) };
}

/** A heap's column delta from `a` to `b`, or null when nothing changed. */
export function diffHeapColumnDelta(a: Heap | undefined, b: Heap, columns: (h: Heap) => ElementColumnsView): HeapColumnDelta | null {
  const header = !a || !sameHeapHeader(a, b) ? heapHeader(b) : undefined;
  const cb = columns(b);
  const ca = a ? columns(a) : { ...cb, n: 0 };
  const d = diffColumns(ca, cb);
  if (!header && !d.removed.length && !d.added.n && !d.changed.n) return null;
  return { id: b.id, ...(header ? { header } : {}), removed: d.removed, added: compactColumns(d.added, true), changed: compactColumns(d.changed, true) };
}

/** The column form of an object delta (its heaps' changes as column slices). */
export function columnDelta(d: SnapshotDelta): ColumnDelta {
  return {
    ...d,
    heaps: {
      removed: d.heaps.removed,
      changed: d.heaps.changed.map((h) => ({
        id: h.id,
        ...(h.header ? { header: h.header } : {}),
        removed: Float64Array.from(h.removed, Number).sort(),
        added: compactColumns(columnsFromElements(h.id, h.added), true),
        changed: compactColumns(columnsFromElements(h.id, h.changed), true),
      })),
    },
  };
}

/**
 * `base` with a column delta's changes (views of its slices): one merge
 * walk. Removals win over changes; an addition at a present address
 * replaces it; changes to absent addresses are ignored (applyDelta's rules).
 */
export function mergeColumns(base: ElementColumnsView, ch: { removed: Float64Array; added: ElementColumnsView; changed: ElementColumnsView }): ElementColumnsView {
  const { removed, added, changed } = ch;
  const cap = base.n + added.n;
  const out: ElementColumnsView = { heapId: base.heapId, n: 0, addr: new Float64Array(cap), len: new Float64Array(cap), pad: new Uint32Array(cap), state: new Uint8Array(cap), owner: new Int32Array(cap), owners: base.owners.slice() };
  const index = new Map(out.owners.map((name, k) => [name, k] as const));
  const idsOf = (v: ElementColumnsView) =>
    Int32Array.from(v.owners, (name) => {
      let k = index.get(name);
      if (k === undefined) {
        k = out.owners.length;
        out.owners.push(name);
        index.set(name, k);
      }
      return k;
    });
  const addIds = idsOf(added);
  const chIds = idsOf(changed);
  let w = 0;
  const put = (v: ElementColumnsView, k: number, ids: Int32Array | null) => {
    out.addr[w] = v.addr[k]!;
    out.len[w] = v.len[k]!;
    out.pad[w] = v.pad[k]!;
    out.state[w] = v.state[k]!;
    const o = v.owner[k]!;
    out.owner[w++] = o < 0 || !ids ? o : ids[o]!;
  };
  let i = 0; // base
  let g = 0; // removed
  let x = 0; // added
  let c = 0; // changed
  while (i < base.n || x < added.n) {
    const a = i < base.n ? base.addr[i]! : Infinity;
    const b = x < added.n ? added.addr[x]! : Infinity;
    if (b <= a) {
      // of several additions at one address, the last stays
      if (x + 1 < added.n && added.addr[x + 1] === b) {
        x++;
        continue;
      }
      put(added, x++, addIds);
      if (b === a) i++;
      continue;
    }
    while (g < removed.length && removed[g]! < a) g++;
    if (g < removed.length && removed[g] === a) {
      i++;
      continue;
    }
    while (c < changed.n && changed.addr[c]! < a) c++;
    if (c < changed.n && changed.addr[c] === a) put(changed, c, chIds);
    else put(base, i, null);
    i++;
  }
  out.n = w;
  return out;
}
