/**
 * Level of detail: what one frame of one lane draws. Items at least
 * `minBarPx` wide are drawn one by one; narrower ones are merged into
 * one-pixel bins that keep, per state, the fraction of the pixel they cover,
 * so a million 64-byte elements cost one pass and ≤ width rectangles.
 */
import type { LaneData } from './layout';

/** The part of the world a frame shows, and over how many CSS pixels. */
export interface View {
  w0: number;
  w1: number;
  px: number;
}

/** States per bin (free, busy, pad). */
export const KINDS = 3;

export interface LaneFrame {
  /** Visible items: [first, end). */
  first: number;
  end: number;
  bars: Int32Array;
  nBars: number;
  /** Per pixel p and state s: cov[p * KINDS + s], the part of the pixel covered. */
  cov: Float32Array;
  /** Per pixel: how many binned items touch it. */
  count: Uint32Array;
  nBins: number;
  /** Owner runs (consecutive items with one owner) as pixel [x0, x1) pairs. */
  spans: Float64Array;
  spanOwner: Int32Array;
  nSpans: number;
}

function grow<T extends Int32Array | Float64Array>(a: T, need: number, make: (n: number) => T): T {
  if (a.length >= need) return a;
  const b = make(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

const newI32 = (n: number) => new Int32Array(n);
const newF64 = (n: number) => new Float64Array(n);

export function newFrame(px: number): LaneFrame {
  return {
    first: 0,
    end: 0,
    bars: new Int32Array(256),
    nBars: 0,
    cov: new Float32Array(px * KINDS),
    count: new Uint32Array(px),
    nBins: 0,
    spans: new Float64Array(128),
    spanOwner: new Int32Array(64),
    nSpans: 0,
  };
}

/** Index of the first item ending after world x. */
function firstVisible(d: LaneData, w: number): number {
  let lo = 0;
  let hi = d.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (d.we[mid]! <= w) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Computes one lane's frame. `owner` (heaps) adds owner spans. Reuses
 * `into`'s buffers when given (a frame per lane lives across renders).
 */
export function frameLane(d: LaneData, view: View, minBarPx: number, owner?: Int32Array, into?: LaneFrame): LaneFrame {
  const px = Math.max(1, Math.ceil(view.px));
  const f = into && into.count.length === px ? into : newFrame(px);
  f.cov.fill(0);
  f.count.fill(0);
  f.nBars = 0;
  f.nSpans = 0;
  f.nBins = 0;
  const s = view.px / (view.w1 - view.w0);
  const w0 = view.w0;
  const first = firstVisible(d, w0);
  let i = first;
  const { ws, we, kind } = d;
  let lastOwner = -1;
  let lastEnd = -Infinity;
  for (; i < d.n; i++) {
    const a = ws[i]!;
    if (a >= view.w1) break;
    const x0 = (a - w0) * s;
    const x1 = (we[i]! - w0) * s;
    if (x1 - x0 >= minBarPx) {
      if (f.nBars >= f.bars.length) f.bars = grow(f.bars, f.nBars + 1, newI32);
      f.bars[f.nBars++] = i;
    } else {
      const k = kind[i]!;
      const l = x0 < 0 ? 0 : x0;
      const r = x1 > px ? px : x1;
      let p = l | 0;
      // the common case: the item falls inside one pixel
      if (r <= p + 1) {
        f.cov[p * KINDS + k]! += r - l;
        f.count[p]!++;
      } else {
        for (; p < r; p++) {
          const cl = p > l ? p : l;
          const cr = p + 1 < r ? p + 1 : r;
          f.cov[p * KINDS + k]! += cr - cl;
          f.count[p]!++;
        }
      }
    }
    if (owner) {
      const o = owner[i]!;
      if (o >= 0) {
        if (o === lastOwner && x0 - lastEnd < 0.5) {
          f.spans[f.nSpans * 2 - 1] = x1;
        } else {
          if (f.nSpans >= f.spanOwner.length || f.nSpans * 2 + 2 > f.spans.length) {
            f.spans = grow(f.spans, f.nSpans * 2 + 2, newF64);
            f.spanOwner = grow(f.spanOwner, f.nSpans + 1, newI32);
          }
          f.spans[f.nSpans * 2] = x0;
          f.spans[f.nSpans * 2 + 1] = x1;
          f.spanOwner[f.nSpans++] = o;
        }
        lastEnd = x1;
      }
      lastOwner = o;
    }
  }
  f.first = first;
  f.end = i;
  for (let p = 0; p < px; p++) if (f.count[p]) f.nBins++;
  return f;
}

/** What a bin holds: items, and the share of each state among the covered part. */
export interface BinSummary {
  count: number;
  /** Fractions of the covered part, per state (free, busy, pad), summing to 1. */
  share: [number, number, number];
  /** Part of the pixel covered (0..1). */
  covered: number;
}

export function binAt(f: LaneFrame, p: number): BinSummary | null {
  if (p < 0 || p >= f.count.length || !f.count[p]) return null;
  const c0 = f.cov[p * KINDS]!;
  const c1 = f.cov[p * KINDS + 1]!;
  const c2 = f.cov[p * KINDS + 2]!;
  const t = c0 + c1 + c2 || 1;
  return { count: f.count[p]!, share: [c0 / t, c1 / t, c2 / t], covered: Math.min(1, c0 + c1 + c2) };
}
