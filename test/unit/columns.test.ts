// Element columns from the agent to the Memory Map (common/columns.ts,
// common/columns-wire.ts, extension/src/map-message.ts): packed and unpacked
// they are the same elements; every malformed part is refused naming its
// field; the extension's live snapshot reads as the elements form does; the
// map's message carries typed arrays and passes the webview's validator; the
// webview model built from columns equals the one built from elements.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnElements, columnsFromElements, compactColumns, type CompactColumns, expandColumns, explainCompact } from '../../common/columns';
import { packColumns, unpackColumns } from '../../common/columns-wire';
import { explainToWebview, validateToWebview } from '../../common/webview-protocol';
import { columnSnapshot, ElementColumns, setColumns } from '../../native-agent/elements';
import { heapColumns, hydrate, snapshotMessage } from '../../extension/src/map-message';
import { buildModel } from '../../webview/model/map';
import { warmMessage } from '../../webview/model/warm';
import { generateMapSnapshot } from '../fixtures/map-snapshot';
import { el, heap, snap } from '../helpers/snapshot-builders';

const elements = [el('0x100200000', 0x100, 'busy', 'memzone:a'), el('0x100200100', 0x40, 'pad'), el('0x100200140', 0x1000, 'free'), el('0x100201140', 0x80, 'busy', 'mempool:p'), el('0x1002011c0', 0x80, 'busy', 'memzone:a', 64)];

test('columns from elements and back are the same elements, sorted by address', () => {
  const c = columnsFromElements(3, elements);
  assert.equal(c.n, 5);
  assert.deepEqual(c.owners, ['memzone:a', 'mempool:p']);
  assert.deepEqual([...c.owner], [0, -1, -1, 1, 0]);
  assert.deepEqual(columnElements(c), elements);
  assert.deepEqual(columnElements(columnsFromElements(3, [...elements].reverse())), elements, 'unsorted input is sorted');
  assert.equal(explainCompact(compactColumns(c)), null);
  assert.deepEqual(columnElements(expandColumns(compactColumns(c))), elements);
});

test('packed and unpacked: equal arrays in buffers of their own', () => {
  const c = columnsFromElements(0, elements);
  const p = packColumns(c);
  assert.equal(typeof p.len, 'string');
  const u = unpackColumns(JSON.parse(JSON.stringify(p)));
  assert.deepEqual(columnElements(expandColumns(u)), elements);
  for (const a of [u.len, u.state, u.owner, u.jumps, u.big, u.pads]) assert.equal(a.byteOffset, 0);
  assert.equal(u.len.buffer === u.owner.buffer, false);
  // the gap after the element at 0x100200140 is one jump; the pad of 64 one pair
  assert.deepEqual([...u.jumps], [0, 0x100200000]);
  assert.deepEqual([...u.pads], [4, 64]);
});

function broken(f: (c: CompactColumns) => void): CompactColumns {
  const c = compactColumns(columnsFromElements(0, elements));
  f(c);
  return c;
}

