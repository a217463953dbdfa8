// The Memory Map's pure model (webview/model.ts): columns, deltas merged in
// place (checked against common/delta.ts's applyDelta), memseg lists, the
// two layouts, level-of-detail bins, hit-testing, keys and navigation,
// descriptions and theme colours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columnsFromElements } from '../../common/columns';
import { applyDelta, columnDelta, diffSnapshots, type SnapshotDelta } from '../../common/delta';
import type { HeapElement, MemsegList, Snapshot } from '../../common/snapshot';
import { prng } from '../helpers/prng';
import { churn, generateMapSnapshot } from '../fixtures/map-snapshot';
import {
  addrToWorld,
  applyElementChanges,
  applyModelDelta,
  buildColumns,
  buildList,
  buildModel,
  addressScale,
  breakShare,
  byAddress,
  heapFreeSummary,
  pieceFloor,
  pieceShares,
  BUSY,
  computeLayout,
  describe,
  elementAt,
  fmtBytes,
  frameLane,
  FREE,
  hexOf,
  hexTicks,
  hitTest,
  type Item,
  itemAtAddress,
  itemRange,
  KINDS,
  laneLabel,
  LayoutCache,
  type MapModel,
  mix,
  OwnerTable,
  parseColor,
  resolveKey,
  resolvePalette,
  selectKey,
  stepItem,
  stepLane,
  themeKindOf,
  type View,
} from '../../webview/model';

const MB2 = 0x200000;

function el(addr: number, len: number, state: HeapElement['state'] = 'busy', owner: string | null = null): HeapElement {
  return { addr: hexOf(addr), len, pad: state === 'pad' ? 64 : 0, state, owner };
}

/** The columns as wire elements, to compare with what applyDelta computes. */
function wire(m: MapModel, heap: number): HeapElement[] {
  const c = m.heaps[heap]!.cols;
  return Array.from({ length: c.n }, (_, i) => elementAt(c, i, m.owners, hexOf));
}

const fixture = generateMapSnapshot({ seed: 11, elements: 3000 });

// ------------------------------------------------------------------ columns


/** Element changes in the column form applyElementChanges takes. */
function changes(d: { added: HeapElement[]; removed: string[]; changed: HeapElement[] }) {
  return { added: columnsFromElements(0, d.added), removed: Float64Array.from(d.removed, Number).sort(), changed: columnsFromElements(0, d.changed) };
}
const live = (d: SnapshotDelta) => columnDelta(d);

test('columns: sorted by address, owners interned, states coded', () => {
  const owners = new OwnerTable();
  const c = buildColumns([el(0x3000, 64, 'free'), el(0x1000, 0x2000, 'busy', 'memzone:a'), el(0x3040, 64, 'pad', 'memzone:a')], owners);
  assert.deepEqual([...c.start], [0x1000, 0x3000, 0x3040]);
  assert.deepEqual([...c.state], [BUSY, FREE, 2]);
  assert.deepEqual([...c.owner], [0, -1, 0]);
  assert.deepEqual(owners.names, ['memzone:a']);
});

test('columns: a delta merged in place equals applyDelta on objects (seeded)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = prng(seed);
    const base: HeapElement[] = [];
    let a = 0x100000000;
    for (let i = 0; i < 200; i++) {
      const len = 64 * (1 + Math.floor(r() * 8));
      base.push(el(a, len, r() < 0.6 ? 'busy' : 'free', r() < 0.1 ? `memzone:z${i % 5}` : null));
      a += len;
    }
    const removed = base.filter(() => r() < 0.1).map((e) => e.addr);
    const changed = base.filter(() => r() < 0.1).map((e) => ({ ...e, state: e.state === 'busy' ? ('free' as const) : ('busy' as const), owner: r() < 0.5 ? 'mempool:p' : null }));
    const added: HeapElement[] = [];
    for (let k = 0; k < 15; k++) {
      // new addresses anywhere, and now and then one that was just removed
      const at = r() < 0.2 && removed.length ? Number(removed[0]) : 0x100000000 - 0x10000 + Math.floor(r() * (a - 0x100000000 + 0x20000) / 32) * 32 + 8;
      if (!added.some((x) => Number(x.addr) === at)) added.push(el(at, 32, 'busy'));
    }
    const snap: Snapshot = { ...fixture, heaps: [{ ...fixture.heaps[0]!, elements: base }] };
    const delta = { ...diffSnapshots(snap, snap), heaps: { changed: [{ id: 0, added, removed, changed }], removed: [] } };
    const m = buildModel(snap);
    applyModelDelta(m, live(delta));
    assert.deepEqual(wire(m, 0), applyDelta(snap, delta).heaps[0]!.elements, `seed ${seed}`);
  }
});

