// Leak hunting's pure parts: the snapshot diff (common/leaks.ts), its
// Markdown and CSV forms, and the suspect rules of the tracker
// (common/leak-tracker.ts) on hand-built series.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeakTracker } from '../../common/leak-tracker';
import { diffForLeaks, diffIsEmpty, diffToCsv, diffToMarkdown, sizeClassLabel, sizeClassOf } from '../../common/leaks';
import type { HeapElement, Snapshot } from '../../common/snapshot';
import { el, heap, mz, pool, snap } from '../helpers/snapshot-builders';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const addr = (n: number) => `0x${(0x100200000 + n * 0x1000).toString(16)}`;

test('size classes are powers of two, 64 B the smallest', () => {
  assert.deepEqual([1, 64, 65, 128, 129, 1024, 1025, 2 ** 20].map(sizeClassOf), [64, 64, 128, 128, 256, 1024, 2048, 2 ** 20]);
  assert.match(sizeClassLabel(1024), /^≤ 1(\.0)? KiB$/);
});

test('diff: same address and length is the same element; a changed length is a free and an allocation', () => {
  const a = snap({ heaps: [heap(0, [el(addr(0), 0x100), el(addr(1), 0x200), el(addr(2), 0x300, 'free'), el(addr(3), 0x400, 'busy', 'memzone:z')])] });
  const b = snap({ heaps: [heap(0, [el(addr(0), 0x100), el(addr(1), 0x280), el(addr(2), 0x300), el(addr(4), 0x500, 'busy', 'mempool:p')], { freeSize: 0x3000000 - 0x380 })] });
  const d = diffForLeaks(a, b);
  const h = d.heaps[0]!;
  assert.deepEqual(h.added.map((e) => [e.addr, e.len]).sort(), [[addr(1), 0x280], [addr(2), 0x300], [addr(4), 0x500]].sort());
  assert.deepEqual(h.freed.map((e) => [e.addr, e.len]).sort(), [[addr(1), 0x200], [addr(3), 0x400]].sort());
  assert.equal(h.bytesDelta, -0x380 * -1);
  const owners = Object.fromEntries(h.byOwner.map((g) => [g.key, [g.added, g.freed, g.bytesDelta]]));
  assert.deepEqual(owners, { rte_malloc: [2, 1, 0x280 + 0x300 - 0x200], 'memzone:z': [0, 1, -0x400], 'mempool:p': [1, 0, 0x500] });
  assert.equal(h.bySizeClass.reduce((s, g) => s + g.added, 0), 3);
  assert.equal(h.elementsCompared, true);
});

test('diff: pools, memzones, lists and segments; a heap without elements is compared by totals only', () => {
  const a = snap({ mempools: [pool('p', 10), pool('q', null), pool('gone', 1)], memzones: [mz('z1', '0x17fe00000'), mz('z2', '0x17fe10000')] });
  const b = snap({
    mempools: [pool('p', 17), pool('q', 3), pool('new', 0)],
    memzones: [mz('z1', '0x17fe00000'), mz('z3', '0x17fe20000')],
    heaps: [heap(0, [], { elementsAvailable: false, freeSize: 0x2f00000 })],
    memsegLists: [{ ...a.memsegLists[0]!, segmentCount: 2, segments: [...a.memsegLists[0]!.segments, { index: 1, va: '0x100400000', iova: '0x100400000', len: 0x200000, hugepageSize: 0x200000, socketId: 0, flags: 0 }] }],
  });
  const d = diffForLeaks(a, b);
  assert.deepEqual(
    d.mempools.map((p) => [p.name, p.inUseDelta]),
    [['p', 7], ['gone', null], ['new', null], ['q', null]],
  );
  assert.deepEqual(d.memzones.added.map((z) => z.name), ['z3']);
  assert.deepEqual(d.memzones.removed.map((z) => z.name), ['z2']);
  assert.equal(d.memsegLists.length, 1);
  assert.equal(d.memsegLists[0]!.change, 'changed');
  assert.deepEqual(d.memsegLists[0]!.segmentsAdded.map((s) => s.index), [1]);
  assert.equal(d.heaps[0]!.elementsCompared, false);
  assert.deepEqual(d.heaps[0]!.added, []);
  assert.equal(d.heaps[0]!.bytesDelta, 0x100000);
  assert.equal(diffIsEmpty(diffForLeaks(a, a)), true);
  assert.equal(diffIsEmpty(d), false);
});

