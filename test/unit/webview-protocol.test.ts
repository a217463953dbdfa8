// Messages between the extension and the Memory Map webview
// (common/webview-protocol.ts): every valid message passes as is; an unknown
// type, an extra field or a wrong type anywhere gives null. And the page's
// HTML (webview/html.ts): its CSP, nonce and inert initial state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateDelta, validateFromWebview, validateSnapshot, validateToWebview, validateViewState } from '../../common/webview-protocol';
import { columnDelta } from '../../common/delta';
import { churn, generateMapSnapshot } from '../fixtures/map-snapshot';
import { newNonce, renderHtml } from '../../webview/html';

const snapshot = generateMapSnapshot({ seed: 3, elements: 2000, hostileName: '<img src=x onerror=alert(1)>' });
const { delta } = churn(snapshot, 4, 200);
/** What the Memory Map gets: the heaps' changes as column slices. */
const live = columnDelta(delta);
/** A deep copy to break, through JSON like the real channel. */
const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

test('to the webview: each message type, valid, passes unchanged', () => {
  const msgs = [
    { type: 'snapshot', snapshot },
    { type: 'delta', seq: 7, delta: live },
    { type: 'reveal', address: '0x7f2a40001000' },
    { type: 'status', text: 'attached to memscope-demo', level: 'info' },
    { type: 'status', text: 'target exited', level: 'error' },
    { type: 'theme' },
  ];
  for (const m of msgs) assert.equal(validateToWebview(m), m, m.type);
  // what crossed a JSON channel too (typed arrays cross as bytes: a structured clone)
  for (const m of msgs) {
    const c = m.type === 'delta' ? structuredClone(m) : copy(m);
    assert.deepEqual(validateToWebview(c), m, m.type);
  }
  // a delta in the object form is not the map's
  assert.equal(validateToWebview({ type: 'delta', seq: 7, delta }), null);
  // a column delta with a slice or its removed addresses broken
  const bad = structuredClone(live);
  bad.heaps.changed[0]!.removed = Float64Array.from([2, 1]);
  assert.equal(validateToWebview({ type: 'delta', seq: 7, delta: bad }), null);
  const bad2 = structuredClone(live);
  bad2.heaps.changed[0]!.added.state[0] = 9;
  assert.equal(validateToWebview({ type: 'delta', seq: 7, delta: bad2 }), null);
});

test('to the webview: unknown types, extra fields, wrong types are dropped', () => {
  const bad: unknown[] = [
    null,
    undefined,
    42,
    'snapshot',
    [],
    {},
    { type: 'explode' },
    { type: 'toString' },
    { type: '__proto__' },
    { type: 'theme', extra: 1 },
    { type: 'reveal', address: '7f2a40001000' },
    { type: 'reveal', address: '0x' },
    { type: 'reveal', address: '0x12345678901234567' },
    { type: 'reveal', address: 0x1000 },
    { type: 'status', text: 'x', level: 'fatal' },
    { type: 'status', text: 'x'.repeat(5000), level: 'info' },
    { type: 'status', text: 'x' },
    { type: 'delta', seq: -1, delta },
    { type: 'delta', seq: 1.5, delta },
    { type: 'delta', seq: '1', delta },
    { type: 'delta', seq: 1 },
    { type: 'snapshot' },
    { type: 'snapshot', snapshot: null },
    { type: 'snapshot', snapshot, seq: 1 },
  ];
  for (const m of bad) assert.equal(validateToWebview(m), null, JSON.stringify(m)?.slice(0, 80));
});