test('columns: deltas apply in place, growing the arrays with room to spare', () => {
  const owners = new OwnerTable();
  const c = buildColumns([el(0x1000, 64), el(0x1040, 64)], owners);
  const v = c.version;
  assert.equal(applyElementChanges(c, changes({ added: [], removed: [], changed: [el(0x1040, 64, 'free')] }), owners), c);
  assert.ok(c.version > v);
  assert.equal(c.state[1], FREE);
  const next = applyElementChanges(c, changes({ added: [el(0x1080, 64), el(0x0f00, 64), el(0x1020, 32)], removed: ['0x1000'], changed: [] }), owners);
  assert.equal(next, c);
  assert.deepEqual([...c.start.subarray(0, c.n)], [0x0f00, 0x1020, 0x1040, 0x1080]);
  assert.ok(c.start.length > c.n);
  // removals alone keep the arrays
  const arrays = c.start;
  applyElementChanges(c, changes({ added: [], removed: ['0xf00', '0x1080'], changed: [] }), owners);
  assert.equal(c.start, arrays);
  assert.deepEqual([...c.start.subarray(0, c.n)], [0x1020, 0x1040]);
  assert.deepEqual([...c.state.subarray(0, c.n)], [BUSY, FREE]);
});

test('columns: one merge handles unsorted, repeated and re-added additions with removals, twice over the spare arrays', () => {
  const owners = new OwnerTable();
  const c = buildColumns([el(0x1000, 64), el(0x1040, 64), el(0x1080, 64), el(0x10c0, 64, 'busy', 'memzone:z')], owners);
  const cols = () => [...c.start.subarray(0, c.n)].map((a, i) => [a, c.len[i], c.state[i], owners.name(c.owner[i]!)]);
  applyElementChanges(
    c,
    changes({ added: [el(0x1100, 64), el(0x1040, 32, 'free'), el(0x1020, 32), el(0x1100, 32, 'free')], removed: ['0x1040', '0x10c0', '0x9999'], changed: [el(0x1080, 64, 'free')] }),
    owners,
  );
  assert.deepEqual(cols(), [
    [0x1000, 64, BUSY, null],
    [0x1020, 32, BUSY, null],
    [0x1040, 32, FREE, null],
    [0x1080, 64, FREE, null],
    [0x1100, 32, FREE, null],
  ]);
  applyElementChanges(c, changes({ added: [el(0x0f00, 64, 'busy', 'memzone:z')], removed: ['0x1100', '0x1000'], changed: [] }), owners);
  assert.deepEqual(cols(), [
    [0x0f00, 64, BUSY, 'memzone:z'],
    [0x1020, 32, BUSY, null],
    [0x1040, 32, FREE, null],
    [0x1080, 64, FREE, null],
  ]);
});

test('columns: a churn of 1k elements on a 100k heap matches the rebuilt model', () => {
  const s = generateMapSnapshot({ seed: 5, elements: 100_000 });
  const { next, delta } = churn(s, 9, 1000);
  const m = buildModel(s);
  const change = applyModelDelta(m, live(delta));
  assert.deepEqual(change.heaps, [0]);
  const want = buildModel(next);
  assert.equal(m.heaps[0]!.cols.n, want.heaps[0]!.cols.n);
  assert.deepEqual(wire(m, 0), wire(want, 0));
});

