// rte_mem_config decoding (native-agent/dpdk/memconfig.ts) and the layout
// tables and version words (native-agent/dpdk/layout.ts), on buffers filled
// by hand at v22.11's offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cstr, decodeMemConfig, fbarrayMask, usedIndexes } from '../../native-agent/dpdk/memconfig';
import { decodeVersion, encodeVersion, layoutFor, MEMCONFIG_MAGIC } from '../../native-agent/dpdk/layout';

const V22_11_11 = 0x160b0b63;
const L22 = layoutFor(V22_11_11)!;

function mask(nMasks: number, bits: number[]): Buffer {
  const b = Buffer.alloc(8 + nMasks * 8);
  b.writeUInt32LE(nMasks, 0);
  b.writeUInt32LE(0xdeadbeef, 4); // padding: must be ignored
  for (const bit of bits) {
    const off = 8 + Math.floor(bit / 64) * 8;
    b.writeBigUInt64LE(b.readBigUInt64LE(off) | (1n << BigInt(bit % 64)), off);
  }
  return b;
}

test('usedIndexes finds bits at word and half-word edges, in order', () => {
  const bits = [0, 31, 32, 63, 64, 8191];
  assert.deepEqual(usedIndexes(L22, mask(128, bits), 8192), bits);
  assert.deepEqual(usedIndexes(L22, mask(1, []), 64), []);
  // a full word
  const all = [...Array(64).keys()];
  assert.deepEqual(usedIndexes(L22, mask(1, all), 64), all);
  // every bit of two words but in the high halves only
  const highs = [...Array(32).keys()].flatMap((i) => [32 + i, 96 + i]).sort((x, y) => x - y);
  assert.deepEqual(usedIndexes(L22, mask(2, highs), 128), highs);
});

test('usedIndexes never returns an index >= len, however long the mask', () => {
  // len 100: word 1 holds 64..127, of which 100..127 are beyond the array
  assert.deepEqual(usedIndexes(L22, mask(4, [5, 99, 100, 127, 128, 200]), 100), [5, 99]);
  // n_masks larger than len needs: words past ceil(len/64) are not read
  assert.deepEqual(usedIndexes(L22, mask(128, [0, 63, 64, 8191]), 64), [0, 63]);
  // n_masks smaller than len needs: only the words the header claims
  assert.deepEqual(usedIndexes(L22, mask(1, [3]), 8192), [3]);
});

test('fbarrayMask puts the mask right after the elements', () => {
  assert.deepEqual(fbarrayMask(L22, { name: 'x', count: 0, len: 8192, eltSz: 48, data: 0n }), { offset: 8192 * 48, words: 128, bytes: 8 + 128 * 8 });
  assert.deepEqual(fbarrayMask(L22, { name: 'x', count: 0, len: 65, eltSz: 72, data: 0n }), { offset: 65 * 72, words: 2, bytes: 8 + 2 * 8 });
});

test('cstr stops at the first NUL or at max, whichever comes first', () => {
  const b = Buffer.from('abc\0def\0', 'latin1');
  assert.equal(cstr(b, 0, 32), 'abc');
  assert.equal(cstr(b, 4, 32), 'def');
  assert.equal(cstr(b, 0, 2), 'ab');
  assert.equal(cstr(b, 3, 10), '');
  // no NUL before the buffer ends
  assert.equal(cstr(Buffer.from('xyz', 'latin1'), 0, 64), 'xyz');
  assert.equal(cstr(Buffer.from([0x41, 0xe9, 0x00]), 0, 8), 'A\u00e9');
});

// ----------------------------------------------------------- decodeMemConfig

const L = layoutFor(V22_11_11)!;
const CFG_ADDR = 0x100000000n;

function putStr(b: Buffer, off: number, s: string): void {
  b.write(s, off, 'latin1');
}

