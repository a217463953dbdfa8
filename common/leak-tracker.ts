/**
 * Suspected leaks from a series of snapshots of one target, and the live
 * timeline behind them.
 *
 * Elements: a busy rte_malloc element (not a memzone's or a mempool's)
 * first seen after the baseline, seen at every sample since (one sample
 * where it is missing ends it: what comes back at that address is another
 * allocation), older than `minAgeMs`, in a heap size class whose floor keeps
 * growing (the fewest busy elements of the class over the last third of the
 * samples exceeds the fewest over the first third: churn only adds on top of
 * the floor, leaks raise it), and one that has outlived its peers.
 *
 * The same element is the same address, length and pad: DPDK gives a request
 * that a free element holds with less than a header and a cache line to
 * spare the whole element, padded, so an allocation of another size can take
 * the address and length of one just freed; only its pad tells them apart.
 *
 * Outlived its peers: where at least `MIN_DEATHS` elements of its class (heap
 * and size class) were seen to die, it must be older than `LIFETIME_FACTOR`
 * (2) times the lifetime that `LIFETIME_QUANTILE` (98 %) of those deaths did
 * not exceed. Churn, however long it lives, dies at the ages its peers die
 * at; a leak never dies, so it ends up older than all of them, and it never
 * lengthens the class's lifetimes. The quantile leaves out a few outliers;
 * the factor of 2 keeps under the bar the commonest artefact of sampling,
 * two lives chained into one (the same address, length and pad freed and
 * taken again between two samples), which lasts at most twice the longest
 * life; where chains are more than 2 % of the deaths, they are the class's
 * lifetimes and the bar is higher still. A class with fewer deaths goes by
 * its heap's (every class's deaths together); a heap with fewer has no
 * lifetimes to go by: `minAgeMs` and the floor decide. A leak younger than
 * twice its class's lifetimes is not told from churn yet: watch for longer
 * than twice the longest.
 *
 * Mempools: a floor of objects in use that keeps rising. A pool whose in use
 * never falls over the window must rise at three samples or more and end at
 * least `minPoolGrowth` above where the window began; a pool that carries
 * traffic (in use falls at three samples or more) is judged by its floor, the
 * fewest in use over each third of the window: the floors must not fall
 * from one third to the next, and the last must be at least `minPoolGrowth`
 * above the first (traffic lends and takes back on top of the floor; lost
 * objects raise it). A pool that fell only once or twice is neither: it gave
 * back, and too few troughs show no floor.
 *
 * Sampling cannot tell an element kept from one freed and allocated again at
 * the same address, length and pad between two samples; churn that does that
 * at every sample for longer than its peers live looks like a leak (see
 * README: Limits).
 *
 * History is bounded (`maxSamples`): old samples fall off the timeline, and
 * the baseline moves with the window.
 */
import { BUSY, columnsFromElements, type ElementColumnsView } from './columns';
import type { Heap, Snapshot } from './snapshot';
import { hexAddr } from './snapshot';
import { sizeClassOf } from './leaks';

const MIN_POOL_RISES = 3;
/** In use must fall at this many samples for a pool to be judged by its floor. */
const MIN_POOL_FALLS = 3;
/** A class's lifetimes count once this many of its elements were seen to die. */
export const MIN_DEATHS = 5;
/** The share of a class's deaths whose lifetime bounds its churn (the rest are outliers). */
export const LIFETIME_QUANTILE = 0.98;
/** A suspect must be older than this many times that lifetime (two lives chained last at most twice the longest). */
export const LIFETIME_FACTOR = 2;
/** Lifetime histogram bins per doubling: a bin is about 4.4 % wide. */
const BINS_PER_OCTAVE = 16;

/**
 * The lifetimes of a class's elements that died, in logarithmic bins (memory
 * stays bounded however much churn is seen). A lifetime is from first seen to
 * last seen; an element that was there at the baseline counts what was seen
 * of it (its life was at least that long).
 */
export class Lifetimes {
  private readonly bins = new Map<number, number>();
  count = 0;

  add(ms: number): void {
    const b = ms <= 1 ? 0 : Math.ceil(Math.log2(ms) * BINS_PER_OCTAVE);
    this.bins.set(b, (this.bins.get(b) ?? 0) + 1);
    this.count++;
  }

