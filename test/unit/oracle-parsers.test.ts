// The parsers of DPDK's own views, fed with text captured from real runs on
// DPDK 22.11.11 (Debian 12).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type HeapDumpElement, parseHeapDump, parseProcInfo } from '../helpers/primaries';

// rte_malloc_dump_heaps from the demo primary (-m 64) after `extmem e 65536`,
// three 100-byte mallocs on heap:e, freeing the middle one and a 64-byte
// malloc that landed in its hole (hence pad 0x40). Heaps 3..31 trimmed.
const HEAP_DUMP = `Heap id: 0
Heap size: 0x4000000
Heap alloc count: 2
Malloc element at 0x100200000 (FREE)
  len: 0x3fd9f00 pad: 0x0
  prev: (nil) next: 0x1041d9f00
Malloc element at 0x1041d9f00 (BUSY)
  len: 0x24080 pad: 0x0
  prev: 0x100200000 next: 0x1041fdf80
Malloc element at 0x1041fdf80 (BUSY)
  len: 0x2080 pad: 0x0
  prev: 0x1041d9f00 next: (nil)
Heap id: 1
Heap size: 0x10000
Heap alloc count: 3
Malloc element at 0x7f23e606a000 (FREE)
  len: 0xfd00 pad: 0x0
  prev: (nil) next: 0x7f23e6079d00
Malloc element at 0x7f23e6079d00 (BUSY)
  len: 0x100 pad: 0x0
  prev: 0x7f23e606a000 next: 0x7f23e6079e00
Malloc element at 0x7f23e6079e00 (BUSY)
  len: 0x100 pad: 0x40
  prev: 0x7f23e6079d00 next: 0x7f23e6079f00
Malloc element at 0x7f23e6079f00 (BUSY)
  len: 0x100 pad: 0x0
  prev: 0x7f23e6079e00 next: (nil)
Heap id: 2
Heap size: 0x0
Heap alloc count: 0
`;

test('parseHeapDump reads heaps, elements and their links', () => {
  const heaps = parseHeapDump(HEAP_DUMP);
  assert.deepEqual(
    heaps.map((h) => [h.id, h.size, h.allocCount, h.elements.length]),
    [
      [0, 0x4000000, 2, 3],
      [1, 0x10000, 3, 4],
      [2, 0, 0, 0],
    ],
  );
  const [free0, busy0] = heaps[0]!.elements as [HeapDumpElement, HeapDumpElement];
  assert.deepEqual(free0, { addr: 0x100200000n, state: 'FREE', len: 0x3fd9f00, pad: 0, prev: 0n, next: 0x1041d9f00n });
  assert.equal(busy0.state, 'BUSY');
  assert.equal(busy0.prev, 0x100200000n);
  const padded = heaps[1]!.elements[2]!;
  assert.equal(padded.addr, 0x7f23e6079e00n);
  assert.equal(padded.pad, 0x40);
  assert.equal(padded.len, 0x100);
});

test('parseHeapDump: element sizes tile each heap and busy counts match', () => {
  for (const h of parseHeapDump(HEAP_DUMP)) {
    assert.equal(
      h.elements.reduce((s, e) => s + e.len, 0),
      h.size,
      `heap ${h.id}`,
    );
    assert.equal(h.elements.filter((e) => e.state === 'BUSY').length, h.allocCount);
    for (let i = 1; i < h.elements.length; i++) {
      assert.equal(h.elements[i]!.prev, h.elements[i - 1]!.addr);
      assert.equal(h.elements[i - 1]!.next, h.elements[i]!.addr);
    }
  }
});

test('parseHeapDump accepts PAD elements and rejects orphan lines', () => {
  const heaps = parseHeapDump('Heap id: 4\nHeap size: 0x80\nHeap alloc count: 0\nMalloc element at 0x1000 (PAD)\n  len: 0x80 pad: 0x40\n  prev: (nil) next: (nil)\n');
  assert.equal(heaps[0]!.elements[0]!.state, 'PAD');
  assert.equal(heaps[0]!.elements[0]!.pad, 0x40);
  assert.throws(() => parseHeapDump('  len: 0x80 pad: 0x0\n'), /outside an element/);
  assert.throws(() => parseHeapDump('Malloc element at 0x1000 (FREE)\n'), /before any 'Heap id:'/);
  assert.deepEqual(parseHeapDump(''), []);
});

// dpdk-proc-info --file-prefix P --no-pci -- -m against
// dpdk-testpmd -l 0-1 --no-pci --vdev net_null0 -m 512 (256 segments; trimmed).
const PROC_INFO = `----------- MEMORY_SEGMENTS -----------
Segment 0-0: IOVA:0x16ea00000, len:2097152, virt:0x100200000, socket_id:0, hugepage_sz:2097152, nchannel:0, nrank:0 fd:19
Segment 0-1: IOVA:0x16ec00000, len:2097152, virt:0x100400000, socket_id:0, hugepage_sz:2097152, nchannel:0, nrank:0 fd:20
Segment 0-255: IOVA:0x17b000000, len:2097152, virt:0x120000000, socket_id:0, hugepage_sz:2097152, nchannel:0, nrank:0 fd:275
--------- END_MEMORY_SEGMENTS ---------
------------ MEMORY_ZONES -------------
Zone 0: name:<rte_eth_dev_data>, len:0x30040, virt:0x1201a9ec0, socket_id:0, flags:0
physical segments used:
  addr: 0x120000000 iova: 0x17b000000 len: 0x200000 pagesz: 0x200000
Zone 1: name:<rte_pdump_stats>, len:0x400040, virt:0x11f782380, socket_id:0, flags:0
physical segments used:
  addr: 0x11f600000 iova: 0x16e400000 len: 0x200000 pagesz: 0x200000
  addr: 0x11f800000 iova: 0x16e600000 len: 0x200000 pagesz: 0x200000
  addr: 0x11fa00000 iova: 0x16e800000 len: 0x200000 pagesz: 0x200000
Zone 2: name:<MP_mb_pool_0>, len:0x102100, virt:0x11f67ffc0, socket_id:0, flags:0
physical segments used:
  addr: 0x11f600000 iova: 0x16e400000 len: 0x200000 pagesz: 0x200000
---------- END_MEMORY_ZONES -----------
------------- TAIL_QUEUES -------------
Tailq 0: qname:<RTE_RING>, tqh_first:0x11f67ff00, tqh_last:0x11f67ff00
Tailq 2: qname:<RTE_MBUF_DYNFIELD>, tqh_first:(nil), tqh_last:0x1000044e8
---------- END_TAIL_QUEUES ------------
`;

test('parseProcInfo reads segments and memzones, ignoring the rest', () => {
  const { segments, memzones } = parseProcInfo(PROC_INFO);
  assert.equal(segments.length, 3);
  assert.deepEqual(segments[2], {
    list: 0,
    seg: 255,
    iova: 0x17b000000n,
    len: 2097152,
    va: 0x120000000n,
    socket: 0,
    hugepageSz: 2097152,
  });
  assert.deepEqual(
    memzones.map((z) => [z.id, z.name, z.len]),
    [
      [0, 'rte_eth_dev_data', 0x30040],
      [1, 'rte_pdump_stats', 0x400040],
      [2, 'MP_mb_pool_0', 0x102100],
    ],
  );
  assert.deepEqual(memzones[2], { id: 2, name: 'MP_mb_pool_0', len: 0x102100, va: 0x11f67ffc0n, socket: 0, flags: 0 });
  assert.deepEqual(parseProcInfo('EAL: Detected CPU lcores: 2\n'), { segments: [], memzones: [] });
});