test('Markdown escapes names; CSV quotes and defuses spreadsheet formulas', () => {
  const a = snap({ heaps: [heap(0, [])] });
  const b = snap({ heaps: [heap(0, [el(addr(1), 0x100, 'busy', '=cmd|x,"y"')])], memzones: [mz('a|b_*c*', '0x17fe00000'), mz('rte_eth_dev_data', '0x17fe10000')] });
  const d = diffForLeaks(a, b);
  const md = diffToMarkdown(d);
  assert.match(md, /\| =cmd\\\|x,"y" \| 1 \| 0 \|/);
  assert.match(md, /added a\\\|b\\_\\\*c\\\* at/);
  const csv = diffToCsv(d);
  assert.ok(csv.includes(`element,socket_0,added,${addr(1)},256,"'=cmd|x,""y""",1,256`), csv);
  for (const line of csv.trim().split('\r\n')) assert.doesNotMatch(line, /(^|,)[=+@]/, line);
});

function series(samples: HeapElement[][], pools: Record<string, number>[] = [], stepMs = 100): Snapshot[] {
  return samples.map((els, i) => snap({ takenAt: at(i * stepMs), heaps: [heap(0, els)], mempools: Object.entries(pools[i] ?? {}).map(([n, v]) => pool(n, v)) }));
}

test('tracker: an element that stays after the baseline, in a growing class, old enough, is suspected', () => {
  const base = [el(addr(0), 1000)];
  const samples: HeapElement[][] = [];
  for (let i = 0; i < 30; i++) {
    const leaks = Array.from({ length: Math.floor(i / 3) }, (_, k) => el(addr(100 + k), 1000));
    const churn = i % 2 ? [el(addr(50), 1000)] : [];
    samples.push([...base, ...leaks, ...churn]);
  }
  const t = new LeakTracker();
  for (const s of series(samples)) t.add(s);
  const s = t.suspects({ minAgeMs: 1000 });
  // leak k is first seen at sample 3(k+1); at the last sample (2900 ms) those first seen by 1900 ms are old enough: k = 0..5
  assert.deepEqual(s.elements.map((e) => e.addr).sort(), Array.from({ length: 6 }, (_, k) => addr(100 + k)).sort());
  assert.ok(!s.elements.some((e) => e.addr === addr(0)), 'the baseline predates the window');
  assert.ok(!s.elements.some((e) => e.addr === addr(50)), 'churn comes and goes');
  assert.equal(s.samples, 30);
});

test('tracker: a gap ends an element; a memzone\u2019s or a pool\u2019s element is not a suspect; a flat class is not growing', () => {
  const samples: HeapElement[][] = [];
  for (let i = 0; i < 20; i++) {
    const e: HeapElement[] = [el(addr(1), 2000, 'busy', 'memzone:z')];
    if (i >= 1) e.push(el(addr(2), 5000)); // stays, but alone in a class whose floor went 0 → 1: growing
    if (i >= 1 && i !== 10) e.push(el(addr(3), 300)); // a gap at 10: a new element from 11 on
    if (i >= 1) e.push(el(addr(4), 40000), el(addr(5), 40000)); // two that stay
    if (i < 1) e.push(el(addr(6), 40000), el(addr(7), 40000)); // ...replacing two: the class's floor is flat
    samples.push(e);
  }
  const t = new LeakTracker();
  for (const s of series(samples)) t.add(s);
  const s = t.suspects({ minAgeMs: 1000 });
  assert.deepEqual(s.elements.map((e) => e.addr), [addr(2)]);
  const s2 = t.suspects({ minAgeMs: 500 });
  assert.deepEqual(s2.elements.map((e) => e.addr).sort(), [addr(2), addr(3)].sort(), 'the element after the gap is young again');
});

