/**
 * The things a user can point at (segments, holes, elements, memzone and
 * mempool runs, whole lanes): hit-testing a position, the stable key a
 * selection keeps across deltas, finding an address, and moving between
 * neighbours for keyboard navigation.
 */
import type { SelectKind } from '../../common/webview-protocol';
import { findContaining, findStart } from './columns';
import { hexOf } from './format';
import { addrToWorld, byAddress, itemAt, itemNearest, type Layout, type LaneGeom, worldToAddr } from './layout';
import { holeAt, segmentAt } from './lists';
import { binAt, type BinSummary, type LaneFrame, type View } from './lod';
import { memzoneNamed, type MapModel, ownerParts } from './map';

/** `list` and `heap` are indexes into model.lists / model.heaps; `seg` a sorted segment index. */
export type Item =
  | { kind: 'memsegList'; list: number }
  | { kind: 'segment'; list: number; seg: number }
  | { kind: 'hole'; list: number; hole: number }
  | { kind: 'heap'; heap: number }
  | { kind: 'element'; heap: number; index: number }
  | { kind: 'memzone' | 'mempool'; heap: number; first: number; last: number };

export interface Hit {
  lane: number;
  item: Item | null;
  /** When the item under the pointer is merged into a one-pixel bin. */
  bin?: BinSummary;
}

/** Item narrower than this (CSS px) are binned, not drawn alone. */
export const MIN_BAR_PX = 3;

/** Elements [first, last] around i that share its owner (bounded: owner runs are short). */
export function ownerRun(m: MapModel, heap: number, i: number): { first: number; last: number } {
  const c = m.heaps[heap]!.cols;
  const o = c.owner[i]!;
  let first = i;
  let last = i;
  while (first > 0 && c.owner[first - 1] === o && i - first < 100_000) first--;
  while (last + 1 < c.n && c.owner[last + 1] === o && last - i < 100_000) last++;
  return { first, last };
}

/** What is at (x, y) of the plot (CSS px from its top-left corner). */
export function hitTest(m: MapModel, layout: Layout, view: View, frames: readonly (LaneFrame | undefined)[], x: number, y: number): Hit | null {
  const lane = layout.lanes.findIndex((l) => y >= l.y && y < l.y + l.h);
  if (lane < 0 || x < 0 || x >= view.px) return null;
  const g = layout.lanes[lane]!;
  const w = view.w0 + (x * (view.w1 - view.w0)) / view.px;
  const i = itemAt(g.data, w);
  const narrow = i >= 0 && ((g.data.we[i]! - g.data.ws[i]!) * view.px) / (view.w1 - view.w0) < MIN_BAR_PX;
  const frame = frames[lane];
  const bin = narrow && frame ? (binAt(frame, Math.floor(x)) ?? undefined) : undefined;
  const withBin = (h: Hit): Hit => (bin && bin.count > 1 ? { ...h, bin } : h);
  if (g.kind === 'memseg') {
    if (i >= 0) return withBin({ lane, item: { kind: 'segment', list: g.ref, seg: i } });
    const l = m.lists[g.ref]!;
    if (byAddress(layout.kind)) {
      const h = holeAt(l, worldToAddr(layout, w) ?? NaN);
      if (h >= 0) return { lane, item: { kind: 'hole', list: g.ref, hole: h } };
    }
    return { lane, item: { kind: 'memsegList', list: g.ref } };
  }
  if (i < 0) return { lane, item: { kind: 'heap', heap: g.ref } };
  const owner = m.heaps[g.ref]!.cols.owner[i]!;
  if (owner >= 0 && y < g.y + g.ovY + g.ovH) {
    const run = ownerRun(m, g.ref, i);
    return { lane, item: { kind: ownerParts(m.owners.name(owner)!).kind, heap: g.ref, ...run } };
  }
  return withBin({ lane, item: { kind: 'element', heap: g.ref, index: i } });
}

// ---------------------------------------------------------------- keys

export function selectKey(m: MapModel, it: Item): { kind: SelectKind; key: string } {
  switch (it.kind) {
    case 'memsegList':
      return { kind: it.kind, key: String(m.lists[it.list]!.list.index) };
    case 'segment': {
      const l = m.lists[it.list]!;
      return { kind: it.kind, key: `${l.list.index}:${l.list.segments[l.segRef[it.seg]!]!.index}` };
    }
    case 'hole': {
      const l = m.lists[it.list]!;
      return { kind: it.kind, key: `${l.list.index}:${hexOf(l.holes[it.hole * 2]!)}` };
    }
    case 'heap':
      return { kind: it.kind, key: String(m.heaps[it.heap]!.id) };
    case 'element': {
      const h = m.heaps[it.heap]!;
      return { kind: it.kind, key: `${h.id}:${hexOf(h.cols.start[it.index]!)}` };
    }
    case 'memzone':
    case 'mempool': {
      const h = m.heaps[it.heap]!;
      const name = ownerParts(m.owners.name(h.cols.owner[it.first]!) ?? '').name;
      if (it.kind === 'mempool') return { kind: it.kind, key: name };
      const z = memzoneNamed(m, name);
      return { kind: it.kind, key: `${name}@${z ? z.addr : hexOf(h.cols.start[it.first]!)}` };
    }
  }
}

