// Hostile input to the two webviews in a real headless Chromium, under the
// pages' own CSP (test/browser/harness.ts):
//   1. malformed messages, crafted and seeded-random (unknown types, extra
//      fields, wrong types, huge arrays and strings, nested garbage, cycles,
//      BigInts, markup) posted into the Memory Map and the Leaks panel: each
//      is dropped and logged back to the host, and a valid message afterwards
//      still renders;
//   2. snapshot, diff and suspect data whose names hold <script>, <img
//      onerror> and the like: shown literally as text, never run;
//   3. the CSP itself: a script injected through innerHTML, createElement,
//      document.write, an onclick attribute, a javascript: URL and eval does
//      not run, and each is reported as a violation; a script with the
//      page's nonce does run (so the injection itself works).
//
//   MEMSCOPE_FUZZ_SEED=<n>  replay a run (the seed is printed)
//   MEMSCOPE_FUZZ_RUNS=<n>  random messages per page (default 200)
//
// Besides the fresh seed, seed 928298686 is always replayed: it once built a
// message the harness itself could not post (an array of a million references
// to a multi-MB string, which the structured clone copies per occurrence). No
// generated message exceeds what the harness can deliver (MAX_TEXT, MAX_CLONE):
// one that would is replaced by the next the seed draws.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { columnsFromElements, compactColumns } from '../../common/columns';
import { diffForLeaks } from '../../common/leaks';
import { validateToLeaks } from '../../common/leaks-protocol';
import type { Snapshot } from '../../common/snapshot';
import { validateToWebview } from '../../common/webview-protocol';
import { cloneBytes, EVIL, mutate } from '../helpers/hostile';
import { loudSkip } from '../helpers/prereq';
import { prng } from '../helpers/prng';
import { el, heap, list, mz, pool, snap } from '../helpers/snapshot-builders';
import { CHROMIUM, type MapPage, openMap, postSnapshot } from './harness';