test('tracker: pools that only grow (three rises or more) are suspected; bursty or falling ones are not', () => {
  const pools: Record<string, number>[] = [];
  for (let i = 0; i < 20; i++) {
    pools.push({
      leak: Math.floor(i / 2),
      bursty: i === 19 ? 5 : 0, // one rise at the very end
      falls: 10 + i - (i === 12 ? 3 : 0),
      flat: 4,
      ...(i >= 10 ? { late: i - 10 } : {}), // created inside the window
    });
  }
  const t = new LeakTracker();
  for (const s of series(pools.map(() => []), pools)) t.add(s);
  const s = t.suspects({ minAgeMs: 0 });
  assert.deepEqual(s.pools.map((p) => p.name).sort(), ['late', 'leak']);
  assert.equal(s.pools.find((p) => p.name === 'leak')!.growth, 9);
});

test('tracker: history is a ring; the baseline moves with it; the timeline has every heap and pool', () => {
  const t = new LeakTracker({ maxSamples: 5 });
  for (let i = 0; i < 12; i++) t.add(snap({ takenAt: at(i * 1000), heaps: [heap(0, [el(addr(i), 128)])], mempools: [pool('p', i)] }));
  assert.equal(t.samples, 5);
  const tl = t.timeline();
  assert.deepEqual(tl.map((p) => p.mempools.p), [7, 8, 9, 10, 11]);
  assert.ok(tl.every((p) => p.heaps.socket_0 && p.segments === 1));
  assert.equal(t.suspects({ minAgeMs: 0 }).baseline, at(7000));
  t.reset();
  assert.equal(t.samples, 0);
});

test('diff: elements out of address order give the same answer (the keyed fallback)', () => {
  const els = Array.from({ length: 50 }, (_, i) => el(addr(i), 0x100 + (i % 3)));
  const a = snap({ heaps: [heap(0, els)] });
  const b = snap({ heaps: [heap(0, els.filter((_, i) => i % 7).concat([el(addr(60), 0x100)]))] });
  const sorted = diffForLeaks(a, b).heaps[0]!;
  const shuffled = diffForLeaks(snap({ heaps: [heap(0, [...a.heaps[0]!.elements].reverse())] }), snap({ heaps: [heap(0, [...b.heaps[0]!.elements].reverse())] })).heaps[0]!;
  const key = (x: HeapElement[]) => x.map((e) => `${e.addr}/${e.len}`).sort();
  assert.deepEqual(key(shuffled.added), key(sorted.added));
  assert.deepEqual(key(shuffled.freed), key(sorted.freed));
  assert.deepEqual(key(sorted.added), [`${addr(60)}/256`]);
  assert.equal(sorted.freed.length, 8);
});

test('tracker: samples whose elements are out of address order give the same suspects', () => {
  const build = (reverse: boolean) => {
    const t = new LeakTracker();
    for (let i = 0; i < 20; i++) {
      const els = [el(addr(0), 1000), ...Array.from({ length: Math.floor(i / 2) }, (_, k) => el(addr(100 + k), 1000)), ...(i % 2 ? [el(addr(50), 1000)] : [])];
      t.add(snap({ takenAt: at(i * 100), heaps: [heap(0, reverse ? els.reverse() : els)] }));
    }
    return t.suspects({ minAgeMs: 500 }).elements.map((e) => `${e.addr}@${e.firstSeen}`).sort();
  };
  const inOrder = build(false);
  assert.ok(inOrder.length >= 5);
  assert.deepEqual(build(true), inOrder);
});
