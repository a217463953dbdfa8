// The agent's JSON-RPC encoder (native-agent/wire.ts): a column reply's
// bytes are the JSON that JSON.stringify writes for it, and they decode to
// the same columns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnsFromElements, expandColumns } from '../../common/columns';
import { packColumns, packColumnsJson, unpackColumns } from '../../common/columns-wire';
import { hexAddr, type HeapElement } from '../../common/snapshot';
import { encodeMessage, ReplyBuffer, SENT, WireColumns } from '../../native-agent/wire';

function elements(n: number): HeapElement[] {
  const out: HeapElement[] = [];
  let a = 0x100200000;
  for (let i = 0; i < n; i++) {
    const len = 64 + ((i * 37) % 5000);
    out.push({ addr: hexAddr(a), len, pad: i % 7, state: (['free', 'busy', 'pad'] as const)[i % 3]!, owner: i % 5 === 0 ? `memzone:zé"${i % 3}\\` : null });
    a += len;
  }
  return out;
}

test('packColumnsJson is JSON.stringify(packColumns(c)), for sizes around the chunk size', () => {
  for (const n of [0, 1, 2, 3, 100, 6143, 6144, 6145, 20_000]) {
    const c = columnsFromElements(3, elements(n));
    assert.equal(packColumnsJson(c).toString('utf8'), JSON.stringify(packColumns(c)), `n = ${n}`);
  }
});

test('encodeMessage: a column reply is the bytes JSON.stringify writes, and unpacks to the same columns', () => {
  const c0 = columnsFromElements(0, elements(9000));
  const c1 = columnsFromElements(1, elements(5));
  const msg = { jsonrpc: '2.0', id: 7, result: { snapshot: { takenAt: 'now', note: 'ünïcode "q"', heaps: [{ id: 0 }, { id: 1 }] }, columns: [new WireColumns(c0), new WireColumns(c1)] } };
  const bytes = encodeMessage(msg);
  assert.equal(bytes.toString('utf8'), JSON.stringify(msg));
  const back = JSON.parse(bytes.toString('utf8'));
  assert.deepEqual(expandColumns(unpackColumns(back.result.columns[0])), c0);
  assert.deepEqual(expandColumns(unpackColumns(back.result.columns[1])), c1);
  // anything else is plain JSON
  for (const m of [{ jsonrpc: '2.0', id: 1, result: null }, { jsonrpc: '2.0', method: 'x', params: { columns: [1] } }, { jsonrpc: '2.0', id: 2, result: { columns: [] } }]) {
    assert.equal(encodeMessage(m).toString('utf8'), JSON.stringify(m));
  }
});

test('encodeMessage: columns coded when the message is written give the same bytes, and the reply says when', () => {
  const c0 = columnsFromElements(0, elements(7000));
  let sent = 0;
  const result = { snapshot: { heaps: [{ id: 0 }] }, columns: [new WireColumns(c0, true)] };
  Object.defineProperty(result, SENT, { value: () => sent++ });
  const msg = { jsonrpc: '2.0', id: 9, result };
  assert.equal(sent, 0);
  const bytes = encodeMessage(msg);
  assert.equal(sent, 1);
  assert.equal(bytes.toString('utf8'), JSON.stringify(msg));
  assert.deepEqual(expandColumns(unpackColumns(JSON.parse(bytes.toString('utf8')).result.columns[0])), c0);
});

test('ReplyBuffer: column replies reuse one buffer while the stream is idle, never while a message waits, and a much smaller reply gets its own', () => {
  let idle = true;
  const into = new ReplyBuffer(() => idle);
  const reply = (n: number, id: number) => ({ jsonrpc: '2.0', id, result: { snapshot: { heaps: [{ id: 0 }] }, columns: [new WireColumns(columnsFromElements(0, elements(n)))] } });
  const m1 = reply(5000, 1);
  const b1 = encodeMessage(m1, into);
  assert.equal(b1.toString('utf8'), JSON.stringify(m1));
  const m2 = reply(5000, 2);
  const b2 = encodeMessage(m2, into);
  assert.equal(b2.toString('utf8'), JSON.stringify(m2));
  assert.equal(b2.buffer, b1.buffer, 'reused while idle');
  assert.equal(into.made, 1);
  idle = false;
  const m3 = reply(5000, 3);
  const b3 = encodeMessage(m3, into);
  assert.notEqual(b3.buffer, b2.buffer, 'a message still waiting keeps its bytes');
  assert.equal(b2.toString('utf8'), JSON.stringify(m2), 'and they are unchanged');
  idle = true;
  const m4 = reply(1000, 4);
  const b4 = encodeMessage(m4, into);
  assert.notEqual(b4.buffer, b3.buffer, 'a reply under half the kept size gets a buffer of its own');
  assert.equal(b4.toString('utf8'), JSON.stringify(m4));
  assert.equal(into.made, 3);
});
