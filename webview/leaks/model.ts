/**
 * The Leaks panel's pure parts: the diff as table rows (sorted, filtered),
 * the timeline as chart series, and what changed between two moments of it.
 */
import type { SnapshotDiff } from '../../common/leaks';
import { sizeClassLabel, sizeClassOf } from '../../common/leaks';
import type { TimelinePoint } from '../../common/leak-tracker';

export interface DiffRow {
  change: 'added' | 'freed' | 'in use' | 'memzone added' | 'memzone removed' | 'list' | 'pool added' | 'pool removed';
  /** Heap, mempool, memzone or list. */
  where: string;
  address: string;
  /** Bytes (elements, memzones) or objects (mempools), signed: what the row adds. */
  delta: number;
  owner: string;
  sizeClass: string;
  /** For sorting by size class. */
  classBytes: number;
}

export type DiffColumn = 'change' | 'where' | 'address' | 'delta' | 'owner' | 'sizeClass';

export function diffRows(d: SnapshotDiff): DiffRow[] {
  const rows: DiffRow[] = [];
  for (const h of d.heaps) {
    for (const [list, change, sign] of [
      [h.added, 'added', 1],
      [h.freed, 'freed', -1],
    ] as const) {
      for (const e of list) {
        const cls = sizeClassOf(e.len);
        rows.push({ change, where: h.name, address: e.addr, delta: sign * e.len, owner: e.owner ?? 'rte_malloc', sizeClass: sizeClassLabel(cls), classBytes: cls });
      }
    }
  }
  for (const p of d.mempools) {
    if (p.status !== 'kept') rows.push({ change: p.status === 'added' ? 'pool added' : 'pool removed', where: p.name, address: '', delta: 0, owner: '', sizeClass: '', classBytes: 0 });
    else if (p.inUseDelta) rows.push({ change: 'in use', where: p.name, address: '', delta: p.inUseDelta, owner: '', sizeClass: '', classBytes: 0 });
  }
  for (const z of d.memzones.added) rows.push({ change: 'memzone added', where: z.name, address: z.addr, delta: z.len, owner: '', sizeClass: '', classBytes: 0 });
  for (const z of d.memzones.removed) rows.push({ change: 'memzone removed', where: z.name, address: z.addr, delta: -z.len, owner: '', sizeClass: '', classBytes: 0 });
  for (const l of d.memsegLists) rows.push({ change: 'list', where: `memseg list ${l.index} (${l.change})`, address: l.baseVa, delta: l.segmentsAdded.length - l.segmentsRemoved.length, owner: '', sizeClass: '', classBytes: 0 });
  return rows;
}

const addrKey = (a: string) => (a ? a.slice(2).padStart(16, '0') : '');

/** Rows whose text fields all match some word of `filter` (case-insensitive), sorted by `by`. */
export function viewRows(rows: DiffRow[], filter: string, by: DiffColumn, descending: boolean): DiffRow[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = (r: DiffRow) => `${r.change} ${r.where} ${r.address} ${r.owner} ${r.sizeClass}`.toLowerCase();
  const kept = words.length ? rows.filter((r) => words.every((w) => hay(r).includes(w))) : rows.slice();
  const key = (r: DiffRow): string | number => (by === 'delta' ? r.delta : by === 'sizeClass' ? r.classBytes : by === 'address' ? addrKey(r.address) : r[by]);
  const dir = descending ? -1 : 1;
  return kept.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * dir || (addrKey(a.address) < addrKey(b.address) ? -1 : 1);
  });
}

export interface Series {
  name: string;
  values: { t: number; v: number }[];
}

export interface Chart {
  id: 'bytes' | 'allocs' | 'mempools' | 'segments';
  title: string;
  unit: 'bytes' | 'count';
  series: Series[];
}

/** Heap bytes and alloc counts, mempools in use (the 8 that moved most) and segments. */
export function chartsOf(points: TimelinePoint[], maxPools = 8): Chart[] {
  const heaps = new Set<string>();
  const pools = new Set<string>();
  for (const p of points) {
    for (const h in p.heaps) heaps.add(h);
    for (const m in p.mempools) pools.add(m);
  }
  const series = (names: Iterable<string>, get: (p: TimelinePoint, n: string) => number | null | undefined): Series[] =>
    [...names].map((name) => ({
      name,
      values: points.flatMap((p) => {
        const v = get(p, name);
        return v === null || v === undefined ? [] : [{ t: p.t, v }];
      }),
    }));
  const poolSeries = series(pools, (p, n) => p.mempools[n])
    .map((s) => ({ s, range: s.values.length ? Math.max(...s.values.map((x) => x.v)) - Math.min(...s.values.map((x) => x.v)) : 0 }))
    .sort((a, b) => b.range - a.range || (a.s.name < b.s.name ? -1 : 1))
    .slice(0, maxPools)
    .map((x) => x.s);
  return [
    { id: 'bytes', title: 'Heap bytes in use', unit: 'bytes', series: series(heaps, (p, n) => p.heaps[n]?.busyBytes) },
    { id: 'allocs', title: 'Heap allocations', unit: 'count', series: series(heaps, (p, n) => p.heaps[n]?.allocCount) },
    { id: 'mempools', title: 'Mempool objects in use', unit: 'count', series: poolSeries },
    { id: 'segments', title: 'Memory segments', unit: 'count', series: [{ name: 'segments', values: points.map((p) => ({ t: p.t, v: p.segments })) }] },
  ];
}

export interface SpanChange {
  from: number;
  to: number;
  heaps: { name: string; bytes: number; allocs: number }[];
  mempools: { name: string; inUse: number }[];
  segments: number;
}

/** What the timeline says changed from the first point at or after `from` to the last at or before `to`. */
export function spanChange(points: TimelinePoint[], from: number, to: number): SpanChange | null {
  const inside = points.filter((p) => p.t >= from && p.t <= to);
  if (inside.length < 2) return null;
  const a = inside[0]!;
  const b = inside[inside.length - 1]!;
  const heaps = Object.keys(b.heaps)
    .filter((n) => a.heaps[n])
    .map((name) => ({ name, bytes: b.heaps[name]!.busyBytes - a.heaps[name]!.busyBytes, allocs: b.heaps[name]!.allocCount - a.heaps[name]!.allocCount }))
    .filter((h) => h.bytes || h.allocs);
  const mempools = Object.keys(b.mempools)
    .filter((n) => typeof a.mempools[n] === 'number' && typeof b.mempools[n] === 'number')
    .map((name) => ({ name, inUse: b.mempools[name]! - a.mempools[name]! }))
    .filter((m) => m.inUse);
  return { from: a.t, to: b.t, heaps, mempools, segments: b.segments - a.segments };
}