/** A 22.11 rte_mem_config with two memseg lists, one heap and one tailq. */
function configBuffer(): Buffer {
  const c = L.memConfig;
  const b = Buffer.alloc(c.size);
  b.writeUInt32LE(MEMCONFIG_MAGIC, c.magic);
  b.writeUInt32LE(V22_11_11, c.version);
  b.writeInt32LE(-1, c.memoryHotplugLock);
  // memzone fbarray
  putStr(b, c.memzones + L.fbarray.name, 'memzone');
  b.writeUInt32LE(7, c.memzones + L.fbarray.count);
  b.writeUInt32LE(2560, c.memzones + L.fbarray.len);
  b.writeUInt32LE(L.memzone.size, c.memzones + L.fbarray.eltSz);
  b.writeBigUInt64LE(0x7f0000000000n, c.memzones + L.fbarray.data);
  // list 0: base_va 0 but other fields set: an unused slot, skipped
  const l0 = c.memsegs;
  b.writeBigUInt64LE(0x200000n, l0 + L.memsegList.pageSz);
  putStr(b, l0 + L.memsegList.memsegArr + L.fbarray.name, 'stale');
  // list 3: external
  const l3 = c.memsegs + 3 * L.memsegList.size;
  const M = L.memsegList;
  b.writeBigUInt64LE(0x7f23e6000000n, l3 + M.baseVa);
  b.writeBigUInt64LE(0x1000n, l3 + M.pageSz);
  b.writeInt32LE(256, l3 + M.socketId);
  b.writeUInt32LE(9, l3 + M.version);
  b.writeBigUInt64LE(0x10000n, l3 + M.len);
  b.writeUInt32LE(1, l3 + M.external);
  b.writeUInt32LE(1, l3 + M.heap);
  putStr(b, l3 + M.memsegArr + L.fbarray.name, 'heap_e_3');
  b.writeUInt32LE(16, l3 + M.memsegArr + L.fbarray.count);
  b.writeUInt32LE(16, l3 + M.memsegArr + L.fbarray.len);
  b.writeUInt32LE(L.memseg.size, l3 + M.memsegArr + L.fbarray.eltSz);
  b.writeBigUInt64LE(0x7f23e7000000n, l3 + M.memsegArr + L.fbarray.data);
  // list 5: internal, 2 MB pages, socket -1 (SOCKET_ID_ANY reads back signed)
  const l5 = c.memsegs + 5 * M.size;
  b.writeBigUInt64LE(0x100200000n, l5 + M.baseVa);
  b.writeBigUInt64LE(0x200000n, l5 + M.pageSz);
  b.writeInt32LE(-1, l5 + M.socketId);
  b.writeBigUInt64LE(0x400000000n, l5 + M.len);
  putStr(b, l5 + M.memsegArr + L.fbarray.name, 'memseg-2048k-0-0');
  b.writeUInt32LE(8192, l5 + M.memsegArr + L.fbarray.len);
  b.writeUInt32LE(L.memseg.size, l5 + M.memsegArr + L.fbarray.eltSz);
  b.writeBigUInt64LE(0x7f1000000000n, l5 + M.memsegArr + L.fbarray.data);
  // heap 1: socket_0; heap 0 has no name and is skipped
  const H = L.heap;
  const h1 = c.mallocHeaps + 1 * H.size;
  b.writeBigUInt64LE(0x100200000n, h1 + H.first);
  b.writeBigUInt64LE(0x1041fdf80n, h1 + H.last);
  b.writeUInt32LE(5, h1 + H.allocCount);
  b.writeUInt32LE(0, h1 + H.socketId);
  b.writeBigUInt64LE(0x4000000n, h1 + H.totalSize);
  putStr(b, h1 + H.name, 'socket_0');
  b.writeBigUInt64LE(0xffffn, c.mallocHeaps + H.totalSize); // heap 0: fields set, no name
  // heap 7: a name filling the whole field, with no NUL
  putStr(b, c.mallocHeaps + 7 * H.size + H.name, 'n'.repeat(H.nameLen) + 'OVERFLOW');
  b.writeUInt32LE(300, c.mallocHeaps + 7 * H.size + H.socketId);
  // tailq 2: RTE_MEMPOOL
  const T = L.tailqHead;
  b.writeBigUInt64LE(0x17ff00000n, c.tailqHead + 2 * T.size + T.first);
  putStr(b, c.tailqHead + 2 * T.size + T.name, 'RTE_MEMPOOL');
  b.writeUInt32LE(1, c.nextSocketId);
  b.writeBigUInt64LE(CFG_ADDR, c.memCfgAddr);
  b.writeUInt32LE(0, c.legacyMem);
  b.writeUInt32LE(1, c.singleFileSegments);
  return b;
}

test('decodeMemConfig reads the header words', () => {
  const cfg = decodeMemConfig(L, configBuffer());
  assert.equal(cfg.magic, MEMCONFIG_MAGIC);
  assert.equal(cfg.version, V22_11_11);
  assert.equal(cfg.hotplugLock, -1);
  assert.equal(cfg.nextSocketId, 1);
  assert.equal(cfg.memCfgAddr, CFG_ADDR);
  assert.equal(cfg.legacyMem, false);
  assert.equal(cfg.singleFileSegments, true);
  assert.deepEqual(cfg.memzones, { name: 'memzone', count: 7, len: 2560, eltSz: 72, data: 0x7f0000000000n });
});

test('decodeMemConfig keeps memseg lists with a base_va and skips the rest', () => {
  const cfg = decodeMemConfig(L, configBuffer());
  assert.deepEqual(
    cfg.lists.map((l) => l.index),
    [3, 5],
  );
  const [ext, int] = cfg.lists as [(typeof cfg.lists)[0], (typeof cfg.lists)[0]];
  assert.equal(ext.baseVa, 0x7f23e6000000n);
  assert.equal(ext.pageSz, 4096);
  assert.equal(ext.socketId, 256);
  assert.equal(ext.version, 9);
  assert.equal(ext.len, 0x10000);
  assert.equal(ext.external, true);
  assert.equal(ext.heap, true);
  assert.deepEqual(ext.arr, { name: 'heap_e_3', count: 16, len: 16, eltSz: 48, data: 0x7f23e7000000n });
  assert.equal(int.external, false);
  assert.equal(int.heap, false);
  assert.equal(int.socketId, -1);
  assert.equal(int.pageSz, 2 * 1024 * 1024);
  assert.equal(int.arr.name, 'memseg-2048k-0-0');
});