// -------------------------------------------------------------------- lists

test('lists: holes, and IOVA runs that break on VA gaps, IOVA jumps and RTE_BAD_IOVA', () => {
  const seg = (index: number, va: number, iova: string) => ({ index, va: hexOf(va), iova, len: MB2, hugepageSize: MB2, socketId: 0, flags: 0 });
  const base = 0x100000000;
  const list: MemsegList = {
    index: 0,
    baseVa: hexOf(base),
    pageSize: MB2,
    socketId: 0,
    len: 16 * MB2,
    external: false,
    heap: true,
    capacity: 16,
    segmentCount: 5,
    state: 'ok',
    segments: [
      seg(1, base + MB2, '0x80200000'),
      seg(0, base, '0x80000000'), // given out of order
      seg(2, base + 2 * MB2, '0x90000000'), // IOVA jumps
      seg(3, base + 3 * MB2, '0xffffffffffffffff'), // unknown IOVA
      seg(6, base + 6 * MB2, '0x90600000'), // after a VA hole
    ],
  };
  const l = buildList(list);
  assert.deepEqual([...l.segStart], [0, 1, 2, 3, 6].map((i) => base + i * MB2));
  assert.deepEqual([...l.holes], [base + 4 * MB2, base + 6 * MB2, base + 7 * MB2, base + 16 * MB2]);
  assert.deepEqual([...l.runs], [0, 1, 2, 2, 3, 3, 4, 4]);
  assert.deepEqual([...l.runOf], [0, 0, 1, 2, 3]);
});

// ------------------------------------------------------------------- layout

test('layout: the address scale folds far gaps to labelled breaks, keeps near ones, and shares the width by bytes', () => {
  const GB = 2 ** 30;
  const res: [number, number][] = [
    [0x100000000, 0x100000000 + 16 * GB],
    [0x100000000 + 16 * GB, 0x100000000 + 32 * GB],
    [0x7f0000000000, 0x7f0000200000],
  ];
  // list 0: 256 MiB used, then a 4 MiB hole, then 2 MiB; list 1 empty; an external list fully used
  const shown: [number, number][] = [
    [0x100000000, 0x110000000],
    [0x110400000, 0x110600000],
    [0x7f0000000000, 0x7f0000200000],
  ];
  const p = addressScale(shown, res, 0.02);
  assert.ok(p.scale);
  // the 4 MiB hole is under 2 % of the bytes shown: it stays, at true scale, inside the first piece
  assert.deepEqual(
    p.pieces.map((x) => [x.a0, x.a1]),
    [
      [0x100000000, 0x110600000],
      [0x7f0000000000, 0x7f0000200000],
    ],
  );
  // between the pieces: list 0's unused tail with list 1 ("unused"), then the VA no list reserved ("outside DPDK")
  assert.deepEqual(
    p.breaks.map((b) => [b.a0, b.a1, b.reserved]),
    [
      [0x110600000, 0x100000000 + 32 * GB, 32 * GB - 0x10600000],
      [0x100000000 + 32 * GB, 0x7f0000000000, 0],
    ],
  );
  const [b, outside] = [p.breaks[0]!, p.breaks[1]!];
  assert.ok(Math.abs((b.w1 - b.w0) / p.width - breakShare(2)) < 1e-9);
  assert.equal(outside.w0, b.w1);
  // each reservation in a break (a list's unused pages, an empty list) gets an equal slot
  const w = (a: number) => p.scale!(a);
  assert.ok(Math.abs(w(0x100000000 + 16 * GB) - (b.w0 + b.w1) / 2) < 1e-6 * p.width);
  // pieces by bytes, the small one lifted to the floor
  const share = (x: { w0: number; w1: number }) => (x.w1 - x.w0) / p.width;
  assert.ok(Math.abs(share(p.pieces[1]!) - pieceFloor(2)) < 1e-9, `${share(p.pieces[1]!)}`);
  assert.ok(Math.abs(share(p.pieces[0]!) + share(p.pieces[1]!) + share(b) + share(outside) - 1) < 1e-9);
  // inside a piece the scale is linear, and round-trips
  const a = 0x100000000 + 0x123456;
  assert.ok(Math.abs(p.scale!.invert(w(a)) - a) < 1e-3);
  assert.ok(Math.abs(w(0x100000000 + 0x200000) - w(0x100000000) - 0x200000 * ((p.pieces[0]!.w1 - p.pieces[0]!.w0) / (0x10600000))) < 1e-6);

  // linear: the reservations are the pieces, at true scale; only VA outside them folds
  const lin = addressScale(res, res, 0.012);
  assert.deepEqual(
    lin.pieces.map((x) => [x.a0, x.a1]),
    [
      [0x100000000, 0x100000000 + 32 * GB],
      [0x7f0000000000, 0x7f0000200000],
    ],
  );
  assert.equal(lin.breaks.length, 1);
  assert.equal(lin.breaks[0]!.reserved, 0);
});

