// Hand-built snapshots for unit tests of the pure parts.
import { type Heap, type HeapElement, type Memzone, type Mempool, type MemsegList, SNAPSHOT_SCHEMA, type Snapshot } from '../../common/snapshot';


export function el(addr: string, len = 0x100, state: HeapElement['state'] = 'busy', owner: string | null = null, pad = 0): HeapElement {
  return { addr, len, pad, state, owner };
}

export function heap(id: number, elements: HeapElement[], over: Partial<Heap> = {}): Heap {
  return {
    id,
    name: `socket_${id}`,
    socketId: id,
    totalSize: 0x4000000,
    freeSize: 0x3000000,
    allocCount: elements.filter((e) => e.state === 'busy').length,
    external: false,
    elementsAvailable: true,
    elements,
    ...over,
  };
}

export function list(index: number, over: Partial<MemsegList> = {}): MemsegList {
  return {
    index,
    baseVa: `0x${(0x100000000 + index * 0x400000000).toString(16)}`,
    pageSize: 2 * 1024 * 1024,
    socketId: 0,
    len: 0x400000000,
    external: false,
    heap: true,
    capacity: 8192,
    segmentCount: 1,
    state: 'ok',
    segments: [{ index: 0, va: '0x100200000', iova: '0x100200000', len: 0x200000, hugepageSize: 0x200000, socketId: 0, flags: 0 }],
    ...over,
  };
}

export function mz(name: string, addr: string, len = 0x1000): Memzone {
  return { name, addr, iova: addr, len, hugepageSize: 0x200000, socketId: 0, flags: 0 };
}

export function pool(name: string, inUse: number | null = 0): Mempool {
  return { name, size: 8191, eltSize: 2176, cacheSize: 256, populated: 8191, inUse, avail: inUse === null ? null : 8191 - inUse, chunks: [{ addr: '0x17f000000', len: 0x1000000 }] };
}

export function snap(over: Partial<Snapshot> = {}): Snapshot {
  return {
    schema: SNAPSHOT_SCHEMA,
    takenAt: '2024-01-01T00:00:00.000Z',
    target: { filePrefix: 'rte', pid: 1234, dpdkVersion: '22.11.11', runtimeDir: '/var/run/dpdk/rte', alive: true },
    readMethod: 'lock-free',
    retries: 0,
    warnings: [],
    memsegLists: [list(0)],
    heaps: [heap(0, [el('0x100200000', 0x1000, 'free'), el('0x100201000', 0x80)])],
    memzones: [mz('rte_eth_dev_data', '0x17fe00000')],
    mempools: [pool('mbuf_pool')],
    ...over,
  };
}

