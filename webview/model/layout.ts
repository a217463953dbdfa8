/**
 * Where things go: the x position ("world" units) of every segment and
 * element in each layout, and each lane's vertical box.
 *
 * By address, every lane shares one piecewise-linear d3 scale, so a heap
 * element sits right under the memseg segment that holds it:
 * - `folded` (the default): the pieces are the memory that holds something
 *   (allocated segments, heaps); VA between them that holds nothing — a
 *   list's reserved but unallocated pages, or address space no list
 *   reserved — collapses to a break of fixed width that says how much it
 *   hides. Pieces share the width by bytes, each at least a few pixels.
 * - `linear`: the pieces are DPDK's reservations at their true scale; only
 *   address space outside every reservation folds.
 * Each lane over the whole width:
 * - `compact`: by bytes (free space keeps its share; holes between
 *   segments drop out);
 * - `index`: by element number (every item the same width).
 * Zoom and pan are shared by all lanes in every layout.
 */
import { type ScaleLinear, scaleLinear } from 'd3';
import type { MapLayoutKind } from '../../common/webview-protocol';
import { type HeapColumns, lowerBound } from './columns';
import type { ListColumns } from './lists';

/** Addresses [a0, a1) → world [w0, w1), linearly. */
export interface Piece {
  a0: number;
  a1: number;
  w0: number;
  w1: number;
}

/** A folded run of VA that holds nothing, drawn [w0, w1) wide. */
export interface Break {
  w0: number;
  w1: number;
  /** Addresses [a0, a1) it stands for. */
  a0: number;
  a1: number;
  /** Bytes of it inside a memseg list's reservation (reserved, nothing allocated); the rest no list reserved. */
  reserved: number;
}

export type LaneKind = 'memseg' | 'heap';

/** World position of each item of a lane, ascending and not overlapping; only [0, n) counts. */
export interface LaneData {
  n: number;
  ws: Float64Array;
  we: Float64Array;
  /** Per item: the element state (heaps), 0 (segments). */
  kind: Uint8Array;
  /** Compact layouts: world units per byte (`compact`) or per item (`index`) of this lane; 0 by address. */
  unit: number;
}

export interface LaneGeom {
  kind: LaneKind;
  /** Index into the model's lists or heaps. */
  ref: number;
  /** The list's index or the heap's id. */
  key: number;
  y: number;
  h: number;
  barY: number;
  barH: number;
  /** Heaps: the memzone/mempool overlay row; lists: the IOVA-run strip. */
  ovY: number;
  ovH: number;
  data: LaneData;
}

export interface Layout {
  kind: MapLayoutKind;
  width: number;
  /** By address: the address → world scale (a d3 piecewise-linear scale), its pieces and breaks. */
  scale: ScaleLinear<number, number> | null;
  pieces: Piece[];
  breaks: Break[];
  lanes: LaneGeom[];
  height: number;
  /** The narrowest world span a view may show (bounds the zoom). */
  minSpan: number;
}

/** Lane boxes in CSS px. */
export const LANE_GAP = 6;
export const MEMSEG_LANE = { h: 40, barY: 5, barH: 24, ovY: 31, ovH: 5 } as const;
/** External lists name their backing on a third header line. */
export const MEMSEG_EXT_LANE = { h: 54, barY: 7, barH: 34, ovY: 44, ovH: 5 } as const;
export const HEAP_LANE = { h: 64, barY: 21, barH: 36, ovY: 4, ovH: 14 } as const;
/** Compact layouts' world width: any number works, this one keeps world units readable. */
export const COMPACT_WIDTH = 1_000_000;
/** The fewest bytes a view by address may span at the deepest zoom. */
const MIN_BYTES_IN_VIEW = 256;

export const byAddress = (k: MapLayoutKind): boolean => k === 'folded' || k === 'linear';