test('layout: a break before the first used range and after the last; many gaps fold only the widest', () => {
  const MB = 2 ** 20;
  const res: [number, number][] = [[0, 1024 * MB]];
  const p = addressScale([[512 * MB, 514 * MB]], res, 0.02);
  assert.deepEqual(
    p.breaks.map((b) => [b.a0, b.a1, b.reserved]),
    [
      [0, 512 * MB, 512 * MB],
      [514 * MB, 1024 * MB, 510 * MB],
    ],
  );
  assert.ok(p.pieces[0]!.w0 > 0 && p.pieces[0]!.w1 < p.width);
  // 100 runs, 99 gaps: at most MAX_BREAKS fold, the widest ones
  const runs: [number, number][] = [];
  for (let i = 0; i < 100; i++) runs.push([i * 100 * MB, i * 100 * MB + MB + (i === 50 ? 0 : 0)]);
  const many = addressScale(runs, [], 0.02);
  assert.ok(many.breaks.length <= 48);
  assert.ok(many.pieces.every((x) => (x.w1 - x.w0) / many.width >= pieceFloor(many.pieces.length) - 1e-12));
});

test('layout: piece shares by size, none under the floor', () => {
  const s = pieceShares([1000, 1, 1, 998], 0.9, 0.05);
  assert.ok(Math.abs(s.reduce((a, b) => a + b, 0) - 0.9) < 1e-12);
  assert.equal(s[1], 0.05);
  assert.equal(s[2], 0.05);
  assert.ok(Math.abs(s[0]! / s[3]! - 1000 / 998) < 1e-12);
});

test('layout: folded is the default and fits every used lane; its lists are all visible', () => {
  const m = buildModel(fixture);
  const l = computeLayout(m, 'folded');
  assert.ok(byAddress('folded') && byAddress('linear') && !byAddress('compact') && !byAddress('index'));
  const px = 1000;
  for (const g of l.lanes) {
    if (!g.data.n) continue;
    const used = (g.data.we[g.data.n - 1]! - g.data.ws[0]!) * (px / l.width);
    assert.ok(used >= 3, `${g.kind} ${g.key} spans ${used.toFixed(2)} px of ${px}`);
  }
  // every reservation has some width, also one with nothing allocated (list 3)
  for (const lc of m.lists) assert.ok((addrToWorld(l, lc.end) - addrToWorld(l, lc.base)) * (px / l.width) >= 3, `list ${lc.list.index}`);
  // heap elements sit under their segments here too
  const heap = l.lanes[6]!.data;
  assert.equal(heap.ws[0], l.lanes[0]!.data.ws[0]);
  // a mostly free heap is drawn mostly free: widths by bytes
  const c = m.heaps[0]!.cols;
  let free = 0;
  let all = 0;
  for (let i = 0; i < c.n; i++) {
    const w = heap.we[i]! - heap.ws[i]!;
    all += w;
    if (c.state[i] === FREE) free += w;
  }
  assert.ok(Math.abs(free / all - m.heaps[0]!.header.freeSize / m.heaps[0]!.header.totalSize) < 0.01);
});

