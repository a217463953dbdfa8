// common/columns.ts columnsProblem: its one-comparison-chain loop refuses
// exactly what the element-by-element rules refuse, with the same reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnsProblem, type ElementColumnsView } from '../../common/columns';
import { prng } from '../helpers/prng';

/** The rules one by one, as they read. */
function reference(c: ElementColumnsView): string | null {
  let end = 0;
  for (let i = 0; i < c.n; i++) {
    const a = c.addr[i]!;
    const l = c.len[i]!;
    if (!Number.isSafeInteger(a) || a < 0) return `.addr[${i}]`;
    if (!Number.isSafeInteger(l) || l < 0) return `.len[${i}]`;
    if (a < end) return `.addr[${i}]`;
    end = a + l;
    if (!Number.isSafeInteger(end)) return `.len[${i}]`;
    if (c.state[i]! >= 3) return `.state[${i}]`;
    if (c.owner[i]! < -1 || c.owner[i]! >= c.owners.length) return `.owner[${i}]`;
  }
  return null;
}

function columns(n: number): ElementColumnsView {
  const c = { heapId: 1, n, addr: new Float64Array(n), len: new Float64Array(n), pad: new Uint32Array(n), state: new Uint8Array(n), owner: new Int32Array(n).fill(-1), owners: ['mz0', 'mz1'] };
  let a = 0x100000000;
  for (let i = 0; i < n; i++) {
    c.addr[i] = a;
    c.len[i] = 64 * (1 + (i % 5));
    a += c.len[i]! + (i % 3) * 64;
    c.state[i] = i % 3;
  }
  return c;
}

test('columnsProblem refuses what the rules refuse, at the same element and field, for 3000 random breakages', () => {
  const rand = prng(20261203);
  const bad = [NaN, Infinity, -Infinity, -1, 0.5, 2 ** 53, 2 ** 53 - 1, -0, 1e300];
  for (let k = 0; k < 3000; k++) {
    const c = columns(50);
    const i = Math.floor(rand() * c.n);
    const what = Math.floor(rand() * 6);
    if (what === 0) c.addr[i] = bad[Math.floor(rand() * bad.length)]!;
    else if (what === 1) c.len[i] = bad[Math.floor(rand() * bad.length)]!;
    else if (what === 2) c.addr[i] = c.addr[i]! - Math.floor(rand() * 400);
    else if (what === 3) c.state[i] = Math.floor(rand() * 6);
    else if (what === 4) c.owner[i] = Math.floor(rand() * 6) - 2;
    else c.len[i] = 2 ** 53 - c.addr[i]! + Math.floor(rand() * 3) - 1;
    const want = reference(c);
    const got = columnsProblem(c);
    assert.equal(got?.[0] ?? null, want, `breakage ${k} (${what} at ${i}): ${got?.join(' ')}`);
  }
  assert.equal(columnsProblem(columns(1000)), null);
});