/** The item a key names in this model, or null when it is gone. */
export function resolveKey(m: MapModel, kind: SelectKind, key: string): Item | null {
  const [a = '', b = ''] = splitKey(key, kind === 'memzone' ? '@' : ':');
  const listRef = (index: string) => m.lists.findIndex((l) => String(l.list.index) === index);
  const heapRef = (id: string) => m.heaps.findIndex((h) => String(h.id) === id);
  switch (kind) {
    case 'memsegList': {
      const list = listRef(key);
      return list >= 0 ? { kind, list } : null;
    }
    case 'segment': {
      const list = listRef(a);
      if (list < 0) return null;
      const l = m.lists[list]!;
      for (let k = 0; k < l.n; k++) if (String(l.list.segments[l.segRef[k]!]!.index) === b) return { kind, list, seg: k };
      return null;
    }
    case 'hole': {
      const list = listRef(a);
      if (list < 0) return null;
      const l = m.lists[list]!;
      const start = Number(b);
      for (let h = 0; h < l.holes.length; h += 2) if (l.holes[h] === start) return { kind, list, hole: h / 2 };
      return null;
    }
    case 'heap': {
      const heap = heapRef(key);
      return heap >= 0 ? { kind, heap } : null;
    }
    case 'element': {
      const heap = heapRef(a);
      if (heap < 0) return null;
      const index = findStart(m.heaps[heap]!.cols, Number(b));
      return index >= 0 ? { kind, heap, index } : null;
    }
    case 'memzone':
    case 'mempool': {
      const owner = m.owners.names.indexOf(`${kind}:${kind === 'memzone' ? a : key}`);
      if (owner < 0) return null;
      for (let heap = 0; heap < m.heaps.length; heap++) {
        const c = m.heaps[heap]!.cols;
        for (let i = 0; i < c.n; i++) if (c.owner[i] === owner) return { kind, heap, ...ownerRun(m, heap, i) };
      }
      return null;
    }
  }
}

/** Splits at the last separator (names may contain it; addresses never do). */
function splitKey(key: string, sep: string): [string, string] {
  const i = key.lastIndexOf(sep);
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
}

// --------------------------------------------------------------- geometry

export function laneOf(layout: Layout, it: Item): number {
  const kind = 'list' in it ? 'memseg' : 'heap';
  const ref = 'list' in it ? it.list : it.heap;
  return layout.lanes.findIndex((l) => l.kind === kind && l.ref === ref);
}

/** The world range an item covers. */
export function itemRange(m: MapModel, layout: Layout, it: Item): [number, number] {
  const g = layout.lanes[laneOf(layout, it)];
  if (!g) return [0, layout.width];
  const d = g.data;
  const all = (): [number, number] => (d.n ? [d.ws[0]!, d.we[d.n - 1]!] : [0, 0]);
  switch (it.kind) {
    case 'segment':
      return [d.ws[it.seg]!, d.we[it.seg]!];
    case 'element':
      return [d.ws[it.index]!, d.we[it.index]!];
    case 'memzone':
    case 'mempool':
      return [d.ws[it.first]!, d.we[it.last]!];
    case 'hole': {
      const l = m.lists[it.list]!;
      const s = l.holes[it.hole * 2]!;
      const e = l.holes[it.hole * 2 + 1]!;
      if (byAddress(layout.kind)) return [addrToWorld(layout, s), addrToWorld(layout, e)];
      const k = segmentAt(l, e) >= 0 ? segmentAt(l, e) : l.n;
      const x = k < l.n ? d.ws[k]! : all()[1];
      return [x, x];
    }
    case 'memsegList': {
      const l = m.lists[it.list]!;
      return byAddress(layout.kind) ? [addrToWorld(layout, l.base), addrToWorld(layout, l.end)] : [0, layout.width];
    }
    case 'heap':
      return all();
  }
}

/** The innermost item holding an address: a heap element first, then a segment, then a hole. */
export function itemAtAddress(m: MapModel, addr: number): Item | null {
  for (let heap = 0; heap < m.heaps.length; heap++) {
    const index = findContaining(m.heaps[heap]!.cols, addr);
    if (index >= 0) return { kind: 'element', heap, index };
  }
  for (let list = 0; list < m.lists.length; list++) {
    const l = m.lists[list]!;
    if (addr < l.base || addr >= l.end) continue;
    const seg = segmentAt(l, addr);
    if (seg >= 0) return { kind: 'segment', list, seg };
    const hole = holeAt(l, addr);
    return hole >= 0 ? { kind: 'hole', list, hole } : { kind: 'memsegList', list };
  }
  return null;
}

// ------------------------------------------------------------- navigation

function laneItem(g: LaneGeom, index: number): Item {
  return g.kind === 'memseg' ? { kind: 'segment', list: g.ref, seg: index } : { kind: 'element', heap: g.ref, index };
}

/** The item before (-1) or after (+1) in the same lane; stays put at either end. */
export function stepItem(m: MapModel, layout: Layout, it: Item, dir: -1 | 1): Item {
  const g = layout.lanes[laneOf(layout, it)];
  if (!g || !g.data.n) return it;
  const n = g.data.n;
  let at: number;
  switch (it.kind) {
    case 'segment':
      at = it.seg + dir;
      break;
    case 'element':
      at = it.index + dir;
      break;
    case 'memzone':
    case 'mempool':
      at = dir < 0 ? it.first - 1 : it.last + 1;
      break;
    default: {
      // a hole or a whole lane: the nearest item on that side of its range
      const [a, b] = itemRange(m, layout, it);
      at = dir < 0 ? itemNearest(g.data, a) : itemNearest(g.data, b);
      if (it.kind === 'memsegList' || it.kind === 'heap') at = dir < 0 ? n - 1 : 0;
    }
  }
  return laneItem(g, Math.max(0, Math.min(n - 1, at)));
}

/** The item of the lane above (-1) or below (+1) nearest to world x; null past the first or last lane. */
export function stepLane(layout: Layout, lane: number, dir: -1 | 1, w: number): Item | null {
  for (let k = lane + dir; k >= 0 && k < layout.lanes.length; k += dir) {
    const g = layout.lanes[k]!;
    const i = itemNearest(g.data, w);
    if (i >= 0) return laneItem(g, i);
  }
  return null;
}