test('layout: heap lane header gives the largest free element and the fragmentation', () => {
  const m = buildModel(fixture);
  const c = m.heaps[0]!.cols;
  let largest = 0;
  for (let i = 0; i < c.n; i++) if (c.state[i] === FREE) largest = Math.max(largest, c.len[i]!);
  const f = heapFreeSummary(m, 0);
  assert.equal(f.largest, largest);
  assert.ok(Math.abs(f.fragmentation - (1 - largest / m.heaps[0]!.header.freeSize)) < 1e-12);
  const l = computeLayout(m, 'folded');
  assert.match(laneLabel(m, l.lanes[6]!).free!, /^largest free [\d.]+ [KMG]?i?B · frag\. \d+(\.\d)?%$/);
  // the agent's figure wins when the snapshot carries it
  m.heaps[0]!.header.largestFree = 4096;
  assert.equal(heapFreeSummary(m, 0).largest, 4096);
});

test('layout: lanes for every list and heap; linear puts elements under their segments', () => {
  const m = buildModel(fixture);
  const l = computeLayout(m, 'linear');
  assert.deepEqual(
    l.lanes.map((g) => `${g.kind}:${g.key}`),
    ['memseg:0', 'memseg:1', 'memseg:2', 'memseg:3', 'memseg:4', 'memseg:5', 'heap:0', 'heap:1', 'heap:2', 'heap:3'],
  );
  for (let i = 1; i < l.lanes.length; i++) assert.ok(l.lanes[i]!.y >= l.lanes[i - 1]!.y + l.lanes[i - 1]!.h);
  const heap = l.lanes[6]!.data;
  const list0 = l.lanes[0]!.data;
  // the first element starts where the first segment does
  assert.equal(heap.ws[0], list0.ws[0]);
  for (let i = 1; i < heap.n; i++) assert.ok(heap.ws[i]! >= heap.we[i - 1]!);
});

test('layout: compact spreads each lane by bytes, index by element; the cache reuses unchanged lanes', () => {
  const m = buildModel(fixture);
  const cols = m.heaps[0]!.cols;
  const byBytes = computeLayout(m, 'compact').lanes[6]!.data;
  assert.ok(Math.abs(byBytes.we[byBytes.n - 1]! - 1_000_000) < 1e-6);
  for (const i of [0, 17, 400]) assert.ok(Math.abs((byBytes.we[i]! - byBytes.ws[i]!) / cols.len[i]! - byBytes.unit) < 1e-9);
  const cache = new LayoutCache();
  const a = computeLayout(m, 'index', cache);
  const heap = a.lanes[6]!.data;
  assert.equal(heap.ws[0], 0);
  assert.equal(heap.we[heap.n - 1], a.width);
  assert.ok(Math.abs(heap.we[5]! - heap.ws[5]! - (heap.we[6]! - heap.ws[6]!)) < 1e-9);
  const b = computeLayout(m, 'index', cache);
  assert.equal(b.lanes[6]!.data, heap);
  m.heaps[0]!.cols.version++;
  const c = computeLayout(m, 'index', cache);
  assert.notEqual(c.lanes[6]!.data, heap);
  assert.equal(c.lanes[0]!.data, a.lanes[0]!.data);
});

// ---------------------------------------------------------------------- lod

test('lod: many elements in one pixel merge into a bin with their shares', () => {
  // 1000 elements of 64 B, every other one busy, all in 10 pixels
  const n = 1000;
  const ws = new Float64Array(n);
  const we = new Float64Array(n);
  const kind = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    ws[i] = i * 64;
    we[i] = (i + 1) * 64;
    kind[i] = i % 2 ? BUSY : FREE;
  }
  const f = frameLane({ n, ws, we, kind, unit: 0 }, { w0: 0, w1: n * 64, px: 10 }, 3);
  assert.equal(f.nBars, 0);
  assert.equal(f.nBins, 10);
  assert.equal(f.end - f.first, n);
  for (let p = 0; p < 10; p++) {
    assert.equal(f.count[p], 100);
    assert.ok(Math.abs(f.cov[p * KINDS + BUSY]! - 0.5) < 1e-6);
    assert.ok(Math.abs(f.cov[p * KINDS + FREE]! - 0.5) < 1e-6);
  }
  // zoomed in on 10 elements: each is 100 px wide and drawn alone
  const g = frameLane({ n, ws, we, kind, unit: 0 }, { w0: 0, w1: 640, px: 1000 }, 3);
  assert.deepEqual([g.first, g.end, g.nBars, g.nBins], [0, 10, 10, 0]);
});

