// The agent's door (native-agent/rpc-gate.ts): LSP framing with bounded
// buffers, and what each message body turns into (delivered, answered with a
// typed error, or dropped).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentLength, Framer, type GateRules, MAX_DEPTH, type ParamsCheck, screen } from '../../native-agent/rpc-gate';

function framer(maxMessage = 64, maxHeader = 64) {
  const got: { bodies: string[]; oversize: number[]; broken: string[] } = { bodies: [], oversize: [], broken: [] };
  const f = new Framer(
    {
      body: (b) => got.bodies.push(b.toString('utf8')),
      oversize: (n) => got.oversize.push(n),
      broken: (why) => got.broken.push(why),
    },
    maxMessage,
    maxHeader,
  );
  return { f, got };
}

const framed = (s: string) => `Content-Length: ${Buffer.byteLength(s)}\r\n\r\n${s}`;

test('Framer: messages split at every byte, or several in one chunk, come out whole and in order', () => {
  const text = framed('{"a":1}') + framed('') + framed('{"b":"é"}');
  const { f, got } = framer();
  for (const byte of Buffer.from(text)) f.push(Buffer.from([byte]));
  assert.deepEqual(got.bodies, ['{"a":1}', '', '{"b":"é"}']);
  const two = framer();
  two.f.push(Buffer.from(text));
  assert.deepEqual(two.got.bodies, got.bodies);
  assert.deepEqual([...got.broken, ...two.got.broken, ...got.oversize], []);
});

test('Framer: a body over the limit is announced at once and skipped, across chunks, and the next message is read', () => {
  const { f, got } = framer(10);
  f.push(Buffer.from('Content-Length: 25\r\n\r\n0123456789'));
  assert.deepEqual(got.oversize, [25]);
  f.push(Buffer.from('0123456789'));
  f.push(Buffer.from('01234' + framed('{}')));
  assert.deepEqual(got.bodies, ['{}']);
  assert.deepEqual(got.broken, []);
});

test('Framer: a header block over its limit, or broken, ends the reading for good', () => {
  const long = framer(64, 16);
  long.f.push(Buffer.from('X-Padding: ' + 'p'.repeat(20)));
  assert.equal(long.got.broken.length, 1);
  assert.match(long.got.broken[0]!, /header block over 16 bytes/);
  long.f.push(Buffer.from('\r\n\r\n' + framed('{}')));
  assert.deepEqual(long.got.bodies, [], 'nothing is read after the break');
  const bad = framer();
  bad.f.push(Buffer.from('Content-Length: -1\r\n\r\n'));
  assert.match(bad.got.broken[0]!, /not a byte count/);
});

test('contentLength: one decimal Content-Length, any case, other headers ignored', () => {
  assert.equal(contentLength('Content-Length: 12'), 12);
  assert.equal(contentLength('content-length:12'), 12);
  assert.equal(contentLength('Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 0'), 0);
  for (const [block, why] of [
    ['Content-Type: x', /without Content-Length/],
    ['Content-Length: -5', /not a byte count/],
    ['Content-Length: 12abc', /not a byte count/],
    ['Content-Length: 1e3', /not a byte count/],
    ['Content-Length: 0x10', /not a byte count/],
    ['Content-Length: ', /not a byte count/],
    ['Content-Length: 99999999999999999999', /not a byte count/],
    ['Content-Length: 1\r\nContent-Length: 1', /two Content-Length/],
    ['Content-Length 5', /not "Name: value"/],
    ['Content-Length: 2\nX: y', /not "Name: value"/],
    ['', /not "Name: value"/],
  ] as const) {
    const r = contentLength(block);
    assert.equal(typeof r, 'string', `${JSON.stringify(block)} is refused`);
    assert.match(r as string, why);
  }
});

const rules: GateRules = {
  requests: new Map<string, ParamsCheck | null>([
    ['memscope/snapshot', null],
    ['initialize', (p) => ((p as { processId?: unknown }).processId === null ? null : 'processId must be null')],
  ]),
  notifications: new Map([['$/cancelRequest', (p) => (typeof (p as { id?: unknown })?.id === 'number' ? null : 'params must be {"id": <a request id>}')]]),
};
const body = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x));

function answered(x: unknown, code: number, id: unknown, message?: RegExp): void {
  const r = screen(body(x), rules);
  assert.ok('reply' in r, `${JSON.stringify(x).slice(0, 80)} is answered, got ${JSON.stringify(r).slice(0, 200)}`);
  assert.equal(r.reply.id, id);
  assert.equal(r.reply.error!.code, code);
  assert.deepEqual(r.reply.error!.data, { code: 'bad-arguments', message: r.reply.error!.message });
  assert.match(r.reply.error!.message, /^[^\n]+\.$/);
  if (message) assert.match(r.reply.error!.message, message);
}

