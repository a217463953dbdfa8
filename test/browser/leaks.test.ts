// The Leaks panel in a real headless Chromium (its own CSP page, as the
// extension serves it): the timeline's charts and markers, brushing a span,
// the snapshot list, the diff table's sorting and filtering, suspected leaks
// that reveal themselves, and hostile messages dropped.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { diffForLeaks } from '../../common/leaks';
import type { FromLeaks, ToLeaks } from '../../common/leaks-protocol';
import type { TimelinePoint } from '../../common/leak-tracker';
import { loudSkip } from '../helpers/prereq';
import { el, heap, mz, pool, snap } from '../helpers/snapshot-builders';
import { applyTheme, CHROMIUM, type MapPage, openMap, post, ROOT } from './harness';

const skip = loudSkip(!fs.existsSync(CHROMIUM) && `Chromium is not at ${CHROMIUM}: apt-get install -y chromium`, 'Chromium');
let m: MapPage;
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

before(async () => {
  if (!skip) m = await openMap({ page: 'leaks', width: 1200, height: 1400 });
});
after(async () => {
  await m?.close();
});

const page = () => m.page;
const sent = () => page().evaluate(() => (window.memscopeHost!.sent as FromLeaks[]).map((x) => ({ ...x })));
const send = (msg: ToLeaks | unknown) => post(page(), msg);

function points(n: number): TimelinePoint[] {
  return Array.from({ length: n }, (_, i) => ({
    t: T0 + i * 1000,
    heaps: { socket_0: { busyBytes: 1_000_000 + i * 1024, allocCount: 100 + i }, ext: { busyBytes: 5000, allocCount: 3 } },
    mempools: { mbuf_pool: 10 + (i % 3), leaky: i },
    segments: 64,
  }));
}

test('the page asks for its data, and draws a chart per metric with a line per heap and pool', { skip }, async () => {
  assert.deepEqual((await sent())[0], { type: 'ready' });
  await send({ type: 'target', filePrefix: 'rte', pid: 4242 });
  await send({ type: 'timeline', points: points(60), maxSamples: 3600 });
  await send({ type: 'snapshots', list: [{ id: 'a', name: 'before', takenAt: new Date(T0 + 10_000).toISOString(), elements: 100 }, { id: 'b', name: 'after', takenAt: new Date(T0 + 40_000).toISOString(), elements: 130 }], markers: [{ t: T0 + 10_000, id: 'a', name: 'before' }, { t: T0 + 40_000, id: 'b', name: 'after' }] });
  await page().waitForFunction(() => window.memscopeLeaks!.charts().length === 4);
  const charts = await page().evaluate(() => window.memscopeLeaks!.charts());
  const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
  assert.deepEqual(byId.bytes!.series.sort(), ['ext', 'socket_0']);
  assert.deepEqual(byId.mempools!.series.sort(), ['leaky', 'mbuf_pool']);
  assert.equal(byId.bytes!.points, 120);
  assert.equal(byId.bytes!.markers, 2, 'a marker per snapshot');
  assert.equal(await page().locator('svg[data-chart="bytes"] path.series').count(), 2);
  assert.match((await page().locator('#target-title').textContent()) ?? '', /Leaks: rte/);
  // live points append
  await send({ type: 'point', point: { ...points(61)[60]!, heaps: { socket_0: { busyBytes: 2_000_000, allocCount: 200 } } } });
  await page().waitForFunction(() => window.memscopeLeaks!.charts().find((c) => c.id === 'bytes')!.points === 121);
});

test('brushing a span tells what changed in it and asks for the snapshots in it to be compared', { skip }, async () => {
  const r = (await page().evaluate(() => window.memscopeLeaks!.plotRect('bytes')))!;
  const before = (await sent()).length;
  // the span from about 5 s to about 45 s of the 60 s drawn
  await page().mouse.move(r.x + r.width * (5 / 60), r.y + r.height / 2);
  await page().mouse.down();
  await page().mouse.move(r.x + r.width * (30 / 60), r.y + r.height / 2, { steps: 5 });
  await page().mouse.move(r.x + r.width * (45 / 60), r.y + r.height / 2, { steps: 5 });
  await page().mouse.up();
  await page().waitForFunction((n) => window.memscopeHost!.sent.length > n, before);
  const msg = (await sent()).at(-1) as Extract<FromLeaks, { type: 'compareSpan' }>;
  assert.equal(msg.type, 'compareSpan');
  assert.ok(Math.abs(msg.from - (T0 + 5000)) <= 2000 && Math.abs(msg.to - (T0 + 45_000)) <= 2000, `${msg.from - T0}..${msg.to - T0}`);
  const summary = await page().evaluate(() => window.memscopeLeaks!.spanSummary());
  assert.match(summary, /heap socket_0 \+\d+(\.\d)? KiB, \+\d+ allocations/);
  assert.match(summary, /mempool leaky \+\d+ in use/);
});

test('the snapshot list: two checked make Compare post their ids', { skip }, async () => {
  const boxes = page().locator('#snapshots tbody input[type=checkbox]');
  assert.equal(await boxes.count(), 2);
  assert.equal(await page().locator('#compare').isDisabled(), true);
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await page().locator('#compare').click();
  assert.deepEqual((await sent()).at(-1), { type: 'compare', a: 'a', b: 'b' });
});

