// Leak hunting's pure parts: the snapshot diff (common/leaks.ts), its
// Markdown and CSV forms, and the suspect rules of the tracker
// (common/leak-tracker.ts) on hand-built series.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIFETIME_FACTOR, LeakTracker, Lifetimes } from '../../common/leak-tracker';
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

/** Elements alive over samples: each [first sample, last sample] (inclusive; Infinity: never freed), at its own address. */
function lives(spans: { from: number; to: number; len: number; n: number }[], samples: number): HeapElement[][] {
  return Array.from({ length: samples }, (_, i) => spans.filter((x) => x.from <= i && i <= x.to).sort((a, b) => a.n - b.n).map((x) => el(addr(x.n), x.len)));
}

test('lifetimes: quantiles are bin upper edges, a few outliers are left out', () => {
  const l = new Lifetimes();
  assert.equal(l.quantile(0.98), 0);
  for (let i = 0; i < 100; i++) l.add(10_000);
  l.add(100_000); // one long "life": the same length taken again at the same address
  const q = l.quantile(0.98);
  assert.ok(q >= 10_000 && q <= 10_000 * 1.045, `${q}`);
  assert.ok(l.quantile(1) >= 100_000);
  l.add(0);
  assert.equal(l.count, 102);
});

test('tracker, long-lived churn: blocks that live 5 to 30 s are not suspected; leaks older than every peer\u2019s life are', () => {
  // 1 s a sample; one churn block a second, each living 5..30 s; leaks of the same length at 2..10 s and one at 100 s
  const step = 1000;
  const samples = 120;
  const spans: { from: number; to: number; len: number; n: number }[] = [];
  let n = 0;
  let r = 7;
  for (let i = 1; i < samples; i++) {
    r = (r * 1103515245 + 12345) % 2 ** 31;
    spans.push({ from: i, to: i + 5 + (r % 26), len: 1000, n: n++ });
  }
  spans.push({ from: 3, to: 83, len: 1000, n: n++ }); // an outlier that died: left out by the quantile
  const leaks = [2, 4, 6, 8, 10].map((i) => ({ from: i, to: Infinity, len: 1000, n: n++ }));
  const late = { from: 100, to: Infinity, len: 1000, n: n++ };
  // a class no element died in goes by its heap's lifetimes: a 9000 B block made at 100 s is young, one made at 5 s is not
  const lone = [{ from: 5, to: Infinity, len: 9000, n: n++ }];
  const loneYoung = { from: 100, to: Infinity, len: 9000, n: n++ };
  leaks.push(...lone);
  spans.push(...leaks, late, loneYoung);
  const t = new LeakTracker();
  for (const s of series(lives(spans, samples), [], step)) t.add(s);
  const s = t.suspects({ minAgeMs: 3000 });
  assert.deepEqual(s.elements.map((e) => e.addr).sort(), leaks.map((x) => addr(x.n)).sort());
  // what the floor and the minimum age alone would let through: churn alive at the end, older than 3 s
  const oldChurn = spans.filter((x) => x.to >= samples - 1 && x.to !== Infinity && samples - 1 - x.from > 3);
  assert.ok(oldChurn.length > 10, `${oldChurn.length} churn blocks alive and older than the minimum age`);
  // the late leak (19 s old) is younger than twice the class's lifetimes: not told from churn yet
  assert.ok((samples - 1 - late.from) * step < LIFETIME_FACTOR * 30 * step);
  assert.ok(!s.elements.some((e) => e.addr === addr(late.n)));
  assert.ok(!s.elements.some((e) => e.addr === addr(loneYoung.n)), 'alone in its class, younger than the heap\u2019s lives');
});

