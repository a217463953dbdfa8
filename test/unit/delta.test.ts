// Snapshot deltas (common/delta.ts): hand-built cases, then a seeded
// property test that applyDelta(A, diffSnapshots(A, B)) rebuilds B.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columnElements, columnsFromElements } from '../../common/columns';
import { packColumns, packHeapDelta } from '../../common/columns-wire';
import { applyDelta, columnDelta, diffHeap, diffHeapColumnDelta, diffSnapshots, isEmptyDelta, mergeColumns, type SnapshotDelta } from '../../common/delta';
import { applyColumnDelta, elementCount, hydrate, liveDelta } from '../../extension/src/map-message';
import { prng } from '../helpers/prng';
import type { Heap, Mempool, MemsegList, Memzone, Snapshot } from '../../common/snapshot';
import { el, heap, list, mz, pool, snap } from '../helpers/snapshot-builders';

// ------------------------------------------------------------- hand-built

test('a snapshot diffed with itself (or a deep copy) is an empty delta', () => {
  const a = snap();
  assert.ok(isEmptyDelta(diffSnapshots(a, a)));
  assert.ok(isEmptyDelta(diffSnapshots(a, structuredClone(a))));
});

test('heap elements are matched by address: added, removed and changed', () => {
  const a = snap({ heaps: [heap(0, [el('0x1000', 0x100), el('0x1100', 0x200, 'free'), el('0x1300', 0x40)])] });
  const b = snap({
    heaps: [heap(0, [el('0x1000', 0x100), el('0x1100', 0x100, 'busy', 'mbuf_pool'), el('0x1200', 0x100, 'free'), el('0x1400', 0x80)], { allocCount: 2 })],
  });
  // keep the header equal to isolate element changes
  b.heaps[0]!.allocCount = a.heaps[0]!.allocCount;
  const d = diffSnapshots(a, b);
  assert.equal(d.heaps.changed.length, 1);
  const h = d.heaps.changed[0]!;
  assert.equal(h.id, 0);
  assert.equal(h.header, undefined, 'an unchanged header is not sent');
  assert.deepEqual(h.added.map((e) => e.addr).sort(), ['0x1200', '0x1400']);
  assert.deepEqual(h.removed, ['0x1300']);
  assert.deepEqual(h.changed, [el('0x1100', 0x100, 'busy', 'mbuf_pool')]);
  assert.deepEqual(applyDelta(a, d), b);
});

test('an element whose pad or owner alone changed is reported as changed', () => {
  const a = heap(0, [el('0x1000', 0x100, 'busy', null, 0)]);
  const padOnly = heap(0, [el('0x1000', 0x100, 'busy', null, 0x40)]);
  const ownerOnly = heap(0, [el('0x1000', 0x100, 'busy', 'ring', 0)]);
  assert.equal(diffHeap(a, padOnly)?.changed.length, 1);
  assert.equal(diffHeap(a, ownerOnly)?.changed.length, 1);
  assert.equal(diffHeap(a, structuredClone(a)), null);
});

test('diffHeap sends the header when any header field changed, and only then', () => {
  const a = heap(1, [el('0x1000')]);
  const b = { ...structuredClone(a), freeSize: a.freeSize - 0x100, allocCount: a.allocCount + 1 };
  const d = diffHeap(a, b);
  assert.ok(d);
  assert.equal(d.header?.freeSize, a.freeSize - 0x100);
  assert.equal(d.header?.allocCount, a.allocCount + 1);
  assert.ok(!('elements' in d.header!), 'the header carries no elements');
  assert.deepEqual([d.added, d.removed, d.changed], [[], [], []]);
  // a heap that is new carries its header and all of its elements
  const fresh = diffHeap(undefined, b);
  assert.equal(fresh?.header?.name, 'socket_1');
  assert.deepEqual(fresh?.added, b.elements);
  // header gains or loses an optional field
  const r = diffHeap(a, { ...structuredClone(a), elementsAvailable: false, reason: 'the heap changed 8 times', elements: [] });
  assert.equal(r?.header?.reason, 'the heap changed 8 times');
  assert.deepEqual(r?.removed, ['0x1000']);
});

test('a header-only heap change keeps the previous elements', () => {
  const a = snap();
  const b = structuredClone(a);
  b.heaps[0]!.totalSize *= 2;
  const d = diffSnapshots(a, b);
  assert.equal(d.heaps.changed[0]?.header?.totalSize, a.heaps[0]!.totalSize * 2);
  const next = applyDelta(a, d);
  assert.deepEqual(next.heaps[0]!.elements, a.heaps[0]!.elements);
  assert.deepEqual(next, b);
});