test('lod: owner spans merge consecutive elements of one owner', () => {
  const ws = Float64Array.from([0, 10, 20, 30]);
  const we = Float64Array.from([10, 20, 30, 40]);
  const f = frameLane({ n: 4, ws, we, kind: new Uint8Array(4), unit: 0 }, { w0: 0, w1: 40, px: 400 }, 3, Int32Array.from([0, 0, -1, 1]));
  assert.equal(f.nSpans, 2);
  assert.deepEqual([...f.spans.subarray(0, 4)], [0, 200, 300, 400]);
  assert.deepEqual([...f.spanOwner.subarray(0, 2)], [0, 1]);
});

// -------------------------------------------------------------- hit testing

function viewOf(w0: number, w1: number, px = 1000): View {
  return { w0, w1, px };
}

test('hit-test: elements, owner overlays, segments, holes, bins', () => {
  const m = buildModel(fixture);
  const l = computeLayout(m, 'linear');
  const heapLane = l.lanes[6]!;
  const c = m.heaps[0]!.cols;
  // a wide element, zoomed so that it spans most of the view
  let big = 0;
  for (let i = 0; i < c.n; i++) if (c.owner[i]! >= 0 && c.len[i]! > c.len[big]!) big = i;
  const [a, b] = [heapLane.data.ws[big]!, heapLane.data.we[big]!];
  const v = viewOf(a - (b - a) * 0.1, b + (b - a) * 0.1);
  const frames = l.lanes.map((g) => frameLane(g.data, v, 3, g.kind === 'heap' ? m.heaps[g.ref]!.cols.owner : undefined));
  const bar = hitTest(m, l, v, frames, 500, heapLane.y + heapLane.barY + 5);
  assert.deepEqual(bar?.item, { kind: 'element', heap: 0, index: big });
  const over = hitTest(m, l, v, frames, 500, heapLane.y + heapLane.ovY + 2);
  assert.equal(over?.item?.kind, m.owners.name(c.owner[big]!)!.startsWith('mempool:') ? 'mempool' : 'memzone');
  const seg = hitTest(m, l, v, frames, 500, l.lanes[0]!.y + 10);
  assert.equal(seg?.item?.kind, 'segment');
  assert.equal(hitTest(m, l, v, frames, 500, 0), null); // the gap above the first lane
  assert.equal(hitTest(m, l, v, frames, 1200, heapLane.y + 30), null); // right of the plot

  // the whole map: list 0's first pixels hold thousands of elements
  const all = viewOf(0, l.width);
  const allFrames = l.lanes.map((g) => frameLane(g.data, all, 3));
  const binned = hitTest(m, l, all, allFrames, 0.1, heapLane.y + heapLane.barY + 5);
  assert.equal(binned?.item?.kind, 'element');
  assert.ok(binned?.bin && binned.bin.count > 100);
  // list 3 has no segment at all: a hole
  const hole = hitTest(m, l, all, allFrames, (addrToWorld(l, m.lists[3]!.base + MB2 * 100) / l.width) * 1000, l.lanes[3]!.y + 10);
  assert.equal(hole?.item?.kind, 'hole');
});

