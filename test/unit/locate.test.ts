// Locate Address (common/locate.ts) and the size parsing of the register wizard (common/units.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeLocation, locate, parseAddress } from '../../common/locate';
import { SNAPSHOT_SCHEMA, type Snapshot } from '../../common/snapshot';
import { checkBufferSizes, parseSize } from '../../common/units';

const snap: Snapshot = {
  schema: SNAPSHOT_SCHEMA,
  takenAt: '2026-11-25T00:00:00.000Z',
  target: { filePrefix: 'p', pid: 1, dpdkVersion: '22.11.11', runtimeDir: '/var/run/dpdk/p', alive: true },
  readMethod: 'lock-free',
  retries: 0,
  warnings: [],
  memsegLists: [
    {
      index: 0, baseVa: '0x100200000', pageSize: 2097152, socketId: 0, len: 0x400000000, external: false, heap: true, capacity: 8192, segmentCount: 2, state: 'ok',
      segments: [
        { index: 0, va: '0x100200000', iova: '0x1000', len: 2097152, hugepageSize: 2097152, socketId: 0, flags: 0 },
        { index: 1, va: '0x100400000', iova: '0x3000', len: 2097152, hugepageSize: 2097152, socketId: 0, flags: 0 },
      ],
    },
  ],
  heaps: [
    {
      id: 0, name: 'socket_0', socketId: 0, totalSize: 4194304, freeSize: 0, allocCount: 3, external: false, elementsAvailable: true,
      elements: [
        { addr: '0x100200000', len: 0x1000, pad: 0, state: 'busy', owner: null },
        { addr: '0x100201000', len: 0x2000, pad: 0x40, state: 'busy', owner: 'memzone:mz' },
        { addr: '0x100203000', len: 0x3fd000, pad: 0, state: 'free', owner: null },
      ],
    },
  ],
  memzones: [{ name: 'mz', addr: '0x1002010c0', iova: '0x2000', len: 0x1000, hugepageSize: 2097152, socketId: 0, flags: 0 }],
  mempools: [{ name: 'pool', size: 10, eltSize: 64, cacheSize: 0, populated: 10, inUse: 1, avail: 9, chunks: [{ addr: '0x100300000', len: 0x1000 }] }],
};

test('parseAddress takes addresses as logs and crash reports print them', () => {
  assert.equal(parseAddress('0x100201040'), 0x100201040);
  assert.equal(parseAddress('Segmentation fault at address 0x7f12a0001000 in worker'), 0x7f12a0001000);
  assert.equal(parseAddress('  7f12a0001000 '), 0x7f12a0001000);
  assert.equal(parseAddress('4096'), 4096);
  assert.equal(parseAddress('no address here'), null);
});

test('locate: list, segment, element and memzone around an address', () => {
  const l = locate(snap, 0x100201000 + 128 + 0x40 + 8);
  assert.equal(l.list?.index, 0);
  assert.equal(l.segment?.index, 0);
  assert.equal(l.element?.addr, '0x100201000');
  assert.equal(l.elementOffset, 128 + 0x40 + 8);
  assert.equal(l.memzone?.name, 'mz');
  assert.match(describeLocation(l), /heap socket_0, busy element 0x100201000 .*data \+ 8/);
});

test('locate: the element header, a mempool chunk, and outside DPDK memory', () => {
  assert.match(describeLocation(locate(snap, 0x100200010)), /header \+ 16/);
  assert.equal(locate(snap, 0x100300010).mempool?.name, 'pool');
  const out = locate(snap, 0x7f0000000000);
  assert.equal(out.list, null);
  assert.equal(describeLocation(out), '0x7f0000000000 is not in the target\u2019s DPDK memory.'.replace('\u2019', "'"));
});

test('sizes as people type them, and the checks of the register wizard', () => {
  assert.equal(parseSize('64M'), 64 << 20);
  assert.equal(parseSize('1G'), 1 << 30);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('2MiB'), 2 << 20);
  assert.equal(parseSize('lots'), null);
  assert.equal(parseSize('0'), null);
  assert.equal(checkBufferSizes(4 << 20, 2 << 20, 0), null);
  assert.match(checkBufferSizes(3 << 20, 2 << 20, 0)!, /multiple of the page size/);
  assert.match(checkBufferSizes(4 << 20, 3000, 0)!, /4K, 2M or 1G/);
  assert.match(checkBufferSizes(4 << 20, 4096, 100)!, /offset/);
});