test('heaps that appear and disappear', () => {
  const a = snap({ heaps: [heap(0, [el('0x1000')]), heap(2, [el('0x9000')])] });
  const b = snap({ heaps: [heap(0, [el('0x1000')]), heap(5, [el('0x5000')], { name: 'ext', external: true, socketId: 256 })] });
  const d = diffSnapshots(a, b);
  assert.deepEqual(d.heaps.removed, [2]);
  assert.deepEqual(
    d.heaps.changed.map((h) => h.id),
    [5],
  );
  assert.equal(d.heaps.changed[0]!.header?.name, 'ext');
  assert.deepEqual(applyDelta(a, d), b);
});

test('memseg lists are upserted by index and removed by index', () => {
  const a = snap({ memsegLists: [list(0), list(1), list(2)] });
  const b = snap({ memsegLists: [list(0), list(2, { segmentCount: 2, state: 'orphaned', warning: 'owner gone' }), list(4, { external: true })] });
  const d = diffSnapshots(a, b);
  assert.deepEqual(
    d.memsegLists.upserted.map((l) => l.index),
    [2, 4],
  );
  assert.deepEqual(d.memsegLists.removed, [1]);
  const next = applyDelta(a, d);
  assert.deepEqual(
    next.memsegLists.map((l) => l.index),
    [0, 2, 4],
  );
  assert.deepEqual(next, b);
});

test('memzones are added and removed by name and address', () => {
  const a = snap({ memzones: [mz('a', '0x1000'), mz('b', '0x2000'), mz('c', '0x3000')] });
  // b is freed, d is reserved, c moves (same name, new address)
  const b = snap({ memzones: [mz('a', '0x1000'), mz('d', '0x2800'), mz('c', '0x4000')] });
  const d = diffSnapshots(a, b);
  assert.deepEqual(d.memzones.added.map((z) => `${z.name}@${z.addr}`).sort(), ['c@0x4000', 'd@0x2800']);
  assert.deepEqual(d.memzones.removed.sort(), ['b@0x2000', 'c@0x3000']);
  const next = applyDelta(a, d);
  assert.deepEqual(
    next.memzones.map((z) => z.name),
    ['a', 'd', 'c'],
    'memzones come back in address order',
  );
  assert.deepEqual(next, b);
});

test('a memzone re-reserved with the same name and address but another length is not lost', () => {
  const a = snap({ memzones: [mz('a', '0x1000', 0x1000)] });
  const b = snap({ memzones: [mz('a', '0x1000', 0x2000)] });
  const d = diffSnapshots(a, b);
  assert.ok(!isEmptyDelta(d));
  assert.deepEqual(applyDelta(a, d), b);
});

test('mempools are upserted and removed by name', () => {
  const a = snap({ mempools: [pool('a', 10), pool('b', 0), pool('c', null)] });
  const b = snap({ mempools: [pool('a', 10), pool('c', 5), pool('d', 1)] });
  const d = diffSnapshots(a, b);
  assert.deepEqual(
    d.mempools.upserted.map((p) => p.name),
    ['c', 'd'],
  );
  assert.deepEqual(d.mempools.removed, ['b']);
  assert.deepEqual(applyDelta(a, d), b);
});

test('warnings travel only when they changed, and clearing them is a change', () => {
  const a = snap({ warnings: ['memseg list 3 is orphaned'] });
  const same = diffSnapshots(a, structuredClone(a));
  assert.equal(same.warnings, undefined);
  const cleared = diffSnapshots(a, snap({ warnings: [] }));
  assert.deepEqual(cleared.warnings, []);
  assert.ok(!isEmptyDelta(cleared));
  assert.deepEqual(applyDelta(a, cleared).warnings, []);
});

test('takenAt, target and retries always come from the newer snapshot', () => {
  const a = snap();
  const b = snap({ takenAt: '2024-01-01T00:00:01.000Z', retries: 3, target: { ...a.target, alive: false } });
  const d = diffSnapshots(a, b);
  assert.ok(isEmptyDelta(d), 'no memory change');
  const next = applyDelta(a, d);
  assert.equal(next.takenAt, b.takenAt);
  assert.equal(next.retries, 3);
  assert.equal(next.target.alive, false);
});

