/**
 * Suspected leaks from a series of snapshots of one target, and the live
 * timeline behind them.
 *
 * Elements: a busy rte_malloc element (not a memzone's or a mempool's; same
 * address and length) first seen after the
 * baseline, seen at every sample since (one sample where it is missing ends
 * it: what comes back at that address is another allocation), older than
 * `minAgeMs`, in a heap size class whose floor keeps growing (the fewest busy
 * elements of the class over the last third of the samples exceeds the fewest
 * over the first third: churn only adds on top of the floor, leaks raise it).
 *
 * Mempools: in use never falls over the window, rises at three samples or
 * more, and ends at least `minPoolGrowth` above where the window began (a
 * pool that lends in bursts falls back between them).
 *
 * Sampling cannot tell an element kept from one freed and allocated again at
 * the same address between two samples; churn that holds an address at every
 * sample for longer than `minAgeMs` looks like a leak (see README: Limits).
 *
 * History is bounded (`maxSamples`): old samples fall off the timeline, and
 * the baseline moves with the window.
 */
import type { HeapElement, Snapshot } from './snapshot';
import { cmpAddr, inAddressOrder, sizeClassOf } from './leaks';

const MIN_POOL_RISES = 3;

export interface TrackerOptions {
  /** Samples kept on the timeline (a ring): the default keeps an hour at 1 Hz. */
  maxSamples?: number;
}

export interface SuspectOptions {
  /** An element must be this old (first seen to now) to be suspected. */
  minAgeMs: number;
  /** A mempool must have grown by at least this many objects over the window. */
  minPoolGrowth?: number;
  /** Samples the mempool window spans (default: all kept). */
  poolWindow?: number;
}

export interface SuspectElement {
  heapId: number;
  heap: string;
  addr: string;
  len: number;
  owner: string | null;
  sizeClass: number;
  /** When it was first seen (ISO), and its age at the last sample in ms. */
  firstSeen: string;
  ageMs: number;
}

export interface SuspectPool {
  name: string;
  from: number;
  to: number;
  growth: number;
  windowMs: number;
}

export interface Suspects {
  /** Ranked by bytes, largest first. */
  elements: SuspectElement[];
  pools: SuspectPool[];
  /** Bytes held by the suspected elements. */
  bytes: number;
  samples: number;
  baseline: string | null;
  at: string | null;
}

/** One point of the timeline. */
export interface TimelinePoint {
  t: number;
  heaps: Record<string, { busyBytes: number; allocCount: number }>;
  mempools: Record<string, number | null>;
  segments: number;
}

/** A memzone's or a mempool's memory (an rte_malloc element named by a trace is not). */
function isReserved(owner: string | null): boolean {
  return owner !== null && (owner.startsWith('memzone:') || owner.startsWith('mempool:'));
}

/** The timeline's view of one snapshot. */
export function timelinePoint(s: Snapshot): TimelinePoint {
  const point: TimelinePoint = { t: Date.parse(s.takenAt), heaps: {}, mempools: {}, segments: 0 };
  for (const h of s.heaps) point.heaps[h.name] = { busyBytes: h.totalSize - h.freeSize, allocCount: h.allocCount };
  for (const p of s.mempools) point.mempools[p.name] = p.inUse;
  for (const l of s.memsegLists) point.segments += l.segmentCount;
  return point;
}

interface Tracked {
  heapId: number;
  heap: string;
  addr: string;
  len: number;
  owner: string | null;
  firstSeen: number;
  /** Seen in the baseline sample: not a suspect (it predates the window). */
  atBaseline: boolean;
  /** The sample index it was last seen at. */
  lastSample: number;
}

export class LeakTracker {
  private readonly maxSamples: number;
  private readonly points: TimelinePoint[] = [];
  /** Per sample: per "heapId/class", busy element count. */
  private readonly classCounts: Map<string, number>[] = [];
  /** Per heap, the busy elements of the last sample, in its order. */
  private live = new Map<number, Tracked[]>();
  private sampleNo = -1;
  private baselineT: number | null = null;

  constructor(opts: TrackerOptions = {}) {
    this.maxSamples = Math.max(3, opts.maxSamples ?? 3600);
  }

  get samples(): number {
    return this.points.length;
  }

  timeline(): TimelinePoint[] {
    return this.points.slice();
  }

  /** Forgets everything: the next sample is the baseline. */
  reset(): void {
    this.points.length = 0;
    this.classCounts.length = 0;
    this.live.clear();
    this.sampleNo = -1;
    this.baselineT = null;
  }

  add(s: Snapshot): void {
    const t = Date.parse(s.takenAt);
    this.sampleNo++;
    const n = this.sampleNo;
    const first = this.points.length === 0;
    const counts = new Map<string, number>();
    const point = timelinePoint(s);
    const heaps = new Map<number, Tracked[]>();
    for (const h of s.heaps) {
      if (!h.elementsAvailable) continue;
      const byClass = new Map<number, number>();
      heaps.set(h.id, this.follow(h.id, h.name, h.elements, n, t, first, byClass));
      for (const [cls, k] of byClass) counts.set(`${h.id}/${cls}`, k);
    }
    // what is not in this sample is gone: freed (or not the same allocation any more)
    this.live = heaps;
    this.points.push(point);
    this.classCounts.push(counts);
    if (first) this.baselineT = t;
    if (this.points.length > this.maxSamples) {
      this.points.shift();
      this.classCounts.shift();
      // the window's first sample is the new baseline: what it held predates the window
      this.baselineT = this.points[0]!.t;
      for (const list of this.live.values()) for (const v of list) if (v.firstSeen <= this.baselineT) v.atBaseline = true;
    }
  }