test('the diff table sorts by any column, filters by words, and an added element reveals itself', { skip }, async () => {
  const a = snap({ heaps: [heap(0, [el('0x100200000', 0x100), el('0x100201000', 0x2000), el('0x100203000', 0x80, 'busy', 'mempool:mbuf_pool')])], mempools: [pool('mbuf_pool', 5)], memzones: [] });
  const b = snap({
    takenAt: '2024-01-01T00:01:00.000Z',
    heaps: [heap(0, [el('0x100200000', 0x100), el('0x100205000', 0x400), el('0x100206000', 0x10000), el('0x100216000', 0x40, 'busy', 'memzone:z1')])],
    mempools: [pool('mbuf_pool', 9)],
    memzones: [mz('z1', '0x100216080', 0x40)],
  });
  await send({ type: 'diff', diff: { ...diffForLeaks(a, b), from: { ...diffForLeaks(a, b).from, name: 'first' } } });
  await page().waitForFunction(() => window.memscopeLeaks!.diffRows().length > 1);
  let rows = await page().evaluate(() => window.memscopeLeaks!.diffRows());
  // default: by delta, largest first
  assert.equal(rows[0]![0], 'added');
  assert.equal(rows[0]![2], '0x100206000');
  assert.match((await page().locator('#diff-summary').textContent())!, /^first → .*: 3 elements added, 2 freed/);
  await page().locator('#diff thead button[data-col="address"]').click();
  rows = await page().evaluate(() => window.memscopeLeaks!.diffRows());
  const addrs = rows.map((r) => r[2]).filter(Boolean);
  assert.deepEqual(addrs, [...addrs].sort((x, y) => (BigInt(x!) < BigInt(y!) ? -1 : 1)), 'ascending addresses');
  await page().locator('#diff thead button[data-col="address"]').click();
  assert.equal((await page().evaluate(() => window.memscopeLeaks!.diffRows()))[0]![2], addrs.at(-1), 'a second click reverses');
  await page().locator('#diff-filter').fill('rte_malloc added');
  rows = await page().evaluate(() => window.memscopeLeaks!.diffRows());
  assert.deepEqual(rows.map((r) => r[2]).sort(), ['0x100205000', '0x100206000']);
  await page().locator('#diff-filter').fill('mbuf_pool');
  rows = await page().evaluate(() => window.memscopeLeaks!.diffRows());
  assert.deepEqual(rows.map((r) => [r[0], r[1], r[3]]).sort(), [['freed', 'socket_0', '−128 B'], ['in use', 'mbuf_pool', '+4']].sort());
  await page().locator('#diff-filter').fill('');
  await page().locator('#diff tbody tr', { hasText: '0x100205000' }).click();
  assert.deepEqual((await sent()).at(-1), { type: 'reveal', address: '0x100205000' });
  await page().locator('#export-csv').click();
  assert.deepEqual((await sent()).at(-1), { type: 'export', format: 'csv' });
});

test('suspected leaks: a row per element with its age, pools below; a click reveals', { skip }, async () => {
  await send({
    type: 'suspects',
    minAgeMs: 60_000,
    suspects: {
      elements: [
        { heapId: 0, heap: 'socket_0', addr: '0x100300000', len: 70_144, owner: null, sizeClass: 131072, firstSeen: new Date(T0).toISOString(), ageMs: 90_000 },
        { heapId: 0, heap: 'socket_0', addr: '0x100400000', len: 1152, owner: null, sizeClass: 2048, firstSeen: new Date(T0 + 1000).toISOString(), ageMs: 89_000 },
      ],
      pools: [{ name: 'leaky', from: 0, to: 59, growth: 59, windowMs: 59_000 }],
      bytes: 71_296,
      samples: 60,
      baseline: new Date(T0).toISOString(),
      at: new Date(T0 + 90_000).toISOString(),
    },
  });
  await page().waitForFunction(() => window.memscopeLeaks!.suspectRows().length === 2);
  const rows = await page().evaluate(() => window.memscopeLeaks!.suspectRows());
  assert.deepEqual(rows.map((r) => [r[0], r[2], r[3]]), [['0x100300000', 'socket_0', '90.0 s'], ['0x100400000', 'socket_0', '89.0 s']]);
  assert.match((await page().locator('#suspects-summary').textContent())!, /^2 elements \(69\.\d KiB\) alive since the baseline for 60 s or more/);
  assert.equal(await page().locator('#suspect-pools tbody tr').count(), 1);
  await page().locator('#suspects tbody tr').nth(1).click();
  assert.deepEqual((await sent()).at(-1), { type: 'reveal', address: '0x100400000' });
});

test('hostile messages are dropped and logged; the page keeps working; no CSP violation', { skip }, async () => {
  const before = (await sent()).length;
  for (const bad of [{ type: 'nope' }, { type: 'diff', diff: { schema: 'memscope.diff/1' } }, { type: 'point', point: { t: 'x' } }, { type: 'suspects', suspects: {}, minAgeMs: -1 }, 42, null, { type: 'timeline', points: [], maxSamples: 1, extra: 1 }]) await send(bad);
  await page().waitForFunction((n) => window.memscopeHost!.sent.length >= n + 7, before);
  const logs = (await sent()).slice(before);
  assert.equal(logs.length, 7);
  for (const l of logs) assert.ok(l.type === 'log' && l.level === 'warn' && /dropped a malformed message/.test(l.message), JSON.stringify(l));
  assert.equal(await page().evaluate(() => window.memscopeLeaks!.suspectRows().length), 2, 'what was shown stays');
  assert.deepEqual(await page().evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations), []);
  assert.deepEqual(m.problems, []);
});

test('screenshots in light, dark and high contrast', { skip }, async () => {
  const dir = path.join(ROOT, 'out', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  for (const t of ['light', 'dark', 'hc'] as const) {
    await applyTheme(page(), t);
    await send({ type: 'theme' });
    await page().waitForTimeout(150);
    await page().screenshot({ path: path.join(dir, `leaks-${t}.png`), fullPage: true });
    assert.ok(fs.statSync(path.join(dir, `leaks-${t}.png`)).size > 10_000);
  }
});
