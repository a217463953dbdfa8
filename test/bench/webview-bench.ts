/**
 * Memory Map speed, in the same headless Chromium as the browser tests:
 *
 *  1. first render of a snapshot with 100k socket_0 elements as objects,
 *     for the record (the figure with a target is end to end: map-e2e.ts)
 *  2. the same with 1M
 *  3. a zoom/pan frame with ≥ 100k elements in view: median ≤ 16 ms
 *  4. applying and drawing a delta of 10k changed elements: ≤ 10 ms
 *
 * Times are taken in the page with performance.now: for snapshots and
 * deltas from the message event to the end of the draw (validation, model,
 * layout, canvas); for frames around the render call, while d3-zoom's
 * transform is driven programmatically, one change per animation frame.
 * The snapshots are built inside the page by the fixture generator (a
 * million elements do not cross the DevTools socket); deltas are computed
 * in Node from the same seeded snapshot and posted as the extension would.
 *
 * `webviewFigures()` is what test/bench/bench.ts imports; run alone,
 * `node out/test/bench/webview-bench.js` prints the table and exits 1 when a
 * target is missed.
 */
import type { Page } from 'playwright-core';
import type { Snapshot } from '../../common/snapshot';
import { columnDelta } from '../../common/delta';
import { churn, generateMapSnapshot, heapTotals, type MapFixtureOptions } from '../fixtures/map-snapshot';
import { openMap, post } from '../browser/harness';

export interface WebviewFigure {
  name: string;
  measured: string;
  target: string;
  pass: boolean | null;
}

const FRAMES = 120; // ≥ 60 timed zoom/pan frames
const DELTAS = 12;
const REPEAT = 3; // snapshots after the first, for the record

const ms = (x: number) => `${x.toFixed(1)} ms`;

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Builds the fixture in the page (as window.__snap) from the generator's own source. */
async function buildInPage(page: Page, opts: MapFixtureOptions): Promise<number> {
  return page.evaluate(`(() => {
    ${heapTotals.toString()}
    window.__snap = (${generateMapSnapshot.toString()})(${JSON.stringify(opts)});
    return window.__snap.heaps.reduce((n, h) => n + h.elements.length, 0);
  })()`);
}

/** Posts window.__snap as a snapshot message; resolves to the page's own timing of it. */
async function renderSnapshot(page: Page): Promise<{ ms: number; endToEnd: number }> {
  return page.evaluate(async () => {
    const map = window.memscopeMap!;
    const n = map.stats().snapshots;
    const t0 = performance.now();
    window.postMessage({ type: 'snapshot', snapshot: (window as unknown as { __snap: unknown }).__snap }, '*');
    while (map.stats().snapshots === n) await new Promise((r) => setTimeout(r, 1));
    return { ms: map.stats().snapshotMs, endToEnd: performance.now() - t0 };
  });
}

async function firstRender(page: Page, elements: number, target: number): Promise<WebviewFigure> {
  const total = await buildInPage(page, { seed: 42, elements });
  const first = await renderSnapshot(page);
  const again: number[] = [];
  for (let i = 0; i < REPEAT; i++) again.push((await renderSnapshot(page)).ms);
  const label = elements >= 1e6 ? `${elements / 1e6}M` : `${elements / 1e3}k`;
  return {
    name: `Memory Map: first render in the page only, ${label} elements as objects (${total.toLocaleString('en-US')} in all; for the record: the figure that counts is end to end, above)`,
    measured: `${ms(first.ms)} (again: median ${ms(median(again))}; with postMessage's copy of the objects ${ms(first.endToEnd)})`,
    target: `— (end to end ≤ ${target} ms)`,
    pass: null,
  };
}

/**
 * Frames inside the 1M-element heap: a window holding ~115k of its
 * elements, zoomed by up to ±4% about the centre and panned by up to ±6 px
 * per frame, so ≥ 100k elements stay in view (and the rest are culled).
 */