  /**
   * This sample's busy elements of one heap, each continuing the record of
   * the same element (address and length) in the last sample, or a new one:
   * one merge walk when the elements are in address order (as snapshots list
   * them), else a match by key.
   */
  private follow(id: number, name: string, elements: readonly HeapElement[], n: number, t: number, first: boolean, byClass: Map<number, number>): Tracked[] {
    const prev = this.live.get(id) ?? [];
    const busy = elements.filter((e) => e.state === 'busy');
    for (const e of busy) {
      const cls = sizeClassOf(e.len);
      byClass.set(cls, (byClass.get(cls) ?? 0) + 1);
    }
    let find: (e: HeapElement) => Tracked | undefined;
    if (inAddressOrder(busy)) {
      let j = 0;
      find = (e) => {
        while (j < prev.length && cmpAddr(prev[j]!.addr, e.addr) < 0) j++;
        return prev[j];
      };
    } else {
      const byKey = new Map(prev.map((p) => [`${p.addr}/${p.len}`, p] as const));
      find = (e) => byKey.get(`${e.addr}/${e.len}`);
    }
    return busy.map((e) => {
      const known = find(e);
      if (known && known.addr === e.addr && known.len === e.len && known.lastSample === n - 1) {
        known.lastSample = n;
        known.owner = e.owner;
        return known;
      }
      return { heapId: id, heap: name, addr: e.addr, len: e.len, owner: e.owner, firstSeen: t, atBaseline: first, lastSample: n };
    });
  }

  /** Classes ("heapId/class") whose floor rose from the first third of the samples to the last. */
  private growingClasses(): Set<string> {
    const n = this.classCounts.length;
    const out = new Set<string>();
    if (n < 3) return out;
    const third = Math.max(1, Math.floor(n / 3));
    const keys = new Set<string>();
    for (const c of this.classCounts) for (const k of c.keys()) keys.add(k);
    for (const k of keys) {
      let early = Infinity;
      let late = Infinity;
      for (let i = 0; i < third; i++) early = Math.min(early, this.classCounts[i]!.get(k) ?? 0);
      for (let i = n - third; i < n; i++) late = Math.min(late, this.classCounts[i]!.get(k) ?? 0);
      if (late > early) out.add(k);
    }
    return out;
  }

  suspects(opts: SuspectOptions): Suspects {
    const last = this.points[this.points.length - 1];
    const now = last?.t ?? 0;
    const growing = this.growingClasses();
    const elements: SuspectElement[] = [];
    for (const v of [...this.live.values()].flat()) {
      // memzone and mempool memory is named and reserved on purpose: new ones show in diffs, not here
      if (v.atBaseline || isReserved(v.owner) || now - v.firstSeen < opts.minAgeMs) continue;
      const cls = sizeClassOf(v.len);
      if (!growing.has(`${v.heapId}/${cls}`)) continue;
      elements.push({ heapId: v.heapId, heap: v.heap, addr: v.addr, len: v.len, owner: v.owner, sizeClass: cls, firstSeen: new Date(v.firstSeen).toISOString(), ageMs: now - v.firstSeen });
    }
    elements.sort((a, b) => b.len - a.len || a.firstSeen.localeCompare(b.firstSeen) || (a.addr < b.addr ? -1 : 1));

    const pools: SuspectPool[] = [];
    const minGrowth = opts.minPoolGrowth ?? 3;
    const w = Math.min(this.points.length, opts.poolWindow ?? this.points.length);
    if (w >= 3) {
      const win = this.points.slice(this.points.length - w);
      for (const name of Object.keys(last!.mempools)) {
        // a pool created inside the window is judged from its creation
        const series = win.map((p) => p.mempools[name]);
        const from = series.findIndex((x) => x !== undefined);
        const xs = series.slice(from) as (number | null)[];
        if (xs.length < 2 || xs.some((x) => x === null || x === undefined)) continue;
        let rises = 0;
        let falls = 0;
        const ns = xs as number[];
        for (let i = 1; i < ns.length; i++) {
          if (ns[i]! > ns[i - 1]!) rises++;
          else if (ns[i]! < ns[i - 1]!) falls++;
        }
        const growth = ns[ns.length - 1]! - ns[0]!;
        if (falls === 0 && rises >= MIN_POOL_RISES && growth >= minGrowth) {
          pools.push({ name, from: ns[0]!, to: ns[ns.length - 1]!, growth, windowMs: win[win.length - 1]!.t - win[from]!.t });
        }
      }
      pools.sort((a, b) => b.growth - a.growth);
    }
    return {
      elements,
      pools,
      bytes: elements.reduce((s, e) => s + e.len, 0),
      samples: this.points.length,
      baseline: this.baselineT === null ? null : new Date(this.baselineT).toISOString(),
      at: last ? new Date(last.t).toISOString() : null,
    };
  }
}