  /** The lifetime that a share `q` of the deaths did not exceed: its bin's upper edge (at most a bin long). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const want = Math.ceil(q * this.count);
    let seen = 0;
    for (const b of [...this.bins.keys()].sort((x, y) => x - y)) {
      seen += this.bins.get(b)!;
      if (seen >= want) return b === 0 ? 1 : 2 ** (b / BINS_PER_OCTAVE);
    }
    return Infinity;
  }
}

export interface TrackerOptions {
  /** Samples kept on the timeline (a ring): the default keeps an hour at 1 Hz. */
  maxSamples?: number;
  /**
   * A heap's elements as columns, where its holder has them (the agent's
   * reader does: no object per element is built for a sample). Default, and
   * where it returns undefined: columns made from `heap.elements`.
   */
  columns?: (heap: Heap) => ElementColumnsView | undefined;
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
  /** In use where the window began and ended; for a pool carrying traffic, the floors of its first and last thirds. */
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

/**
 * The busy elements of one heap at the last sample, in address order, as
 * columns (two per heap, reused in turn: a sample of 100k elements builds no
 * object per element). Entry i is one element's record: the same element
 * (address, length and pad) continues its record from sample to sample.
 */
class LiveHeap {
  n = 0;
  name = '';
  addr: Float64Array;
  len: Float64Array;
  pad: Uint32Array;
  /** Index into `owners`, or -1. */
  owner: Int32Array;
  /** The sample's owner names (its columns' table, never changed once made). */
  owners: readonly string[] = [];
  /** When the sample was taken: every element here was last seen then. */
  t = 0;
  /** When it was first seen. */
  firstSeen: Float64Array;
  /** Seen in the baseline sample: not a suspect (it predates the window). */
  atBaseline: Uint8Array;
  /** Continued by the sample being added (the rest died). */
  continued: Uint8Array;

  constructor(capacity: number) {
    const k = Math.max(16, capacity);
    this.addr = new Float64Array(k);
    this.len = new Float64Array(k);
    this.pad = new Uint32Array(k);
    this.owner = new Int32Array(k);
    this.firstSeen = new Float64Array(k);
    this.atBaseline = new Uint8Array(k);
    this.continued = new Uint8Array(k);
  }

  /** Emptied for `capacity` entries, its buffers kept where they are large enough. */
  static reuse(h: LiveHeap | undefined, capacity: number): LiveHeap {
    if (!h || h.addr.length < capacity) return new LiveHeap(capacity + (capacity >> 3));
    h.n = 0;
    h.owners = [];
    return h;
  }
}

export class LeakTracker {
  private readonly maxSamples: number;
  private readonly points: TimelinePoint[] = [];
  /** Per sample: per "heapId/class", busy element count. */
  private readonly classCounts: Map<string, number>[] = [];
  /** Per heap, the busy elements of the last sample, in address order. */
  private live = new Map<number, LiveHeap>();
  /** The records of the sample before, whose buffers the next sample fills. */
  private spare = new Map<number, LiveHeap>();
  private readonly columnsOf: (heap: Heap) => ElementColumnsView;
  /** Per "heapId/class" and per "heapId", the lifetimes of the elements seen to die (since the last reset). */
  private readonly lifetimes = new Map<string, Lifetimes>();
  private baselineT: number | null = null;

  constructor(opts: TrackerOptions = {}) {
    this.maxSamples = Math.max(3, opts.maxSamples ?? 3600);
    const own = opts.columns;
    this.columnsOf = (h) => own?.(h) ?? columnsFromElements(h.id, h.elements);
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
    this.spare.clear();
    this.lifetimes.clear();
    this.baselineT = null;
  }

  add(s: Snapshot): void {
    const t = Date.parse(s.takenAt);
    const first = this.points.length === 0;
    const counts = new Map<string, number>();
    const point = timelinePoint(s);
    const heaps = new Map<number, LiveHeap>();
    for (const h of s.heaps) {
      if (!h.elementsAvailable) continue;
      const byClass = new Map<number, number>();
      const prev = this.live.get(h.id);
      const cur = this.follow(h, prev, t, first, byClass);
      heaps.set(h.id, cur);
      for (const [cls, k] of byClass) counts.set(`${h.id}/${cls}`, k);
      // the last sample's elements that this one did not continue died: their lives are the class's lifetimes
      if (prev) {
        for (let i = 0; i < prev.n; i++) {
          if (prev.continued[i]) continue;
          for (const key of [`${h.id}/${sizeClassOf(prev.len[i]!)}`, `${h.id}`]) {
            let l = this.lifetimes.get(key);
            if (!l) this.lifetimes.set(key, (l = new Lifetimes()));
            l.add(prev.t - prev.firstSeen[i]!);
          }
        }
      }
    }
    // what is not in this sample is gone: freed (or not the same allocation any more)
    this.spare = this.live;
    this.live = heaps;
    this.points.push(point);
    this.classCounts.push(counts);
    if (first) this.baselineT = t;
    if (this.points.length > this.maxSamples) {
      this.points.shift();
      this.classCounts.shift();
      // the window's first sample is the new baseline: what it held predates the window
      const base = (this.baselineT = this.points[0]!.t);
      for (const v of this.live.values()) for (let i = 0; i < v.n; i++) if (v.firstSeen[i]! <= base) v.atBaseline[i] = 1;
    }
  }

