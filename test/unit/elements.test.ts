// Columnar heap elements: the lazy wire view, owner naming and the merge
// diff must agree with the plain object model they stand in for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffHeap } from '../../common/delta';
import { type Heap, type HeapElement, hexAddr } from '../../common/snapshot';
import { ELEMENT_STATES } from '../../common/columns';
import { columnsOf, diffHeapColumns, ElementColumns, nameOwners, setColumns } from '../../native-agent/elements';
import { prng } from '../helpers/prng';


test('hexAddr equals toString(16) from 0 to 2^47', () => {
  const r = prng(1);
  const edge = [0, 1, 15, 16, 65535, 65536, 0xffffffff, 0x100000000, 0x100200000, 2 ** 47 - 1, 0x7f3e36562000];
  for (const n of [...edge, ...Array.from({ length: 20000 }, () => Math.floor(r() * 2 ** (1 + Math.floor(r() * 47))))]) {
    assert.equal(hexAddr(n), '0x' + n.toString(16), String(n));
  }
});

function randomHeap(r: () => number, n: number, id = 0): { heap: Heap; elements: HeapElement[] } {
  const elements: HeapElement[] = [];
  let addr = 0x100200000;
  const owners = ['memzone:a', 'mempool:p', null];
  for (let i = 0; i < n; i++) {
    const len = 128 + Math.floor(r() * 8) * 64;
    elements.push({ addr: hexAddr(addr), len, pad: r() < 0.1 ? 64 : 0, state: ELEMENT_STATES[Math.floor(r() * 3)]!, owner: owners[Math.floor(r() * 3)]! });
    addr += len + (r() < 0.2 ? 4096 : 0);
  }
  const heap: Heap = { id, name: 'socket_0', socketId: 0, totalSize: 1, freeSize: 0, allocCount: n, external: false, elementsAvailable: true, elements: [] };
  return { heap, elements };
}

test('a heap with columns shows the same elements, built only when read', () => {
  const r = prng(2);
  const { heap, elements } = randomHeap(r, 500);
  const cols = ElementColumns.from(elements);
  for (let i = 0; i < cols.count; i++) if (elements[i]!.owner) cols.owner[i] = cols.owners.push(elements[i]!.owner!) - 1;
  setColumns(heap, cols);
  assert.equal(columnsOf(heap), cols);
  assert.deepEqual(JSON.parse(JSON.stringify(heap)).elements, elements);
  assert.equal(heap.elements, heap.elements, 'built once');
});

test('nameOwners names the memzone whose start lies inside a busy element', () => {
  const c = new ElementColumns(4);
  c.push(0x1000, 0x100, 0, 1); // busy, holds mz A at 0x1080
  c.push(0x1100, 0x100, 0, 0); // free
  c.push(0x1200, 0x100, 0, 1); // busy, nothing inside
  c.push(0x1300, 0x200, 0, 1); // busy, holds B at 0x1380
  nameOwners(c, [
    { start: 0x1080, end: 0x10c0, name: 'memzone:A' },
    { start: 0x1380, end: 0x1400, name: 'mempool:B' },
  ]);
  assert.deepEqual(
    c.materialize().map((e) => e.owner),
    ['memzone:A', null, null, 'mempool:B'],
  );
});

test('the merge diff over columns equals the object diff', () => {
  const r = prng(3);
  for (let round = 0; round < 200; round++) {
    const a = randomHeap(r, 1 + Math.floor(r() * 60));
    // b: a with some removed, some changed, some added
    const els = a.elements.filter(() => r() > 0.2).map((e) => (r() < 0.2 ? { ...e, state: ELEMENT_STATES[Math.floor(r() * 3)]!, owner: r() < 0.5 ? null : e.owner } : e));
    const extra = randomHeap(r, Math.floor(r() * 10)).elements.map((e) => ({ ...e, addr: hexAddr(Number(e.addr) + 0x10000000) }));
    const bEls = [...els, ...extra].sort((x, y) => Number(x.addr) - Number(y.addr));
    const b = { ...a.heap, allocCount: r() < 0.5 ? a.heap.allocCount : a.heap.allocCount + 1 };
    const plainA = { ...a.heap, elements: a.elements };
    const plainB = { ...b, elements: bEls };
    const colA = setColumns({ ...a.heap }, withOwners(a.elements));
    const colB = setColumns({ ...b }, withOwners(bEls));
    assert.deepEqual(diffHeapColumns(colA, colB), diffHeap(plainA, plainB), `round ${round}`);
  }
});

function withOwners(els: HeapElement[]): ElementColumns {
  const c = ElementColumns.from(els);
  els.forEach((e, i) => {
    if (e.owner) {
      let k = c.owners.indexOf(e.owner);
      if (k < 0) k = c.owners.push(e.owner) - 1;
      c.owner[i] = k;
    }
  });
  return c;
}