test('malformed columns are refused, naming the field', () => {
  const cases: [CompactColumns | unknown, RegExp][] = [
    [null, /^columns is not an object/],
    [broken((c) => (c.len = new Uint32Array(4))), /^columns\.len holds 4 entries, not n = 5/],
    [broken((c) => ((c as unknown as { len: number[] }).len = [1, 2, 3, 4, 5])), /^columns\.len is not a Uint32Array/],
    [broken((c) => (c.owner = new Uint32Array(5))), /^columns\.owner is not a Uint16Array \(for 2 owners\)/],
    [broken((c) => (c.jumps = Float64Array.from([0, 0x100200000, 2, 0x100200000]))), /^columns\.jumps\[3\] is not a whole address at or above the end of the element before \(element 2\)/],
    [broken((c) => (c.jumps = Float64Array.from([1, 0x100200000]))), /^columns\.jumps\[0\] is not 0/],
    [broken((c) => (c.jumps = Float64Array.from([0, -1]))), /^columns\.jumps\[1\] is not a whole address/],
    [broken((c) => (c.jumps = Float64Array.from([0, 2 ** 53 - 0x100]))), /^columns\.len\[0\] runs past 2\^53/],
    [broken((c) => (c.jumps = Float64Array.from([0, 0x100200000, 9, 0x200000000]))), /^columns\.jumps\[2\] names no element in order/],
    [broken((c) => (c.jumps = Float64Array.from([0, 0x100200000, 3]))), /^columns\.jumps is not a list of \[index, value\] pairs/],
    [broken((c) => (c.len[1] = 0xffffffff)), /^columns\.len\[1\] is 4294967295 \(see big\) but big has no entry for it/],
    [broken((c) => ((c.len[1] = 0xffffffff), (c.big = Float64Array.from([1, 5])))), /^columns\.big\[1\] is not a whole length of 4294967295 or more/],
    [broken((c) => (c.pads = Float64Array.from([4, 0.5]))), /^columns\.pads\[1\] is not a pad/],
    [broken((c) => (c.pads = Float64Array.from([4, 64, 2, 64]))), /^columns\.pads\[2\] names no element in order/],
    [broken((c) => (c.state[3] = 3)), /^columns\.state\[3\] is not 0 \(free\), 1 \(busy\) or 2 \(pad\)/],
    [broken((c) => (c.owner[0] = 3)), /^columns\.owner\[0\] is not 0 or an index into owners \+ 1/],
    [broken((c) => (c.owners = [7 as unknown as string, 'x'])), /^columns\.owners\[0\] is not a name/],
    [broken((c) => ((c as unknown as Record<string, unknown>).extra = 1)), /^columns\.extra is not a known field/],
    [broken((c) => (c.n = 2 ** 30)), /^columns\.n is not a count/],
  ];
  for (const [c, re] of cases) assert.match(explainCompact(c) ?? 'valid', re);
  // and on the wire
  const p = packColumns(columnsFromElements(0, elements));
  assert.throws(() => unpackColumns({ ...p, len: p.len.slice(0, -4) }), /^Error: columns\.len holds 18 bytes, not the 20 that n calls for/);
  assert.throws(() => unpackColumns({ ...p, state: '%%%%' }), /columns\.state is not base64/);
  assert.throws(() => unpackColumns({ ...p, len: 5 }), /columns\.len is not a base64 string/);
  assert.throws(() => unpackColumns({ ...p, more: 1 }), /columns\.more is not a known field/);
  assert.throws(() => unpackColumns({ ...p, jumps: Buffer.alloc(8).toString('base64') }), /columns\.jumps is not a list of \[index, value\] pairs/);
  assert.throws(() => unpackColumns({ ...p, jumps: packColumns(columnsFromElements(0, [])).jumps }), /columns\.jumps\[0\] is not 0/);
});

/** A snapshot whose heap 0 holds its elements as the agent's reader does (columns behind a getter). */
function agentSnapshot() {
  const s = snap({ heaps: [heap(0, elements), heap(1, [], { elementsAvailable: false, reason: 'unreadable' }), heap(2, [])] });
  const h = s.heaps[0]!;
  setColumns(h, ElementColumns.from(elements));
  // the reader names owners after it pushed the elements
  const c = ElementColumns.from(elements);
  c.owners = ['memzone:a', 'mempool:p'];
  c.owner.set([0, -1, -1, 1, 0]);
  setColumns(h, c);
  return s;
}

test('agent → extension: the hydrated snapshot reads as the elements form, and the agent built no element object', () => {
  const s = agentSnapshot();
  const cs = columnSnapshot(s);
  assert.ok(Object.getOwnPropertyDescriptor(s.heaps[0]!, 'elements')?.get, 'the agent never built elements');
  assert.deepEqual(cs.columns.map((c) => c.heapId), [0, 2], 'no columns for a heap whose elements are unavailable');
  const live = hydrate(JSON.parse(JSON.stringify(cs)));
  assert.deepEqual(JSON.parse(JSON.stringify(live)), JSON.parse(JSON.stringify(s)));
  // a heap a trace renamed travels with its new names
  const t = agentSnapshot();
  t.heaps[0]!.elements[1]!.owner = 'type:mbuf_table';
  const named = hydrate(JSON.parse(JSON.stringify(columnSnapshot(t))));
  assert.equal(named.heaps[0]!.elements[1]!.owner, 'type:mbuf_table');
});

