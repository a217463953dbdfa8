/**
 * Where things go: the x position ("world" units) of every segment and
 * element in the two layouts, and each lane's vertical box.
 *
 * Linear: one global address scale shared by every lane, so a heap element
 * sits right under the memseg segment that holds it. The address space
 * between the ranges Memscope knows of (memseg lists, heap extents) is
 * terabytes wide, so each gap larger than a break collapses to a break of
 * fixed width; world units are bytes inside a piece.
 * Compact: element order. Every lane spreads its items (segments, elements)
 * evenly over the same width, so a heap of tiny elements is as readable as
 * one of huge ones; zoom and pan stay shared.
 */
import type { MapLayoutKind } from '../../common/webview-protocol';
import { type HeapColumns, lowerBound } from './columns';
import type { ListColumns } from './lists';

export interface Piece {
  /** Addresses [a0, a1) → world [w0, w0 + a1 − a0). */
  a0: number;
  a1: number;
  w0: number;
}

export type LaneKind = 'memseg' | 'heap';

/** World position of each item of a lane, ascending and not overlapping; only [0, n) counts. */
export interface LaneData {
  n: number;
  ws: Float64Array;
  we: Float64Array;
  /** Per item: the element state (heaps), 0 (segments). */
  kind: Uint8Array;
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
  pieces: Piece[];
  /** World x of each collapsed gap (linear). */
  breaks: number[];
  breakWidth: number;
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
/** Compact layout's world width: any number works, this one keeps world units readable. */
export const COMPACT_WIDTH = 1_000_000;
/** Fraction of the known address ranges a collapsed gap takes. */
const BREAK_FRACTION = 0.012;

export interface LayoutInput {
  lists: readonly ListColumns[];
  heaps: readonly { id: number; cols: HeapColumns }[];
}

/** Known address ranges, merged; gaps wider than a break collapse to one. */
export function buildPieces(ranges: [number, number][]): { pieces: Piece[]; breaks: number[]; breakWidth: number; width: number } {
  const rs = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const total = rs.reduce((s, [a, b]) => s + (b - a), 0);
  const breakWidth = Math.max(1, total * BREAK_FRACTION);
  const merged: [number, number][] = [];
  for (const [a, b] of rs) {
    const last = merged[merged.length - 1];
    if (last && a - last[1] <= breakWidth) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  const pieces: Piece[] = [];
  const breaks: number[] = [];
  let w = 0;
  merged.forEach(([a, b], i) => {
    if (i > 0) {
      breaks.push(w + breakWidth / 2);
      w += breakWidth;
    }
    pieces.push({ a0: a, a1: b, w0: w });
    w += b - a;
  });
  return { pieces, breaks, breakWidth, width: Math.max(w, 1) };
}

function pieceIndex(pieces: readonly Piece[], addr: number): number {
  let lo = 0;
  let hi = pieces.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pieces[mid]!.a0 <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** World x of an address (linear); addresses in a collapsed gap land at its break. */
export function addrToWorld(pieces: readonly Piece[], addr: number): number {
  const i = pieceIndex(pieces, addr);
  if (i < 0) return 0;
  const p = pieces[i]!;
  if (addr <= p.a1) return p.w0 + (addr - p.a0);
  const next = pieces[i + 1];
  return next ? (p.w0 + (p.a1 - p.a0) + next.w0) / 2 : p.w0 + (p.a1 - p.a0);
}

/** The address at world x (linear), or null inside a break. */
export function worldToAddr(pieces: readonly Piece[], w: number): number | null {
  let lo = 0;
  let hi = pieces.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pieces[mid]!.w0 <= w) lo = mid + 1;
    else hi = mid;
  }
  const p = pieces[lo - 1];
  if (!p) return null;
  const a = p.a0 + (w - p.w0);
  return a <= p.a1 ? a : null;
}

function heapRange(c: HeapColumns): [number, number] | null {
  return c.n ? [c.start[0]!, c.start[c.n - 1]! + c.len[c.n - 1]!] : null;
}

/** A Float64Array of at least n, the previous one when it is long enough (no garbage per delta). */
function room(prev: Float64Array | undefined, n: number): Float64Array {
  return prev && prev.length >= n ? prev : new Float64Array(Math.ceil(n * 1.25) + 16);
}

/**
 * Positions of items [start, start+len), ascending, through the pieces:
 * per piece one binary search for its last item, then one offset for all.
 */
function linearData(start: Float64Array, len: Float64Array, n: number, kind: Uint8Array, pieces: readonly Piece[], prev?: LaneData): LaneData {
  const ws = room(prev?.ws, n);
  const we = room(prev?.we, n);
  let i = 0;
  for (let pi = 0; pi < pieces.length && i < n; pi++) {
    const p = pieces[pi]!;
    const next = pieces[pi + 1];
    const end = next ? lowerBound(start, n, next.a0) : n;
    const off = p.w0 - p.a0;
    for (; i < end; i++) {
      const w = start[i]! + off;
      ws[i] = w;
      we[i] = w + len[i]!;
    }
  }
  return { n, ws, we, kind };
}

function compactData(n: number, kind: Uint8Array, width: number, prev?: LaneData): LaneData {
  const u = width / Math.max(n, 1);
  const ws = room(prev?.ws, n);
  const we = room(prev?.we, n);
  for (let i = 0; i < n; i++) {
    ws[i] = i * u;
    we[i] = (i + 1) * u;
  }
  return { n, ws, we, kind };
}

/** What a lane's positions were computed from: reused while it is unchanged. */
interface CacheEntry {
  source: object;
  version: number;
  pieces: string;
  data: LaneData;
}

export class LayoutCache {
  private readonly entries = new Map<string, CacheEntry>();

