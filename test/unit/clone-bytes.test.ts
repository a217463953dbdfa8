// cloneBytes (test/helpers/hostile.ts): the bound the browser fuzzer keeps its
// messages under. It must never be below what V8's structured clone really
// writes (v8.serialize is the same serializer postMessage uses), must count a
// string at each occurrence and an object once, and must give up early, and
// cheaply, on a value that would expand to gigabytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import * as v8 from 'node:v8';
import { cloneBytes, EVIL } from '../helpers/hostile';

const MiB = 2 ** 20;

test('cloneBytes is an upper bound of v8.serialize, and not far above it', () => {
  const big = 'x'.repeat(100_000);
  const wide = '\u2028'.repeat(50_000);
  const shared = { a: big, n: 1 };
  const parent: Record<string, unknown> = { type: 'theme' };
  parent.self = parent;
  let deep: unknown = {};
  for (let i = 0; i < 500; i++) deep = { a: deep };
  const values: unknown[] = [
    null,
    42,
    -0,
    NaN,
    2 ** 53 + 2,
    18446744073709551615n,
    'busy',
    [...EVIL],
    { type: 'status', text: EVIL[3], level: 'info' },
    new Array(1000), // holes are not written
    new Array(10_000).fill(0),
    new Array(1000).fill(big), // holey: index and string per entry
    Array.from({ length: 1000 }, () => big), // packed
    [wide, wide, wide],
    new Array(1000).fill(shared), // one object, referred to 999 times
    parent,
    deep,
    Object.defineProperty({ ['k'.repeat(100)]: [1, [2, [3]]] }, '__proto__', { value: 1, enumerable: true }),
  ];
  for (const v of values) {
    const real = v8.serialize(v).length;
    const bound = cloneBytes(v, 1e12);
    assert.ok(bound >= real, `bound ${bound} >= ${real} for ${inspect(v, { depth: 1 }).slice(0, 60)}`);
    assert.ok(bound <= 2 * real + 64, `bound ${bound} near ${real} for ${inspect(v, { depth: 1 }).slice(0, 60)}`);
  }
});

test('a string counts at each occurrence, an object once', () => {
  const s = 'y'.repeat(MiB);
  assert.ok(cloneBytes(new Array(10).fill(s), 1e12) >= 10 * MiB);
  assert.ok(cloneBytes(new Array(10).fill({ s }), 1e12) < 1.1 * MiB);
});

test('over the cap: Infinity, found without walking what it expands to', () => {
  // the message seed 928298686 once built: 100 000 references to an 800 kB string (80 GB cloned)
  const bomb = { type: new Array(100_000).fill('<b>x</b>'.repeat(100_000)) };
  const t0 = performance.now();
  assert.equal(cloneBytes(bomb, 64 * MiB), Infinity);
  assert.ok(performance.now() - t0 < 500, 'gave up early');
  assert.equal(cloneBytes('z'.repeat(MiB), MiB), Infinity);
  assert.ok(cloneBytes('z'.repeat(MiB - 100), MiB) <= MiB);
});

test('too deep to serialize, or not cloneable at all: Infinity', () => {
  let deep: unknown = {};
  for (let i = 0; i < 5000; i++) deep = { a: deep };
  assert.throws(() => v8.serialize(deep), /call stack/, 'V8 itself cannot');
  assert.equal(cloneBytes(deep, 1e12), Infinity);
  assert.equal(cloneBytes({ f: () => 1 }, 1e12), Infinity);
  assert.equal(cloneBytes([Symbol('s')], 1e12), Infinity);
});