  /**
   * This sample's busy elements of one heap, each continuing the record of
   * the same element (address, length and pad) in the last sample, or a new
   * one: one merge walk over both in address order (columns are sorted by
   * address), into the buffers of the sample before last.
   */
  private follow(h: Heap, prev: LiveHeap | undefined, t: number, first: boolean, byClass: Map<number, number>): LiveHeap {
    const c = this.columnsOf(h);
    let busy = 0;
    for (let i = 0; i < c.n; i++) if (c.state[i] === BUSY) busy++;
    const cur = LiveHeap.reuse(this.spare.get(h.id), busy);
    this.spare.delete(h.id);
    cur.name = h.name;
    cur.owners = c.owners;
    cur.t = t;
    const pn = prev ? prev.n : 0;
    let j = 0;
    let k = 0;
    for (let i = 0; i < c.n; i++) {
      if (c.state[i] !== BUSY) continue;
      const a = c.addr[i]!;
      const len = c.len[i]!;
      const pad = c.pad[i]!;
      const cls = sizeClassOf(len);
      byClass.set(cls, (byClass.get(cls) ?? 0) + 1);
      while (j < pn && prev!.addr[j]! < a) j++;
      cur.addr[k] = a;
      cur.len[k] = len;
      cur.pad[k] = pad;
      cur.owner[k] = c.owner[i]!;
      cur.continued[k] = 0;
      if (j < pn && prev!.addr[j] === a && prev!.len[j] === len && prev!.pad[j] === pad && !prev!.continued[j]) {
        prev!.continued[j] = 1;
        cur.firstSeen[k] = prev!.firstSeen[j]!;
        cur.atBaseline[k] = prev!.atBaseline[j]!;
      } else {
        cur.firstSeen[k] = t;
        cur.atBaseline[k] = first ? 1 : 0;
      }
      k++;
    }
    cur.n = k;
    return cur;
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

  /**
   * The age an element of a class must exceed to have outlived its churn,
   * once per class: from the class's deaths, else its heap's, else 0 (no
   * lifetimes to go by).
   */
  private outlives(key: string, heapKey: string, memo: Map<string, number>): number {
    let a = memo.get(key);
    if (a === undefined) {
      const life = [this.lifetimes.get(key), this.lifetimes.get(heapKey)].find((l) => l !== undefined && l.count >= MIN_DEATHS);
      a = life ? LIFETIME_FACTOR * life.quantile(LIFETIME_QUANTILE) : 0;
      memo.set(key, a);
    }
    return a;
  }

  suspects(opts: SuspectOptions): Suspects {
    const last = this.points[this.points.length - 1];
    const now = last?.t ?? 0;
    const growing = this.growingClasses();
    const outlive = new Map<string, number>();
    const elements: SuspectElement[] = [];
    for (const [heapId, v] of this.live) {
      for (let i = 0; i < v.n; i++) {
        const firstSeen = v.firstSeen[i]!;
        const w = v.owner[i]!;
        const owner = w < 0 ? null : v.owners[w]!;
        // memzone and mempool memory is named and reserved on purpose: new ones show in diffs, not here
        if (v.atBaseline[i] || isReserved(owner) || now - firstSeen < opts.minAgeMs) continue;
        const len = v.len[i]!;
        const cls = sizeClassOf(len);
        const key = `${heapId}/${cls}`;
        if (!growing.has(key)) continue;
        // it must have outlived its class's churn (when the class has lifetimes to go by)
        if (now - firstSeen <= this.outlives(key, `${heapId}`, outlive)) continue;
        elements.push({ heapId, heap: v.name, addr: hexAddr(v.addr[i]!), len, owner, sizeClass: cls, firstSeen: new Date(firstSeen).toISOString(), ageMs: now - firstSeen });
      }
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
        const windowMs = win[win.length - 1]!.t - win[from]!.t;
        const growth = ns[ns.length - 1]! - ns[0]!;
        if (falls === 0 && rises >= MIN_POOL_RISES && growth >= minGrowth) {
          pools.push({ name, from: ns[0]!, to: ns[ns.length - 1]!, growth, windowMs });
        } else if (falls >= MIN_POOL_FALLS && ns.length >= 3) {
          // traffic: the floors (fewest in use) of the window's thirds must not fall, and must rise overall
          const third = Math.floor(ns.length / 3);
          const floor = (a: number, b: number) => {
            let m = Infinity;
            for (let i = a; i < b; i++) m = Math.min(m, ns[i]!);
            return m;
          };
          const [f1, f2, f3] = [floor(0, third), floor(third, ns.length - third), floor(ns.length - third, ns.length)];
          if (f1 <= f2 && f2 <= f3 && f3 - f1 >= minGrowth) pools.push({ name, from: f1, to: f3, growth: f3 - f1, windowMs });
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