/** A break's label needs about this many CSS px ("≈ 63.8 GiB" over "outside DPDK"). */
export const BREAK_LABEL_PX = 72;
/** Share of the width a break takes: room for its label on a plot `px` wide when there are few, at most 30 % for all. */
export const breakShare = (breaks: number, px = 1200): number => Math.min(Math.max(0.05, BREAK_LABEL_PX / Math.max(px, 1)), 0.3 / Math.max(1, breaks));
/** The least share of the width a piece takes, so that no used range is thinner than a few pixels. */
export const pieceFloor = (pieces: number): number => Math.min(0.03, 0.3 / Math.max(1, pieces));
/** A gap folds when it is wider than this share of the bytes shown (smaller holes stay at true scale). */
const FOLD_SHARE = { folded: 0.02, linear: 0.012 } as const;
/** At most this many breaks; past it only the widest gaps fold. */
export const MAX_BREAKS = 48;

type Range = [number, number];

function merge(ranges: readonly Range[]): Range[] {
  const rs = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const [a, b] of rs) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Bytes of [a, b) inside the reservations (sorted, disjoint). */
function reservedIn(res: readonly Range[], a: number, b: number): number {
  let s = 0;
  for (let i = Math.max(0, lowerEnd(res, a)); i < res.length && res[i]![0] < b; i++) s += Math.max(0, Math.min(b, res[i]![1]) - Math.max(a, res[i]![0]));
  return s;
}