test('keys: every kind of item survives a round trip through its key', () => {
  const m = buildModel(fixture);
  const c = m.heaps[0]!.cols;
  const owned = c.owner.findIndex((o) => o >= 0 && m.owners.name(o)!.startsWith('memzone:'));
  const pooled = c.owner.findIndex((o) => o >= 0 && m.owners.name(o)!.startsWith('mempool:'));
  const items: Item[] = [
    { kind: 'memsegList', list: 4 },
    { kind: 'segment', list: 0, seg: 7 },
    { kind: 'hole', list: 0, hole: 0 },
    { kind: 'heap', heap: 1 },
    { kind: 'element', heap: 0, index: 1234 },
    { kind: 'memzone', heap: 0, first: owned, last: owned },
    { kind: 'mempool', heap: 0, first: pooled, last: pooled },
  ];
  for (const it of items) {
    const k = selectKey(m, it);
    assert.deepEqual(resolveKey(m, k.kind, k.key), it, `${k.kind} ${k.key}`);
  }
  assert.equal(selectKey(m, { kind: 'element', heap: 0, index: 0 }).key, `0:${hexOf(c.start[0]!)}`);
  assert.equal(resolveKey(m, 'element', '0:0x1'), null);
});

test('addresses and keyboard moves: innermost item, neighbours, lanes', () => {
  const m = buildModel(fixture);
  const l = computeLayout(m, 'linear');
  const c = m.heaps[0]!.cols;
  assert.deepEqual(itemAtAddress(m, c.start[10]! + 8), { kind: 'element', heap: 0, index: 10 });
  assert.deepEqual(itemAtAddress(m, m.lists[3]!.base + 5), { kind: 'hole', list: 3, hole: 0 });
  assert.equal(itemAtAddress(m, 0x10), null);
  const e: Item = { kind: 'element', heap: 0, index: 10 };
  assert.deepEqual(stepItem(m, l, e, 1), { kind: 'element', heap: 0, index: 11 });
  assert.deepEqual(stepItem(m, l, { kind: 'element', heap: 0, index: 0 }, -1), { kind: 'element', heap: 0, index: 0 });
  const [a, b] = itemRange(m, l, e);
  // up from socket_0 lands on the orphaned list's nearest segment; down on socket_1's nearest element
  assert.equal(stepLane(l, 6, -1, (a + b) / 2)?.kind, 'segment');
  assert.equal(stepLane(l, 6, 1, (a + b) / 2)?.kind, 'element');
  assert.equal(stepLane(l, 0, -1, a), null);
});

// ----------------------------------------------------------------- describe

test('describe: an element names its owner, segment and IOVA; lists their dma-buf and warnings', () => {
  const m = buildModel(fixture);
  const c = m.heaps[0]!.cols;
  const i = c.owner.findIndex((o) => o >= 0);
  const d = describe(m, { kind: 'element', heap: 0, index: i });
  const rows = Object.fromEntries(d.rows);
  assert.equal(rows.Address, hexOf(c.start[i]!));
  assert.equal(rows.Owner, m.owners.name(c.owner[i]!)!.replace(':', ' '));
  assert.match(rows.Memseg!, /^list 0, segment \d+$/);
  assert.match(rows.IOVA!, /^0x[0-9a-f]+$/);
  const l = computeLayout(m, 'linear');
  const ext = laneLabel(m, l.lanes[4]!);
  assert.equal(ext.external, 'dma-buf udmabuf · fd 37 · +0x0 · pid 4242');
  const orphan = laneLabel(m, l.lanes[5]!);
  assert.equal(orphan.state, 'orphaned');
  assert.match(orphan.warning!, /orphaned/);
  const list = describe(m, { kind: 'memsegList', list: 4 });
  assert.equal(Object.fromEntries(list.rows)['dma-buf exporter'], 'udmabuf');
  assert.equal(describe(m, { kind: 'memsegList', list: 5 }).warning, m.lists[5]!.list.warning);
  assert.equal(laneLabel(m, l.lanes[9]!).state, 'unavailable');
});

test('describe: names with markup stay the very same string', () => {
  const evil = '<img src=x onerror=alert(1)>';
  const m = buildModel(generateMapSnapshot({ seed: 11, elements: 3000, hostileName: evil }));
  const it = resolveKey(m, 'memzone', `${evil}@${m.snapshot.memzones.find((z) => z.name === evil)!.addr}`);
  assert.ok(it);
  const d = describe(m, it);
  assert.equal(d.title, `Memzone ${evil}`);
  assert.equal(Object.fromEntries(d.rows).Name, evil);
});