test('screen: a request passes with object params, {} when it had none', () => {
  assert.deepEqual(screen(body({ jsonrpc: '2.0', id: 1, method: 'memscope/snapshot', params: { a: 1 } }), rules), {
    deliver: { jsonrpc: '2.0', id: 1, method: 'memscope/snapshot', params: { a: 1 } },
  });
  assert.deepEqual(screen(body({ jsonrpc: '2.0', id: 'x', method: 'memscope/snapshot' }), rules), { deliver: { jsonrpc: '2.0', id: 'x', method: 'memscope/snapshot', params: {} } });
  assert.deepEqual(screen(body({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 3 } }), rules), { deliver: { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 3 } } });
});

test('screen: not UTF-8, not JSON, a byte order mark: ParseError with id null', () => {
  for (const b of [Buffer.from([0xff, 0xfe, 0x7b]), body('{'), body(''), body('NaN'), body('\ufeff{"jsonrpc":"2.0","id":1,"method":"memscope/snapshot"}')]) {
    const r = screen(b, rules);
    assert.ok('reply' in r && r.reply.error!.code === -32700 && r.reply.id === null, JSON.stringify(r));
  }
});

test('screen: JSON that is no JSON-RPC 2.0 request: InvalidRequest, with the id when it is one', () => {
  answered([], -32600, null, /batch/);
  answered([{ jsonrpc: '2.0', id: 1, method: 'memscope/snapshot' }], -32600, null, /batch/);
  answered(5, -32600, null, /a number/);
  answered(null, -32600, null, /null/);
  answered({ jsonrpc: '1.0', id: 2, method: 'memscope/snapshot' }, -32600, 2, /"2\.0"/);
  answered({ id: 2, method: 'memscope/snapshot' }, -32600, 2, /"2\.0"/);
  answered({ jsonrpc: '2.0', id: 3, method: 'memscope/snapshot', extra: 1 }, -32600, 3, /"extra"/);
  answered({ jsonrpc: '2.0', id: 3, method: 'memscope/snapshot', ['x\n'.repeat(100)]: 1 }, -32600, 3, /"x\?x\?/);
  answered({ jsonrpc: '2.0', id: 4, method: 5 }, -32600, 4);
  answered({ jsonrpc: '2.0', id: 4, method: 'm'.repeat(257) }, -32600, 4);
  answered({ jsonrpc: '2.0', id: 4, method: 'memscope/snapshot', result: 1 }, -32600, 4);
  answered({ jsonrpc: '2.0', id: 5 }, -32600, 5, /no "method"/);
  for (const id of [{}, [], true, 1.5, null, 2 ** 64, 'i'.repeat(257)]) answered({ jsonrpc: '2.0', id, method: 'memscope/snapshot' }, -32600, null, /"id"/);
});

test('screen: unknown methods get MethodNotFound, bad params InvalidParams naming them', () => {
  answered({ jsonrpc: '2.0', id: 1, method: 'memscope/frobnicate' }, -32601, 1, /"memscope\/frobnicate"/);
  answered({ jsonrpc: '2.0', id: 1, method: 'constructor' }, -32601, 1);
  answered({ jsonrpc: '2.0', id: 1, method: '$/cancelRequest', params: { id: 1 } }, -32601, 1, /no method/);
  for (const params of [[], [{ a: 1 }], 5, 'x', null, true]) answered({ jsonrpc: '2.0', id: 6, method: 'memscope/snapshot', params }, -32602, 6, /params of memscope\/snapshot must be an object/);
  let deep: unknown = 1;
  for (let i = 0; i < MAX_DEPTH + 1; i++) deep = [deep];
  answered({ jsonrpc: '2.0', id: 7, method: 'memscope/snapshot', params: { deep } }, -32602, 7, /nest deeper/);
  answered({ jsonrpc: '2.0', id: 8, method: 'initialize', params: { processId: 1e308 } }, -32602, 8, /processId/);
});

test('screen: notifications are never answered: bad or unknown ones, and responses, are dropped', () => {
  for (const x of [
    { jsonrpc: '2.0', method: '$/cancelRequest' },
    { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: {} } },
    { jsonrpc: '2.0', method: '$/cancelRequest', params: [1] },
    { jsonrpc: '2.0', method: 'memscope/snapshot', params: {} },
    { jsonrpc: '2.0', method: 'exit' },
    { jsonrpc: '2.0', id: 9, result: null },
    { jsonrpc: '2.0', id: null, error: { code: 1, message: 'x' } },
  ]) {
    const r = screen(body(x), rules);
    assert.ok('drop' in r, `${JSON.stringify(x)} is dropped, got ${JSON.stringify(r)}`);
    assert.doesNotMatch(r.drop, /\n/);
  }
});