test('snapshots: a defect anywhere inside drops the whole message', () => {
  const cases: [string, (s: any) => void][] = [
    ['schema', (s) => (s.schema = 'memscope.snapshot/2')],
    ['extra top-level field', (s) => (s.extra = true)],
    ['extra list field', (s) => (s.memsegLists[0].secret = 1)],
    ['list state', (s) => (s.memsegLists[5].state = 'dead')],
    ['segment iova', (s) => (s.memsegLists[0].segments[3].iova = 'nope')],
    ['dmabuf fd', (s) => (s.memsegLists[4].dmabuf.fd = '37')],
    ['dmabuf source', (s) => (s.memsegLists[4].dmabuf.source = 'guess')],
    ['backing kind', (s) => (s.memsegLists[4].backing.kind = 'magic')],
    ['element state', (s) => (s.heaps[0].elements[100].state = 'leaked')],
    ['element addr', (s) => (s.heaps[0].elements[100].addr = '0xZZ')],
    ['element len', (s) => (s.heaps[0].elements[100].len = -1)],
    ['element len type', (s) => (s.heaps[0].elements[100].len = '64')],
    ['element owner', (s) => (s.heaps[0].elements[100].owner = 5)],
    ['element extra', (s) => (s.heaps[0].elements[100].note = 'x')],
    ['element missing owner', (s) => delete s.heaps[0].elements[100].owner],
    ['element not an object', (s) => (s.heaps[0].elements[100] = null)],
    ['elements not an array', (s) => (s.heaps[0].elements = {})],
    ['heap extra', (s) => (s.heaps[0].color = 'red')],
    ['heap id', (s) => (s.heaps[0].id = 1.5)],
    ['memzone name', (s) => (s.memzones[0].name = { html: '<b>' })],
    ['mempool inUse', (s) => (s.mempools[0].inUse = -3)],
    ['mempool chunk extra', (s) => (s.mempools[0].chunks[0].x = 1)],
    ['warnings', (s) => (s.warnings = [1])],
    ['target pid', (s) => (s.target.pid = '25021')],
    ['access', (s) => (s.access = 'telepathy')],
    ['NaN size', (s) => (s.memsegLists[0].len = NaN)],
  ];
  for (const [what, breakIt] of cases) {
    const s = copy(snapshot);
    breakIt(s);
    assert.equal(validateSnapshot(s), null, what);
    assert.equal(validateToWebview({ type: 'snapshot', snapshot: s }), null, what);
  }
  // optional fields may be absent
  const s = copy(snapshot);
  delete s.access;
  delete s.memsegLists[4]!.dmabuf;
  delete s.memsegLists[4]!.backing;
  delete s.memsegLists[4]!.registration;
  assert.ok(validateSnapshot(s));
});

test('deltas: the shape of common/delta.ts, strictly', () => {
  assert.ok(validateDelta(copy(delta)));
  const d = copy(delta);
  d.heaps.changed[0]!.removed.push('not hex');
  assert.equal(validateDelta(d), null);
  const e = copy(delta) as any;
  e.heaps.changed[0].header = { ...e.heaps.changed[0].header, elements: [] };
  assert.equal(validateDelta(e), null, 'a header carries no elements');
  const f = copy(delta) as any;
  f.memzones.extra = [];
  assert.equal(validateDelta(f), null);
  const g = copy(delta) as any;
  g.warnings = ['fine'];
  assert.ok(validateDelta(g));
});

test('from the webview: ready, select, log, and nothing else', () => {
  const ok = [
    { type: 'ready' },
    { type: 'select', kind: 'element', key: '0:0x100000040' },
    { type: 'select', kind: 'memzone', key: '<img src=x onerror=alert(1)>@0x1000' },
    { type: 'log', level: 'warn', message: 'dropped an invalid message' },
  ];
  for (const m of ok) assert.equal(validateFromWebview(m), m);
  const bad: unknown[] = [
    { type: 'ready', now: 1 },
    { type: 'select', kind: 'file', key: '/etc/passwd' },
    { type: 'select', kind: 'element' },
    { type: 'select', kind: 'element', key: 7 },
    { type: 'log', level: 'panic', message: 'x' },
    { type: 'log', level: 'info', message: 'x'.repeat(9000) },
    { type: 'snapshot', snapshot },
    { type: 'constructor' },
    JSON.parse('{"type":"ready","__proto__":{"x":1}}'),
  ];
  for (const m of bad) assert.equal(validateFromWebview(m), null, JSON.stringify(m)?.slice(0, 80));
});