// ------------------------------------------------------------ model deltas

test('model delta: lists and heaps come and go; untouched ones keep their objects', () => {
  const m = buildModel(fixture);
  const list1 = m.lists[1]!;
  const heap2 = m.heaps[2]!;
  const next: Snapshot = {
    ...fixture,
    memsegLists: fixture.memsegLists.filter((l) => l.index !== 5).map((l) => (l.index === 3 ? { ...l, segmentCount: 1, segments: [{ ...fixture.memsegLists[2]!.segments[0]!, va: l.baseVa, socketId: 1 }] } : l)),
    heaps: [...fixture.heaps.filter((h) => h.id !== 3), { ...fixture.heaps[3]!, id: 9, name: 'late', elementsAvailable: true, elements: [el(Number(fixture.memsegLists[3]!.baseVa), MB2, 'free')] }],
  };
  const change = applyModelDelta(m, live(diffSnapshots(fixture, next)));
  assert.ok(change.lanes);
  assert.deepEqual(
    m.lists.map((l) => l.list.index),
    [0, 1, 2, 3, 4],
  );
  assert.equal(m.lists[1], list1);
  assert.equal(m.lists[3]!.n, 1);
  assert.deepEqual(
    m.heaps.map((h) => h.id),
    [0, 1, 2, 9],
  );
  assert.equal(m.heaps[2], heap2);
  assert.equal(m.heaps[3]!.cols.n, 1);
  assert.deepEqual(m.snapshot, { ...buildModel(next).snapshot });
});

// -------------------------------------------------------------- theme, math

test('theme: variables win, unset ones fall back to the theme kind, kinds from body classes', () => {
  const vars: Record<string, string> = { 'charts-blue': ' #112233 ', 'editor-background': '#000000', 'editor-foreground': 'rgb(255, 255, 255)' };
  const p = resolvePalette((n) => vars[n] ?? '', 'dark');
  assert.equal(p.busy, '#112233');
  assert.equal(p.free, '#89d185');
  assert.equal(p.contrast, null);
  assert.equal(p.segment, mix('#000000', 'rgb(255, 255, 255)', 0.4));
  const hc = resolvePalette(() => '', 'hc-dark');
  assert.equal(hc.contrast, '#6fc3df');
  assert.equal(resolvePalette(() => 'not a colour', 'light').busy, '#1a85ff');
  assert.equal(themeKindOf('vscode-light'), 'light');
  assert.equal(themeKindOf('foo vscode-high-contrast'), 'hc-dark');
  assert.equal(themeKindOf('vscode-high-contrast vscode-high-contrast-light'), 'hc-light');
  assert.equal(themeKindOf(''), 'dark');
  assert.deepEqual(parseColor('#abc'), [0xaa, 0xbb, 0xcc, 1]);
  assert.deepEqual(parseColor('rgba(1, 2, 3, 0.5)'), [1, 2, 3, 0.5]);
  assert.equal(parseColor('var(--x)'), null);
  assert.equal(mix('#000000', '#ffffff', 0.5), 'rgb(128, 128, 128)');
});

test('format: hex ticks are round multiples of a power of two; sizes in binary units', () => {
  const t = hexTicks(0x100000000, 0x100000000 + 0x40000000, 8);
  assert.ok(t.length >= 4 && t.length <= 17);
  const step = t[1]! - t[0]!;
  assert.equal(Math.log2(step) % 1, 0);
  for (const x of t) assert.equal(x % step, 0);
  assert.deepEqual(hexTicks(5, 5, 4), []);
  assert.equal(fmtBytes(64), '64 B');
  assert.equal(fmtBytes(1536), '1.5 KiB');
  assert.equal(fmtBytes(2 * 1024 * 1024), '2 MiB');
  assert.equal(fmtBytes(16 * 1024 ** 3), '16 GiB');
});