test('isEmptyDelta notices each kind of change', () => {
  const empty = (): SnapshotDelta => diffSnapshots(snap(), snap());
  const mutations: ((d: SnapshotDelta) => void)[] = [
    (d) => (d.warnings = []),
    (d) => d.memsegLists.upserted.push(list(9)),
    (d) => d.memsegLists.removed.push(9),
    (d) => d.heaps.changed.push({ id: 0, added: [], removed: [], changed: [] }),
    (d) => d.heaps.removed.push(1),
    (d) => d.memzones.added.push(mz('x', '0x1')),
    (d) => d.memzones.removed.push('x@0x1'),
    (d) => d.mempools.upserted.push(pool('x')),
    (d) => d.mempools.removed.push('x'),
  ];
  assert.ok(isEmptyDelta(empty()));
  for (const [i, m] of mutations.entries()) {
    const d = empty();
    m(d);
    assert.equal(isEmptyDelta(d), false, `mutation ${i}`);
  }
});

test('applyDelta leaves its input snapshot untouched', () => {
  const a = snap({ heaps: [heap(0, [el('0x1000'), el('0x2000')])] });
  const copy = structuredClone(a);
  const b = snap({ heaps: [heap(0, [el('0x2000', 0x10), el('0x3000')])], memzones: [], mempools: [], memsegLists: [] });
  applyDelta(a, diffSnapshots(a, b));
  assert.deepEqual(a, copy);
});

// ---------------------------------------------------------- property test


function randomSnapshot(rnd: () => number): Snapshot {
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const some = <T>(xs: readonly T[], p = 0.5): T[] => xs.filter(() => rnd() < p);
  const range = (n: number) => [...Array(n).keys()];

  const memsegLists: MemsegList[] = some(range(6)).map((i) => {
    const l = list(i, { segmentCount: int(3), state: pick(['ok', 'orphaned', 'unattached'] as const), external: rnd() < 0.3 });
    if (rnd() < 0.3) l.warning = pick(['owner gone', 'not attached']);
    if (rnd() < 0.3) l.ownerPids = some([10, 20, 30]);
    if (rnd() < 0.2) l.dmabuf = rnd() < 0.5 ? null : { fd: 7, offset: 0, ownerPid: 10, exporter: 'udmabuf', size: 0x200000, inode: int(5), source: 'proc' };
    l.segments = l.segments.slice(0, int(2));
    return l;
  });
  const heaps: Heap[] = some(range(4), 0.7).map((id) => {
    const base = 0x100000000 + id * 0x10000000;
    const available = rnd() < 0.85;
    const elements = available
      ? some(range(16), 0.5).map((k) =>
          el(`0x${(base + k * 0x100).toString(16)}`, pick([0x40, 0x80, 0x100]), pick(['busy', 'free', 'pad'] as const), pick([null, 'mbuf_pool', 'ring']), pick([0, 0x40])),
        )
      : [];
    const h = heap(id, elements, { freeSize: pick([0, 0x1000, 0x2000]), allocCount: int(4), totalSize: pick([0x4000000, 0x8000000]), elementsAvailable: available });
    if (!available) h.reason = pick(['the heap kept changing', 'locked']);
    return h;
  });
  // memzones: names and addresses unique within a snapshot; a name may move
  // to another address between snapshots, and the same name@address may come
  // back with another length (freed and reserved again)
  const memzones: Memzone[] = some(range(5), 0.6).map((n) =>
    mz(`mz${n}`, `0x${(0x17f000000 + (n * 3 + int(3)) * 0x10000).toString(16)}`, pick([0x1000, 0x2000])),
  );
  const mempools: Mempool[] = some(['mbuf_pool', 'MP_b', 'a', 'Z', '_x', 'pool 2']).map((n) => {
    const p = pool(n, pick([null, 0, 5, 100]));
    if (p.inUse === null && rnd() < 0.5) p.reason = 'ops "stack" are not a ring';
    p.chunks = p.chunks.slice(0, int(2));
    return p;
  });
  return snap({
    takenAt: new Date(1_700_000_000_000 + int(1e6)).toISOString(),
    target: { filePrefix: 'rte', pid: 1234, dpdkVersion: '22.11.11', runtimeDir: '/var/run/dpdk/rte', alive: rnd() < 0.8 },
    retries: int(3),
    warnings: some(['w1', 'w2', 'w3']),
    memsegLists,
    heaps,
    memzones,
    mempools,
  });
}

const addrOrder = (x: { addr: string }, y: { addr: string }) => (BigInt(x.addr) < BigInt(y.addr) ? -1 : BigInt(x.addr) > BigInt(y.addr) ? 1 : 0);
const nameOrder = (x: { name: string }, y: { name: string }) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);

/** The order the reader emits: elements and memzones by address, mempools by name. */
function canonical(s: Snapshot): Snapshot {
  const c = structuredClone(s);
  // shuffle-proof: sort what the reader sorts
  for (const h of c.heaps) h.elements.sort(addrOrder);
  c.memzones.sort(addrOrder);
  c.mempools.sort(nameOrder);
  c.memsegLists.sort((x, y) => x.index - y.index);
  c.heaps.sort((x, y) => x.id - y.id);
  return c;
}