test('hydrate refuses columns that do not fit the snapshot', () => {
  const cs = JSON.parse(JSON.stringify(columnSnapshot(agentSnapshot())));
  assert.throws(() => hydrate({ ...cs, columns: [{ ...cs.columns[0], heapId: 9 }] }), /columns\.heapId 9 names no heap/);
  assert.throws(() => hydrate({ ...cs, columns: [cs.columns[0], cs.columns[0]] }), /comes twice/);
  assert.throws(() => hydrate({ snapshot: cs.snapshot } as never), /without its snapshot or columns/);
});

test('extension → map: the message carries typed arrays, passes the validator, and builds the same model as elements do', () => {
  const s = generateMapSnapshot({ seed: 5, elements: 5000 });
  const cs = JSON.parse(JSON.stringify(columnSnapshot(s)));
  const live = hydrate(cs);
  const msg = snapshotMessage(live);
  assert.ok(msg.columns && msg.columns.length >= 1);
  for (const h of msg.snapshot.heaps) assert.deepEqual(h.elements, []);
  assert.ok(msg.columns[0]!.len instanceof Uint32Array);
  const cloned = structuredClone(msg);
  assert.equal(validateToWebview(cloned), cloned, explainToWebview(cloned) ?? '');
  const a = buildModel(s);
  const b = buildModel(cloned.snapshot, cloned.columns);
  assert.equal(b.heaps.length, a.heaps.length);
  for (let i = 0; i < a.heaps.length; i++) {
    const x = a.heaps[i]!.cols;
    const y = b.heaps[i]!.cols;
    assert.equal(y.n, x.n);
    assert.deepEqual([...y.start.subarray(0, y.n)], [...x.start.subarray(0, x.n)]);
    assert.deepEqual([...y.len.subarray(0, y.n)], [...x.len.subarray(0, x.n)]);
    assert.deepEqual([...y.state.subarray(0, y.n)], [...x.state.subarray(0, x.n)]);
    assert.deepEqual([...y.owner.subarray(0, y.n)].map((o) => b.owners.name(o)), [...x.owner.subarray(0, x.n)].map((o) => a.owners.name(o)));
  }
  // after a delta replaced a heap, its columns come from its elements
  const replaced = { ...live.heaps[0]!, elements: live.heaps[0]!.elements.slice(1) };
  assert.equal(heapColumns(replaced).n, live.heaps[0]!.elements.length - 1);
});

test('the map drops a column message that does not fit its snapshot', () => {
  const s = generateMapSnapshot({ seed: 6, elements: 100 });
  const msg = snapshotMessage(hydrate(JSON.parse(JSON.stringify(columnSnapshot(s)))));
  const bad = [
    { ...msg, columns: [{ ...msg.columns![0]!, heapId: 999 }] },
    { ...msg, columns: [msg.columns![0]!, msg.columns![0]!] },
    { ...msg, snapshot: s },
    { ...msg, columns: [{ ...msg.columns![0]!, len: Array.from(msg.columns![0]!.len) }] },
  ];
  assert.match(explainToWebview(bad[0]) ?? '', /columns\[0\]\.heapId names no heap/);
  assert.match(explainToWebview(bad[1]) ?? '', /names a heap twice/);
  assert.match(explainToWebview(bad[2]) ?? '', /has elements of its own/);
  assert.match(explainToWebview(bad[3]) ?? '', /columns\[0\]\.len is not a Uint32Array/);
  for (const m of bad) assert.equal(validateToWebview(m), null);
});

test('the made-up snapshot the map warms its path with passes the validator and models its 20k elements', () => {
  const msg = warmMessage();
  assert.equal(validateToWebview(msg), msg, explainToWebview(msg) ?? '');
  const m = buildModel(msg.snapshot, msg.columns);
  assert.equal(m.heaps[0]!.cols.n, 20_000);
  assert.equal(m.owners.names[0], 'memzone:warm');
});