const skip = loudSkip(!fs.existsSync(CHROMIUM) && `Chromium is not at ${CHROMIUM}: apt-get install -y chromium, or set MEMSCOPE_CHROMIUM`, 'Chromium');
if (skip) console.log(`webview hostile: skipped: ${skip}`);
const SEED = (process.env.MEMSCOPE_FUZZ_SEED ? Number(process.env.MEMSCOPE_FUZZ_SEED) : Date.now()) >>> 0;
const RUNS = Math.max(1, Number(process.env.MEMSCOPE_FUZZ_RUNS) || 200);
if (!skip) console.log(`webview hostile: seed ${SEED} (MEMSCOPE_FUZZ_SEED=${SEED} replays this run), ${RUNS} random messages a page`);
/** Seed 928298686 built an undeliverable message in the Leaks panel's random part (200 runs): replayed in every run. */
const REGRESSION_SEED = 928298686;
const REGRESSION_RUNS = 200;
/** The most a message may be: its JSON text crosses the DevTools socket, its revived value the page's structured clone. */
const MAX_TEXT = 1 << 20;
const MAX_CLONE = 64 << 20;
/** The stream the generators below draw from: the fresh seed's (the map's test, then the Leaks panel's), or one replay's. */
let rnd = prng(SEED);
/** Runs f drawing from a fresh stream of seed, then goes back to the one before. */
function replay<T>(seed: number, f: () => T): T {
  const before = rnd;
  rnd = prng(seed);
  try {
    return f();
  } finally {
    rnd = before;
  }
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const tally = { inputs: 0, dropped: 0, blocked: 0, text: 0, executed: 0 };

const pages: MapPage[] = [];
after(async () => {
  for (const p of pages) await p.close();
});
async function open(which: 'map' | 'leaks'): Promise<MapPage> {
  const m = await openMap({ page: which, width: 1280, height: 900 });
  pages.push(m);
  m.page.on('dialog', (d) => {
    tally.executed++;
    void d.dismiss();
  });
  return m;
}

// ------------------------------------------------ messages that JSON cannot carry

/**
 * Turns markers into what JSON cannot say (BigInt, NaN, undefined, cycles,
 * holes) and builds huge values in place, so they need not cross the
 * DevTools socket. Mutates in place (an own "__proto__" key stays an own
 * key). Runs both here (to check that each message really is invalid) and
 * in the page (its source is installed there), so both see the same value.
 */
function revive(root: unknown): unknown {
  const size = (n: unknown, max: number) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= max;
  const walk = (x: unknown, parent: unknown): unknown => {
    if (typeof x !== 'object' || x === null) return x;
    const o = x as Record<string, unknown>;
    // a marker a mutation broke is left as a plain object
    const k = o['@@'];
    if (k === 'bigint' && typeof o.v === 'string' && /^-?\d{1,30}$/.test(o.v)) return BigInt(o.v);
    if (k === 'nan') return NaN;
    if (k === 'inf' && typeof o.v === 'number') return o.v * Infinity;
    if (k === 'undef') return undefined;
    if (k === 'negzero') return -0;
    if (k === 'cycle') return parent;
    if (k === 'holes' && size(o.n, 1000)) return new Array(o.n as number);
    if (k === 'array' && size(o.n, 2_000_000)) return new Array(o.n as number).fill(walk(o.of, parent));
    if (k === 'repeat' && typeof o.s === 'string' && size(o.n, 10_000_000 / Math.max(1, o.s.length))) return o.s.repeat(o.n as number);
    if (k === 'deep' && size(o.n, 20_000)) {
      let d: unknown = {};
      for (let i = 0; i < (o.n as number); i++) d = { a: d };
      return d;
    }
    for (const key of Object.keys(o)) o[key] = walk(o[key], o);
    return o;
  };
  return walk(root, undefined);
}

/** Why the harness could not deliver message m (its text too long, its revived value too big or deep to clone), or undefined. */
function undeliverable(m: unknown): string | undefined {
  const text = JSON.stringify(m === undefined ? null : m);
  if (text.length > MAX_TEXT) return `its JSON is ${text.length} characters, over ${MAX_TEXT}`;
  if (cloneBytes(revive(JSON.parse(text)), MAX_CLONE) === Infinity) return `revived, its structured clone is over ${MAX_CLONE} bytes or nests too deep`;
  return undefined;
}

declare global {
  interface Window {
    __revive?: (x: unknown) => unknown;
    __pwned?: unknown;
    cspViolations: string[];
  }
}

const M = (kind: string, extra: Record<string, unknown> = {}) => ({ '@@': kind, ...extra });

/** Values for fields: wrong types, out-of-range numbers, markup, huge and nested things. */
const GARBAGE: unknown[] = [
  -1,
  1.5,
  2 ** 53 + 2,
  1e308,
  M('nan'),
  M('inf', { v: 1 }),
  M('inf', { v: -1 }),
  M('negzero'),
  M('undef'),
  M('bigint', { v: '18446744073709551615' }),
  M('cycle'),
  M('holes', { n: 3 }),
  M('deep', { n: 500 }),
  M('repeat', { s: '<b>x</b>', n: 100_000 }),
  M('array', { n: 100_000, of: 0 }),
  null,
  true,
  '',
  '0x',
  '0x' + 'f'.repeat(17),
  'busy',
  ...EVIL,
  [],
  {},
  [[[{}]]],
  { type: 'snapshot' },
];

const snapshotFor = (names: readonly string[]): Snapshot => {
  const [a, b, c, d, e, f] = names;
  return snap({
    name: a!.slice(0, 200),
    // a prefix must pass the CLI's rule even in a file (the validator refuses markup there)
    target: { filePrefix: 'hostile-target', pid: 4242, dpdkVersion: c!, runtimeDir: `/var/run/dpdk/${d}`, alive: true },
    warnings: [...names],
    memsegLists: [
      list(0),
      list(1, {
        external: true,
        heap: false,
        backing: { kind: 'file', path: e!, ownerPid: 4242, offset: 0, fd: 9, size: 0x200000, inode: 1, exporter: f!, pageSize: 4096 },
        segments: [{ index: 0, va: '0x500000000', iova: '0x500000000', len: 0x200000, hugepageSize: 0x200000, socketId: 0, flags: 0 }],
        baseVa: '0x500000000',
        len: 0x400000,
      }),
      list(2, { state: 'orphaned', warning: a!, baseVa: '0x900000000', segments: [] }),
    ],
    heaps: [
      heap(
        0,
        [
          el('0x100200000', 0x1000, 'busy', `memzone:${b}`),
          el('0x100201000', 0x1000, 'busy', `mempool:${c}`),
          el('0x100202000', 0x1000, 'busy', d!),
          el('0x100203000', 0x1000, 'free'),
        ],
        { name: e! },
      ),
      heap(1, [], { name: f!, elementsAvailable: false, reason: a! }),
    ],
    memzones: [mz(b!, '0x100200000', 0x1000)],
    mempools: [pool(c!, 5)],
  });
};

/** A valid message of the map's, to break. */
function validMapMessage(): Record<string, unknown> {
  const k = Math.floor(rnd() * 5);
  if (k === 0) return { type: 'snapshot', snapshot: snapshotFor(EVIL.slice(0, 6)) };
  if (k === 1) return { type: 'status', text: pick(EVIL), level: 'warning' };
  if (k === 2) return { type: 'reveal', address: '0x100200010' };
  if (k === 3) return { type: 'theme' };
  const a = snapshotFor(EVIL.slice(0, 6));
  const b = structuredClone(a);
  b.heaps[0]!.elements.push(el('0x100204000', 0x100, 'busy', EVIL[0]));
  return {
    type: 'delta',
    seq: 1,
    delta: {
      takenAt: b.takenAt,
      target: b.target,
      retries: 0,
      memsegLists: { upserted: [], removed: [] },
      heaps: { changed: [{ id: 0, added: compactColumns(columnsFromElements(0, [b.heaps[0]!.elements.at(-1)!])), removed: new Float64Array(0), changed: compactColumns(columnsFromElements(0, [])) }], removed: [] },
      memzones: { added: [], removed: [] },
      mempools: { upserted: [], removed: [] },
    },
  };
}

/** A valid message of the Leaks panel's, to break. */
function validLeaksMessage(): Record<string, unknown> {
  const k = Math.floor(rnd() * 6);
  const pt = { t: 1_700_000_000_000, heaps: { [EVIL[0]]: { busyBytes: 10, allocCount: 1 } }, mempools: { [EVIL[1]]: 3 }, segments: 4 };
  if (k === 0) return { type: 'timeline', points: [pt], maxSamples: 100 };
  if (k === 1) return { type: 'point', point: pt };
  if (k === 2) return { type: 'snapshots', list: [{ id: 'a', name: EVIL[2], takenAt: '2026-01-01T00:00:00Z', elements: 3 }], markers: [{ t: 1, id: 'a', name: EVIL[2] }] };
  if (k === 3) return { type: 'diff', diff: leaksDiff() };
  if (k === 4) return { type: 'target', filePrefix: EVIL[1], pid: null };
  return { type: 'status', text: EVIL[0], level: 'info' };
}

function leaksDiff() {
  const a = snapshotFor(EVIL.slice(0, 6));
  const b = snapshotFor(EVIL.slice(2, 8));
  b.heaps[0]!.elements.push(el('0x100205000', 0x2000, 'busy', EVIL[6]), el('0x100207000', 0x100, 'busy', EVIL[7]));
  return diffForLeaks(a, b);
}

/** Crafted malformed messages for either page; `valid` is one of its valid ones. */
function crafted(valid: () => Record<string, unknown>, knownTypes: string[]): unknown[] {
  const out: unknown[] = [
    // no object, no type, a type of the wrong kind
    42,
    'theme',
    null,
    M('undef'),
    M('nan'),
    M('bigint', { v: '1' }),
    true,
    [],
    [{ type: 'theme' }],
    {},
    { type: null },
    { type: 7 },
    { type: ['theme'] },
    { type: { toString: 'theme' } },
    { type: M('bigint', { v: '5' }) },
    // unknown types
    ...['nuke', 'Snapshot', 'THEME', '', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', ...EVIL].map((type) => ({ type })),
    { type: M('repeat', { s: 'x', n: 1_000_000 }) },
    // a known type with an extra field, a prototype key, a cycle, a huge or nested part
    ...knownTypes.map((type) => ({ ...valid(), type, extra: 1 })),
    { type: 'theme', extra: 1 },
    { type: 'theme', self: M('cycle') },
    { type: 'theme', deep: M('deep', { n: 1000 }) },
    { type: 'theme', big: M('array', { n: 1_000_000, of: EVIL[0] }) },
    { type: 'status', text: M('repeat', { s: EVIL[0], n: 200_000 }), level: 'info' },
    { type: 'status', text: EVIL[0], level: 'fatal' },
    { type: 'status', text: 1, level: 'info' },
    { type: 'status', text: M('bigint', { v: '1' }), level: 'info' },
  ];
  // "__proto__" as an own key, which a literal cannot make
  for (const type of knownTypes.slice(0, 3)) {
    const m = valid();
    m.type = type;
    Object.defineProperty(m, '__proto__', { value: { polluted: 1 }, enumerable: true, configurable: true, writable: true });
    out.push(m);
  }
  return out;
}

/**
 * Seeded random malformed messages: a valid one broken one to three times, or
 * a garbage object with a type. One the harness could not deliver (a huge
 * array of a huge string, say) is replaced by the next one drawn, and why is
 * pushed to `replaced`.
 */
function randomMessages(valid: () => Record<string, unknown>, types: string[], n: number, replaced: string[] = []): unknown[] {
  const out: unknown[] = [];
  while (out.length < n) {
    let m: Record<string, unknown>;
    if (rnd() < 0.2) {
      m = { type: pick([...types, 'nope', pick(EVIL)]) };
      for (let k = Math.floor(rnd() * 4); k > 0; k--) m[pick(['text', 'level', 'snapshot', 'delta', 'seq', 'address', 'points', 'diff', 'list', 'x'])] = structuredClone(pick(GARBAGE));
    } else {
      m = valid();
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) mutate(m, rnd, GARBAGE);
    }
    const why = undeliverable(m);
    if (why === undefined) out.push(m);
    else if (replaced.push(`message ${out.length}: ${why}`) > n) throw new Error(`the generator replaced more messages than it made: ${replaced.slice(0, 3).join('; ')}`);
  }
  return out;
}

/**
 * The messages as JSON text (markers in), each checked invalid here after
 * reviving; valid ones (a mutation that changed nothing wrong) are left out.
 * Each must be deliverable: a crafted one that is not is the test's own bug.
 */
function invalidOnly(msgs: unknown[], validate: (x: unknown) => unknown): string[] {
  const out: string[] = [];
  for (const m of msgs) {
    const why = undeliverable(m);
    if (why) throw new Error(`the harness cannot deliver ${JSON.stringify(m)?.slice(0, 200)}: ${why}`);
    const text = JSON.stringify(m === undefined ? null : m);
    if (validate(revive(JSON.parse(text))) === null) out.push(text);
  }
  return out;
}

/** Posts each message (revived in the page) as the extension's postMessage arrives. */
async function postAll(m: MapPage, texts: string[]): Promise<void> {
  await m.page.evaluate(`window.__revive = ${revive.toString()}`);
  for (let i = 0; i < texts.length; i += 50) {
    await m.page.evaluate((batch) => {
      for (const t of batch) window.postMessage(window.__revive!(JSON.parse(t)), '*');
    }, texts.slice(i, i + 50));
  }
}

interface Log {
  type: string;
  level?: string;
  message?: string;
}
const sentLogs = (m: MapPage, from: number) => m.page.evaluate((n) => (window.memscopeHost!.sent as Log[]).slice(n).filter((x) => x.type === 'log'), from);
const sentCount = (m: MapPage) => m.page.evaluate(() => window.memscopeHost!.sent.length);

/** What the page shows, as text, and whether anything hostile made it into the DOM as markup. */
async function domIsInert(m: MapPage): Promise<void> {
  const r = await m.page.evaluate(() => ({
    pwned: window.__pwned,
    imgs: document.querySelectorAll('img, iframe, object, embed, svg[onload], [onerror], [onclick], [onload]').length,
    scripts: document.scripts.length,
    styles: document.querySelectorAll('style').length,
  }));
  assert.equal(r.pwned, undefined, 'no hostile string ran');
  assert.equal(r.imgs, 0, 'no element came from a hostile string');
  assert.equal(r.scripts, 1, 'the bundle is the only script');
  assert.equal(r.styles, 0, 'no <style> came from a hostile string');
}

const cspOf = (m: MapPage) => m.page.evaluate(() => window.cspViolations.slice());

// ------------------------------------------------------------------- the map

const MAP_TYPES = ['snapshot', 'delta', 'reveal', 'status', 'theme'];
const LEAKS_TYPES = ['timeline', 'point', 'snapshots', 'diff', 'suspects', 'status', 'target', 'theme'];
/** One page's messages, crafted and random, as the stream draws them. */
const mapMessages = (runs: number, replaced?: string[]) => invalidOnly([...crafted(validMapMessage, MAP_TYPES), ...randomMessages(validMapMessage, MAP_TYPES, runs, replaced)], validateToWebview);
const leaksMessages = (runs: number, replaced?: string[]) => invalidOnly([...crafted(validLeaksMessage, LEAKS_TYPES), ...randomMessages(validLeaksMessage, LEAKS_TYPES, runs, replaced)], validateToLeaks);

/** Posts texts into the page; each must be dropped and logged once, and nothing drawn. Returns the logs. */
async function dropsAndLogsEach(m: MapPage, which: 'map' | 'leaks', texts: string[]): Promise<Log[]> {
  const before = which === 'map' ? await m.page.evaluate(() => window.memscopeMap!.stats()) : undefined;
  const sentBefore = await sentCount(m);
  await postAll(m, texts);
  if (before) {
    await m.page.waitForFunction((k) => window.memscopeMap!.stats().dropped >= k, before.dropped + texts.length, { timeout: 30_000 });
    const after = await m.page.evaluate(() => window.memscopeMap!.stats());
    assert.equal(after.dropped, before.dropped + texts.length, 'each dropped once');
    assert.equal(after.snapshots, before.snapshots, 'nothing was drawn');
  } else {
    await m.page.waitForFunction((k) => window.memscopeHost!.sent.length >= k, sentBefore + texts.length, { timeout: 30_000 });
    await m.page.waitForTimeout(100);
    assert.equal(await m.page.evaluate(() => window.memscopeLeaks!.diffRows().length), 0, 'nothing was drawn');
  }
  const logs = await sentLogs(m, sentBefore);
  assert.equal(logs.length, texts.length, 'each logged once');
  const said = which === 'map' ? /^dropped an invalid message \(.+\)$/ : /^leaks panel: dropped a malformed message \(.+\)$/;
  for (const l of logs) {
    assert.equal(l.level, 'warn');
    assert.match(l.message!, said);
    assert.ok(l.message!.length <= 8192 && !/[\u0000-\u001f]/.test(l.message!), l.message);
  }
  tally.inputs += texts.length;
  tally.dropped += texts.length;
  return logs;
}

test('the generator makes only messages the harness can deliver, for the fresh seed and for seed 928298686 (which once made one it could not)', () => {
  for (const seed of [SEED, REGRESSION_SEED]) {
    const runs = seed === REGRESSION_SEED ? REGRESSION_RUNS : RUNS;
    const replaced: string[] = [];
    const texts = replay(seed, () => [...mapMessages(runs, replaced), ...leaksMessages(runs, replaced)]);
    // invalidOnly checked each; what was delivered still holds huge arrays and strings, once each
    const biggest = Math.max(...texts.map((t) => cloneBytes(revive(JSON.parse(t)), MAX_CLONE)));
    console.log(`webview hostile: seed ${seed}: ${texts.length} messages, the biggest clone ${(biggest / 2 ** 20).toFixed(1)} MiB, ${replaced.length} replaced${replaced.length ? ` (${replaced[0]})` : ''}`);
    assert.ok(biggest > 8 * 2 ** 20 && biggest <= MAX_CLONE, `huge messages are still sent: ${biggest} bytes`);
    if (seed === REGRESSION_SEED) assert.ok(replaced.length > 0, 'seed 928298686 still draws the message it once could not deliver (and it is replaced)');
  }
});

test('the Memory Map drops and logs every malformed message, and still renders a valid one', { skip }, async () => {
  const m = await open('map');
  const texts = mapMessages(RUNS);
  assert.ok(texts.length > RUNS / 2, `${texts.length} invalid messages`);
  const logs = await dropsAndLogsEach(m, 'map', texts);
  // the log says what was wrong
  assert.ok(logs.some((l) => /the type "nuke" is unknown/.test(l.message!)));
  assert.ok(logs.some((l) => /"theme": extra is not a known field/.test(l.message!)));
  assert.ok(logs.some((l) => /"status": level has a wrong type or value/.test(l.message!)));
  assert.ok(logs.some((l) => /the message is a number, not an object/.test(l.message!)));
  // still working: a valid snapshot is drawn, a status shown
  await postSnapshot(m.page, JSON.stringify(snap()));
  assert.equal((await m.page.evaluate(() => window.memscopeMap!.stats())).lanes, 2);
  await m.page.evaluate(() => window.postMessage({ type: 'status', text: 'still here', level: 'info' }, '*'));
  await m.page.waitForFunction(() => document.getElementById('status')!.textContent === 'still here', undefined, { timeout: 10_000 });
  await domIsInert(m);
  assert.deepEqual(await cspOf(m), []);
  assert.deepEqual(m.problems, []);
});

/** After markup was rendered: nothing of it runs, no CSP report, no page error; count it. */
async function inertAndCounted(m: MapPage, shown: string[]): Promise<void> {
  await m.page.waitForTimeout(200);
  await domIsInert(m);
  assert.deepEqual(await cspOf(m), []);
  assert.deepEqual(m.problems, []);
  tally.inputs += shown.length;
  tally.text += shown.length;
}

test('the Memory Map shows names holding markup as text, and runs none of it', { skip }, async () => {
  const m = pages[0]!;
  const s = snapshotFor(EVIL.slice(0, 6));
  const [a, b, c, d, e, f] = EVIL;
  // first a snapshot with other lanes: headers made for it are reused for the next one
  await postSnapshot(m.page, JSON.stringify(snap()));
  await postSnapshot(m.page, JSON.stringify(s));
  await m.page.waitForTimeout(100);
  const shown: string[] = [];
  const text = async (sel: string) => (await m.page.textContent(sel)) ?? '';
  const has = (where: string, got: string, want: string) => {
    assert.ok(got.includes(want), `${where}: ${JSON.stringify(want)} in ${JSON.stringify(got.slice(0, 300))}`);
    shown.push(want);
  };
  assert.match(await text('#target-title'), /^hostile-target/);
  has('target meta', await text('#target-meta'), c);
  has('warnings tooltip', (await m.page.getAttribute('#target-meta', 'title')) ?? '', a);
  const headers = await m.page.$$eval('.lane-header', (hs) => hs.map((h) => ({ text: h.textContent ?? '', title: (h as HTMLElement).title })));
  has('heap 0 header', headers.map((h) => h.text).join('\n'), `heap ${e}`);
  has('heap 1 header', headers.map((h) => h.text).join('\n'), `heap ${f}`);
  has('orphaned list header', headers.map((h) => h.title).join('\n'), a);
  // details: the heaps, the external list's backing, the orphaned list's warning
  await m.page.click('.lane-header[data-kind="heap"][data-index="1"]');
  has('heap 1 details', await text('#details-title'), `Heap ${f}`);
  has('heap 1 reason', await text('#details-warning'), a);
  await m.page.click('.lane-header[data-kind="memseg"][data-index="1"]');
  assert.deepEqual(await m.page.evaluate(() => window.memscopeHost!.sent.at(-1)), { type: 'select', kind: 'memsegList', key: '1' }, "a reused header selects its own lane, not the one it had before");
  assert.equal(await text('#details-title'), 'Memseg list 1 (external)');
  has('backing path', await text('#details'), e);
  has('backing exporter', await text('#details'), f);
  await m.page.click('.lane-header[data-kind="memseg"][data-index="2"]');
  assert.match(await text('#details-title'), /^Memseg list 2/);
  has('orphaned warning', await text('#details-warning'), a);
  // an element owned by a memzone, one by a mempool, one by a plain name
  for (const [addr, want] of [
    ['0x100200010', b],
    ['0x100201010', c],
    ['0x100202010', d],
  ] as const) {
    await m.page.evaluate((x) => window.postMessage({ type: 'reveal', address: x }, '*'), addr);
    await m.page.waitForFunction((w) => (document.getElementById('details')!.textContent ?? '').includes(w), want, { timeout: 10_000 });
    has(`owner at ${addr}`, await text('#details'), want);
  }
  // the memzone's own tooltip
  const at = (await m.page.evaluate(() => window.memscopeMap!.locate('0x100200000')))!;
  const lane = (await m.page.evaluate(() => window.memscopeMap!.lanes())).find((l) => l.kind === 'heap' && l.index === 0)!;
  await m.page.mouse.move(at.x, lane.barTop - 8);
  await m.page.waitForSelector('#tooltip:not([hidden])', { timeout: 10_000 });
  has('memzone tooltip', await text('#tooltip'), `Memzone ${b}`);
  // a status line
  for (const t of EVIL) {
    await m.page.evaluate((x) => window.postMessage({ type: 'status', text: x, level: 'error' }, '*'), t);
    await m.page.waitForFunction((x) => document.getElementById('status')!.textContent === x, t, { timeout: 10_000 });
    shown.push(t);
  }
  await inertAndCounted(m, shown);
});

test("the map page's CSP blocks injected inline script, handlers, javascript: URLs and eval", { skip }, async () => {
  await cspProof(pages[0]!);
});

// ------------------------------------------------------------------ the leaks panel

test('the Leaks panel drops and logs every malformed message, and still renders a valid one', { skip }, async () => {
  const m = await open('leaks');
  const texts = leaksMessages(RUNS);
  assert.ok(texts.length > RUNS / 2, `${texts.length} invalid messages`);
  const logs = await dropsAndLogsEach(m, 'leaks', texts);
  assert.ok(logs.some((l) => /the type "nuke" is unknown/.test(l.message!)));
  assert.ok(logs.some((l) => /"theme": self is not a known field/.test(l.message!)), 'a cycle is described, not serialized');
  assert.ok(logs.some((l) => /the message is a bigint, not an object/.test(l.message!)));
  // a valid message is still drawn
  await m.page.evaluate((t) => window.postMessage({ type: 'status', text: t, level: 'info' }, '*'), 'still here');
  await m.page.waitForFunction(() => document.getElementById('status')!.textContent === 'still here', undefined, { timeout: 10_000 });
  await domIsInert(m);
  assert.deepEqual(await cspOf(m), []);
  assert.deepEqual(m.problems, []);
});

test('the Leaks panel shows names holding markup as text, and runs none of it', { skip }, async () => {
  const m = pages[1]!;
  const post = (msg: unknown) => m.page.evaluate((x) => window.postMessage(x, '*'), msg as object);
  const diff = leaksDiff();
  assert.ok(validateToLeaks({ type: 'diff', diff }));
  const suspects = {
    elements: EVIL.map((e, i) => ({ heapId: 0, heap: e, addr: '0x' + (0x100300000 + i * 0x1000).toString(16), len: 4096, owner: EVIL[(i + 1) % EVIL.length]!, sizeClass: 4096, firstSeen: '2026-01-01T00:00:00Z', ageMs: 120_000 })),
    pools: [{ name: EVIL[2], from: 1, to: 9, growth: 8, windowMs: 60_000 }],
    bytes: 4096 * EVIL.length,
    samples: 10,
    baseline: EVIL[0],
    at: '2026-01-01T00:02:00Z',
  };
  const msgs = [
    { type: 'target', filePrefix: EVIL[1], pid: 1 },
    { type: 'timeline', points: [0, 1, 2].map((i) => ({ t: 1_700_000_000_000 + i * 1000, heaps: Object.fromEntries(EVIL.map((e, k) => [e, { busyBytes: 100 * i + k, allocCount: i }])), mempools: { [EVIL[2]]: i }, segments: 4 })), maxSamples: 100 },
    { type: 'snapshots', list: EVIL.map((e, i) => ({ id: `s${i}`, name: e, takenAt: `2026-01-01T00:0${i}:00Z`, elements: i })), markers: EVIL.map((e, i) => ({ t: 1_700_000_000_000 + i * 100, id: `s${i}`, name: e })) },
    { type: 'diff', diff },
    { type: 'suspects', suspects, minAgeMs: 60_000 },
  ];
  for (const x of msgs) assert.ok(validateToLeaks(x), `valid: ${x.type}`);
  const sentBefore = await sentCount(m);
  for (const x of msgs) await post(x);
  await m.page.waitForFunction((n) => window.memscopeLeaks!.suspectRows().length === n, EVIL.length, { timeout: 10_000 });
  await m.page.waitForFunction(() => window.memscopeLeaks!.charts().length > 0, undefined, { timeout: 10_000 });
  assert.deepEqual(await sentLogs(m, sentBefore), [], 'none was dropped');
  const page = await m.page.evaluate(() => document.body.textContent ?? '');
  const shown: string[] = [];
  const has = (where: string, got: string, want: string) => {
    assert.ok(got.includes(want), `${where}: ${JSON.stringify(want)} in ${JSON.stringify(got.slice(0, 200))}…`);
    shown.push(want);
  };
  has('target', (await m.page.textContent('#target-title')) ?? '', EVIL[1]);
  const snaps = await m.page.$$eval('#snapshots tbody tr', (trs) => trs.map((tr) => tr.textContent ?? '').join('\n'));
  for (const e of EVIL) has('snapshot list', snaps, e);
  const suspectRows = (await m.page.evaluate(() => window.memscopeLeaks!.suspectRows())).map((r) => r.join('|')).join('\n');
  for (const e of EVIL) has('suspects', suspectRows, e);
  const diffRows = (await m.page.evaluate(() => window.memscopeLeaks!.diffRows())).map((r) => r.join('|')).join('\n');
  has('diff owners', diffRows, EVIL[6]);
  has('diff heap', diffRows, EVIL[4]);
  const legends = await m.page.$$eval('.chart-legend', (ls) => ls.map((l) => l.textContent ?? '').join('\n'));
  has('chart legend', legends, EVIL[0]);
  assert.ok(page.length > 0);
  await inertAndCounted(m, shown);
});

test("the Leaks panel's CSP blocks injected inline script, handlers, javascript: URLs and eval", { skip }, async () => {
  await cspProof(pages[1]!);
});

// ------------------------------------------------------------------------ CSP

/**
 * Injects script every way a hostile string could, each setting its own
 * window flag; none may run, and the blocked ones must be reported. A script
 * carrying the page's nonce must run: the injection works, the CSP stops it.
 */
async function cspProof(m: MapPage): Promise<void> {
  await m.page.evaluate(() => {
    // the harness listens on the document, which document.open() below clears
    window.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} (window)`));
  });
  const r = await m.page.evaluate(async () => {
    const w = window as unknown as Record<string, unknown>;
    const box = document.createElement('div');
    document.body.append(box);
    // innerHTML: a <script> never runs this way, an onerror handler would
    box.innerHTML = '<script>window.__inline1=1</script><img src="data:," onerror="window.__inline2=1"><svg onload="window.__inline3=1"></svg>';
    // a script element built by hand, inline and as a data: URL
    const s = document.createElement('script');
    s.textContent = 'window.__inline4=1';
    document.body.append(s);
    const s2 = document.createElement('script');
    s2.src = 'data:text/javascript,window.__inline5=1';
    document.body.append(s2);
    // an inline handler, clicked
    const b = document.createElement('button');
    b.setAttribute('onclick', 'window.__inline6=1');
    document.body.append(b);
    b.click();
    // a javascript: URL, followed
    const a = document.createElement('a');
    a.href = 'javascript:window.__inline7=1';
    document.body.append(a);
    a.click();
    // eval and its relatives, from a task of the page's own: code that DevTools
    // evaluates (this function) may eval whatever the CSP says, a page's task may not
    const evals = await new Promise<string[]>((res) =>
      setTimeout(() => {
        const out: string[] = [];
        for (const f of [() => eval('window.__inline8=1'), () => new Function('window.__inline9=1')(), () => setTimeout('window.__inline10=1', 0)]) {
          try {
            f();
          } catch (e) {
            out.push((e as Error).name);
          }
        }
        res(out);
      }, 0),
    );
    // the positive control: the page's own nonce lets a script run
    const nonce = (document.querySelector('script[nonce]') as HTMLScriptElement | null)?.nonce ?? '';
    const ok = document.createElement('script');
    ok.nonce = nonce;
    ok.textContent = 'window.__withNonce=1';
    document.body.append(ok);
    await new Promise((res) => setTimeout(res, 300));
    const ran = Object.keys(w).filter((k) => /^__inline\d+$/.test(k));
    return { ran, evals, withNonce: w.__withNonce, nonce: nonce.length };
  });
  assert.ok(r.nonce >= 16, 'the bundle script carries a nonce');
  assert.equal(r.withNonce, 1, 'a script with the nonce runs: the injection itself works');
  assert.deepEqual(r.ran, [], `none of the injected scripts ran: ${r.ran.join(', ')}`);
  assert.deepEqual(r.evals, ['EvalError', 'EvalError'], 'eval and new Function throw');
  const v = await cspOf(m);
  for (const d of ['script-src-elem', 'script-src-attr', 'script-src']) {
    assert.ok(v.some((x) => x.startsWith(`${d} `)), `a ${d} violation in ${JSON.stringify(v)}`);
  }
  assert.ok(v.some((x) => x.startsWith('script-src-elem inline')), `the inline <script> was blocked: ${JSON.stringify(v)}`);
  assert.ok(v.some((x) => x.startsWith('script-src-elem data')), `the data: script was blocked: ${JSON.stringify(v)}`);
  assert.ok(m.problems.some((p) => /Content Security Policy/.test(p)), 'Chromium reported the violations');
  // document.write replaces the page, CSP included? It must not: the policy stays
  const w = await m.page.evaluate(async () => {
    document.open();
    window.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} (after write)`));
    document.write('<!DOCTYPE html><html><body><script>window.__written=1</script><img src="data:," onerror="window.__written2=1"><p id="p">written</p></body></html>');
    document.close();
    await new Promise((res) => setTimeout(res, 300));
    const x = window as unknown as Record<string, unknown>;
    return { written: x.__written, written2: x.__written2, p: document.getElementById('p')?.textContent };
  });
  assert.equal(w.p, 'written', 'document.write did replace the page');
  assert.equal(w.written, undefined, 'a <script> written into the page did not run');
  assert.equal(w.written2, undefined, 'an onerror handler written into the page did not run');
  assert.ok((await cspOf(m)).some((x) => x.endsWith('(after write)')), 'the written script was reported');
  tally.inputs += 12;
  tally.blocked += 12;
}

