// common/columns.ts compact columns: any view survives compactColumns →
// expandColumns unchanged (gaps, huge lengths, pads, wide owner tables), and
// compactProblem's one-pass loop refuses exactly what the rules, read one by
// one on the rebuilt elements, refuse.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compactColumns, type CompactColumns, compactProblem, type ElementColumnsView, expandColumns, LEN_ESCAPE } from '../../common/columns';
import { prng } from '../helpers/prng';

function view(n: number, rand: () => number, owners = 2): ElementColumnsView {
  const c: ElementColumnsView = { heapId: 1, n, addr: new Float64Array(n), len: new Float64Array(n), pad: new Uint32Array(n), state: new Uint8Array(n), owner: new Int32Array(n).fill(-1), owners: Array.from({ length: owners }, (_, i) => `mz${i}`) };
  let a = 0x100000000 + Math.floor(rand() * 1000) * 64;
  for (let i = 0; i < n; i++) {
    c.addr[i] = a;
    const r = rand();
    c.len[i] = r < 0.02 ? LEN_ESCAPE + Math.floor(rand() * 2 ** 34) : r < 0.04 ? LEN_ESCAPE - 1 : 64 * (1 + Math.floor(rand() * 50));
    c.pad[i] = rand() < 0.1 ? Math.floor(rand() * 2 ** 32) : 0;
    c.state[i] = Math.floor(rand() * 3);
    c.owner[i] = rand() < 0.5 ? Math.floor(rand() * owners) : -1;
    a += c.len[i]! + (rand() < 0.1 ? Math.floor(rand() * 2 ** 30) : 0);
  }
  return c;
}

test('compact and expanded again: the same view, for 300 random heaps', () => {
  const rand = prng(20261207);
  for (let k = 0; k < 300; k++) {
    const v = view(Math.floor(rand() * 400), rand, k % 10 === 0 ? 70_000 : 3);
    const c = compactColumns(v);
    assert.equal(c.owner instanceof Uint16Array, v.owners.length < 0xffff, `owner width, heap ${k}`);
    assert.deepEqual(expandColumns(c), v, `heap ${k}`);
    // and as a delta's slice, each element with its address
    const sl = compactColumns(v, true);
    assert.equal(sl.jumps.length, 0);
    assert.deepEqual(expandColumns(sl), v, `slice ${k}`);
  }
});

/** The rules one by one, on the elements as the compact form describes them. */
function reference(c: CompactColumns): string | null {
  const jumps = new Map<number, number>();
  const big = new Map<number, number>();
  const pads = new Map<number, number>();
  for (const [pairs, into, name] of [[c.jumps, jumps, 'jumps'], [c.big, big, 'big'], [c.pads, pads, 'pads']] as const) {
    for (let j = 0; j < pairs.length; j += 2) {
      const i = pairs[j]!;
      if (!Number.isInteger(i) || i < 0 || i >= c.n || (j > 0 && i <= pairs[j - 2]!)) return `.${name}`;
      into.set(i, pairs[j + 1]!);
    }
  }
  if (c.addr && c.jumps.length) return '.jumps';
  if (c.n > 0 && !c.addr && !jumps.has(0)) return '.jumps';
  let end = 0;
  for (let i = 0; i < c.n; i++) {
    const a = c.addr ? c.addr[i]! : (jumps.get(i) ?? end);
    if (!Number.isInteger(a) || a < end || a > Number.MAX_SAFE_INTEGER) return c.addr ? `.addr[${i}]` : '.jumps';
    let l = c.len[i]!;
    if (l === LEN_ESCAPE) {
      if (!big.has(i)) return `.len[${i}]`;
      l = big.get(i)!;
      if (!Number.isInteger(l) || l < LEN_ESCAPE) return '.big';
    } else if (big.has(i)) return '.big';
    const p = pads.get(i);
    if (p !== undefined && !(Number.isInteger(p) && p > 0 && p < 2 ** 32)) return '.pads';
    if (a + l > Number.MAX_SAFE_INTEGER) return `.len[${i}]`;
    if (c.state[i]! >= 3) return `.state[${i}]`;
    if (c.owner[i]! > c.owners.length) return `.owner[${i}]`;
    end = a + l;
  }
  return null;
}

test('compactProblem refuses what the rules refuse, for 3000 random breakages', () => {
  const rand = prng(20261203);
  const bad = [NaN, Infinity, -Infinity, -1, 0.5, 2 ** 53, 2 ** 53 - 1, -0, 1e300, 3, 0];
  const pick = () => bad[Math.floor(rand() * bad.length)]!;
  let refused = 0;
  for (let k = 0; k < 3000; k++) {
    const asSlice = k % 4 === 0;
    const c = compactColumns(view(50, rand), asSlice);
    const i = Math.floor(rand() * c.n);
    const what = asSlice && rand() < 0.5 ? 7 : Math.floor(rand() * 7);
    const pairs = (a: Float64Array) => {
      const out = Float64Array.from(a.length ? a : [i, 1]);
      out[Math.floor(rand() * out.length)] = pick();
      return out;
    };
    if (what === 0) c.jumps = pairs(c.jumps);
    else if (what === 1) c.big = pairs(c.big);
    else if (what === 2) c.pads = pairs(c.pads);
    else if (what === 3) c.len[i] = rand() < 0.5 ? LEN_ESCAPE : Math.floor(rand() * 2 ** 32);
    else if (what === 4) c.state[i] = Math.floor(rand() * 6);
    else if (what === 5) c.owner[i] = Math.floor(rand() * 6);
    else if (what === 6) c.jumps = Float64Array.from([...c.jumps, i, 2 ** 53 - Math.floor(rand() * 2 ** 20)]);
    else c.addr![i] = rand() < 0.5 ? pick() : c.addr![i]! - Math.floor(rand() * 400);
    const want = reference(c);
    const got = compactProblem(c);
    assert.equal(got === null, want === null, `breakage ${k} (${what} at ${i}): rules say ${want}, the check says ${got?.join(' ')}`);
    if (want?.includes('[')) assert.equal(got?.[0], want, `breakage ${k}: the same element and field`);
    if (got) refused++;
  }
  assert.ok(refused > 1000, `only ${refused} of 3000 breakages broke anything`);
});