  /** The lane's positions, made again (reusing the old arrays) only when their source changed. */
  get(id: string, source: object, version: number, pieces: string, make: (prev?: LaneData) => LaneData): LaneData {
    const e = this.entries.get(id);
    if (e && e.source === source && e.version === version && e.pieces === pieces) return e.data;
    const data = make(e?.data);
    this.entries.set(id, { source, version, pieces, data });
    return data;
  }

  /** Drops the entries of lanes that are gone. */
  keep(ids: Set<string>): void {
    for (const k of [...this.entries.keys()]) if (!ids.has(k)) this.entries.delete(k);
  }
}

export function computeLayout(m: LayoutInput, kind: MapLayoutKind, cache = new LayoutCache()): Layout {
  let pieces: Piece[] = [];
  let breaks: number[] = [];
  let breakWidth = 0;
  let width = COMPACT_WIDTH;
  if (kind === 'linear') {
    const ranges: [number, number][] = m.lists.map((l) => [l.base, l.end]);
    for (const h of m.heaps) {
      const r = heapRange(h.cols);
      if (r) ranges.push(r);
    }
    ({ pieces, breaks, breakWidth, width } = buildPieces(ranges));
  }
  const piecesKey = kind === 'linear' ? JSON.stringify(pieces) : 'compact';
  const lanes: LaneGeom[] = [];
  const ids = new Set<string>();
  let y = LANE_GAP;
  let minSpan = kind === 'linear' ? 256 : width / 64;
  m.lists.forEach((l, ref) => {
    const id = `memseg:${l.list.index}:${kind}`;
    ids.add(id);
    const data = cache.get(id, l, 0, piecesKey, () => {
      const zeros = new Uint8Array(l.n);
      return kind === 'linear' ? linearData(l.segStart, l.segLen, l.n, zeros, pieces) : compactData(l.n, zeros, width);
    });
    const box = l.list.external ? MEMSEG_EXT_LANE : MEMSEG_LANE;
    lanes.push({ kind: 'memseg', ref, key: l.list.index, y, ...box, data });
    y += box.h + LANE_GAP;
  });
  m.heaps.forEach((h, ref) => {
    const c = h.cols;
    const id = `heap:${h.id}:${kind}`;
    ids.add(id);
    const data = cache.get(id, c, c.version, piecesKey, (prev) => (kind === 'linear' ? linearData(c.start, c.len, c.n, c.state, pieces, prev) : compactData(c.n, c.state, width, prev)));
    lanes.push({ kind: 'heap', ref, key: h.id, y, ...HEAP_LANE, data });
    if (kind === 'compact' && c.n) minSpan = Math.min(minSpan, (8 * width) / c.n);
    y += HEAP_LANE.h + LANE_GAP;
  });
  cache.keep(ids);
  return { kind, width, pieces, breaks, breakWidth, lanes, height: y, minSpan };
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