test('decodeMemConfig finds named heaps at base + offset', () => {
  const buf = configBuffer();
  const heapOff = L.memConfig.mallocHeaps + 1 * L.heap.size;
  // without a base, the config's own address (mem_cfg_addr) is the base
  const cfg = decodeMemConfig(L, buf);
  assert.deepEqual(
    cfg.heaps.map((h) => h.index),
    [1, 7],
  );
  const h = cfg.heaps[0]!;
  assert.deepEqual(h, {
    index: 1,
    addr: CFG_ADDR + BigInt(heapOff),
    first: 0x100200000n,
    last: 0x1041fdf80n,
    allocCount: 5,
    socketId: 0,
    totalSize: 0x4000000,
    name: 'socket_0',
  });
  assert.equal(cfg.heaps[1]!.name, 'n'.repeat(L.heap.nameLen), 'a name is cut at its field');
  // an explicit base wins
  const at = decodeMemConfig(L, buf, 0x7fff00000000n);
  assert.equal(at.heaps[0]!.addr, 0x7fff00000000n + BigInt(heapOff));
});

test('decodeMemConfig lists named tailqs', () => {
  const cfg = decodeMemConfig(L, configBuffer());
  assert.deepEqual(cfg.tailqs, [{ name: 'RTE_MEMPOOL', first: 0x17ff00000n }]);
});

test('an all-zero config decodes to nothing', () => {
  const cfg = decodeMemConfig(L, Buffer.alloc(L.memConfig.size));
  assert.deepEqual([cfg.lists, cfg.heaps, cfg.tailqs], [[], [], []]);
  assert.equal(cfg.magic, 0);
});

// ------------------------------------------------------------------ versions

test('encodeVersion and decodeVersion round trip', () => {
  assert.equal(encodeVersion('22.11.11'), V22_11_11);
  assert.equal(encodeVersion('DPDK 22.11.11'), V22_11_11);
  assert.deepEqual(decodeVersion(V22_11_11), { year: 22, month: 11, minor: 11, release: 99, text: '22.11.11' });
  const rc = encodeVersion('DPDK 23.11.0-rc2');
  assert.equal(rc, 0x170b0002);
  assert.equal(decodeVersion(rc!).text, '23.11.0-rc2');
  assert.equal(decodeVersion(encodeVersion('23.03.0')!).text, '23.03.0', 'months keep two digits');
  for (const t of ['22.11.0', '22.11.1-rc1', '24.07.3', '25.11.0-rc4', '26.07.0']) {
    assert.equal(decodeVersion(encodeVersion(t)!).text, t);
  }
  // years past 127 must not go negative
  const big = encodeVersion('200.1.0');
  assert.ok(big !== null && big > 0);
  assert.equal(decodeVersion(big).year, 200);
});

test('encodeVersion returns null for text without a version', () => {
  assert.equal(encodeVersion('DPDK'), null);
  assert.equal(encodeVersion(''), null);
  assert.equal(encodeVersion('22.11'), null);
  assert.equal(encodeVersion('v.x.y'), null);
});

test('layoutFor picks the 22.11 table for any 22.11 release and nothing else', () => {
  const l = layoutFor(V22_11_11);
  assert.ok(l);
  assert.equal(l.release, '22.11');
  assert.equal(l.memConfig.size, 25344);
  assert.equal(layoutFor(encodeVersion('22.11.0-rc1')!)?.release, '22.11');
  assert.equal(layoutFor(encodeVersion('23.11.0')!), null);
  assert.equal(layoutFor(encodeVersion('22.07.0')!), null);
  assert.equal(layoutFor(0), null);
});

test('the 22.11 table is self-consistent', () => {
  const c = L.memConfig;
  // arrays fit where the next field starts
  assert.ok(c.memsegs + L.build.maxMemsegLists * L.memsegList.size <= c.tailqHead);
  assert.ok(c.tailqHead + L.build.maxTailq * L.tailqHead.size <= c.mallocHeaps);
  assert.ok(c.mallocHeaps + L.build.maxHeaps * L.heap.size <= c.nextSocketId);
  assert.ok(c.singleFileSegments + 4 <= c.size);
  assert.ok(c.memzones + L.fbarray.size <= c.memsegs);
  assert.ok(L.memsegList.memsegArr + L.fbarray.size <= L.memsegList.size);
  assert.ok(L.heap.name + L.heap.nameLen <= L.heap.size);
});