test('view state: what getState returns is checked before use', () => {
  const s = { version: 2, layout: 'compact', zoom: { k: 4, x: -120 }, selected: { kind: 'heap', key: '0' } };
  assert.equal(validateViewState(s), s);
  assert.ok(validateViewState({ ...s, selected: null }));
  assert.equal(validateViewState({ ...s, layout: 'spiral' }), null);
  // saved before the Folded layout: another scale, ignored
  assert.equal(validateViewState({ layout: 'linear', zoom: { k: 4, x: -120 }, selected: null }), null);
  assert.equal(validateViewState({ ...s, zoom: { k: 0, x: 0 } }), null);
  assert.equal(validateViewState({ ...s, zoom: { k: Infinity, x: 0 } }), null);
  assert.equal(validateViewState(undefined), null);
});

test('a 100k-element snapshot validates', () => {
  const big = generateMapSnapshot({ seed: 1, elements: 100_000 });
  assert.equal(validateSnapshot(big), big);
});

// --------------------------------------------------------------- the page

test('html: a strict CSP with one nonce, no inline script or handler', () => {
  const nonce = newNonce();
  assert.match(nonce, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(newNonce(), nonce);
  const html = renderHtml({ cspSource: 'https://file+.vscode-resource.vscode-cdn.net', nonce, scriptUri: 'https://x/main.js?a=1&b=2', styleUri: 'https://x/style.css' });
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];
  assert.equal(
    csp,
    `default-src 'none'; img-src https://file+.vscode-resource.vscode-cdn.net data:; style-src https://file+.vscode-resource.vscode-cdn.net 'nonce-${nonce}'; script-src 'nonce-${nonce}'`,
  );
  assert.doesNotMatch(csp!, /unsafe/);
  const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.deepEqual(scripts, [`<script nonce="${nonce}" src="https://x/main.js?a=1&amp;b=2">`]);
  assert.doesNotMatch(html, /\son[a-z]+=/i);
  assert.doesNotMatch(html, /style="/);
  for (const id of ['plot', 'canvas', 'axis', 'overview', 'lane-headers', 'details', 'tooltip', 'legend', 'status']) assert.match(html, new RegExp(`id="${id}"`));
});

test('html: the initial state cannot break out of its script element', () => {
  const nonce = newNonce();
  const key = '</script><script>alert(1)</script>\u2028';
  const html = renderHtml({ cspSource: 'https://x', nonce, scriptUri: 'a.js', styleUri: 'a.css', initialState: { version: 2, layout: 'linear', zoom: { k: 1, x: 0 }, selected: { kind: 'memzone', key } } });
  const m = /<script type="application\/json" id="memscope-initial-state">([^<]*)<\/script>/.exec(html);
  assert.ok(m, 'one inert JSON block');
  assert.equal(JSON.parse(m[1]!).selected.key, key);
  assert.equal(html.match(/<script/g)!.length, 2);
});

test('html: a weak nonce or a cspSource that widens the policy is refused', () => {
  assert.throws(() => renderHtml({ cspSource: 'https://x', nonce: 'abc', scriptUri: 'a.js', styleUri: 'a.css' }), /nonce/);
  assert.throws(() => renderHtml({ cspSource: "https://x 'unsafe-inline'", nonce: newNonce(), scriptUri: 'a.js', styleUri: 'a.css' }), /cspSource/);
  assert.throws(() => renderHtml({ cspSource: "https://x 'unsafe-eval'", nonce: newNonce(), scriptUri: 'a.js', styleUri: 'a.css' }), /cspSource/);
  assert.throws(() => renderHtml({ cspSource: 'https://x; script-src *', nonce: newNonce(), scriptUri: 'a.js', styleUri: 'a.css' }), /cspSource/);
  // several sources (code-server gives more than one) are fine
  const html = renderHtml({ cspSource: "'self' https://a.example http://127.0.0.1:8080", nonce: newNonce(), scriptUri: 'a.js', styleUri: 'a.css' });
  assert.match(html, /img-src 'self' https:\/\/a\.example http:\/\/127\.0\.0\.1:8080 data:/);
});
