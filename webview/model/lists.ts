/**
 * A memseg list as the map draws it: its reserved VA range, the allocated
 * segments sorted by address, the holes between them, and the runs of
 * segments that are contiguous in both VA and IOVA (what a device can DMA
 * to in one piece).
 */
import type { MemsegList } from '../../common/snapshot';

/** RTE_BAD_IOVA: a segment whose IOVA is unknown joins no run. */
const BAD_IOVA = 0xffffffffffffffffn;

export interface ListColumns {
  list: MemsegList;
  /** Reserved range [base, end). */
  base: number;
  end: number;
  n: number;
  segStart: Float64Array;
  segLen: Float64Array;
  /** Index into list.segments of each sorted segment. */
  segRef: Int32Array;
  /** Unallocated ranges as [start, end) pairs, address order. */
  holes: Float64Array;
  /** IOVA-contiguous runs as [first, last] sorted segment indexes (inclusive). */
  runs: Int32Array;
  /** Run number of each sorted segment. */
  runOf: Int32Array;
}

export function buildList(list: MemsegList): ListColumns {
  const base = Number(list.baseVa);
  const end = base + list.len;
  const order = list.segments.map((s, i) => ({ va: Number(s.va), i })).sort((a, b) => a.va - b.va);
  const n = order.length;
  const segStart = new Float64Array(n);
  const segLen = new Float64Array(n);
  const segRef = new Int32Array(n);
  order.forEach((o, k) => {
    segStart[k] = o.va;
    segLen[k] = list.segments[o.i]!.len;
    segRef[k] = o.i;
  });

  const holes: number[] = [];
  let at = base;
  for (let k = 0; k < n; k++) {
    if (segStart[k]! > at) holes.push(at, segStart[k]!);
    at = Math.max(at, segStart[k]! + segLen[k]!);
  }
  if (at < end) holes.push(at, end);

  // IOVAs may exceed 2^53 (physical addresses, or RTE_BAD_IOVA): compare as BigInt
  const runs: number[] = [];
  const runOf = new Int32Array(n);
  let first = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && !continues(list, segRef[k - 1]!, segRef[k]!)) {
      runs.push(first, k - 1);
      first = k;
    }
    runOf[k] = runs.length / 2;
  }
  if (n) runs.push(first, n - 1);
  return { list, base, end, n, segStart, segLen, segRef, holes: Float64Array.from(holes), runs: Int32Array.from(runs), runOf };
}

function continues(list: MemsegList, a: number, b: number): boolean {
  const x = list.segments[a]!;
  const y = list.segments[b]!;
  const len = BigInt(x.len);
  if (BigInt(x.va) + len !== BigInt(y.va)) return false;
  const xi = BigInt(x.iova);
  const yi = BigInt(y.iova);
  return xi !== BAD_IOVA && yi !== BAD_IOVA && xi + len === yi;
}

/** Sorted index of the segment holding addr, or -1. */
export function segmentAt(l: ListColumns, addr: number): number {
  let lo = 0;
  let hi = l.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (l.segStart[mid]! <= addr) lo = mid + 1;
    else hi = mid;
  }
  const k = lo - 1;
  return k >= 0 && addr < l.segStart[k]! + l.segLen[k]! ? k : -1;
}

/** Index (in pairs) of the hole holding addr, or -1. */
export function holeAt(l: ListColumns, addr: number): number {
  for (let h = 0; h < l.holes.length; h += 2) if (addr >= l.holes[h]! && addr < l.holes[h + 1]!) return h / 2;
  return -1;
}

/** Bytes allocated in the list. */
export function usedBytes(l: ListColumns): number {
  let s = 0;
  for (let k = 0; k < l.n; k++) s += l.segLen[k]!;
  return s;
}