test('seed 928298686 replayed (it once built a message postMessage could not clone): both pages drop and log each of its messages, and still work', { skip }, async () => {
  // fresh pages: the CSP tests above rewrote the others
  const map = await open('map');
  const leaks = await open('leaks');
  const replaced: string[] = [];
  const [mapTexts, leaksTexts] = replay(REGRESSION_SEED, () => [mapMessages(REGRESSION_RUNS, replaced), leaksMessages(REGRESSION_RUNS, replaced)]);
  assert.ok(replaced.length > 0, 'the replay reaches the message that once could not be delivered');
  await dropsAndLogsEach(map, 'map', mapTexts);
  await dropsAndLogsEach(leaks, 'leaks', leaksTexts);
  await postSnapshot(map.page, JSON.stringify(snap()));
  assert.equal((await map.page.evaluate(() => window.memscopeMap!.stats())).lanes, 2);
  await leaks.page.evaluate(() => window.postMessage({ type: 'status', text: 'still here', level: 'info' }, '*'));
  await leaks.page.waitForFunction(() => document.getElementById('status')!.textContent === 'still here', undefined, { timeout: 10_000 });
  for (const m of [map, leaks]) {
    await domIsInert(m);
    assert.deepEqual(await cspOf(m), []);
    assert.deepEqual(m.problems, []);
  }
});

test('counts', { skip }, (t) => {
  const line = `webview hostile (seed ${SEED}): inputs ${tally.inputs}, dropped-and-logged ${tally.dropped}, blocked-by-CSP ${tally.blocked}, rendered-as-text ${tally.text}, executed ${tally.executed}`;
  console.log(line);
  t.diagnostic(line);
  assert.equal(tally.executed, 0, 'no dialog opened');
  assert.equal(tally.inputs, tally.dropped + tally.blocked + tally.text, line);
  assert.ok(tally.inputs > 2 * RUNS && tally.text > 20, line);
});