async function zoomFrames(page: Page): Promise<WebviewFigure> {
  const r = await page.evaluate(async (frames) => {
    const map = window.memscopeMap!;
    const raf = () => new Promise((res) => requestAnimationFrame(res));
    const els = (window as unknown as { __snap: Snapshot }).__snap.heaps[0]!.elements;
    const mid = Math.floor(els.length / 2);
    map.zoomToAddresses(els[mid - 57_500]!.addr, els[mid + 57_500]!.addr);
    await raf();
    const base = map.stats();
    const cx = map.lanes()[0]!.width / 2;
    let minVisible = Infinity;
    for (let i = 0; i < frames; i++) {
      const k = base.k * (1 + 0.04 * Math.sin(i / 5));
      const x = cx - (cx - base.x) * (k / base.k) + 6 * Math.cos(i / 3);
      map.setTransform(k, x);
      await raf();
      minVisible = Math.min(minVisible, map.lanes().find((l) => l.kind === 'heap')!.visible);
    }
    const renders = map.stats().renders - base.renders;
    return { times: map.recentFrames().slice(-renders), minVisible, renders };
  }, FRAMES);
  const med = median(r.times);
  const p95 = [...r.times].sort((x, y) => x - y)[Math.floor(r.times.length * 0.95)]!;
  return {
    name: `Memory Map: zoom/pan frame, ≥ ${r.minVisible.toLocaleString('en-US')} elements in view (1M heap)`,
    measured: `median ${ms(med)} (p95 ${ms(p95)}, ${r.renders} frames)`,
    target: '≤ 16 ms median',
    pass: r.renders >= 60 && r.minVisible >= 100_000 && med <= 16,
  };
}

async function deltas(page: Page, s: Snapshot): Promise<WebviewFigure> {
  const times: number[] = [];
  const applied: number[] = [];
  let changed = 0;
  let cur = s;
  for (let i = 0; i < DELTAS; i++) {
    // 7.4k touched elements make ~10k changes (a split is a change and an addition)
    const { next, delta } = churn(cur, 100 + i, 7_400);
    const d = delta.heaps.changed[0]!;
    changed = Math.min(changed || Infinity, d.changed.length + d.added.length + d.removed.length);
    const n = await page.evaluate(() => window.memscopeMap!.stats().deltas);
    await post(page, { type: 'delta', seq: i + 1, delta: columnDelta(delta) });
    await page.waitForFunction((k) => window.memscopeMap!.stats().deltas > k, n);
    const st = await page.evaluate(() => window.memscopeMap!.stats());
    times.push(st.lastDeltaMs);
    applied.push(st.lastDeltaApplyMs);
    cur = next;
  }
  const med = median(times);
  return {
    name: `Memory Map: apply a delta of ≥ ${changed.toLocaleString('en-US')} changed, added or removed elements and draw it (100k heap, all in view; column slices as the extension posts them)`,
    measured: `median ${ms(med)} with the redraw (max ${ms(Math.max(...times))}; before the redraw: median ${ms(median(applied))}; ${DELTAS} deltas)`,
    target: '≤ 10 ms',
    pass: med <= 10,
  };
}

export async function webviewFigures(): Promise<WebviewFigure[]> {
  const names = ['first render, 100k elements', 'first render, 1M elements', 'zoom/pan frame, 100k in view', 'apply a 10k-element delta'].map((n) => `Memory Map: ${n}`);
  const targets = ['—', '—', '≤ 16 ms median', '≤ 10 ms'];
  const rows: WebviewFigure[] = [];
  let m: Awaited<ReturnType<typeof openMap>> | undefined;
  try {
    // each snapshot size in a fresh page, so "first" means a cold page
    m = await openMap({ width: 1440, height: 900 });
    rows.push(await firstRender(m.page, 100_000, 100));
    // the delta's heap all in view, so the redraw walks all 100k elements
    const s100k = generateMapSnapshot({ seed: 42, elements: 100_000 });
    const h = s100k.heaps[0]!.elements;
    await m.page.evaluate(([a, b]) => window.memscopeMap!.zoomToAddresses(a, b), [h[0]!.addr, '0x' + (Number(h[h.length - 1]!.addr) + 2 ** 20).toString(16)] as const);
    const deltaRow = await deltas(m.page, s100k);
    await m.close();
    m = await openMap({ width: 1440, height: 900 });
    rows.push(await firstRender(m.page, 1_000_000, 400));
    rows.push(await zoomFrames(m.page));
    rows.push(deltaRow);
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    for (let i = rows.length; i < names.length; i++) rows.push({ name: names[i]!, measured: `not measured: ${why}`, target: targets[i]!, pass: false });
  } finally {
    await m?.close();
  }
  return rows;
}

function printTable(rows: WebviewFigure[]): void {
  const head = ['Figure', 'Measured', 'Target', 'Result'];
  const body = rows.map((r) => [r.name, r.measured, r.target, r.pass === null ? 'info' : r.pass ? 'PASS' : 'FAIL']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  for (const b of body) console.log(line(b));
}

if (require.main === module) {
  webviewFigures().then(
    (rows) => {
      printTable(rows);
      process.exit(rows.some((r) => r.pass === false) ? 1 : 0);
    },
    (e) => {
      console.error(`webview-bench: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