test('property: applyDelta(A, diffSnapshots(A, B)) rebuilds B; diff(B, B) is empty', () => {
  const rnd = prng(0x5eed1234);
  let nonEmpty = 0;
  for (let round = 0; round < 400; round++) {
    const a = canonical(randomSnapshot(rnd));
    const b = canonical(randomSnapshot(rnd));
    const d = diffSnapshots(a, b);
    if (!isEmptyDelta(d)) nonEmpty++;
    // the delta must survive the wire
    const wire = JSON.parse(JSON.stringify(d)) as SnapshotDelta;
    assert.deepEqual(applyDelta(a, wire), b, `round ${round}`);
    assert.ok(isEmptyDelta(diffSnapshots(b, b)), `round ${round}: self diff`);
    // and a chain A -> B -> A comes back to A
    assert.deepEqual(applyDelta(applyDelta(a, d), diffSnapshots(b, a)), a, `round ${round}: round trip`);
  }
  assert.ok(nonEmpty > 300, `random pairs mostly differ (${nonEmpty}/400)`);
});

test('property: small edits of one snapshot give small deltas that still rebuild it', () => {
  const rnd = prng(42);
  for (let round = 0; round < 300; round++) {
    const a = canonical(randomSnapshot(rnd));
    const b = structuredClone(a);
    const h = b.heaps[0];
    let expectChanged = false;
    if (h && h.elements.length) {
      const i = Math.floor(rnd() * h.elements.length);
      h.elements[i] = { ...h.elements[i]!, state: h.elements[i]!.state === 'busy' ? 'free' : 'busy' };
      expectChanged = true;
    }
    const d = diffSnapshots(a, b);
    if (expectChanged) {
      assert.equal(d.heaps.changed.length, 1, `round ${round}`);
      assert.equal(d.heaps.changed[0]!.changed.length, 1);
      assert.equal(d.heaps.changed[0]!.header, undefined);
      assert.deepEqual([d.memsegLists.upserted, d.memzones.added, d.mempools.upserted], [[], [], []]);
    } else {
      assert.ok(isEmptyDelta(d));
    }
    assert.deepEqual(applyDelta(a, d), b, `round ${round}`);
  }
});

test('property: the column path (agent diff → packed → extension host → its elements) rebuilds B as applyDelta does', () => {
  const rnd = prng(0xc01d);
  const view = (h: Heap) => columnsFromElements(h.id, h.elements);
  for (let round = 0; round < 300; round++) {
    const a = canonical(randomSnapshot(rnd));
    const b = canonical(randomSnapshot(rnd));
    const packed = diffSnapshots(a, b, (x, y) => {
      const d = diffHeapColumnDelta(x, y, view);
      return d && packHeapDelta(d);
    });
    const live = liveDelta(JSON.parse(JSON.stringify(packed)));
    // the extension host queues element changes on its columns; its elements are B's
    const host = applyColumnDelta(hydrate(JSON.parse(JSON.stringify({ snapshot: { ...a, heaps: a.heaps.map((h) => ({ ...h, elements: [] })) }, columns: a.heaps.map((h) => packColumns(view(h))) }))), live);
    assert.deepEqual(JSON.parse(JSON.stringify(host)), b, `round ${round}`);
    for (const h of host.heaps) assert.equal(elementCount(h), b.heaps.find((x) => x.id === h.id)!.elements.length, `round ${round}: count of heap ${h.id}`);
    // mergeColumns agrees with applyDelta's rules on the object form too
    const objects = diffSnapshots(a, b);
    assert.deepEqual(applyDelta(a, objects), b);
    assert.deepEqual(columnDelta(objects).heaps.changed.map((h) => h.id), packed.heaps.changed.map((h) => h.id), `round ${round}: the same heaps changed`);
  }
});

test('mergeColumns: removals win, an addition at a present address replaces it, changes to absent addresses are ignored', () => {
  const base = columnsFromElements(0, [el('0x1000', 0x40), el('0x1040', 0x40), el('0x1080', 0x40, 'free')]);
  const out = mergeColumns(base, {
    removed: Float64Array.from([0x1000, 0x9000]),
    added: columnsFromElements(0, [el('0x1040', 0x20, 'free', 'mbuf_pool'), el('0x10c0', 0x40)]),
    changed: columnsFromElements(0, [el('0x1080', 0x40, 'busy'), el('0x5000', 0x40)]),
  });
  assert.deepEqual(columnElements(out), [el('0x1040', 0x20, 'free', 'mbuf_pool'), el('0x1080', 0x40, 'busy'), el('0x10c0', 0x40)]);
});