test('tracker, ramp then hold: a working set that grows then holds is not suspected; leaks during and after the ramp are', () => {
  // the working set grows by one a sample for 20 samples, then each sample frees its oldest and makes one
  const samples = 100;
  const spans: { from: number; to: number; len: number; n: number }[] = [];
  let n = 0;
  for (let i = 1; i < samples; i++) spans.push({ from: i, to: i + 19, len: 2000 + (i % 4) * 64, n: n++ });
  const leaks = [5, 10, 15, 25, 30, 35].map((i) => ({ from: i, to: Infinity, len: 2000 + (i % 4) * 64, n: n++ }));
  spans.push(...leaks);
  const t = new LeakTracker();
  for (const s of series(lives(spans, samples), [], 1000)) t.add(s);
  const s = t.suspects({ minAgeMs: 3000 });
  assert.deepEqual(s.elements.map((e) => e.addr).sort(), leaks.map((x) => addr(x.n)).sort());
});

test('tracker, same class: fast churn and long-lived churn of the very lengths that leak; only the leaks are suspected', () => {
  const samples = 90;
  const spans: { from: number; to: number; len: number; n: number }[] = [];
  let n = 0;
  for (let i = 1; i < samples; i++) {
    spans.push({ from: i, to: i, len: 3000, n: n++ }, { from: i, to: i, len: 3000, n: n++ }); // caught once, gone
    if (i % 2) spans.push({ from: i, to: i + 4 + (i % 9), len: 3000, n: n++ }); // lives 4..12 s
  }
  const leaks = [3, 7, 11, 20].map((i) => ({ from: i, to: Infinity, len: 3000, n: n++ }));
  spans.push(...leaks);
  const t = new LeakTracker();
  for (const s of series(lives(spans, samples), [], 1000)) t.add(s);
  assert.deepEqual(t.suspects({ minAgeMs: 2000 }).elements.map((e) => e.addr).sort(), leaks.map((x) => addr(x.n)).sort());
});

test('tracker: a pool that leaks while it carries traffic is suspected by its rising floor; traffic alone, or a floor that goes back down, is not', () => {
  const traffic = [0, 7, 12, 4, 0, 9, 3, 0, 15, 6];
  const pools: Record<string, number>[] = [];
  for (let i = 0; i < 60; i++) {
    const x = traffic[i % 10]!;
    pools.push({
      leaky: x + Math.floor(i / 4), // loses one object every 4 samples
      traffic: x,
      drains: x + (i < 30 ? Math.floor(i / 3) : Math.max(0, 20 - Math.floor(i / 3))), // fills a cache, then gives it back
      tiny: x + (i >= 50 ? 1 : 0), // one object kept: under the minimum growth
    });
  }
  const t = new LeakTracker();
  for (const s of series(pools.map(() => []), pools)) t.add(s);
  const s = t.suspects({ minAgeMs: 0 });
  assert.deepEqual(s.pools.map((p) => p.name), ['leaky']);
  assert.deepEqual([s.pools[0]!.from, s.pools[0]!.to, s.pools[0]!.growth], [0, 10, 10], 'the floors of the first and last thirds');
});

test('tracker: the same address and length with another pad is another allocation (DPDK pads a hole it does not split)', () => {
  // a 704 B element is freed and its hole taken whole by a smaller request: same address and length, pad 128
  const samples: HeapElement[][] = [];
  for (let i = 0; i < 40; i++) {
    const e: HeapElement[] = [el(addr(1), 704, 'busy', null, i < 20 ? 0 : 128)];
    for (let k = 0; k < Math.min(i, 30); k++) e.push(el(addr(200 + k), 1000)); // its class grows: the floor lets suspects through
    samples.push(e);
  }
  // in address order (the merge walk) and not (the keyed match)
  for (const reverse of [false, true]) {
    const t = new LeakTracker();
    for (const s of series(samples.map((e) => (reverse ? [...e].reverse() : e)))) t.add(s);
    const one = t.suspects({ minAgeMs: 0 }).elements.find((e) => e.addr === addr(1));
    assert.equal(one?.firstSeen, at(2000), 'first seen when the padded allocation appeared');
  }
});