/** Index of the first range ending after x. */
function lowerEnd(rs: readonly Range[], x: number): number {
  let lo = 0;
  let hi = rs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rs[mid]![1] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A run of folded VA of one kind: inside reservations (with the cuts between them) or outside every one. */
interface BreakGroup {
  a0: number;
  a1: number;
  /** Cut points [a0, …, a1]: the reservations' edges inside the group. */
  cuts: number[];
  /** Per part between cuts: reserved (true) or not. */
  reserved: boolean[];
}

/**
 * A folded gap as breaks: split at the reservations' edges into parts, the
 * parts grouped by kind (reserved by a list, or no list's), so a break says
 * either "unused" or "outside DPDK"; a part outside every list that is
 * smaller than a reserved neighbour stays in that neighbour's group (the
 * few MiB DPDK leaves between lists).
 */
function gapGroups(res: readonly Range[], a: number, b: number): BreakGroup[] {
  const cuts = [a];
  for (let i = lowerEnd(res, a); i < res.length && res[i]![0] < b; i++) {
    for (const x of res[i]!) if (x > cuts[cuts.length - 1]! && x < b) cuts.push(x);
  }
  cuts.push(b);
  const kinds: boolean[] = [];
  for (let k = 0; k + 1 < cuts.length; k++) kinds.push(reservedIn(res, cuts[k]!, cuts[k + 1]!) > 0);
  const size = (k: number) => cuts[k + 1]! - cuts[k]!;
  // the group a part joins: its own kind, or a reserved neighbour's when it is a small gap between lists
  const joinsReserved = (k: number) => kinds[k] || (k > 0 && kinds[k - 1] && size(k) < size(k - 1)) || (k + 1 < kinds.length && kinds[k + 1] && size(k) < size(k + 1));
  const groups: BreakGroup[] = [];
  for (let k = 0; k < kinds.length; k++) {
    const r = !!joinsReserved(k);
    const g = groups[groups.length - 1];
    const gr = g ? g.reserved.some((x) => x) : false;
    if (g && gr === r) {
      g.cuts.push(cuts[k + 1]!);
      g.reserved.push(kinds[k]!);
      g.a1 = cuts[k + 1]!;
    } else groups.push({ a0: cuts[k]!, a1: cuts[k + 1]!, cuts: [cuts[k]!, cuts[k + 1]!], reserved: [kinds[k]!] });
  }
  return groups;
}

export interface ScaleParts {
  scale: ScaleLinear<number, number> | null;
  pieces: Piece[];
  breaks: Break[];
  width: number;
  /** World units per byte at the steepest piece. */
  maxSlope: number;
}

/**
 * The address → world scale of a layout by address. `shown`: the ranges
 * that must be drawn (merged here); `reservations`: the memseg lists'
 * reserved ranges, which name what a break hides and give leading and
 * trailing breaks. Gaps between shown ranges wider than `foldShare` of the
 * shown bytes fold (the widest MAX_BREAKS of them); the rest stay at true
 * scale inside a piece. Pieces share the width left by the breaks by
 * bytes, each at least `pieceFloor` of it.
 */
export function addressScale(shown: readonly Range[], reservations: readonly Range[], foldShare: number, px = 1200): ScaleParts {
  // the lists' reservations never overlap; touching ones stay apart, so a break shows each
  const res = reservations.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const runs = merge(shown);
  if (!runs.length) return { scale: null, pieces: [], breaks: [], width: 1, maxSlope: 1 };
  const bytes = runs.reduce((s, [a, b]) => s + (b - a), 0);
  // gaps: between runs, and the reservations before the first and after the last
  const gaps: { a: number; b: number; at: number }[] = [];
  const lead = res.length ? Math.min(res[0]![0], runs[0]![0]) : runs[0]![0];
  const tail = res.length ? Math.max(res[res.length - 1]![1], runs[runs.length - 1]![1]) : runs[runs.length - 1]![1];
  if (lead < runs[0]![0]) gaps.push({ a: lead, b: runs[0]![0], at: 0 });
  for (let i = 1; i < runs.length; i++) gaps.push({ a: runs[i - 1]![1], b: runs[i]![0], at: i });
  if (tail > runs[runs.length - 1]![1]) gaps.push({ a: runs[runs.length - 1]![1], b: tail, at: runs.length });
  const folds = new Set(
    gaps
      .filter((g) => g.b - g.a > bytes * foldShare)
      .sort((x, y) => y.b - y.a - (x.b - x.a))
      .slice(0, MAX_BREAKS),
  );
  const gapAt = new Map(gaps.map((g) => [g.at, g] as const));
  // pieces: runs joined across the gaps that stay at true scale
  const spans: Range[] = [];
  const foldAfter = new Map<number, { a: number; b: number }>();
  const leadGap = gapAt.get(0);
  for (let i = 0; i < runs.length; i++) {
    const gap = i > 0 ? gapAt.get(i) : undefined;
    if (i > 0 && gap && !folds.has(gap)) spans[spans.length - 1]![1] = runs[i]![1];
    else {
      if (gap) foldAfter.set(spans.length - 1, gap);
      spans.push([i === 0 && leadGap && !folds.has(leadGap) ? leadGap.a : runs[i]![0], runs[i]![1]]);
    }
  }
  const tailGap = gapAt.get(runs.length);
  if (tailGap && folds.has(tailGap)) foldAfter.set(spans.length - 1, tailGap);
  else if (tailGap) spans[spans.length - 1]![1] = tailGap.b;

  const groupsOf = new Map([...folds].map((g) => [g, gapGroups(res, g.a, g.b)] as const));
  const nBreaks = [...groupsOf.values()].reduce((n, gs) => n + gs.length, 0);
  const fb = breakShare(nBreaks, px);
  const share = pieceShares(
    spans.map(([a, b]) => b - a),
    1 - nBreaks * fb,
    pieceFloor(spans.length),
  );
  // world units ≈ bytes in the widest pieces
  const W = Math.max(...spans.map(([a, b], i) => (b - a) / share[i]!));
  const domain: number[] = [];
  const range: number[] = [];
  const pieces: Piece[] = [];
  const breaks: Break[] = [];
  let w = 0;
  const point = (a: number, x: number) => {
    if (domain.length && a <= domain[domain.length - 1]!) return;
    domain.push(a);
    range.push(x);
  };
  const addBreak = (g: { a: number; b: number }) => {
    for (const grp of groupsOf.get(g as (typeof gaps)[number])!) {
      // each reserved part an equal slot (an empty list stays visible); a gap between lists a sliver
      const weights = grp.reserved.map((r) => (r ? 1 : 0.1));
      const total = weights.reduce((x, y) => x + y, 0);
      const bw = fb * W;
      let at = w;
      point(grp.cuts[0]!, at);
      grp.reserved.forEach((_, k) => {
        at += (bw * weights[k]!) / total;
        point(grp.cuts[k + 1]!, at);
      });
      breaks.push({ w0: w, w1: w + bw, a0: grp.a0, a1: grp.a1, reserved: reservedIn(res, grp.a0, grp.a1) });
      w += bw;
    }
  };
  if (leadGap && folds.has(leadGap)) addBreak(leadGap);
  let maxSlope = 0;
  spans.forEach(([a, b], i) => {
    const pw = share[i]! * W;
    pieces.push({ a0: a, a1: b, w0: w, w1: w + pw });
    maxSlope = Math.max(maxSlope, pw / (b - a));
    point(a, w);
    point(b, w + pw);
    w += pw;
    const g = foldAfter.get(i);
    if (g) addBreak(g);
  });
  const scale = scaleLinear().domain(domain).range(range).clamp(true);
  return { scale, pieces, breaks, width: Math.max(w, 1), maxSlope };
}

/**
 * Shares of `total` for items of these sizes, by size, none below `floor`
 * (water-filling: the small ones get the floor, the rest split what is left
 * by size).
 */
export function pieceShares(sizes: readonly number[], total: number, floor: number): number[] {
  const out = new Array<number>(sizes.length).fill(0);
  const floored = new Set<number>();
  for (;;) {
    const left = total - floored.size * floor;
    const rest = sizes.reduce((s, x, i) => (floored.has(i) ? s : s + x), 0);
    let changed = false;
    sizes.forEach((x, i) => {
      if (floored.has(i)) return;
      out[i] = rest > 0 ? (x / rest) * left : left / (sizes.length - floored.size);
      if (out[i]! < floor) {
        floored.add(i);
        changed = true;
      }
    });
    if (!changed) break;
  }
  for (const i of floored) out[i] = floor;
  return out;
}

/** World x of an address (layouts by address; 0 in the others). */
export function addrToWorld(layout: Pick<Layout, 'scale'>, addr: number): number {
  return layout.scale ? layout.scale(addr) : 0;
}

/** The address at world x (layouts by address; inside a break, the address the break puts there), or null. */
export function worldToAddr(layout: Pick<Layout, 'scale'>, w: number): number | null {
  return layout.scale ? layout.scale.invert(w) : null;
}

/** The break holding world x, or undefined. */
export function breakAt(layout: Pick<Layout, 'breaks'>, w: number): Break | undefined {
  return layout.breaks.find((b) => w >= b.w0 && w < b.w1);
}

function heapRange(c: HeapColumns): Range | null {
  return c.n ? [c.start[0]!, c.start[c.n - 1]! + c.len[c.n - 1]!] : null;
}

/** A Float64Array of at least n, the previous one when it is long enough (no garbage per delta). */
function room(prev: Float64Array | undefined, n: number): Float64Array {
  return prev && prev.length >= n ? prev : new Float64Array(Math.ceil(n * 1.25) + 16);
}

/**
 * Positions of items [start, start+len), ascending, through the pieces:
 * one multiply-add per item inside a piece (the scale's own line), the
 * scale itself for an item that reaches into a break.
 */
function addressData(start: Float64Array, len: Float64Array, n: number, kind: Uint8Array, parts: ScaleParts, prev?: LaneData): LaneData {
  const ws = room(prev?.ws, n);
  const we = room(prev?.we, n);
  const { pieces, scale } = parts;
  const at = (a: number) => (scale ? scale(a) : 0);
  let i = 0;
  for (let pi = 0; pi < pieces.length && i < n; pi++) {
    const p = pieces[pi]!;
    // items [i, end) start before this piece ends: one line for those inside it
    const end = lowerBound(start, n, p.a1);
    const k = (p.w1 - p.w0) / (p.a1 - p.a0);
    const off = p.w0 - p.a0 * k;
    for (; i < end; i++) {
      const a = start[i]!;
      const b = a + len[i]!;
      ws[i] = a >= p.a0 ? off + a * k : at(a);
      we[i] = b <= p.a1 ? off + b * k : at(b);
    }
  }
  for (; i < n; i++) {
    ws[i] = at(start[i]!);
    we[i] = at(start[i]! + len[i]!);
  }
  return { n, ws, we, kind, unit: 0 };
}

/** Each item as wide as its bytes (`len`), or all the same width (no `len`), over the whole width. */
function compactData(n: number, kind: Uint8Array, width: number, len: Float64Array | null, prev?: LaneData): LaneData {
  const ws = room(prev?.ws, n);
  const we = room(prev?.we, n);
  let total = 0;
  if (len) for (let i = 0; i < n; i++) total += len[i]!;
  else total = n;
  const unit = width / Math.max(total, 1);
  // positions from exact running sums (bytes or counts), so the last item ends at the width
  let at = 0;
  for (let i = 0; i < n; i++) {
    ws[i] = (at / total) * width;
    at += len ? len[i]! : 1;
    we[i] = (at / total) * width;
  }
  return { n, ws, we, kind, unit };
}

/** What a lane's positions were computed from: reused while it is unchanged. */
interface CacheEntry {
  source: object;
  version: number;
  scale: object | null;
  data: LaneData;
}

export class LayoutCache {
  private readonly entries = new Map<string, CacheEntry>();
  private scaleEntry: { key: string; parts: ScaleParts } | null = null;

  /** The lane's positions, made again (reusing the old arrays) only when their source changed. */
  get(id: string, source: object, version: number, scale: object | null, make: (prev?: LaneData) => LaneData): LaneData {
    const e = this.entries.get(id);
    if (e && e.source === source && e.version === version && e.scale === scale) return e.data;
    const data = make(e?.data);
    this.entries.set(id, { source, version, scale, data });
    return data;
  }

  /** The scale for these ranges: the same object while they are the same (so lanes keep their positions). */
  scale(key: string, make: () => ScaleParts): ScaleParts {
    if (this.scaleEntry?.key !== key) this.scaleEntry = { key, parts: make() };
    return this.scaleEntry.parts;
  }

  /** Drops the entries of lanes that are gone. */
  keep(ids: Set<string>): void {
    for (const k of [...this.entries.keys()]) if (!ids.has(k)) this.entries.delete(k);
  }
}

export interface LayoutInput {
  lists: readonly ListColumns[];
  heaps: readonly { id: number; cols: HeapColumns }[];
}

/** Is [a, b) inside one of the (sorted, merged) ranges? */
function covered(rs: readonly Range[], a: number, b: number): boolean {
  const i = lowerEnd(rs, a);
  return i < rs.length && rs[i]![0] <= a && b <= rs[i]![1];
}

/** The ranges a layout by address must show, and the reservations. */
function addressRanges(m: LayoutInput, kind: 'folded' | 'linear'): { shown: Range[]; reservations: Range[] } {
  const reservations: Range[] = m.lists.map((l) => [l.base, l.end]);
  const shown: Range[] = [];
  if (kind === 'linear') shown.push(...reservations);
  else for (const l of m.lists) for (let k = 0; k < l.n; k++) shown.push([l.segStart[k]!, l.segStart[k]! + l.segLen[k]!]);
  const used = merge(shown);
  // a heap lies in its segments; one that does not (a snapshot without its lists) is shown whole
  for (const h of m.heaps) {
    const r = heapRange(h.cols);
    if (!r) continue;
    const c = h.cols;
    if (!covered(used, r[0], c.start[0]! + c.len[0]!) || !covered(used, c.start[c.n - 1]!, r[1])) shown.push(r);
  }
  return { shown, reservations };
}

/**
 * What a layout's scale depends on: the lists (by identity: model/map.ts
 * replaces a list that changed), the heaps' extents and the label room.
 */
function scaleKey(m: LayoutInput, kind: MapLayoutKind, px: number): string {
  let key = `${kind}#${Math.round((BREAK_LABEL_PX / Math.max(px, 1)) * 1000)}`;
  for (const l of m.lists) {
    let id = listIds.get(l);
    if (!id) listIds.set(l, (id = nextListId++));
    key += `|${id}`;
  }
  for (const h of m.heaps) key += `|h${heapRange(h.cols)?.join(',') ?? ''}`;
  return key;
}

const listIds = new WeakMap<object, number>();
let nextListId = 1;

export function computeLayout(m: LayoutInput, kind: MapLayoutKind, cache = new LayoutCache(), px = 1200): Layout {
  const address = byAddress(kind);
  let parts: ScaleParts = { scale: null, pieces: [], breaks: [], width: COMPACT_WIDTH, maxSlope: 1 };
  if (address) {
    const k = kind as 'folded' | 'linear';
    parts = cache.scale(scaleKey(m, kind, px), () => {
      const { shown, reservations } = addressRanges(m, k);
      return addressScale(shown, reservations, FOLD_SHARE[k], px);
    });
  }
  const width = parts.width;
  const scaleId = address ? parts : null;
  const lanes: LaneGeom[] = [];
  const ids = new Set<string>();
  let y = LANE_GAP;
  let minSpan = address ? MIN_BYTES_IN_VIEW * parts.maxSlope : width / 64;
  m.lists.forEach((l, ref) => {
    const id = `memseg:${l.list.index}:${kind}`;
    ids.add(id);
    const data = cache.get(id, l, 0, scaleId, () => {
      const zeros = new Uint8Array(l.n);
      return address ? addressData(l.segStart, l.segLen, l.n, zeros, parts) : compactData(l.n, zeros, width, kind === 'compact' ? l.segLen : null);
    });
    const box = l.list.external ? MEMSEG_EXT_LANE : MEMSEG_LANE;
    lanes.push({ kind: 'memseg', ref, key: l.list.index, y, ...box, data });
    y += box.h + LANE_GAP;
  });
  m.heaps.forEach((h, ref) => {
    const c = h.cols;
    const id = `heap:${h.id}:${kind}`;
    ids.add(id);
    const data = cache.get(id, c, c.version, scaleId, (prev) => (address ? addressData(c.start, c.len, c.n, c.state, parts, prev) : compactData(c.n, c.state, width, kind === 'compact' ? c.len : null, prev)));
    lanes.push({ kind: 'heap', ref, key: h.id, y, ...HEAP_LANE, data });
    if (!address && c.n) minSpan = Math.min(minSpan, kind === 'compact' ? MIN_BYTES_IN_VIEW * data.unit : 8 * data.unit);
    y += HEAP_LANE.h + LANE_GAP;
  });
  cache.keep(ids);
  return { kind, width, scale: parts.scale, pieces: parts.pieces, breaks: parts.breaks, lanes, height: y, minSpan };
}

/** Index of the lane at y, or -1. */
export function laneAtY(layout: Layout, y: number): number {
  for (let i = 0; i < layout.lanes.length; i++) {
    const l = layout.lanes[i]!;
    if (y >= l.y && y < l.y + l.h) return i;
  }
  return -1;
}

/** Index of the last item starting at or before world x (binary search on ws), or -1. */
export function itemBefore(d: LaneData, w: number): number {
  let lo = 0;
  let hi = d.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (d.ws[mid]! <= w) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Index of the item holding world x, or -1. */
export function itemAt(d: LaneData, w: number): number {
  const i = itemBefore(d, w);
  return i >= 0 && w < d.we[i]! ? i : -1;
}

/** Index of the item nearest world x (for keyboard moves between lanes), or -1 when the lane is empty. */
export function itemNearest(d: LaneData, w: number): number {
  if (!d.n) return -1;
  const i = itemBefore(d, w);
  if (i < 0) return 0;
  if (w < d.we[i]! || i === d.n - 1) return i;
  return w - d.we[i]! <= d.ws[i + 1]! - w ? i : i + 1;
}

